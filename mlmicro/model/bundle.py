"""Model bundles: one data-only archive that loads without running any code.

``models/NAME.mlmodel`` is a zip archive (:mod:`mlmicro.model.archive`) of data members only:

* ``model.json``: the bundle format and version;
* ``card.json``: the model card (:class:`~mlmicro.model.card.ModelCard`), authoritative;
* ``pipeline/``: every fitted step as declared state, JSON and ``.npy`` arrays, the XGBoost
  booster in XGBoost's own JSON format (:func:`mlmicro.model.persist.dump_pipeline`);
* ``cv/`` and ``training/``: the CV results and the training cohort
  (:mod:`mlmicro.model.bundle_members`);
* ``signature.json`` when a signing key is set (:mod:`mlmicro.model.signing`).

No member is ever unpickled. :func:`read_bundle` reads the file once, into memory, and every
check (member names, sizes, per-member SHA-256, signature) runs on the bytes that are then
parsed. ``models/NAME.card.json`` beside the archive is a human-readable copy of the card;
it is never read back. Bundles of the old joblib format are refused on load with the command that
converts them (:mod:`mlmicro.model.legacy`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from mlmicro.exceptions import ConfigError, ModelBundleError
from mlmicro.io import atomic_write
from mlmicro.model.archive import (
    ARCHIVE_FORMAT,
    ARCHIVE_VERSION,
    MAX_TOTAL_BYTES,
    read_archive,
    write_archive,
)
from mlmicro.model.bundle_members import (
    CARD_MEMBER,
    card_from_member,
    card_to_member,
    cv_from_members,
    cv_to_members,
    json_bytes,
    parse_json,
    training_from_members,
    training_to_members,
)
from mlmicro.model.card import BUNDLE_FORMAT, BUNDLE_VERSION, ModelCard
from mlmicro.model.persist import PREFIX, dump_pipeline, load_pipeline
from mlmicro.model.signing import (
    SIGNATURE_MEMBER,
    SignatureInfo,
    key_id,
    load_signing_key,
    parse_key,
    signature_member,
    verify,
)

__all__ = [
    "BUNDLE_SUFFIX",
    "CARD_SUFFIX",
    "LEGACY_SUFFIX",
    "BundleContents",
    "KeyLike",
    "ModelVersionWarning",
    "bundle_path",
    "card_path",
    "check_save_path",
    "convert_command",
    "read_bundle",
    "read_card",
    "resolve_key",
    "save_model",
]

#: File extension of model bundles.
BUNDLE_SUFFIX = ".mlmodel"
#: Ending of the human-readable card copy written beside a bundle (never read back).
CARD_SUFFIX = ".card.json"
#: File extension of the old, pickled bundle format (refused by :func:`read_bundle`).
LEGACY_SUFFIX = ".joblib"
_MODEL_MEMBER = "model.json"
#: Calibration, threshold and applicability-domain reference, as plain JSON.
TRUST_MEMBER = "trust.json"
_ZIP_MAGIC = b"PK\x03\x04"
_MIN_KEY_BYTES = 16
#: A signing key: raw bytes, key text (hex or a passphrase), or the path of a key file.
KeyLike = bytes | str | os.PathLike[str]


class ModelVersionWarning(UserWarning):
    """A pickled (old-format) model was saved with other library versions than installed."""


class _Saveable(Protocol):
    pipeline: Any
    cv: Any
    training: Any
    card: ModelCard
    trust: Any


@dataclass(frozen=True)
class BundleContents:
    """What a bundle file holds, as read back by :func:`read_bundle`.

    Attributes
    ----------
    pipeline : sklearn.pipeline.Pipeline
    card : ModelCard
        The card stored inside the archive.
    cv : CVResult or None
    training : TrainingData or None
    provenance : SignatureInfo
        Whether the bundle was signed, by which key id, and whether that was verified.
    """

    pipeline: Any
    card: ModelCard
    cv: Any
    training: Any
    provenance: SignatureInfo = SignatureInfo(signed=False, key_id=None, verified=False)
    trust: dict[str, Any] | None = None


def card_path(path: str | Path) -> Path:
    """Return the path of the human-readable card copy beside a bundle (``NAME.card.json``).

    Examples
    --------
    >>> card_path("models/cd.mlmodel").as_posix()
    'models/cd.card.json'
    """
    return bundle_path(path).with_suffix(CARD_SUFFIX)


def bundle_path(path: str | Path) -> Path:
    """Return the bundle path for ``path``: ``.mlmodel`` added, a card copy mapped to its bundle.

    Examples
    --------
    >>> bundle_path("models/cd").as_posix(), bundle_path("models/cd.card.json").as_posix()
    ('models/cd.mlmodel', 'models/cd.mlmodel')
    """
    path = Path(path)
    if path.name.endswith(CARD_SUFFIX):
        return path.with_name(path.name[: -len(CARD_SUFFIX)] + BUNDLE_SUFFIX)
    if path.suffix in ("", ".json"):
        return path.with_suffix(BUNDLE_SUFFIX)
    return path


def check_save_path(path: str | Path) -> Path:
    """Return the bundle path :func:`save_model` writes for ``path``; refuse ``.joblib``.

    Raises
    ------
    ModelBundleError
        If ``path`` ends in ``.joblib``: the pickled format is not written any more.
    """
    target = bundle_path(path)
    if target.suffix == LEGACY_SUFFIX:
        raise ModelBundleError(
            f"{target}: models are saved as {BUNDLE_SUFFIX} archives, not joblib pickles; "
            f"use {target.with_suffix(BUNDLE_SUFFIX)}."
        )
    return target


def convert_command(path: str | Path) -> str:
    """Return the command that converts an old joblib bundle at ``path`` to the new format."""
    old = Path(path)
    return f"mlmicro convert {old} {old.with_suffix(BUNDLE_SUFFIX)} --trust"


def resolve_key(key: KeyLike | None) -> bytes | None:
    """Return the signing key: ``key`` itself, else the environment (``MLMICRO_SIGNING_KEY``).

    Parameters
    ----------
    key : bytes, str, path or None
        Raw key bytes (used as they are); key text (hex digits or a passphrase, see
        :func:`mlmicro.model.signing.parse_key`); a key file; or ``None`` to use
        ``MLMICRO_SIGNING_KEY`` / ``MLMICRO_SIGNING_KEY_FILE`` (no key when both are unset).

    Raises
    ------
    ConfigError
        If the key is too short or its file cannot be read.
    """
    if key is None:
        return load_signing_key()
    if isinstance(key, bytes):
        if len(key) < _MIN_KEY_BYTES:
            raise ConfigError(
                f"The signing key given has {len(key)} bytes; use at least {_MIN_KEY_BYTES}."
            )
        return key
    if isinstance(key, str):
        return parse_key(key, where="the key given")
    return load_signing_key(key)


def save_model(model: _Saveable, path: str | Path, *, key: KeyLike | None = None) -> Path:
    """Write ``model`` to one archive at ``path`` and a readable card copy beside it.

    The archive is written to a temporary file and renamed into place, so an
    interrupted save never leaves a half-written model. With a signing key
    (``key``, or the environment: see :func:`resolve_key`) the members are signed.

    Parameters
    ----------
    model : Model
    path : str or pathlib.Path
        Bundle path; ``.mlmodel`` is added when there is no extension. Folders are created.
    key : bytes, str, path or None
        Signing key (see :func:`resolve_key`).

    Returns
    -------
    pathlib.Path
        The bundle path.

    Raises
    ------
    ModelBundleError
        If ``path`` ends in ``.joblib`` (the old format is not written any more), or a
        pipeline step cannot be stored as data.
    """
    target = check_save_path(path)
    signing_key = resolve_key(key)
    card = replace(
        model.card,
        name=target.stem,
        bundle={
            "file": target.name,
            "format": ARCHIVE_FORMAT,
            "format_version": ARCHIVE_VERSION,
            "signed_by": None if signing_key is None else key_id(signing_key),
        },
    )
    members: dict[str, bytes] = {
        _MODEL_MEMBER: json_bytes({"format": BUNDLE_FORMAT, "format_version": BUNDLE_VERSION}),
        CARD_MEMBER: card_to_member(card),
        **dump_pipeline(model.pipeline),
        **cv_to_members(model.cv),
        **training_to_members(model.training),
        **(
            {}
            if model.trust is None
            else {TRUST_MEMBER: json_bytes(model.trust.to_dict(), indent=None)}
        ),
    }
    if signing_key is not None:
        members[SIGNATURE_MEMBER] = signature_member(members, signing_key)
    write_archive(target, members)
    with atomic_write(card_path(target)) as handle:  # a copy to read; never read back
        handle.write(card_to_member(card))
    model.card = card
    return target


def read_card(path: str | Path, *, key: KeyLike | None = None) -> ModelCard:
    """Return the model card stored inside a bundle (the archive is checked, nothing runs)."""
    return read_bundle(path, key=key).card


def _read_once(path: Path) -> bytes:
    """Read the whole file in one open, bounded by the archive size limit."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_TOTAL_BYTES + 1)
    except FileNotFoundError:
        raise ModelBundleError(
            f"Model file {path} not found; check the path or train a model first."
        ) from None
    except IsADirectoryError:
        raise ModelBundleError(f"Model file {path} is a folder; pass the bundle file.") from None
    except OSError as exc:
        raise ModelBundleError(f"Model file {path} cannot be read ({exc.strerror}).") from None
    if len(data) > MAX_TOTAL_BYTES:
        raise ModelBundleError(
            f"{path} is larger than {MAX_TOTAL_BYTES} bytes; refusing to read it as a model."
        )
    return data


def _legacy_error(path: Path, why: str) -> ModelBundleError:
    return ModelBundleError(
        f"{path} {why}, which runs code when loaded, so it is not loaded; if you trust its "
        f"source, convert it once: {convert_command(path)}"
    )


def _check_consistent(card: ModelCard, pipeline: Any, training: Any, where: str) -> None:
    try:
        taxa = [str(t) for t in pipeline.named_steps["rank"].taxa_]
        classes = list(pipeline[-1].classes_)
    except (KeyError, AttributeError, TypeError):
        raise ModelBundleError(f"{where}: the pipeline has no fitted rank step.") from None
    if taxa != list(card.features):
        raise ModelBundleError(
            f"{where}: the card's features differ from the pipeline's input schema; refusing it."
        )
    if len(classes) != len(card.classes):
        raise ModelBundleError(
            f"{where}: the card names {len(card.classes)} classes but the classifier has "
            f"{len(classes)}; refusing it."
        )
    if training is not None and (training.taxa != taxa or not set(training.y) <= set(card.classes)):
        raise ModelBundleError(
            f"{where}: the training cohort does not match the model's taxa and classes."
        )


# parse errors of the libraries that read members (pyarrow and xgboost errors subclass these)
_PARSE_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError)


def read_bundle(path: str | Path, *, key: KeyLike | None = None) -> BundleContents:
    """Read a bundle saved by :func:`save_model`; :func:`mlmicro.load_model` builds the model.

    The file is read once. The archive's member names and per-member SHA-256
    are checked, then the signature (with a key, a bundle must be signed by
    that key), then each member is parsed as data; nothing is unpickled.

    Parameters
    ----------
    path : str or pathlib.Path
        The ``.mlmodel`` bundle (or the ``.json`` card copy beside it).
    key : bytes, str, path or None
        Signing key (see :func:`resolve_key`); ``None`` uses the environment.

    Returns
    -------
    BundleContents

    Raises
    ------
    ModelBundleError
        If the file is missing, not a bundle, an old joblib bundle, damaged, tampered with
        (unsigned with a key set, signed by another key, changed after signing), or
        holds parts that do not fit together.
    """
    source = bundle_path(path)
    where = str(source)
    if source.suffix == LEGACY_SUFFIX:
        raise _legacy_error(source, "is an old joblib (pickle) bundle")
    signing_key = resolve_key(key)
    data = _read_once(source)
    if not data.startswith(_ZIP_MAGIC):
        if data[:1] == b"\x80" or data[:2] in (b"\x78\x01", b"\x78\x5e", b"\x78\x9c", b"\x78\xda"):
            raise _legacy_error(source, "holds a pickle (an old joblib bundle?), not an archive")
        raise ModelBundleError(
            f"{where} is not an mlmicro model bundle (not a zip archive); pass a file saved by "
            "mlmicro train."
        )
    members = read_archive(data, where=where)
    provenance = verify(members, signing_key, where=where)
    model_info = parse_json(members.get(_MODEL_MEMBER, b"null"), name=_MODEL_MEMBER, where=where)
    if not isinstance(model_info, dict) or model_info.get("format") != BUNDLE_FORMAT:
        raise ModelBundleError(f"{where} is not an mlmicro model bundle (no valid model.json).")
    if model_info.get("format_version") != BUNDLE_VERSION:
        raise ModelBundleError(
            f"{where} uses bundle format {str(model_info.get('format_version'))[:20]}, this "
            f"mlmicro reads format {BUNDLE_VERSION}; upgrade mlmicro or retrain the model."
        )
    try:
        card = card_from_member(members, where=where)
        pipeline = load_pipeline(members, prefix=PREFIX, source=where)
        cv = cv_from_members(members, classes=card.classes, where=where)
        training = training_from_members(members, where=where)
        trust = (
            parse_json(members[TRUST_MEMBER], name=TRUST_MEMBER, where=where)
            if TRUST_MEMBER in members
            else None
        )
        if trust is not None and not isinstance(trust, dict):
            raise ModelBundleError(f"{where}: {TRUST_MEMBER} is not a JSON object; refusing it.")
    except ModelBundleError:
        raise
    except _PARSE_ERRORS as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        raise ModelBundleError(
            f"{where} holds a member that cannot be read as model data ({reason}); refusing it."
        ) from None
    _check_consistent(card, pipeline, training, where)
    return BundleContents(
        pipeline=pipeline,
        card=card,
        cv=cv,
        training=training,
        provenance=provenance,
        trust=trust,
    )
