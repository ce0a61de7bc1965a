"""``write_table``: save a samples x features table, atomically.

The format follows the file extension (:data:`WRITERS`): ``.tsv`` / ``.txt``
(tab-separated), ``.csv`` and ``.parquet``; ``.tsv.gz``, ``.txt.gz`` and
``.csv.gz`` are gzip-compressed. Samples are rows, with their IDs in a first
column named ``sample_id``, so :func:`mlmicro.io.read_table` reads the file
back unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pandas as pd

from mlmicro.exceptions import InvalidTableError, OutputExistsError, UnknownFormatError
from mlmicro.io._atomic import atomic_write
from mlmicro.io._table import SAMPLE_INDEX_NAME

__all__ = ["write_table", "WRITERS", "output_extension"]


def _write_delimited(frame: pd.DataFrame, path: Path, *, sep: str, gzip: bool) -> None:
    frame.to_csv(
        path,
        sep=sep,
        index=False,
        compression={"method": "gzip", "mtime": 0} if gzip else None,
        lineterminator="\n",
    )


def _write_parquet(frame: pd.DataFrame, path: Path, *, gzip: bool) -> None:
    del gzip  # parquet compresses its own columns
    frame.to_parquet(path, index=False)


#: Writers by extension; each takes the frame (sample_id column first) and a path.
WRITERS: dict[str, Callable[..., None]] = {
    ".tsv": partial(_write_delimited, sep="\t"),
    ".txt": partial(_write_delimited, sep="\t"),
    ".csv": partial(_write_delimited, sep=","),
    ".parquet": _write_parquet,
}
_GZIP_OK = frozenset({".tsv", ".txt", ".csv"})


def output_extension(path: Path) -> tuple[str, bool]:
    """Return the output format (``.tsv``, ``.csv``, ``.parquet``) of a path, and whether gzip."""
    suffixes = [s.lower() for s in path.suffixes]
    gzip = bool(suffixes) and suffixes[-1] == ".gz"
    if gzip:
        suffixes = suffixes[:-1]
    extension = suffixes[-1] if suffixes else ""
    if extension not in WRITERS or (gzip and extension not in _GZIP_OK):
        choices = ", ".join([*WRITERS, *(f"{e}.gz" for e in sorted(_GZIP_OK))])
        raise UnknownFormatError(
            f"Cannot tell the output format from the name {path}; end it with one of: {choices}."
        )
    return extension, gzip


def write_table(
    table: pd.DataFrame, path: str | os.PathLike[str], *, overwrite: bool = True
) -> Path:
    """Write a samples x features table; the extension picks the format.

    Parameters
    ----------
    table : pandas.DataFrame
        Samples as rows (the index holds the sample IDs), features as columns.
    path : str or path-like
        Destination ending in ``.tsv``, ``.txt``, ``.csv`` (each optionally
        ``.gz``) or ``.parquet``. Missing folders are created.
    overwrite : bool
        If false, refuse to replace an existing file.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    UnknownFormatError
        If the extension is not one of the above.
    OutputExistsError
        If the file exists and ``overwrite`` is false.
    InvalidTableError
        If the table has a column named ``sample_id`` (it would clash).

    Examples
    --------
    >>> write_table(table, "results/table.tsv.gz")  # doctest: +SKIP
    PosixPath('results/table.tsv.gz')
    """
    target = Path(path)
    extension, gzip = output_extension(target)
    if not overwrite and target.exists():
        raise OutputExistsError(
            f"{target} already exists; choose another name or allow overwriting (--force)."
        )
    if SAMPLE_INDEX_NAME in table.columns:
        raise InvalidTableError(
            f"The table has a column named {SAMPLE_INDEX_NAME!r}, which would clash with the "
            "sample ID column; rename it or move it to the index before writing."
        )
    frame = table.copy()
    frame.columns = [str(column) for column in frame.columns]
    frame.insert(0, SAMPLE_INDEX_NAME, [str(sample) for sample in table.index])
    with atomic_write(target, mode=None) as temporary:
        WRITERS[extension](frame, temporary, gzip=gzip)
    return target
