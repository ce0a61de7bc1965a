"""Sample metadata: read it, and join it to a table by sample ID.

Accepted files: TSV or CSV (delimiter sniffed from the header) with one row
per sample -- QIIME 1 mapping files (``#SampleID``), QIIME 2 metadata
(``sample-id`` / ``id``, with its ``#q2:types`` row), MLRepo task files
(``#SampleID<TAB>Var``), biobakery's harmonised metadata, R's ``write.table``
output (no header cell above the row names, which become a ``sample_id``
column), and the MetAML table (whose embedded metadata rows are returned).
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from mlmicro.exceptions import MetadataError
from mlmicro.io._coerce import PANDAS_MISSING, coerce_metadata
from mlmicro.io._matrix import (
    find_header,
    first_row_too_wide,
    header_is_one_short,
    ragged_message,
    split_line,
)
from mlmicro.io._sniff import sniff_delimiter, sniff_format
from mlmicro.io._source import Source, open_source
from mlmicro.io._table import SAMPLE_INDEX_NAME
from mlmicro.io.metaml import read_metaml_metadata

__all__ = ["read_metadata", "join_metadata", "UnmatchedSamplesWarning"]

_EXAMPLES = 3
_NOT_METADATA = frozenset({"biom", "qza", "parquet"})


class UnmatchedSamplesWarning(UserWarning):
    """Some samples of a table and its metadata have no partner; they are left out."""


def _examples(ids: Sequence[str]) -> str:
    shown = ", ".join(repr(i) for i in ids[:_EXAMPLES])
    return shown + (", ..." if len(ids) > _EXAMPLES else "")


def read_metadata(
    path: str | os.PathLike[str], *, sample_id_column: str | None = None
) -> pd.DataFrame:
    """Read a sample metadata file.

    Parameters
    ----------
    path : str or path-like
        A TSV / CSV file with a header row (gzip / bz2 allowed), or the
        MetAML ``abundance.txt(.bz2)`` table.
    sample_id_column : str, optional
        The column holding the sample IDs that match the table; default the
        first column (``sample-id``, ``#SampleID``, ``id``, ...). For
        biobakery's IBD metadata use ``"Sample accession (16S)"``.

    Returns
    -------
    pandas.DataFrame
        One row per sample, index ``sample_id`` (str). ``NA`` and empty cells
        are missing; columns whose present cells are all numbers are numeric;
        rows whose first cell starts with ``#`` below the header (QIIME 2's
        ``#q2:types``) are skipped; rows with no sample ID are left out with
        an :class:`UnmatchedSamplesWarning`.

    Raises
    ------
    InputFileError
        If the file is missing or empty.
    MetadataError
        If ``sample_id_column`` is not a column, or a sample ID is repeated.

    Examples
    --------
    >>> meta = read_metadata("metadata_recoded.txt",
    ...                      sample_id_column="Sample accession (16S)")  # doctest: +SKIP
    """
    source = open_source(path)
    kind = sniff_format(source)
    if kind in _NOT_METADATA:
        raise MetadataError(
            f"{source.name} is a {kind} table, not sample metadata; give a TSV or CSV file "
            "with one row per sample."
        )
    if kind == "metaml":
        metadata = read_metaml_metadata(source)
        if sample_id_column is None:
            return metadata
        return _index_by(metadata.reset_index(drop=True), sample_id_column, source)
    text = _read_text(source)
    column = sample_id_column if sample_id_column is not None else str(text.columns[0])
    return coerce_metadata(_index_by(text, column, source))


def _index_by(frame: pd.DataFrame, column: str, source: Source) -> pd.DataFrame:
    """Return ``frame`` indexed by ``column`` (dropped), rows with no ID left out."""
    if column not in frame.columns:
        raise MetadataError(
            f"Column {column!r} is not in {source.name}; use one of its columns for "
            f"--sample-id-column (e.g. {_examples([str(c) for c in frame.columns])})."
        )
    ids, keep = _sample_ids(frame[column], column, source)
    out = frame.loc[keep].drop(columns=column)
    out.index = ids
    return out


def _read_text(source: Source) -> pd.DataFrame:
    line_number, line = find_header(source)
    sep = sniff_delimiter(line)
    header = [cell.strip() for cell in split_line(line, sep, source.name)]
    if header_is_one_short(source, sep, line_number + 1, len(header)):
        # R's write.table: the row names (sample IDs) have no header cell
        header = [SAMPLE_INDEX_NAME if SAMPLE_INDEX_NAME not in header else "", *header]
    too_wide = first_row_too_wide(source, sep, line_number + 1, len(header))
    if too_wide is not None:
        raise MetadataError(too_wide)
    try:
        frame = pd.read_csv(
            io.BytesIO(source.text_bytes()),
            sep=sep,
            header=None,
            names=_unique_names(header),
            skiprows=line_number + 1,
            dtype=object,
            na_filter=False,
            skip_blank_lines=True,
            encoding_errors="replace",
            index_col=False,
        )
    except pd.errors.ParserError as err:
        raise MetadataError(ragged_message(source, err, len(header))) from None
    first = frame.iloc[:, 0].astype(object).str.strip()
    return frame.loc[~first.str.startswith("#").to_numpy()].reset_index(drop=True)


def _unique_names(header: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    names = []
    for name in header:
        count = seen.get(name, 0)
        names.append(name if count == 0 else f"{name}.{count}")
        seen[name] = count + 1
    return names


def _sample_ids(column: pd.Series, name: str, source: Source) -> tuple[pd.Index, np.ndarray]:
    """Return the sample IDs of the rows that have one, and which rows those are."""
    text = column.astype(object).map(lambda cell: "" if pd.isna(cell) else str(cell).strip())
    missing = text.isin(PANDAS_MISSING).to_numpy()
    if missing.any():
        warnings.warn(
            f"{int(missing.sum())} row(s) of {source.name} have no sample ID in column "
            f"{name!r} and are left out.",
            UnmatchedSamplesWarning,
            stacklevel=3,
        )
    ids = text[~missing]
    duplicated = ids[ids.duplicated()]
    if len(duplicated):
        count = int((ids == duplicated.iloc[0]).sum())
        raise MetadataError(
            f"Sample ID {duplicated.iloc[0]!r} appears {count} times in column {name!r} of "
            f"{source.name}; keep one row per sample (or choose another --sample-id-column)."
        )
    return pd.Index(ids.tolist(), dtype="str", name=SAMPLE_INDEX_NAME), ~missing


def join_metadata(table: pd.DataFrame, metadata: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep the samples found in both a table and its metadata, in the table's order.

    Parameters
    ----------
    table : pandas.DataFrame
        Samples x features, as from :func:`mlmicro.io.read_table`.
    metadata : pandas.DataFrame
        Samples x variables, as from :func:`read_metadata`.

    Returns
    -------
    table, metadata : pandas.DataFrame
        The shared samples, in the same order (the table's).

    Raises
    ------
    MetadataError
        If no sample ID is shared.

    Warns
    -----
    UnmatchedSamplesWarning
        If some samples of either side have no partner (they are left out).
    """
    table_ids = table.index.astype(str)
    meta_ids = metadata.index.astype(str)
    in_meta = table_ids.isin(meta_ids)
    in_table = meta_ids.isin(table_ids)
    if not in_meta.any():
        raise MetadataError(
            f"No sample ID is shared by the table ({_examples(table_ids.tolist())}) and the "
            f"metadata ({_examples(meta_ids.tolist())}); pick the metadata column holding the "
            "table's sample IDs with --sample-id-column (sample_id_column=)."
        )
    parts = []
    if not in_meta.all():
        parts.append(
            f"{int((~in_meta).sum())} of {len(table_ids)} table samples have no metadata row "
            f"(e.g. {_examples(table_ids[~in_meta].tolist())})"
        )
    if not in_table.all():
        parts.append(
            f"{int((~in_table).sum())} of {len(meta_ids)} metadata rows have no table sample "
            f"(e.g. {_examples(meta_ids[~in_table].tolist())})"
        )
    if parts:
        warnings.warn(
            f"{' and '.join(parts)}; using the {int(in_meta.sum())} shared samples.",
            UnmatchedSamplesWarning,
            stacklevel=2,
        )
    shared = table_ids[in_meta]
    joined_table = table.loc[in_meta]
    joined_meta = metadata.set_axis(meta_ids, axis=0).loc[shared]
    joined_meta.index = joined_table.index.copy()
    return joined_table, joined_meta
