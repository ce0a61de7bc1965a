"""Persisting models: a joblib bundle and a JSON model card beside it.

``models/NAME.joblib`` holds the fitted pipeline and everything needed to use
and explain it; ``models/NAME.json`` (same stem) is the model card, readable
without unpickling. The card records the SHA-256 of the joblib file, and
:func:`load_model` checks it before unpickling: a joblib file is code, so only
load models you trust, and a changed file is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import joblib

from mlmicro.exceptions import ModelBundleError
from mlmicro.model.card import BUNDLE_FORMAT, BUNDLE_VERSION, ModelCard, library_versions

__all__ = [
    "BundleContents",
    "ModelVersionWarning",
    "card_path",
    "read_bundle",
    "read_card",
    "save_model",
]

_CHECKED = ("mlmicro", "scikit-learn", "xgboost")


class ModelVersionWarning(UserWarning):
    """A model was saved with other library versions than the ones installed."""


class _Saveable(Protocol):
    pipeline: Any
    cv: Any
    training: Any
    card: ModelCard
    trust: Any


@dataclass(frozen=True)
class BundleContents:
    """What a bundle file holds, as read back by :func:`read_bundle`."""

    pipeline: Any
    card: ModelCard
    cv: Any
    training: Any
    trust: dict[str, Any] | None = None


def card_path(path: str | Path) -> Path:
    """Return the model card path (``.json``) of a bundle path."""
    return Path(path).with_suffix(".json")


def _bundle_path(path: str | Path) -> Path:
    path = Path(path)
    return path if path.suffix == ".joblib" else path.with_suffix(".joblib")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def _temporary_beside(path: Path):
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    tmp = Path(name)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; saved models are ordinary files
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def save_model(model: _Saveable, path: str | Path) -> Path:
    """Write ``model`` to ``path`` (``.joblib``) and its card to the ``.json`` beside it.

    Both files are written to temporary files first and renamed into place,
    so an interrupted save never leaves a half-written model.

    Parameters
    ----------
    model : Model
    path : str or pathlib.Path
        Bundle path; ``.joblib`` is added when missing. Folders are created.

    Returns
    -------
    pathlib.Path
        The bundle path.
    """
    bundle_path = _bundle_path(path)
    bundle_path.parent.mkdir(parents=True, exist_ok=True)
    json_path = card_path(bundle_path)
    card = model.card.with_bundle(name=bundle_path.stem, file=bundle_path.name, sha256="")
    payload = {
        "format": BUNDLE_FORMAT,
        "format_version": BUNDLE_VERSION,
        "pipeline": model.pipeline,
        "cv": model.cv,
        "training": model.training,
        "trust": None if model.trust is None else model.trust.to_dict(),
        "card": card.to_dict(),
    }
    with _temporary_beside(bundle_path) as tmp_bundle, _temporary_beside(json_path) as tmp_card:
        joblib.dump(payload, tmp_bundle, compress=3)
        card = card.with_bundle(
            name=bundle_path.stem, file=bundle_path.name, sha256=_sha256(tmp_bundle)
        )
        tmp_card.write_text(
            json.dumps(card.to_dict(), indent=2, default=_json_default) + "\n", encoding="utf-8"
        )
        os.replace(tmp_bundle, bundle_path)
        os.replace(tmp_card, json_path)
    model.card = card
    return bundle_path


def read_card(path: str | Path) -> ModelCard:
    """Read a model card (given the bundle or the card path) without unpickling anything."""
    json_path = card_path(path)
    if not json_path.is_file():
        raise ModelBundleError(
            f"{json_path} not found: a model bundle needs its model card beside it "
            "(same name, .json); keep the two files together or retrain."
        )
    try:
        data = json.loads(json_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelBundleError(
            f"{json_path} is not a valid model card ({exc}); retrain the model."
        ) from None
    if isinstance(data, dict) and data.get("format") == BUNDLE_FORMAT:
        if data.get("format_version") != BUNDLE_VERSION:
            raise ModelBundleError(
                f"{json_path} uses bundle format {data.get('format_version')}, this mlmicro reads "
                f"format {BUNDLE_VERSION}; retrain the model with this version."
            )
    return ModelCard.from_dict(data, where=str(json_path))


def read_bundle(path: str | Path, *, verify: bool = True) -> BundleContents:
    """Read a bundle saved by :func:`save_model`; :func:`mlmicro.load_model` builds the model.

    The SHA-256 recorded in the model card is checked before the bundle is
    unpickled; a mismatch is refused. Library versions that differ from the
    ones the model was made with give a :class:`ModelVersionWarning`.

    Parameters
    ----------
    path : str or pathlib.Path
        The ``.joblib`` bundle or its ``.json`` card.
    verify : bool
        Check the digest (leave on unless you made the file yourself).

    Returns
    -------
    BundleContents

    Raises
    ------
    ModelBundleError
        If the file is missing, not a bundle, tampered with, or of an
        incompatible bundle format.
    """
    bundle_path = _bundle_path(path)
    if not bundle_path.is_file():
        raise ModelBundleError(
            f"Model file {bundle_path} not found; check the path or train a model first."
        )
    card = read_card(bundle_path)
    if verify:
        expected = (card.bundle or {}).get("sha256")
        actual = _sha256(bundle_path)
        if expected != actual:
            raise ModelBundleError(
                f"{bundle_path} does not match the SHA-256 in its model card: the file was changed "
                "after it was saved; refusing to load it. Retrain or restore the original file."
            )
    _check_versions(card, bundle_path)
    try:
        payload = joblib.load(bundle_path)
    except (
        EOFError,
        OSError,
        ValueError,
        KeyError,
        zipfile.BadZipFile,
        ImportError,
        AttributeError,
    ) as exc:
        raise ModelBundleError(
            f"{bundle_path} could not be read as a model bundle ({type(exc).__name__}); retrain it."
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != BUNDLE_FORMAT:
        raise ModelBundleError(
            f"{bundle_path} is not an mlmicro model bundle; pass a file made by mlmicro train."
        )
    return BundleContents(
        pipeline=payload["pipeline"],
        card=card,
        cv=payload.get("cv"),
        training=payload.get("training"),
        trust=payload.get("trust"),
    )


def _check_versions(card: ModelCard, path: Path) -> None:
    saved = card.versions
    current = library_versions()
    for name in _CHECKED:
        if saved.get(name) and saved[name] != current.get(name):
            warnings.warn(
                f"{path.name} was saved with {name} {saved[name]} but {current.get(name)} is "
                f"installed; predictions may differ. Install {name}=={saved[name]} or retrain "
                "the model with mlmicro train.",
                ModelVersionWarning,
                stacklevel=3,
            )
