"""Old joblib bundles: read only when trusted, to convert them to the archive format.

Before the archive format (:mod:`mlmicro.model.bundle`), ``mlmicro train`` saved
``NAME.joblib``, a pickle, with a JSON card beside it recording the pickle's
SHA-256. Unpickling runs whatever code the file holds, and the digest in the
card only detects accidental damage (whoever can replace the pickle can replace
the card too). :func:`convert_legacy_bundle` is therefore the only place that
unpickles, and only when told the file is trusted (``mlmicro convert OLD NEW
--trust``); it writes the model again as a data-only archive.
"""

from __future__ import annotations

import hashlib
import json
import warnings
import zipfile
from pathlib import Path

from mlmicro.exceptions import ModelBundleError, OutputExistsError
from mlmicro.model.bundle import (
    BUNDLE_SUFFIX,
    BundleContents,
    KeyLike,
    ModelVersionWarning,
    bundle_path,
    card_path,
    save_model,
)
from mlmicro.model.card import BUNDLE_FORMAT, ModelCard, library_versions
from mlmicro.model.training import CVResult
from mlmicro.model.training_data import TrainingData
from mlmicro.model.trust import Trust

__all__ = ["LEGACY_VERSION", "convert_legacy_bundle", "legacy_card_path", "read_legacy_bundle"]

#: ``format_version`` of joblib bundles.
LEGACY_VERSION = 1
_CHECKED = ("mlmicro", "scikit-learn", "xgboost")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def legacy_card_path(path: str | Path) -> Path:
    """Return the card of an old joblib bundle: ``NAME.json`` beside ``NAME.joblib``."""
    return Path(path).with_suffix(".json")


def _legacy_card(path: Path) -> ModelCard:
    json_path = legacy_card_path(path)
    if not json_path.is_file():
        raise ModelBundleError(
            f"{json_path} not found: an old joblib bundle needs its model card beside it "
            "(same name, .json); keep the two files together or retrain."
        )
    try:
        data = json.loads(json_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelBundleError(
            f"{json_path} is not a valid model card ({exc.__class__.__name__}); retrain the model."
        ) from None
    if isinstance(data, dict) and data.get("format_version") != LEGACY_VERSION:
        raise ModelBundleError(
            f"{json_path} is not the card of an old joblib bundle (format "
            f"{str(data.get('format_version'))[:20]}); nothing to convert."
        )
    return ModelCard.from_dict(data, where=str(json_path))


def _check_versions(card: ModelCard, path: Path) -> None:
    saved = card.versions
    current = library_versions()
    for name in _CHECKED:
        if saved.get(name) and saved[name] != current.get(name):
            warnings.warn(
                f"{path.name} was pickled with {name} {saved[name]} but {current.get(name)} is "
                f"installed; the converted model may predict differently. Convert it where "
                f"{name}=={saved[name]} is installed, or retrain the model with mlmicro train.",
                ModelVersionWarning,
                stacklevel=3,
            )


def read_legacy_bundle(path: str | Path, *, trust: bool = False) -> BundleContents:
    """Unpickle an old joblib bundle, after checking it against the SHA-256 in its card.

    Parameters
    ----------
    path : str or pathlib.Path
        The ``.joblib`` file; its ``.json`` card must lie beside it.
    trust : bool
        Must be ``True``: unpickling runs any code the file holds.

    Raises
    ------
    ModelBundleError
        If ``trust`` is not set, the card is missing, the digest does not match, or the
        file is not an mlmicro joblib bundle.
    """
    path = Path(path)
    if not trust:
        raise ModelBundleError(
            f"{path} is a joblib pickle: loading it runs whatever code it holds, and its card "
            "cannot show who made it. Convert it only if you made it or trust its source, by "
            "adding --trust (trust=True)."
        )
    if not path.is_file():
        raise ModelBundleError(f"Model file {path} not found; check the path.")
    card = _legacy_card(path)
    expected = (card.bundle or {}).get("sha256")
    if expected != _sha256(path):
        raise ModelBundleError(
            f"{path} does not match the SHA-256 in its model card: the file was changed after "
            "it was saved; refusing to load it. Restore the original file or retrain."
        )
    _check_versions(card, path)
    import joblib  # only here: the archive format never unpickles

    try:
        payload = joblib.load(path)
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
            f"{path} could not be read as a joblib bundle ({type(exc).__name__}); retrain it."
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != BUNDLE_FORMAT:
        raise ModelBundleError(f"{path} is not an mlmicro joblib bundle; nothing to convert.")
    cv, training = payload.get("cv"), payload.get("training")
    if not isinstance(cv, CVResult | None) or not isinstance(training, TrainingData | None):
        raise ModelBundleError(f"{path} holds CV results or training data of unknown types.")
    return BundleContents(pipeline=payload["pipeline"], card=card, cv=cv, training=training)


class _Converted:
    def __init__(self, contents: BundleContents) -> None:
        self.pipeline = contents.pipeline
        self.card = contents.card
        self.cv = contents.cv
        self.training = contents.training
        # bundles of the pickled format were made before calibration existed
        self.trust = None if contents.trust is None else Trust.from_dict(contents.trust)


def convert_legacy_bundle(
    old: str | Path,
    new: str | Path,
    *,
    trust: bool = False,
    force: bool = False,
    key: KeyLike | None = None,
) -> Path:
    """Convert an old joblib bundle to a ``.mlmodel`` archive.

    Parameters
    ----------
    old : str or pathlib.Path
        The ``.joblib`` bundle (its ``.json`` card beside it); never modified.
    new : str or pathlib.Path
        The archive to write (``.mlmodel`` is added when there is no extension).
    trust : bool
        Must be ``True`` (see :func:`read_legacy_bundle`).
    force : bool
        Overwrite ``new`` if it exists.
    key : bytes, str, path or None
        Signing key for the new bundle (see :func:`mlmicro.model.bundle.resolve_key`).

    Returns
    -------
    pathlib.Path
        The archive written.

    Raises
    ------
    ModelBundleError
        See :func:`read_legacy_bundle`; also when ``new`` would replace ``old`` or its card.
    OutputExistsError
        If ``new`` exists and ``force`` is not set.
    """
    old, target = Path(old), bundle_path(new)
    if target.suffix != BUNDLE_SUFFIX:
        raise ModelBundleError(f"{target}: the converted bundle must end in {BUNDLE_SUFFIX}.")
    inputs = {old.resolve(), legacy_card_path(old).resolve()}
    if target.resolve() in inputs or card_path(target).resolve() in inputs:
        raise ModelBundleError(
            f"Converting {old} to {target} would overwrite the input; choose another name."
        )
    if target.exists() and not force:
        raise OutputExistsError(
            f"{target} already exists; pass --force to overwrite it or choose another path."
        )
    contents = read_legacy_bundle(old, trust=trust)
    return save_model(_Converted(contents), target, key=key)
