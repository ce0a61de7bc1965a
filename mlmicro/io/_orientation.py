"""Decide whether a delimited table has taxa as rows or samples as rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from mlmicro.exceptions import ConfigError
from mlmicro.taxonomy import canonical_lineage, is_lineage

__all__ = ["Orientation", "ORIENTATIONS", "check_orientation", "detect_orientation"]

Orientation = Literal["auto", "taxa-rows", "samples-rows"]
ORIENTATIONS: tuple[str, ...] = ("auto", "taxa-rows", "samples-rows")

#: First header cells that name the row axis.
_SAMPLE_HEADERS = frozenset(
    {
        "sample_id",
        "sample-id",
        "sampleid",
        "#sampleid",
        "sample",
        "samples",
        "sample id",
        "#sample id",
        "id",
    }
)
_TAXON_HEADERS = frozenset(
    {
        "#otu id",
        "otu id",
        "otu",
        "#otuid",
        "otuid",
        "feature id",
        "feature-id",
        "featureid",
        "feature",
        "taxon",
        "taxa",
        "taxonomy",
        "#taxonomy",
        "clade_name",
        "lineage",
        "asv",
    }
)
_SAMPLE_SIZE = 500


def check_orientation(orientation: str) -> str:
    """Return ``orientation`` if it is known, else raise :class:`ConfigError`."""
    if orientation not in ORIENTATIONS:
        raise ConfigError(
            f"Unknown orientation {orientation!r}; use one of: {', '.join(ORIENTATIONS)}."
        )
    return orientation


def _lineage_share(labels: Sequence[str]) -> float:
    picked = list(labels[:_SAMPLE_SIZE])
    if not picked:
        return 0.0
    return sum(is_lineage(canonical_lineage(label)) for label in picked) / len(picked)


def detect_orientation(
    first_cell: str, column_labels: Sequence[str], row_labels: Sequence[str]
) -> str:
    """Guess the orientation of a delimited table.

    The axis whose labels look like lineages holds the taxa. When neither (or
    both) does, the first header cell decides (``sample_id`` -> samples as
    rows, ``#OTU ID`` -> taxa as rows); otherwise taxa as rows, this field's
    usual layout.

    Parameters
    ----------
    first_cell : str
        The top-left cell, which often names the row axis.
    column_labels, row_labels : sequence of str
        Labels of the value columns and of the rows.

    Returns
    -------
    str
        ``"taxa-rows"`` or ``"samples-rows"``.
    """
    in_rows = _lineage_share(row_labels) >= 0.5
    in_columns = _lineage_share(column_labels) >= 0.5
    if in_columns and not in_rows:
        return "samples-rows"
    if in_rows and not in_columns:
        return "taxa-rows"
    cell = first_cell.strip().lower()
    if cell in _SAMPLE_HEADERS:
        return "samples-rows"
    if cell in _TAXON_HEADERS:
        return "taxa-rows"
    return "taxa-rows"
