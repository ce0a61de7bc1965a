"""Options and small helpers shared by several commands."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from mlmicro.exceptions import MetadataError
from mlmicro.io import Selection, read_metadata, select_samples
from mlmicro.io.outputs import check_output
from mlmicro.model.signing import SignatureInfo

__all__ = [
    "check_output",
    "describe_provenance",
    "selected_samples",
    "FIGURE_FORMAT_HELP",
    "FORMAT_HELP",
    "FigureFormat",
    "MODEL_HELP",
    "WHERE_HELP",
]

MODEL_HELP = (
    "Model bundle (.mlmodel) saved by mlmicro train; with MLMICRO_SIGNING_KEY or "
    "MLMICRO_SIGNING_KEY_FILE set, only bundles signed by that key are loaded."
)


class FigureFormat(StrEnum):
    """Formats of the figure files beside a report."""

    png = "png"
    svg = "svg"
    pdf = "pdf"


FIGURE_FORMAT_HELP = (
    "Also write every figure as a file in figures/ of the report folder, as png (300 dpi), "
    "svg or pdf (for papers); with svg the page embeds SVG too. Default: figures only "
    "embedded in the page."
)

WHERE_HELP = (
    "Use only the samples whose metadata satisfy this condition, a pandas query such as "
    "'dataset_name == \"metahit\"' or '`Sample type` == \"Stool\"' (needs --metadata)."
)


def selected_samples(
    where: str | None, metadata: Path | None, sample_id_column: str | None = None
) -> Selection | None:
    """Read ``metadata`` and apply ``--where`` (``None`` when no condition was given)."""
    if where is None:
        return None
    if metadata is None:
        raise MetadataError("--where selects samples by their metadata; give --metadata too.")
    frame = read_metadata(metadata, sample_id_column=sample_id_column)
    return select_samples(frame, where, source=str(metadata))


FORMAT_HELP = (
    "Input format: auto (sniffed), tsv, csv, metaphlan, metaml, qiime-classic, biom or qza."
)


def describe_provenance(path: Path, provenance: SignatureInfo | None) -> str:
    """One line saying whether a loaded bundle was signed, and by which key id."""
    if provenance is None or not provenance.signed:
        return (
            f"model {path}: unsigned (its integrity is checked, not who made it; set "
            "MLMICRO_SIGNING_KEY to require a signature)"
        )
    return f"model {path}: {provenance.describe()}"
