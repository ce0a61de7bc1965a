"""QIIME 1 "classic" OTU tables (``#OTU ID`` / ``# OTU`` header, taxa as rows).

Recognised layouts:

* an optional first line ``# Constructed from biom file``;
* a header whose first cell is ``#OTU ID`` (MLRepo, ``biom convert``) or
  ``# OTU`` (biobakery's IBD meta-analysis);
* row labels that are either OTU IDs (read as strings, so ``0123`` keeps its
  zero) or lineages with ``;`` or ``; `` separators;
* an optional last column ``taxonomy`` (or ``Consensus Lineage``). When it is
  there, features are named by that lineage and OTUs with the same lineage
  are summed, as QIIME's taxa collapse does; OTUs with an empty taxonomy keep
  their ID.
"""

from __future__ import annotations

from mlmicro.io._matrix import find_header, read_labelled_matrix, split_line
from mlmicro.io._sniff import sniff_delimiter
from mlmicro.io._source import Source
from mlmicro.io._table import RawTable

__all__ = ["read_qiime_classic"]

_TAXONOMY_HEADERS = frozenset({"taxonomy", "consensus lineage", "consensuslineage"})


def _is_preamble(line: str) -> bool:
    return not line.strip() or line.lower().startswith("# constructed from biom file")


def read_qiime_classic(source: Source, *, orientation: str = "auto") -> RawTable:
    """Read a classic OTU table.

    Parameters
    ----------
    source : Source
        The input file.
    orientation : str
        Ignored: classic OTU tables always have taxa as rows.

    Returns
    -------
    RawTable
        Samples x OTUs, with each OTU's lineage when the table has a
        ``taxonomy`` column.
    """
    del orientation  # fixed by the format
    line_number, line = find_header(source, skip=_is_preamble)
    sep = sniff_delimiter(line)  # tab as QIIME writes it; comma if saved as CSV
    header = split_line(line, sep, source.name)
    has_taxonomy = len(header) > 2 and header[-1].strip().lower() in _TAXONOMY_HEADERS
    value_columns = list(range(1, len(header) - 1 if has_taxonomy else len(header)))
    block = read_labelled_matrix(
        source,
        sep=sep,
        header=header,
        skiprows=line_number + 1,
        value_columns=value_columns,
    )
    lineages: list[str | None] | None = None
    if has_taxonomy:
        lineages = [text or None for text in block.text_columns[len(header) - 1]]
    return RawTable(
        values=block.values.T,
        samples=block.column_labels,
        features=block.row_labels,
        lineages=lineages,
        where=source.name,
    )
