"""The MetAML stacked table: sample metadata rows above MetaPhlAn2 abundance rows.

Layout of ``abundance.txt`` (Pasolli et al. 2016, SegataLab/metaml)::

    dataset_name   metahit   metahit   ...
    sampleID       MH0001    MH0002    ...
    ...            (211 metadata rows, ending with "group")
    k__Archaea     0.24      0.51      ...
    k__Archaea|p__Euryarchaeota ...

Samples are columns. The metadata rows are every row above the first lineage
row. A ``sampleID`` is reused across datasets (the same run in two studies),
so samples are named ``"{dataset_name}:{sampleID}"``, which is unique.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass

import pandas as pd

from mlmicro.exceptions import InvalidTableError
from mlmicro.io._coerce import PANDAS_MISSING, coerce_metadata
from mlmicro.io._matrix import iter_lines, ragged_message, read_labelled_matrix, split_line
from mlmicro.io._source import Source, open_source
from mlmicro.io._table import SAMPLE_INDEX_NAME, RawTable, finish_table
from mlmicro.taxonomy import canonical_lineage, is_lineage

__all__ = ["read_metaml", "read_metaml_table", "read_metaml_metadata"]

#: Cells of the metadata rows that mean "missing" (``nd`` = not determined).
METAML_MISSING = PANDAS_MISSING | {"nd", "na", "-"}
_DATASET_ROW = "dataset_name"
_SAMPLE_ROW = "sampleID"


@dataclass(frozen=True)
class _Layout:
    """Where a MetAML table's abundances start, and its metadata rows as text."""

    first_abundance_line: int
    samples: list[str]
    metadata: pd.DataFrame


def _layout(source: Source) -> _Layout:
    meta_lines: list[str] = []
    first_abundance_line = None
    for number, line in iter_lines(source):
        if not line.strip():
            continue
        label = line.split("\t", 1)[0].strip()
        if is_lineage(canonical_lineage(label)):
            first_abundance_line = number
            break
        meta_lines.append(line)
    if first_abundance_line is None:
        raise InvalidTableError(
            f"{source.name} looks like a MetAML table but has no lineage rows "
            "(k__...); give the full abundance table or another --format."
        )
    text = _metadata_text(meta_lines, source)
    for needed in (_DATASET_ROW, _SAMPLE_ROW):
        if needed not in text.columns:
            raise InvalidTableError(
                f"The MetAML table {source.name} has no {needed!r} row above its abundances; "
                "add it (samples are named dataset_name:sampleID) or use --format tsv."
            )
    samples = [
        f"{dataset}:{sample}"
        for dataset, sample in zip(text[_DATASET_ROW], text[_SAMPLE_ROW], strict=True)
    ]
    return _Layout(first_abundance_line, samples, text)


def _metadata_text(lines: list[str], source: Source) -> pd.DataFrame:
    """Return the metadata rows as text, one row per sample."""
    width = len(split_line(lines[0], "\t", source.name))
    try:
        rows = pd.read_csv(
            io.StringIO("\n".join(lines)),
            sep="\t",
            header=None,
            names=list(range(width)),
            dtype=object,
            na_filter=False,
        )
    except pd.errors.ParserError as err:
        raise InvalidTableError(ragged_message(source, err, width)) from None
    rows[0] = rows[0].str.strip()
    return rows.set_index(0).T.reset_index(drop=True).rename_axis(columns=None)


def _table(source: Source, layout: _Layout) -> RawTable:
    block = read_labelled_matrix(
        source,
        sep="\t",
        header=["clade", *layout.samples],
        skiprows=layout.first_abundance_line,
    )
    return RawTable(
        values=block.values.T, samples=layout.samples, features=block.row_labels, where=source.name
    )


def _metadata(layout: _Layout) -> pd.DataFrame:
    metadata = coerce_metadata(layout.metadata, METAML_MISSING)
    metadata.index = pd.Index(layout.samples, dtype="str", name=SAMPLE_INDEX_NAME)
    return metadata


def read_metaml_table(source: Source, *, orientation: str = "auto") -> RawTable:
    """Read the abundance rows of a MetAML table.

    Parameters
    ----------
    source : Source
        The input file.
    orientation : str
        Ignored: MetAML tables have samples as columns.

    Returns
    -------
    RawTable
        Samples (``dataset_name:sampleID``) x MetaPhlAn2 clades.
    """
    del orientation  # fixed by the format
    return _table(source, _layout(source))


def read_metaml_metadata(source: Source) -> pd.DataFrame:
    """Return the metadata rows of a MetAML table, one row per sample.

    ``nd``, ``na`` and ``-`` are missing; numeric-looking columns are numeric.
    The index is ``sample_id`` = ``dataset_name:sampleID``.
    """
    return _metadata(_layout(source))


def read_metaml(path: str | os.PathLike[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read the MetAML table and its embedded sample metadata.

    Parameters
    ----------
    path : str or path-like
        ``abundance.txt`` or ``abundance.txt.bz2``.

    Returns
    -------
    table : pandas.DataFrame
        Samples x canonical lineages (relative abundance, %), every rank kept.
    metadata : pandas.DataFrame
        Samples x metadata rows (``dataset_name``, ``sampleID``, ``disease``,
        ...), indexed the same as ``table``.

    Raises
    ------
    InputFileError
        If the file is missing, empty or its compression is corrupt.
    InvalidTableError
        If the layout or a value is wrong.

    Examples
    --------
    >>> table, meta = read_metaml("abundance.txt.bz2")  # doctest: +SKIP
    >>> meta.loc["metahit:MH0002", "disease"]  # doctest: +SKIP
    'n'
    """
    source = open_source(path)
    layout = _layout(source)
    return finish_table(_table(source, layout)), _metadata(layout)
