"""How a report's figures are embedded in its HTML and, for papers, written as files.

Every figure of a report goes through :func:`embed`: it returns the ``<img>``
tag of the HTML page (PNG, or SVG with ``figure_format="svg"``, embedded as a
data URI so the page stays one file) and, inside :func:`figure_files` with a
format, also writes the figure to ``<folder>/figures/<name>.<format>`` (PNG,
SVG or PDF) through a temporary file.

Text sizes: figures are drawn at :data:`DPI` and shown at their own width up
to the page's content width (:data:`CONTENT_WIDTH_PX`), so text of ``s``
points is ``s * DPI / 72`` pixels at 100% zoom; :func:`smallest_text_px`
measures it.
"""

from __future__ import annotations

import base64
import contextlib
import html
import io
import re
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mlmicro.exceptions import ConfigError
from mlmicro.io import atomic_write

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = [
    "CONTENT_WIDTH_PX",
    "DPI",
    "FIGURE_FORMATS",
    "FigureFiles",
    "check_figure_format",
    "embed",
    "figure_files",
    "smallest_text_px",
]

#: Formats figures can be written in (``--figure-format``).
FIGURE_FORMATS: tuple[str, ...] = ("png", "svg", "pdf")
#: Resolution of the figures embedded in a report page.
DPI = 100
#: Resolution of PNG figure files (for print).
FILE_DPI = 300
#: Width of a report page's content column (``main`` less its padding), in CSS pixels.
CONTENT_WIDTH_PX = 1312


def check_figure_format(value: str | None) -> str | None:
    """Return the format in lower case; refuse an unknown one in one line."""
    if value is None:
        return None
    fmt = str(value).lower().lstrip(".")
    if fmt not in FIGURE_FORMATS:
        raise ConfigError(
            f"--figure-format {value!r} is not one of {', '.join(FIGURE_FORMATS)}; pick one."
        )
    return fmt


@dataclass
class FigureFiles:
    """Where figure files go, in which format, and the files written so far."""

    folder: Path
    format: str
    written: list[Path] = field(default_factory=list)

    def path_for(self, name: str) -> Path:
        """Return a file name for a figure, unique within the report."""
        slug = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").lower()[:60] or "figure"
        path = self.folder / f"{slug}.{self.format}"
        n = 2
        while path in self.written:
            path = self.folder / f"{slug}_{n}.{self.format}"
            n += 1
        return path

    def write(self, fig: Figure, name: str) -> Path:
        """Write one figure in :attr:`format`."""
        path = self.path_for(name)
        self.folder.mkdir(parents=True, exist_ok=True)
        options = {"dpi": FILE_DPI} if self.format == "png" else {}
        if self.format == "pdf":
            options["metadata"] = {"Creator": "mlmicro", "CreationDate": None}
        elif self.format == "svg":
            options["metadata"] = {"Date": None}
        with atomic_write(path, mode="wb") as handle:
            fig.savefig(
                handle,
                format=self.format,
                bbox_inches="tight",
                facecolor="white",
                **options,
            )
        self.written.append(path)
        return path


_CURRENT: ContextVar[tuple[str, FigureFiles | None]] = ContextVar(
    "mlmicro_figure_output", default=("png", None)
)


@contextlib.contextmanager
def figure_files(folder: str | Path, figure_format: str | None) -> Iterator[FigureFiles | None]:
    """Within this block, :func:`embed` also writes each figure into ``folder``.

    ``figure_format=None`` writes no files (figures are only embedded, as PNG).
    With ``"svg"`` the page embeds SVG too; with ``"png"`` or ``"pdf"`` it
    embeds PNG.
    """
    fmt = check_figure_format(figure_format)
    files = None if fmt is None else FigureFiles(Path(folder), fmt)
    token = _CURRENT.set(("svg" if fmt == "svg" else "png", files))
    try:
        yield files
    finally:
        _CURRENT.reset(token)


def embed(fig: Figure, alt: str, *, name: str | None = None) -> str:
    """Return ``fig`` as an ``<img>`` tag for the page (and write its file, if asked).

    The image is shown at its own size (``width`` in CSS pixels), never wider
    than the page, so text keeps the size :func:`smallest_text_px` measures.
    """
    import matplotlib.pyplot as plt

    page_format, files = _CURRENT.get()
    if files is not None:
        files.write(fig, name or alt)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", facecolor="white")
    width = _png_width(buffer.getvalue())
    if page_format == "svg":
        buffer = io.BytesIO()
        fig.savefig(
            buffer, format="svg", bbox_inches="tight", facecolor="white", metadata={"Date": None}
        )
        mime = "image/svg+xml"
    else:
        mime = "image/png"
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img src="data:{mime};base64,{data}" width="{width}" alt="{html.escape(alt)}">'


def _png_width(data: bytes) -> int:
    """Width in pixels of a PNG (from its IHDR chunk)."""
    return int.from_bytes(data[16:20], "big")


def smallest_text_px(fig: Figure, *, dpi: int = DPI) -> float:
    """Smallest visible text of ``fig`` in pixels when shown at ``dpi`` and 100% zoom.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots(); _ = ax.set_title("x", fontsize=9); _ = ax.set_xticks([])
    >>> _ = ax.set_yticks([]); round(smallest_text_px(fig), 1)
    12.5
    >>> plt.close(fig)
    """
    from matplotlib.text import Text

    fig.canvas.draw()
    sizes = [
        float(t.get_fontsize())
        for t in fig.findobj(Text)
        if t.get_visible() and t.get_text().strip()
    ]
    return min(sizes) * dpi / 72.0 if sizes else float("inf")
