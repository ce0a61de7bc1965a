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
import platform
import tempfile
import warnings
import zipfile
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import joblib

from mlmicro.exceptions import ModelBundleError
from mlmicro.model.model import Model

__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_VERSION",
    "ModelVersionWarning",
    "library_versions",
    "save_model",
    "load_model",
    "read_card",
    "card_path",
]

BUNDLE_FORMAT = "mlmicro-model"
BUNDLE_VERSION = 1
_CHECKED = ("mlmicro", "scikit-learn", "xgboost")


class ModelVersionWarning(UserWarning):
    """A model was saved with other library versions than the ones installed."""


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries a bundle depends on."""
    out = {"python": platform.python_version()}
    for name in ("mlmicro", "scikit-learn", "xgboost", "numpy", "pandas", "scipy", "shap"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:  # pragma: no cover - all are dependencies
            out[name] = "not installed"
    return out


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


def save_model(model: Model, path: str | Path) -> Path:
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
    card = dict(model.card)
    card["name"] = bundle_path.stem
    payload = {
        "format": BUNDLE_FORMAT,
        "format_version": BUNDLE_VERSION,
        "pipeline": model.pipeline,
        "classes": model.classes,
        "positive_class": model.positive_class,
        "cv": model.cv,
        "training": model.training,
        "card": card,
    }
    with _temporary_beside(bundle_path) as tmp_bundle, _temporary_beside(json_path) as tmp_card:
        joblib.dump(payload, tmp_bundle, compress=3)
        card["bundle"] = {"file": bundle_path.name, "sha256": _sha256(tmp_bundle)}
        tmp_card.write_text(
            json.dumps(card, indent=2, default=_json_default) + "\n", encoding="utf-8"
        )
        os.replace(tmp_bundle, bundle_path)
        os.replace(tmp_card, json_path)
    model.card = card
    return bundle_path


def read_card(path: str | Path) -> dict[str, Any]:
    """Read a model card (given the bundle or the card path) without unpickling anything."""
    json_path = card_path(path)
    if not json_path.is_file():
        raise ModelBundleError(
            f"{json_path} not found: a model bundle needs its model card beside it "
            "(same name, .json); keep the two files together or retrain."
        )
    try:
        card = json.loads(json_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelBundleError(
            f"{json_path} is not a valid model card ({exc}); retrain the model."
        ) from None
    if not isinstance(card, dict) or card.get("format") != BUNDLE_FORMAT:
        raise ModelBundleError(
            f"{json_path} is not an mlmicro model card; pass a file made by mlmicro train."
        )
    return card


def load_model(path: str | Path, *, verify: bool = True) -> Model:
    """Load a model saved by :func:`save_model` or ``mlmicro train``.

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
    Model

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
        expected = card.get("bundle", {}).get("sha256")
        actual = _sha256(bundle_path)
        if expected != actual:
            raise ModelBundleError(
                f"{bundle_path} does not match the SHA-256 in its model card: the file was changed "
                "after it was saved; refusing to load it. Retrain or restore the original file."
            )
    if card.get("format_version") != BUNDLE_VERSION:
        raise ModelBundleError(
            f"{bundle_path} uses bundle format {card.get('format_version')}, this mlmicro reads "
            f"format {BUNDLE_VERSION}; retrain the model with this version."
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
    return Model(
        payload["pipeline"],
        classes=payload["classes"],
        positive_class=payload["positive_class"],
        card=payload["card"] | {"bundle": card.get("bundle")},
        cv=payload["cv"],
        training=payload["training"],
    )


def _check_versions(card: dict[str, Any], path: Path) -> None:
    saved = card.get("versions", {})
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
