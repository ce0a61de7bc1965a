"""Report section on the model class by class: per-class AUROC and the confusion matrix.

Numbers come from the model card's :class:`~mlmicro.model.classwise.ClassBreakdown`
(out-of-fold predictions, each sample counted once).
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import numpy as np

from mlmicro.report.page import Section, section

if TYPE_CHECKING:  # pragma: no cover
    from mlmicro.model.classwise import ClassBreakdown
    from mlmicro.model.model import Model

__all__ = ["classwise_section", "confusion_html"]


def _e(value: object) -> str:
    return html.escape(str(value))


def confusion_html(classes: tuple[str, ...] | list[str], counts: list[list[int]]) -> str:
    """Return a confusion matrix as an HTML table: true class by row, predicted by column.

    Examples
    --------
    >>> "<td>3</td>" in confusion_html(["a", "b"], [[3, 1], [0, 2]])
    True
    """
    head = "".join(f"<th>{_e(c)}</th>" for c in classes)
    rows = []
    for name, row in zip(classes, counts, strict=True):
        total = sum(row)
        cells = "".join(f"<td>{n}</td>" for n in row)
        rows.append(f"<tr><th>{_e(name)}</th>{cells}<td class='muted'>{total}</td></tr>")
    return (
        "<table class='compact confusion'><thead><tr><th>true \\ predicted</th>"
        f"{head}<th class='muted'>total</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _auroc_html(breakdown: ClassBreakdown) -> str:
    if breakdown.per_class_auroc is None:
        return ""
    rows = "".join(
        f"<tr><th>{_e(name)}</th><td>{value:.3f}</td></tr>"
        if np.isfinite(value)
        else f"<tr><th>{_e(name)}</th><td>n/a</td></tr>"
        for name, value in breakdown.per_class_auroc.items()
    )
    return (
        "<div><h3>AUROC per class (one-vs-rest)</h3><table class='compact'><thead><tr>"
        f"<th>class</th><th>AUROC</th></tr></thead><tbody>{rows}</tbody></table>"
        "<p class='caption'>Each class against all others; the model card's AUROC is their "
        "macro mean (one-vs-rest), averaged over CV repeats.</p></div>"
    )


def classwise_section(model: Model) -> Section | None:
    """Return the class-by-class section (``None`` for cards that do not carry it)."""
    breakdown = model.card.classwise
    if breakdown is None:
        return None
    matrix = confusion_html(breakdown.classes, breakdown.confusion)
    return section(
        "classes",
        "Class by class",
        f"""<div class="two">{_auroc_html(breakdown)}<div><h3>Confusion matrix</h3>{matrix}
<p class="caption">{breakdown.n_samples} samples, {_e(breakdown.decision)}; from the
{_e(breakdown.source)}.</p></div></div>""",
    )
