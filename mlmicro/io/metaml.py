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

import pandas as pd

from mlmicro.exceptions import InvalidTableError
from mlmicro.io._coerce import PANDAS_MISSING, coerce_metadata
from mlmicro.io._matrix import find_header, read_labelled_matrix, split_line
from mlmicro.io._source import Source, open_source
from mlmicro.io._table import SAMPLE_INDEX_NAME, RawTable, finish_table
from mlmicro.taxonomy import canonical_lineage, is_lineage

__all__ = ["read_metaml", "read_metaml_table", "read_metaml_metadata"]

#: Cells of the metadata rows that mean "missing" (``nd`` = not determined).
METAML_MISSING = PANDAS_MISSING | {"nd", "na", "-"}
_DATASET_ROW = "dataset_name"
_SAMPLE_ROW = "sampleID"


def _layout(source: Source) -> tuple[list[str], int, list[str]]:
    """Return (first line's cells, number of metadata rows, sample IDs)."""
    _, line = find_header(source)
    first = split_line(line, "\t")
    labels = read_labelled_matrix(
        source, sep="\t", header=first, skiprows=0, value_columns=[]
    ).row_labels
    n_meta = next(
        (i for i, label in enumerate(labels) if is_lineage(canonical_lineage(label))), None
    )
    if n_meta is None:
        raise InvalidTableError(
            f"{source.name} looks like a MetAML table but has no lineage rows "
            "(k__...); give the full abundance table or another --format."
        )
    meta = labels[:n_meta]
    for needed in (_DATASET_ROW, _SAMPLE_ROW):
        if needed not in meta:
            raise InvalidTableError(
                f"The MetAML table {source.name} has no {needed!r} row above its abundances; "
                "add it (samples are named dataset_name:sampleID) or use --format tsv."
            )
    text = _metadata_text(source, first, n_meta)
    samples = [
        f"{dataset}:{sample}"
        for dataset, sample in zip(text[_DATASET_ROW], text[_SAMPLE_ROW], strict=True)
    ]
    return first, n_meta, samples


def _metadata_text(source: Source, first: list[str], n_meta: int) -> pd.DataFrame:
    """Return the metadata rows as text, one row per sample."""
    rows = pd.read_csv(
        io.BytesIO(source.read_bytes()),
        sep="\t",
        header=None,
        names=list(range(len(first))),
        nrows=n_meta,
        dtype=object,
        na_filter=False,
        encoding_errors="replace",
    )
    rows[0] = rows[0].str.strip()
    return rows.set_index(0).T.reset_index(drop=True).rename_axis(columns=None)


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
    _, n_meta, samples = _layout(source)
    block = read_labelled_matrix(source, sep="\t", header=["clade", *samples], skiprows=n_meta)
    return RawTable(
        values=block.values.T, samples=samples, features=block.row_labels, where=source.name
    )


def read_metaml_metadata(source: Source) -> pd.DataFrame:
    """Return the metadata rows of a MetAML table, one row per sample.

    ``nd``, ``na`` and ``-`` are missing; numeric-looking columns are numeric.
    The index is ``sample_id`` = ``dataset_name:sampleID``.
    """
    first, n_meta, samples = _layout(source)
    metadata = coerce_metadata(_metadata_text(source, first, n_meta), METAML_MISSING)
    metadata.index = pd.Index(samples, dtype="str", name=SAMPLE_INDEX_NAME)
    return metadata


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
    >>> meta.loc["metahit:MH0001", "disease"]  # doctest: +SKIP
    'n'
    """
    source = open_source(path)
    table = finish_table(read_metaml_table(source))
    return table, read_metaml_metadata(source)
