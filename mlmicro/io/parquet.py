"""Parquet tables as written by :func:`mlmicro.io.write_table`.

Samples are rows; the sample IDs are the ``sample_id`` column (or the stored
index when there is no such column); every other column is a feature.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from mlmicro.exceptions import InputFileError, InvalidTableError
from mlmicro.io._source import Source
from mlmicro.io._table import SAMPLE_INDEX_NAME, RawTable

__all__ = ["read_parquet"]


def read_parquet(source: Source, *, orientation: str = "auto") -> RawTable:
    """Read a Parquet table with samples as rows.

    Parameters
    ----------
    source : Source
        The input file.
    orientation : str
        Ignored: Parquet tables written by mlmicro have samples as rows.

    Returns
    -------
    RawTable
        Samples x features.
    """
    del orientation  # fixed by the format
    try:
        frame = pd.read_parquet(io.BytesIO(source.read_bytes()))
    except (OSError, ValueError) as err:
        raise InputFileError(
            f"Parquet file {source.name} is truncated or corrupt ({err}); write it again."
        ) from None
    if SAMPLE_INDEX_NAME in frame.columns:
        frame = frame.set_index(SAMPLE_INDEX_NAME)
    for column in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[column]):
            raise InvalidTableError(
                f"Column {column!r} of {source.name} is not numeric; a table's columns must be "
                f"abundances, with sample IDs in a {SAMPLE_INDEX_NAME!r} column."
            )
    return RawTable(
        values=frame.to_numpy(dtype=np.float64, na_value=np.nan),
        samples=[str(s) for s in frame.index],
        features=[str(c) for c in frame.columns],
        where=source.name,
    )
