"""BIOM tables: format 1.0 (JSON) and 2.1 (HDF5), read without biom-format.

The HDF5 layout (biom-format.org, "BIOM v2.1") is read with h5py and scipy:
``sample/matrix/{data,indices,indptr}`` is a CSR matrix with samples as rows,
``observation/ids`` and ``sample/ids`` name the axes, and
``observation/metadata/taxonomy`` holds each observation's lineage (a 2-D
array of rank strings, or one string per observation). The JSON layout keeps
the same information in ``rows``, ``columns`` and ``data`` (sparse triplets or
dense rows).
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any

import h5py
import numpy as np
import scipy.sparse as sp

from mlmicro.exceptions import InputFileError, InvalidTableError
from mlmicro.io._source import Source
from mlmicro.io._table import RawTable

__all__ = ["read_biom", "parse_biom"]

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def read_biom(source: Source, *, orientation: str = "auto") -> RawTable:
    """Read a BIOM 1.0 (JSON) or 2.1 (HDF5) file.

    Parameters
    ----------
    source : Source
        The input file.
    orientation : str
        Ignored: BIOM files name their axes.

    Returns
    -------
    RawTable
        Samples x observations, with each observation's lineage when the
        file has ``taxonomy`` observation metadata.
    """
    del orientation  # fixed by the format
    return parse_biom(source.read_bytes(), source.name)


def parse_biom(data: bytes, where: str) -> RawTable:
    """Parse the bytes of a BIOM file (HDF5 or JSON).

    Parameters
    ----------
    data : bytes
        The file's content.
    where : str
        The file (or archive member), for messages.

    Returns
    -------
    RawTable
        Samples x observations.

    Raises
    ------
    InputFileError
        If the file is truncated, corrupt or lacks part of the BIOM layout.
    """
    if data.startswith(_HDF5_MAGIC):
        return _parse_hdf5(data, where)
    return _parse_json(data, where)


def _corrupt(where: str, kind: str, detail: object) -> InputFileError:
    return InputFileError(
        f"BIOM {kind} file {where} is truncated or corrupt ({detail}); "
        "export or download it again (e.g. with `biom convert`)."
    )


def _text(value: Any) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def _lineage(value: Any) -> str | None:
    """Turn one observation's taxonomy metadata into one string, or ``None``."""
    if value is None:
        return None
    if isinstance(value, list | tuple | np.ndarray):
        ranks = [_text(rank).strip() for rank in value]
        text = "; ".join(ranks).strip("; ")
    else:
        text = _text(value).strip()
        if text.startswith("["):
            try:
                return _lineage(json.loads(text))
            except json.JSONDecodeError:
                pass
    return text or None


# -- HDF5 (BIOM 2.x) -----------------------------------------------------------


def _parse_hdf5(data: bytes, where: str) -> RawTable:
    try:
        with h5py.File(io.BytesIO(data), "r") as handle:
            observations = [_text(v) for v in handle["observation/ids"][()]]
            samples = [_text(v) for v in handle["sample/ids"][()]]
            values = _hdf5_matrix(handle, len(samples), len(observations))
            lineages = _hdf5_taxonomy(handle, len(observations))
    except (OSError, KeyError, ValueError, TypeError) as err:
        raise _corrupt(where, "HDF5", err) from None
    return RawTable(
        values=values, samples=samples, features=observations, lineages=lineages, where=where
    )


def _hdf5_matrix(handle: h5py.File, n_samples: int, n_observations: int) -> np.ndarray:
    if "sample/matrix" in handle:
        group, shape, transpose = handle["sample/matrix"], (n_samples, n_observations), False
    else:
        group, shape, transpose = handle["observation/matrix"], (n_observations, n_samples), True
    matrix = sp.csr_matrix(
        (group["data"][()].astype(np.float64), group["indices"][()], group["indptr"][()]),
        shape=shape,
    ).toarray()
    return matrix.T.copy() if transpose else matrix


def _hdf5_taxonomy(handle: h5py.File, n_observations: int) -> list[str | None] | None:
    group = handle.get("observation/metadata")
    if group is None:
        return None
    key = next((name for name in group if name.lower() == "taxonomy"), None)
    if key is None:
        return None
    array = group[key][()]
    if len(array) != n_observations:
        raise ValueError(f"{len(array)} taxonomy entries for {n_observations} observations")
    return [_lineage(entry) for entry in array]


# -- JSON (BIOM 1.0) -----------------------------------------------------------


def _parse_json(data: bytes, where: str) -> RawTable:
    try:
        document = json.loads(data)
    except json.JSONDecodeError as err:
        raise _corrupt(
            where, "JSON", f"{err.msg} at line {err.lineno}, column {err.colno}"
        ) from None
    except UnicodeDecodeError as err:
        raise _corrupt(where, "JSON", err) from None
    if not isinstance(document, dict):
        raise _corrupt(where, "JSON", "the top level is not an object")
    missing = [key for key in ("rows", "columns", "data", "shape") if key not in document]
    if missing:
        raise _corrupt(where, "JSON", f"no {', '.join(repr(k) for k in missing)} entry")
    try:
        observations = [str(row["id"]) for row in document["rows"]]
        samples = [str(column["id"]) for column in document["columns"]]
        lineages = _json_taxonomy(document["rows"])
        shape = (int(document["shape"][0]), int(document["shape"][1]))
    except (KeyError, TypeError, IndexError, ValueError) as err:
        raise _corrupt(where, "JSON", f"bad rows, columns or shape: {err!r}") from None
    if shape != (len(observations), len(samples)):
        raise _corrupt(
            where,
            "JSON",
            f"shape {list(shape)} but {len(observations)} rows x {len(samples)} columns",
        )
    values = _json_matrix(document, shape, where)
    return RawTable(
        values=values.T.copy(),
        samples=samples,
        features=observations,
        lineages=lineages,
        where=where,
    )


def _json_taxonomy(rows: Sequence[dict[str, Any]]) -> list[str | None] | None:
    lineages: list[str | None] = []
    for row in rows:
        metadata = row.get("metadata") or {}
        key = next((name for name in metadata if name.lower() == "taxonomy"), None)
        lineages.append(_lineage(metadata[key]) if key is not None else None)
    return lineages if any(lineage is not None for lineage in lineages) else None


def _json_matrix(document: dict[str, Any], shape: tuple[int, int], where: str) -> np.ndarray:
    try:
        entries = np.asarray(document["data"], dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise InvalidTableError(
            f"The BIOM file {where} has a non-numeric value in its data ({err}); "
            "fix the file or export it again."
        ) from None
    if str(document.get("matrix_type", "sparse")).lower() == "dense":
        if entries.shape != shape:
            raise _corrupt(where, "JSON", f"dense data of shape {entries.shape}, expected {shape}")
        return entries
    if entries.size == 0:
        return np.zeros(shape)
    if entries.ndim != 2 or entries.shape[1] != 3:
        raise _corrupt(where, "JSON", "sparse data is not a list of [row, column, value]")
    rows, columns = entries[:, 0].astype(np.intp), entries[:, 1].astype(np.intp)
    if rows.min() < 0 or columns.min() < 0 or rows.max() >= shape[0] or columns.max() >= shape[1]:
        raise _corrupt(where, "JSON", "a data entry lies outside the table's shape")
    return sp.coo_matrix((entries[:, 2], (rows, columns)), shape=shape).toarray()
