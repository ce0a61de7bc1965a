"""Tools the bundle tests share: edit an archive as an attacker would, write old bundles.

No tests here: test_bundle_format.py, test_predict_cli.py and test_train.py import these.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

import joblib

from mlmicro.model.card import BUNDLE_FORMAT


def members_of(path: Path) -> dict[str, bytes]:
    """Every member of a bundle but ``format.json``, read without any check."""
    with zipfile.ZipFile(path) as archive:
        return {n: archive.read(n) for n in archive.namelist() if n != "format.json"}


def write_members(path: Path, members: Mapping[str, bytes], *, relist: bool = True) -> Path:
    """Write ``members`` as a zip, with a ``format.json`` listing their real digests.

    ``relist=False`` keeps no listing at all: the caller passes ``format.json`` itself.
    """
    listing = {
        name: {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        for name, data in members.items()
        if name != "format.json"
    }
    header = {"format": "mlmicro-archive", "format_version": 1, "members": listing}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        if relist:
            archive.writestr("format.json", json.dumps(header))
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def rewrite(source: Path, target: Path, edit: Callable[[dict[str, bytes]], object]) -> Path:
    """Copy a bundle with its members edited and ``format.json`` made to match them."""
    members = members_of(source)
    edited = edit(members)
    return write_members(target, edited if isinstance(edited, dict) else members)


class Payload:
    """Unpickling this creates ``marker``: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def pickle_bytes(marker: Path) -> bytes:
    """A pickle whose loading creates ``marker``."""
    import pickle

    return pickle.dumps(Payload(marker))


def npy_with_pickle(marker: Path) -> bytes:
    """A ``.npy`` object array holding the payload (``np.load(allow_pickle=True)`` runs it)."""
    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, np.array([Payload(marker)], dtype=object), allow_pickle=True)
    return buffer.getvalue()


def write_legacy_bundle(model, path: Path, *, payload: object | None = None) -> Path:
    """Write ``model`` as the old format did: a joblib pickle and a card with its SHA-256."""
    card = model.card.to_dict()
    card["format_version"] = 1
    content = payload or {
        "format": BUNDLE_FORMAT,
        "format_version": 1,
        "pipeline": model.pipeline,
        "cv": model.cv,
        "training": model.training,
        "card": card,
    }
    joblib.dump(content, path, compress=3)
    card["bundle"] = {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    path.with_suffix(".json").write_text(json.dumps(card))
    return path
