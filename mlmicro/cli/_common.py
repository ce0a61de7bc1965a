"""Options and small helpers shared by several commands."""

from __future__ import annotations

from pathlib import Path

from mlmicro.exceptions import OutputExistsError
from mlmicro.model.signing import SignatureInfo

__all__ = ["check_output", "describe_provenance", "FORMAT_HELP", "MODEL_HELP"]

MODEL_HELP = (
    "Model bundle (.mlmodel) saved by mlmicro train; with MLMICRO_SIGNING_KEY or "
    "MLMICRO_SIGNING_KEY_FILE set, only bundles signed by that key are loaded."
)

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


def describe_provenance(path: Path, provenance: SignatureInfo | None) -> str:
    """One line saying whether a loaded bundle was signed, and by which key id."""
    if provenance is None or not provenance.signed:
        return (
            f"model {path}: unsigned (its integrity is checked, not who made it; set "
            "MLMICRO_SIGNING_KEY to require a signature)"
        )
    return f"model {path}: {provenance.describe()}"
