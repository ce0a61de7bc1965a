"""MetaPhlAn 2 / 3 / 4 profiles: single-sample outputs and merged tables.

Single-sample profile (MetaPhlAn 3 / 4)::

    #mpa_v30_CHOCOPhlAn_201901
    #/usr/bin/metaphlan sample.fastq --input_type fastq
    #SampleID	Metaphlan_Analysis
    #clade_name	NCBI_tax_id	relative_abundance	additional_species
    UNCLASSIFIED	-1	3.2
    k__Bacteria	2	96.8
    ...

MetaPhlAn 2 writes no ``#clade_name`` line (two columns: clade, abundance).
The sample is named by the ``#SampleID`` line, or, when that holds MetaPhlAn's
default (``Metaphlan_Analysis``), by the file name without ``_profile``.

Merged table (``merge_metaphlan_tables.py``): a header whose first cell is
``clade_name`` (MetaPhlAn 3 / 4, maybe after a ``#mpa_...`` line) or ``ID``
(MetaPhlAn 2), an optional ``NCBI_tax_id`` column, then one column per sample.
Tab-separated as MetaPhlAn writes it, or comma-separated when it was saved as
CSV (by a spreadsheet or pandas): the header line tells.

Notes
-----
The ``UNKNOWN`` (MetaPhlAn 2 / 3 ``--unknown_estimation``) and
``UNCLASSIFIED`` (MetaPhlAn 4) rows are dropped: they are not taxa. The other
values are left as they are (not renormalised), so a kingdom's rows may sum to
less than 100. The hierarchical rows (every rank, ``k__`` to ``t__``) are all
kept; choose a rank later with :func:`mlmicro.taxonomy.collapse_to_rank`,
which does not count a taxon twice.
"""

from __future__ import annotations

import re

import numpy as np

from mlmicro.exceptions import InvalidTableError
from mlmicro.io._matrix import iter_lines, read_labelled_matrix, split_line
from mlmicro.io._sniff import sniff_delimiter
from mlmicro.io._source import Source
from mlmicro.io._table import RawTable

__all__ = ["read_metaphlan", "UNASSIGNED_ROWS"]

#: Row labels that are not taxa and are dropped.
UNASSIGNED_ROWS = frozenset({"UNKNOWN", "UNCLASSIFIED"})
_MERGED_FIRST_CELLS = frozenset({"clade_name", "id", "#clade_name"})
_NON_SAMPLE_COLUMNS = frozenset({"ncbi_tax_id", "clade_taxid", "taxid", "additional_species"})
_DEFAULT_SAMPLE_ID = re.compile(r"metaphlan\d*_analysis", re.IGNORECASE)
_PROFILE_SUFFIXES = ("_taxonomic_profile", "_profiled_metagenome", "_metaphlan", "_profile")


def _sample_name(source: Source, declared: str | None) -> str:
    if declared and not _DEFAULT_SAMPLE_ID.fullmatch(declared):
        return declared
    stem = source.stem
    for suffix in _PROFILE_SUFFIXES:
        if stem.endswith(suffix) and len(stem) > len(suffix):
            return stem[: -len(suffix)]
    return stem


def _layout(source: Source) -> tuple[list[str], int, str | None, bool, str]:
    """Return (header, first data line, declared sample ID, is merged, delimiter)."""
    declared: str | None = None
    header: list[str] | None = None
    sep = "\t"
    end = 0
    for number, line in iter_lines(source):
        end = number + 1
        if not line.strip():
            continue
        if not line.startswith("#") or line.lower().startswith("#clade_name"):
            sep = sniff_delimiter(line)  # the header or first row: tab, or comma in a CSV
        cells = split_line(line, sep, source.name)
        first = cells[0].strip().lower()
        if line.startswith("#") and first != "#clade_name":
            if first == "#sampleid" and len(cells) > 1:
                declared = cells[1].strip()
            continue
        if first == "#clade_name":
            header = [cells[0].lstrip("#"), *cells[1:]]
            continue
        if header is not None:
            return header, number, declared, False, sep
        if first in _MERGED_FIRST_CELLS:
            return cells, number + 1, declared, True, sep
        # MetaPhlAn 2 single profile: no header at all
        width = max(len(cells), 2)
        blank = ["clade_name", "relative_abundance", *[""] * (width - 2)]
        return blank, number, declared, False, sep
    if header is None:
        raise InvalidTableError(
            f"{source.name} looks like a MetaPhlAn profile but has only '#' comment lines, no "
            "clade rows; give the complete profile (was it cut short?) or another --format."
        )
    return header, end, declared, False, sep


def read_metaphlan(source: Source, *, orientation: str = "auto") -> RawTable:
    """Read a MetaPhlAn single profile or merged table.

    Parameters
    ----------
    source : Source
        The input file.
    orientation : str
        Ignored: MetaPhlAn tables always have taxa as rows.

    Returns
    -------
    RawTable
        Samples x clades (relative abundance in %), ``UNKNOWN`` /
        ``UNCLASSIFIED`` rows left out.
    """
    del orientation  # fixed by the format
    header, first_data, declared, merged, sep = _layout(source)
    names = [cell.strip().lower() for cell in header]
    if merged:
        value_columns = [j for j in range(1, len(header)) if names[j] not in _NON_SAMPLE_COLUMNS]
        samples = None
    else:
        value_columns = [names.index("relative_abundance") if "relative_abundance" in names else 1]
        samples = [_sample_name(source, declared)]
    block = read_labelled_matrix(
        source, sep=sep, header=header, skiprows=first_data, value_columns=value_columns
    )
    keep = np.array([label.upper() not in UNASSIGNED_ROWS for label in block.row_labels], bool)
    return RawTable(
        values=block.values[keep].T,
        samples=samples if samples is not None else block.column_labels,
        features=[label for label, kept in zip(block.row_labels, keep, strict=True) if kept],
        where=source.name,
    )
