"""Parse a delimited block of numbers with one label column, fast and with exact errors.

The fast path lets pandas' C parser read every value column as float64. Only
when that fails is the block read again as text to find the first bad cell,
so that the error names its taxon and sample.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from mlmicro.exceptions import InvalidTableError
from mlmicro.io._limits import MAX_LABEL_CHARS, label_too_long_message
from mlmicro.io._source import Source, decode_text

__all__ = [
    "LabelledMatrix",
    "read_labelled_matrix",
    "first_cells",
    "first_row_too_wide",
    "ragged_message",
    "split_line",
    "row_widths",
    "header_is_one_short",
    "iter_lines",
    "find_header",
]

#: Data rows that must all be one field wider than the header to read it as R's layout.
R_LAYOUT_ROWS = 20
_LINE_END = re.compile(rb"\r\n|\r|\n")
_MISSING_TEXT = frozenset({"", "na", "nan", "null", "none", "n/a", "nd", "-"})


@dataclass(frozen=True)
class LabelledMatrix:
    """A block of numbers with a label for each row and each column.

    Attributes
    ----------
    row_labels : list of str
        The first cell of each row.
    column_labels : list of str
        The header cell of each value column.
    values : numpy.ndarray
        float64 array of shape ``(len(row_labels), len(column_labels))``.
    text_columns : dict of int to list of str
        The other columns (neither labels nor values), as stripped text,
        keyed by position in the header.
    """

    row_labels: list[str]
    column_labels: list[str]
    values: np.ndarray
    text_columns: dict[int, list[str]]


def split_line(line: str, sep: str, where: str = "the input") -> list[str]:
    """Split one delimited line, honouring quotes.

    Raises
    ------
    InvalidTableError
        If a field is longer than :data:`~mlmicro.io._limits.MAX_LABEL_CHARS`
        (or the line cannot be split); ``where`` names the file.
    """
    try:
        return next(csv.reader([line], delimiter=sep), [])
    except csv.Error as err:
        long = next((cell for cell in line.split(sep) if len(cell) > MAX_LABEL_CHARS), None)
        if long is not None:
            raise InvalidTableError(label_too_long_message(long, where)) from None
        raise InvalidTableError(
            f"A line of {where} cannot be split into fields ({err}); check its quotes and "
            "the delimiter."
        ) from None


def iter_lines(source: Source) -> Iterator[tuple[int, str]]:
    """Yield ``(line number from 0, text)`` for each line, any line ending, lazily."""
    data = source.text_bytes()
    start = 0
    number = 0
    for match in _LINE_END.finditer(data):
        yield number, decode_text(data[start : match.start()])
        start = match.end()
        number += 1
    if start < len(data):
        yield number, decode_text(data[start:])


def find_header(
    source: Source, skip: Callable[[str], bool] = lambda line: not line.strip()
) -> tuple[int, str]:
    """Return the line number and text of the first line that ``skip`` rejects.

    Raises
    ------
    InvalidTableError
        If every line is skipped.
    """
    for number, line in iter_lines(source):
        if not skip(line):
            return number, line
    raise InvalidTableError(
        f"{source.name} has no header line; give a table with a header row naming its columns."
    )


def read_labelled_matrix(
    source: Source,
    *,
    sep: str,
    header: Sequence[str],
    skiprows: int,
    value_columns: Sequence[int] | None = None,
    nrows: int | None = None,
    rows_are: Literal["taxa", "samples"] = "taxa",
) -> LabelledMatrix:
    """Read a block whose first column holds labels and whose other columns hold numbers.

    Parameters
    ----------
    source : Source
        The input file.
    sep : str
        Field delimiter.
    header : sequence of str
        Names of all columns, the label column first (parsed by the caller,
        which knows where the header line is). Its length fixes the number
        of fields a row may have.
    skiprows : int
        Lines before the first data row.
    value_columns : sequence of int, optional
        Positions (in ``header``) of the columns to read as numbers; default
        all but the first.
    nrows : int, optional
        Read at most this many rows.
    rows_are : {"taxa", "samples"}
        What the rows are, so that an error can name the taxon and the sample.

    Returns
    -------
    LabelledMatrix
        The labels and values.

    Raises
    ------
    InvalidTableError
        If a row has too many fields, a cell is empty, missing or not a number.
    """
    width = len(header)
    columns = list(range(1, width)) if value_columns is None else list(value_columns)
    _check_first_row_width(source, sep, skiprows, width)
    dtypes: dict[int, type] = {j: object for j in range(width)}
    dtypes.update({j: np.float64 for j in columns})
    kwargs = {
        "sep": sep,
        "header": None,
        "names": list(range(width)),
        "index_col": False,
        "skiprows": skiprows,
        "nrows": nrows,
        "na_filter": False,
        "skip_blank_lines": True,
        "encoding_errors": "replace",
    }
    data = source.text_bytes()
    try:
        frame = pd.read_csv(io.BytesIO(data), dtype=dtypes, **kwargs)
    except (ValueError, TypeError) as err:
        if isinstance(err, pd.errors.ParserError):
            raise _ragged_error(source, err, width) from None
        text = pd.read_csv(io.BytesIO(data), dtype=object, **kwargs)
        raise first_bad_cell(source, text, header, columns, rows_are) from None
    value_set = set(columns)
    return LabelledMatrix(
        row_labels=[str(label).strip() for label in frame[0].tolist()],
        column_labels=[header[j].strip() for j in columns],
        values=frame[columns].to_numpy(dtype=np.float64),
        text_columns={
            j: [str(cell).strip() for cell in frame[j].tolist()]
            for j in range(1, width)
            if j not in value_set
        },
    )


def first_cells(source: Source, *, sep: str, skiprows: int, limit: int = 500) -> list[str]:
    """Return the first cell of up to ``limit`` non-blank lines after ``skiprows``."""
    cells: list[str] = []
    for number, line in iter_lines(source):
        if number < skiprows or not line.strip():
            continue
        cells.append(split_line(line, sep, source.name)[0].strip())
        if len(cells) >= limit:
            break
    return cells


def row_widths(source: Source, sep: str, skiprows: int, limit: int) -> list[tuple[int, int]]:
    """Return ``(line number from 1, number of fields)`` of the first ``limit`` data rows."""
    widths: list[tuple[int, int]] = []
    for number, line in iter_lines(source):
        if number < skiprows or not line.strip():
            continue
        widths.append((number + 1, len(split_line(line, sep, source.name))))
        if len(widths) >= limit:
            break
    return widths


def header_is_one_short(
    source: Source, sep: str, skiprows: int, width: int, rows: int = R_LAYOUT_ROWS
) -> bool:
    """Whether the first ``rows`` data rows all have one field more than the header.

    That is the layout of R's ``write.table``: no header cell above the row names.
    """
    widths = row_widths(source, sep, skiprows, limit=rows)
    return bool(widths) and all(fields == width + 1 for _, fields in widths)


def first_row_too_wide(source: Source, sep: str, skiprows: int, width: int) -> str | None:
    """Return an error sentence if the first data row has more fields than the header.

    pandas would silently turn such extra leading fields into an index.
    """
    found = row_widths(source, sep, skiprows, limit=1)
    if not found or found[0][1] <= width:
        return None
    return _ragged_message(source, found[0][0], found[0][1], width)


def _check_first_row_width(source: Source, sep: str, skiprows: int, width: int) -> None:
    message = first_row_too_wide(source, sep, skiprows, width)
    if message is not None:
        raise InvalidTableError(message)


def _ragged_message(source: Source, line: int | str, fields: int | str, width: int) -> str:
    return (
        f"Line {line} of {source.name} has {fields} fields but its header has {width}; "
        "make every row have one value per column (check the delimiter and quotes)."
    )


_PANDAS_RAGGED = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def ragged_message(source: Source, err: Exception, width: int) -> str:
    """Return the error sentence for a pandas "Expected N fields" parser error."""
    match = _PANDAS_RAGGED.search(str(err))
    if "EOF inside string" in str(err):
        return (
            f'{source.name} has a quote (") that is never closed, so the rest of the file reads '
            "as one cell; remove or close that quote (or check the delimiter)."
        )
    if match is None:
        return (
            f"{source.name} has rows of different lengths ({err}); make every row have one "
            "value per column (check the delimiter and quotes)."
        )
    return _ragged_message(source, match.group(2), match.group(3), width)


def _ragged_error(source: Source, err: Exception, width: int) -> InvalidTableError:
    return InvalidTableError(ragged_message(source, err, width))


def first_bad_cell(
    source: Source,
    text: pd.DataFrame,
    header: Sequence[str],
    columns: Sequence[int],
    rows_are: str,
) -> InvalidTableError:
    for j in columns:
        raw = text[j].astype(object)
        numbers = pd.to_numeric(raw, errors="coerce")
        bad = np.flatnonzero(numbers.isna().to_numpy())
        if len(bad) == 0:
            continue
        i = int(bad[0])
        cell = "" if raw.iloc[i] is None else str(raw.iloc[i])
        row_label = str(text[0].iloc[i]).strip()
        col_label = str(header[j]).strip()
        taxon, sample = (row_label, col_label) if rows_are == "taxa" else (col_label, row_label)
        where = f"{source.name} for taxon {taxon!r} and sample {sample!r}"
        if cell.strip().lower() in _MISSING_TEXT:
            return InvalidTableError(
                f"Missing value ({cell.strip()!r}) in {where}; fill it in "
                "(0 if the taxon was not seen) or remove that taxon or sample."
            )
        return InvalidTableError(
            f"Non-numeric value {cell!r} in {where}; abundances must be numbers, "
            "so fix that cell (or check the delimiter and --format)."
        )
    return InvalidTableError(
        f"The values of {source.name} could not be read as numbers; "
        "check the delimiter, the header and --format."
    )
