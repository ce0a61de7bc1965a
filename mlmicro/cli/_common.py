"""Options and small helpers shared by several commands."""

from __future__ import annotations

from pathlib import Path

from mlmicro.exceptions import OutputExistsError

__all__ = ["check_output", "FORMAT_HELP"]

FORMAT_HELP = (
    "Input format: auto (sniffed), tsv, csv, metaphlan, metaml, qiime-classic, biom or qza."
)


def check_output(path: Path, *, force: bool) -> None:
    """Refuse to overwrite ``path`` unless ``force``."""
    if path.exists() and not force:
        raise OutputExistsError(
            f"Output file {path} already exists; pass --force to overwrite it "
            "or choose another path."
        )
