"""Options and small helpers shared by several commands."""

from __future__ import annotations

from mlmicro.io.outputs import check_output

__all__ = ["check_output", "FORMAT_HELP"]

FORMAT_HELP = (
    "Input format: auto (sniffed), tsv, csv, metaphlan, metaml, qiime-classic, biom or qza."
)
