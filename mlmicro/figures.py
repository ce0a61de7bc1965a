"""Figures of explanations and cross-validation results, as matplotlib figures.

SHAP plots (bar, beeswarm, waterfall, dependence) are drawn by the shap
library from an :class:`mlmicro.explain.Explanation` view of one class; the
cross-validated ROC and precision-recall curves are drawn from a model's
out-of-fold predictions. Every function returns a closed
:class:`matplotlib.figure.Figure` (it still saves and shows in notebooks) and
draws nothing that is not also in a table: :func:`mlmicro.model.curves.cv_curve_table` is the table
behind :func:`cv_curves`.
"""

from __future__ import annotations

import textwrap
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.text import Text

with warnings.catch_warnings():
    # shap 0.51 calls a matplotlib colormap method that matplotlib marks for removal
    warnings.filterwarnings("ignore", category=PendingDeprecationWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    import shap

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from mlmicro.explain import Explanation

__all__ = [
    "bar",
    "beeswarm",
    "waterfall",
    "dependence",
    "dependence_grid",
    "cv_curves",
    "value_label",
    "bar_legend",
    "MAX_POINTS",
]

#: Beeswarm and dependence plots draw at most this many samples (a seeded
#: random subset); the tables keep every sample.
MAX_POINTS: int = 3000

#: Smallest text of a waterfall, in points (14 px when embedded at 100 dpi).
MIN_WATERFALL_POINTS: float = 10.0

#: Colours for "pushes toward the explained class" and "away from it".
TOWARD, AWAY, NEUTRAL = "#c0392b", "#2c7fb8", "#9e9e9e"


def value_label(view: Explanation) -> str:
    """Say what the plotted feature values are."""
    if view.feature_kind == "taxon":
        return "relative abundance (%)"
    if view.feature_kind == "log-ratio":
        return "log-ratio to the reference taxon"
    return "balance (ILR coordinate)"


def _plotted_data(view: Explanation) -> np.ndarray:
    data = view.data.to_numpy(dtype=np.float64)
    return data * 100.0 if view.feature_kind == "taxon" else data


def _shap_explanation(view: Explanation, rows: np.ndarray | None = None) -> shap.Explanation:
    values = view._values[:, 0, :]
    data = _plotted_data(view)
    if rows is not None:
        values, data = values[rows], data[rows]
    return shap.Explanation(
        values=values,
        base_values=np.full(len(values), view._base[0]),
        data=data,
        feature_names=list(view.features["name"]),
    )


def _subset(n: int, limit: int = MAX_POINTS) -> np.ndarray | None:
    if n <= limit:
        return None
    return np.sort(np.random.default_rng(0).choice(n, size=limit, replace=False))


def _margin_label(view: Explanation) -> str:
    target = view.outputs[0]
    if view.unit == "probability":
        return f"SHAP value (probability of {target})"
    if len(view.classes) == 2:
        return f"SHAP value (log-odds of {target})"
    return f"SHAP value (margin of {target})"


def _finish(fig: Figure) -> Figure:
    plt.close(fig)
    return fig


def _shap_call(func, *args, **kwargs):
    with warnings.catch_warnings():
        # shap's plots draw on pyplot state; harmless chatter about it is not an error
        warnings.filterwarnings("ignore", category=UserWarning, module=r"shap\..*")
        warnings.filterwarnings("ignore", category=UserWarning, module=r"matplotlib\..*")
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        return func(*args, **kwargs)


def _colour_of(direction: str, target: str) -> str:
    if direction == "unclear":
        return NEUTRAL
    return TOWARD if direction == target else AWAY


def bar(view: Explanation, *, max_display: int = 20) -> Figure:
    """Mean |SHAP| of the most important features, coloured by direction.

    Red bars push toward the explained class when the feature is high, blue
    bars away from it, grey ones have no clear direction.
    """
    summary = view.summary().head(max_display)
    columns = [view.features.index.get_loc(k) for k in view.ranked_keys(max_display)]
    fig, ax = plt.subplots(figsize=(7.5, 0.34 * (len(columns) + 1) + 1.0))
    exp = _shap_explanation(view)[:, columns]
    _shap_call(shap.plots.bar, exp, max_display=len(columns), ax=ax, show=False)
    colours = {
        name: _colour_of(direction, view.outputs[0])
        for name, direction in zip(summary["name"], summary["direction"], strict=True)
    }
    labels = {round(t.get_position()[1]): t.get_text() for t in ax.get_yticklabels()}
    for patch in ax.patches:
        name = labels.get(round(patch.get_y() + patch.get_height() / 2), "")
        patch.set_color(colours.get(name, NEUTRAL))
    for text in ax.texts:  # shap writes each bar's value beside it
        text.set_color("#333333")
    ax.set_xlabel(f"mean |SHAP value| ({'log-odds' if len(view.classes) == 2 else 'margin'})")
    ax.set_title(textwrap.fill(bar_legend(view), 80), fontsize=9, loc="left")
    fig.tight_layout()
    return _finish(fig)


def bar_legend(view: Explanation) -> str:
    """Say what the bar colours mean."""
    target = view.outputs[0]
    if len(view.classes) == 2:
        away = next(c for c in view.classes if c != target)
    else:
        away = f"not {target}"
    return f"red: more of it pushes toward {target}; blue: toward {away}; grey: unclear"


def beeswarm(view: Explanation, *, max_display: int = 20) -> Figure:
    """Every sample's SHAP value per feature, coloured by the feature's value."""
    shown = min(max_display, len(view.features))
    rows = _subset(len(view.sample_ids))
    fig, ax = plt.subplots(figsize=(8.5, 0.34 * (shown + 1) + 1.4))
    _shap_call(
        shap.plots.beeswarm,
        _shap_explanation(view, rows),
        max_display=shown,
        ax=ax,
        show=False,
        plot_size=None,
        color_bar_label=value_label(view),
        s=10,
    )
    ax.set_xlabel(_margin_label(view))
    if rows is not None:
        ax.set_title(f"{len(rows)} of {len(view.sample_ids)} samples drawn", fontsize=9, loc="left")
    fig.tight_layout()
    return _finish(fig)


def waterfall(view: Explanation, sample: str, *, max_display: int = 15) -> Figure:
    """One sample's explanation, from the base value to its margin."""
    row = view.row_of(sample)
    size = (7.0, 0.34 * (max_display + 1) + 1.2)
    fig = plt.figure(figsize=size)
    _shap_call(
        shap.plots.waterfall, _shap_explanation(view)[row], max_display=max_display, show=False
    )
    fig = plt.gcf()
    target = view.outputs[0]
    probability = view.probability.iloc[row][f"probability_{target}"]
    kind = ""
    if view.shap_source is not None and view.shap_source[row] == "in-sample":
        source = view.probability_source
        oof = source is not None and source[row] == "out-of-fold"
        kind = (
            f" ({'out-of-fold; ' if oof else ''}a training sample: the bars are in-sample "
            "SHAP values of the final model, which saw its label)"
        )
    truth = ""
    if view.labels is not None:
        label = view.labels.reindex([view.sample_ids[row]]).iloc[0]
        truth = f", true class {label}" if isinstance(label, str) else ""
    fig.axes[0].set_title(
        textwrap.fill(
            f"sample {view.sample_ids[row]}: P({target}) = {probability:.2f}{kind}{truth}", 70
        )
        + f"\nnumbers left of the names: {value_label(view)}",
        fontsize=11,
        loc="left",
    )
    fig.set_size_inches(*size)
    for text in fig.findobj(Text):  # at least 10 pt: readable at 100% zoom once embedded
        if text.get_fontsize() < MIN_WATERFALL_POINTS:
            text.set_fontsize(MIN_WATERFALL_POINTS)
    return _finish(fig)


def _draw_dependence(ax: Axes, view: Explanation, key: str) -> None:
    column = view.features.index.get_loc(key)
    rows = _subset(len(view.sample_ids))
    exp = _shap_explanation(view, rows)[:, column]
    _shap_call(shap.plots.scatter, exp, ax=ax, show=False, hist=False, dot_size=9, alpha=0.6)
    ax.axhline(0.0, color="#bbbbbb", linewidth=0.8, zorder=0)
    if view.feature_kind == "taxon":
        data = exp.data
        positive = data[data > 0]
        floor = float(np.percentile(positive, 5)) if len(positive) else 0.01
        threshold = max(floor, 1e-4)
        ax.set_xscale("symlog", linthresh=threshold)
        ax.set_xlim(left=-0.2 * threshold)
    ax.set_xlabel(value_label(view), fontsize=8)
    units = "log-odds" if len(view.classes) == 2 else "margin"
    ax.set_ylabel(f"SHAP value ({units})", fontsize=8)
    ax.set_title(str(view.features.at[key, "name"]), fontsize=9, style="italic")
    ax.tick_params(labelsize=7)


def dependence(view: Explanation, key: str) -> Figure:
    """SHAP value against the feature's value for one feature."""
    fig, ax = plt.subplots(figsize=(5.0, 3.6))
    _draw_dependence(ax, view, key)
    fig.tight_layout()
    return _finish(fig)


def dependence_grid(view: Explanation, keys: Sequence[str], *, columns: int = 3) -> Figure:
    """Dependence plots of several features, in a grid."""
    rows = max(1, int(np.ceil(len(keys) / columns)))
    fig, axes = plt.subplots(rows, columns, figsize=(4.6 * columns, 3.4 * rows), squeeze=False)
    for ax, key in zip(axes.flat, keys, strict=False):
        _draw_dependence(ax, view, key)
    for ax in list(axes.flat)[len(keys) :]:
        ax.set_visible(False)
    fig.tight_layout()
    return _finish(fig)


# ------------------------------------------------------------- CV curves


def cv_curves(table: pd.DataFrame, *, prevalence: dict[str, float] | None = None) -> Figure:
    """ROC and precision-recall curves: mean over CV repeats, with their range shaded.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`mlmicro.model.curves.cv_curve_table`.
    prevalence : dict, optional
        Share of each class among the samples: the chance line of its PR curve.
    """
    fig, (roc_ax, pr_ax) = plt.subplots(1, 2, figsize=(10.0, 4.2))
    palette = plt.get_cmap("tab10")
    single = table["class"].nunique() == 1
    for i, (target, group) in enumerate(table.groupby("class", sort=False)):
        colour = TOWARD if single else palette(i)
        prefix = "" if single else f"{textwrap.shorten(str(target), 24)}: "
        for ax, curve in ((roc_ax, "roc"), (pr_ax, "pr")):
            part = group[group["curve"] == curve]
            wide = part.pivot(index="x", columns="repeat", values="y")
            areas = part.groupby("repeat")["auc"].first()
            for repeat in wide.columns:
                ax.plot(wide.index, wide[repeat], color=colour, alpha=0.18, linewidth=0.8)
            ax.fill_between(
                wide.index,
                wide.min(axis=1),
                wide.max(axis=1),
                color=colour,
                alpha=0.15,
                linewidth=0,
            )
            name = "AUROC" if curve == "roc" else "AUPRC"
            spread = f" ± {areas.std(ddof=1):.3f}" if len(areas) > 1 else ""
            ax.plot(
                wide.index,
                wide.mean(axis=1),
                color=colour,
                linewidth=2.0,
                label=f"{prefix}{name} {areas.mean():.3f}{spread} ({len(areas)} repeats)",
            )
            if curve == "pr" and prevalence and target in prevalence:
                ax.axhline(prevalence[target], color=colour, linestyle=":", linewidth=1.0)
    roc_ax.plot([0, 1], [0, 1], color="#999999", linestyle="--", linewidth=1.0)
    scored = f" (positive class: {table['class'].iloc[0]})" if single and len(table) else ""
    roc_ax.set(xlabel="false positive rate", ylabel="true positive rate")
    roc_ax.set_title(textwrap.fill("ROC" + scored, 60), fontsize=10)
    pr_ax.set(xlabel="recall", ylabel="precision")
    pr_ax.set_title(textwrap.fill("precision-recall" + scored, 60), fontsize=10)
    for ax in (roc_ax, pr_ax):
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.legend(loc="lower right" if ax is roc_ax else "lower left", fontsize=8, frameon=False)
        ax.grid(alpha=0.25)
    fig.tight_layout()
    return _finish(fig)
