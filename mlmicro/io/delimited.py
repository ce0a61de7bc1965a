"""Plain delimited tables (TSV / CSV), in either orientation.

The first row is the header and the first column holds labels. Taxa as rows
and samples as columns is this field's usual layout; the orientation is
detected from which axis's labels look like lineages (see
:func:`mlmicro.io._orientation.detect_orientation`) unless given.

R's ``write.table`` (``row.names=TRUE``, ``col.names=TRUE``) writes a header
one field short -- no corner cell above the row names -- so every data row
has one field more than the header. When the first rows (up to 20) all do
(:func:`~mlmicro.io._matrix.header_is_one_short`), the header is read as if
it had an empty corner cell (SIAMCAT's shipped feature tables are written this
way).
"""

from __future__ import annotations

from mlmicro.io._matrix import (
    find_header,
    first_cells,
    header_is_one_short,
    read_labelled_matrix,
    split_line,
)
from mlmicro.io._orientation import check_orientation, detect_orientation
from mlmicro.io._source import Source
from mlmicro.io._table import RawTable

__all__ = ["read_tsv", "read_csv", "read_delimited"]


def read_delimited(source: Source, *, sep: str, orientation: str = "auto") -> RawTable:
    """Read a delimited table with a header row and a label column.

    Parameters
    ----------
    source : Source
        The input file.
    sep : str
        Field delimiter.
    orientation : {"auto", "taxa-rows", "samples-rows"}
        Which axis holds the taxa; ``"auto"`` detects it.

    Returns
    -------
    RawTable
        Samples x raw features.
    """
    check_orientation(orientation)
    line_number, line = find_header(source)
    header = split_line(line, sep, source.name)
    if header_is_one_short(source, sep, line_number + 1, len(header)):
        header = ["", *header]  # R's write.table: no corner cell
    if orientation == "auto":
        labels = first_cells(source, sep=sep, skiprows=line_number + 1)
        orientation = detect_orientation(header[0], header[1:], labels)
    rows_are = "taxa" if orientation == "taxa-rows" else "samples"
    block = read_labelled_matrix(
        source, sep=sep, header=header, skiprows=line_number + 1, rows_are=rows_are
    )
    if rows_are == "taxa":
        return RawTable(
            values=block.values.T,
            samples=block.column_labels,
            features=block.row_labels,
            where=source.name,
        )
    return RawTable(
        values=block.values,
        samples=block.row_labels,
        features=block.column_labels,
        where=source.name,
    )


def read_tsv(source: Source, *, orientation: str = "auto") -> RawTable:
    """Read a tab-separated table; see :func:`read_delimited`."""
    return read_delimited(source, sep="\t", orientation=orientation)


def read_csv(source: Source, *, orientation: str = "auto") -> RawTable:
    """Read a comma-separated table (semicolons if the header has no comma)."""
    _, line = find_header(source)
    sep = ";" if "," not in line and ";" in line else ","
    return read_delimited(source, sep=sep, orientation=orientation)
