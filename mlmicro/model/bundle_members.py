"""The parts of a model bundle as archive members, and back: card, CV results, training cohort.

Every member is data: JSON, Parquet tables (:func:`~mlmicro.model.archive.frame_to_parquet`)
and plain numeric ``.npy`` arrays (:func:`~mlmicro.model.archive.array_to_npy`). The pipeline's
members are written by :func:`mlmicro.model.persist.dump_pipeline`.

* ``card.json``: :meth:`ModelCard.to_dict`.
* ``cv/result.json`` (scheme, folds, repeats, summary, permutation, notes and which tables
  follow) and ``cv/<table>.parquet`` for ``per_repeat``, ``oof``, ``per_study`` and
  ``fold_importance``.
* ``training/cohort.json`` (shape, sample IDs, taxa, labels) and the CSR matrix as
  ``training/data.npy``, ``training/indices.npy``, ``training/indptr.npy``.

Reading checks types and shapes, so a malformed member is refused with a
:class:`~mlmicro.exceptions.ModelBundleError` rather than failing later.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from mlmicro.exceptions import ModelBundleError
from mlmicro.model.archive import array_to_npy, frame_to_parquet, npy_to_array, parquet_to_frame
from mlmicro.model.card import ModelCard
from mlmicro.model.persist.members import json_nesting
from mlmicro.model.training import CVResult
from mlmicro.model.training_data import TrainingData

__all__ = [
    "CARD_MEMBER",
    "cv_to_members",
    "cv_from_members",
    "training_to_members",
    "training_from_members",
    "card_to_member",
    "card_from_member",
    "json_bytes",
    "parse_json",
]

CARD_MEMBER = "card.json"
_CV_META = "cv/result.json"
_CV_TABLES = ("per_repeat", "oof", "per_study", "fold_importance")
_REQUIRED_TABLES = ("per_repeat", "oof")
_COHORT = "training/cohort.json"
_CSR = ("data", "indices", "indptr")
_MAX_NESTING = 64


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON data")


def json_bytes(value: Any, *, indent: int | None = 1) -> bytes:
    """Return ``value`` as UTF-8 JSON bytes (numpy scalars and arrays as plain values)."""
    try:
        text = json.dumps(value, indent=indent, default=_json_default, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise ModelBundleError(f"A model bundle part is not plain data ({exc}).") from None
    return (text + "\n").encode("utf-8")


def parse_json(data: bytes, *, name: str, where: str) -> Any:
    """Parse a JSON member, refusing invalid UTF-8/JSON and deep nesting in one line."""
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ModelBundleError(
            f"{where}: member {name!r} is not valid JSON; refusing it."
        ) from None
    if json_nesting(document) > _MAX_NESTING:
        raise ModelBundleError(f"{where}: member {name!r} nests values too deeply; refusing it.")
    return document


# --------------------------------------------------------------------------- card
def card_to_member(card: ModelCard) -> bytes:
    """Return the content of ``card.json``."""
    return json_bytes(card.to_dict(), indent=2)


def card_from_member(members: Mapping[str, bytes], *, where: str) -> ModelCard:
    """Rebuild the model card from ``card.json``."""
    if CARD_MEMBER not in members:
        raise ModelBundleError(f"{where} holds no {CARD_MEMBER}; it is not a model bundle.")
    data = parse_json(members[CARD_MEMBER], name=CARD_MEMBER, where=where)
    return ModelCard.from_dict(data, where=f"{where}: {CARD_MEMBER}")


# ---------------------------------------------------------------------------- CV
def cv_to_members(cv: CVResult | None) -> dict[str, bytes]:
    """Return CV results as ``cv/`` members (none when ``cv`` is ``None``)."""
    if cv is None:
        return {}
    members: dict[str, bytes] = {}
    tables = []
    for name in _CV_TABLES:
        frame = getattr(cv, name)
        if frame is None:
            continue
        members[f"cv/{name}.parquet"] = frame_to_parquet(frame)
        tables.append(name)
    meta = {
        "scheme": cv.scheme,
        "folds": cv.folds,
        "repeats": cv.repeats,
        "summary": cv.summary,
        "permutation": cv.permutation,
        "notes": list(cv.notes),
        "tables": tables,
    }
    members[_CV_META] = json_bytes(meta)
    return members


def _numeric_frame(frame: pd.DataFrame, columns: list[str], name: str, where: str) -> None:
    bad = [c for c in columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if bad:
        raise ModelBundleError(
            f"{where}: CV table {name!r} has non-numeric column {str(bad[0])[:80]!r}; refusing it."
        )


def _check_cv_table(frame: pd.DataFrame, name: str, classes: list[str], where: str) -> None:
    if name == "oof":
        needed = ["repeat", "fold", "sample_id", "y_true"] + [f"probability_{c}" for c in classes]
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise ModelBundleError(
                f"{where}: the out-of-fold predictions lack column {missing[0]!r}; refusing them."
            )
        _numeric_frame(frame, ["repeat", "fold"] + needed[4:], name, where)
    elif name in ("per_repeat", "fold_importance"):
        _numeric_frame(frame, list(frame.columns), name, where)


def cv_from_members(
    members: Mapping[str, bytes], *, classes: list[str], where: str
) -> CVResult | None:
    """Rebuild the CV results written by :func:`cv_to_members` (``None`` when absent)."""
    inside = sorted(m for m in members if m.startswith("cv/"))
    if not inside:
        return None
    if _CV_META not in members:
        raise ModelBundleError(f"{where} holds CV tables but no {_CV_META}; refusing it.")
    meta = parse_json(members[_CV_META], name=_CV_META, where=where)
    fields_ok = (
        isinstance(meta, dict)
        and isinstance(meta.get("scheme"), str)
        and all(
            isinstance(meta.get(k), int) and not isinstance(meta.get(k), bool)
            for k in ("folds", "repeats")
        )
        and isinstance(meta.get("summary"), dict)
        and isinstance(meta.get("permutation"), dict | None)
        and isinstance(meta.get("notes"), list)
        and isinstance(meta.get("tables"), list)
    )
    if not fields_ok:
        raise ModelBundleError(f"{where}: {_CV_META} is not a CV result; refusing it.")
    tables = meta["tables"]
    expected = {f"cv/{t}.parquet" for t in tables if t in _CV_TABLES}
    if len(expected) != len(tables) or not set(_REQUIRED_TABLES) <= set(tables):
        raise ModelBundleError(f"{where}: {_CV_META} lists unknown or missing CV tables.")
    odd = sorted(set(inside) - expected - {_CV_META})
    missing = sorted(expected - set(inside))
    if odd or missing:
        raise ModelBundleError(
            f"{where}: CV member {(odd or missing)[0]!r} is "
            f"{'not listed in' if odd else 'listed in ' + _CV_META + ' but absent from'} "
            f"{_CV_META if odd else 'the bundle'}; refusing it."
        )
    frames: dict[str, pd.DataFrame | None] = dict.fromkeys(_CV_TABLES)
    for name in tables:
        member = f"cv/{name}.parquet"
        frame = parquet_to_frame(members[member], name=f"{where}: member {member!r}")
        _check_cv_table(frame, name, classes, where)
        frames[name] = frame
    return CVResult(
        scheme=meta["scheme"],
        folds=meta["folds"],
        repeats=meta["repeats"],
        per_repeat=frames["per_repeat"],
        summary=meta["summary"],
        oof=frames["oof"],
        per_study=frames["per_study"],
        permutation=meta["permutation"],
        fold_importance=frames["fold_importance"],
        notes=[str(n) for n in meta["notes"]],
    )


# ---------------------------------------------------------------------- training
def training_to_members(training: TrainingData | None) -> dict[str, bytes]:
    """Return the training cohort as ``training/`` members (none when ``None``)."""
    if training is None:
        return {}
    matrix = sparse.csr_matrix(training.matrix)
    members = {
        f"training/{part}.npy": array_to_npy(getattr(matrix, part), name=f"training {part}")
        for part in _CSR
    }
    members[_COHORT] = json_bytes(
        {
            "shape": list(matrix.shape),
            "sample_ids": list(training.sample_ids),
            "taxa": list(training.taxa),
            "y": list(training.y),
            **({} if training.subjects is None else {"subjects": list(training.subjects)}),
        }
    )
    return members


def _strings(value: object, length: int) -> bool:
    return (
        isinstance(value, list) and len(value) == length and all(isinstance(v, str) for v in value)
    )


def training_from_members(members: Mapping[str, bytes], *, where: str) -> TrainingData | None:
    """Rebuild the training cohort written by :func:`training_to_members`."""
    inside = {m for m in members if m.startswith("training/")}
    if not inside:
        return None
    expected = {_COHORT} | {f"training/{p}.npy" for p in _CSR}
    if inside != expected:
        odd = sorted(inside.symmetric_difference(expected))[0]
        raise ModelBundleError(
            f"{where}: training member {odd!r} is unexpected or missing; refusing the bundle."
        )
    meta = parse_json(members[_COHORT], name=_COHORT, where=where)
    shape = meta.get("shape") if isinstance(meta, dict) else None
    if not (
        isinstance(shape, list)
        and len(shape) == 2
        and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)
        and _strings(meta.get("sample_ids"), shape[0])
        and _strings(meta.get("taxa"), shape[1])
        and _strings(meta.get("y"), shape[0])
        and (meta.get("subjects") is None or _strings(meta.get("subjects"), shape[0]))
    ):
        raise ModelBundleError(
            f"{where}: {_COHORT} does not describe a training cohort (shape, sample IDs, taxa, "
            "labels and subjects must agree); refusing it."
        )
    parts = {
        p: npy_to_array(members[f"training/{p}.npy"], name=f"{where}: member 'training/{p}.npy'")
        for p in _CSR
    }
    data, indices, indptr = (parts[p] for p in _CSR)
    if not (
        data.ndim == indices.ndim == indptr.ndim == 1
        and data.dtype.kind == "f"
        and indices.dtype.kind in "iu"
        and indptr.dtype.kind in "iu"
        and len(indptr) == shape[0] + 1
        and len(data) == len(indices)
    ):
        raise ModelBundleError(
            f"{where}: the training matrix arrays do not form a {shape[0]} x {shape[1]} CSR "
            "matrix; refusing them."
        )
    try:
        matrix = sparse.csr_matrix((data, indices, indptr), shape=tuple(shape))
        matrix.check_format(full_check=True)
    except ValueError as exc:
        raise ModelBundleError(
            f"{where}: the training matrix is malformed ({exc}); refusing it."
        ) from None
    if not np.isfinite(matrix.data).all():
        raise ModelBundleError(f"{where}: the training matrix holds NaN or infinity; refusing it.")
    return TrainingData.from_parts(
        matrix, meta["sample_ids"], meta["taxa"], meta["y"], meta.get("subjects")
    )
