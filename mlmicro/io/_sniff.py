"""Tell a table's format from its first bytes.

Binary containers are recognised by their magic bytes; text formats by their
first lines, decoded in the file's encoding (byte-order mark, UTF-16, ...).
Text formats are recognised whatever their delimiter (a MetaPhlAn table saved
as CSV is still MetaPhlAn); their readers find the delimiter from the header.
Each text test is a small predicate in :data:`_TEXT_SNIFFERS`,
tried in order, so a new format adds one entry rather than another branch.
"""

from __future__ import annotations

from collections.abc import Callable

from mlmicro.io._matrix import split_line
from mlmicro.io._source import Source

__all__ = ["sniff_format", "sniff_delimiter", "header_lines"]

_BINARY_MAGIC: dict[bytes, str] = {
    b"PK\x03\x04": "qza",
    b"\x89HDF\r\n\x1a\n": "biom",
    b"PAR1": "parquet",
}
_QIIME_CLASSIC_FIRST_CELLS = frozenset({"#otu id", "# otu", "#otuid", "#otu_id", "# otu id"})
_METAPHLAN_FIRST_CELLS = frozenset({"clade_name", "#clade_name"})
_UNASSIGNED = frozenset({"UNKNOWN", "UNCLASSIFIED"})


def header_lines(text: str, limit: int = 50) -> list[str]:
    """Return the first non-blank lines of ``text`` (any line ending)."""
    lines = []
    for line in text.splitlines():
        if line.strip():
            lines.append(line)
            if len(lines) >= limit:
                break
    return lines


def sniff_delimiter(line: str) -> str:
    """Return the delimiter of a header line: tab, else comma, else semicolon."""
    counts = {sep: line.count(sep) for sep in ("\t", ",", ";")}
    if counts["\t"]:
        return "\t"
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else "\t"


def _first_cells(lines: list[str]) -> list[str]:
    return [split_line(line, sniff_delimiter(lines[0]))[:1][0].strip() for line in lines if line]


def _is_metaml(lines: list[str]) -> bool:
    return _first_cells(lines[:1]) == ["dataset_name"]


def _is_qiime_classic(lines: list[str]) -> bool:
    first = lines[0].strip().lower()
    if first.startswith("# constructed from biom file"):
        return True
    cell = first.split(sniff_delimiter(first), 1)[0].strip()
    return cell in _QIIME_CLASSIC_FIRST_CELLS


def _is_metaphlan(lines: list[str]) -> bool:
    first = lines[0]
    if first.startswith("#mpa_") or first.lower().startswith("#sampleid\tmetaphlan"):
        return True
    cells = _first_cells(lines[:20])
    if any(cell.lower() in _METAPHLAN_FIRST_CELLS for cell in cells):
        return True
    # MetaPhlAn 2 merged table: an "ID" header over "k__...|p__..." rows
    body = cells[1:]
    return (
        bool(cells)
        and cells[0] == "ID"
        and any("|" in cell or cell in _UNASSIGNED for cell in body)
        and all(cell.startswith("k__") or cell in _UNASSIGNED for cell in body)
    )


_TEXT_SNIFFERS: dict[str, Callable[[list[str]], bool]] = {
    "metaml": _is_metaml,
    "metaphlan": _is_metaphlan,
    "qiime-classic": _is_qiime_classic,
}


def sniff_format(source: Source) -> str | None:
    """Return the format name of ``source``, or ``None`` when it is not recognised.

    Parameters
    ----------
    source : Source
        The input file (already decompressed if it was gzip / bz2).

    Returns
    -------
    str or None
        A key of :data:`mlmicro.io.FORMATS`.
    """
    head = source.head()
    for magic, name in _BINARY_MAGIC.items():
        if head.startswith(magic):
            return name
    text = source.head_text()
    if text.lstrip().startswith("{"):
        return "biom"
    if "\x00" in text:
        return None
    lines = header_lines(text)
    if not lines:
        return None
    for name, test in _TEXT_SNIFFERS.items():
        if test(lines):
            return name
    sep = sniff_delimiter(lines[0])
    if sep not in lines[0]:
        return None
    return "tsv" if sep == "\t" else "csv"
