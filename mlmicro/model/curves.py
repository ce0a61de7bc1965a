"""ROC and precision-recall curves of cross-validation, as tables (the report draws them)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import (
    average_precision_score,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

__all__ = ["CURVE_GRID", "cv_curve_table"]

#: The common x grid of every curve: 0 to 1 in steps of 0.01.
CURVE_GRID = np.linspace(0.0, 1.0, 101)


def cv_curve_table(
    oof: pd.DataFrame, classes: Sequence[str], positive_class: str | None
) -> pd.DataFrame:
    """ROC and precision-recall curves of each CV repeat, on a common grid.

    Parameters
    ----------
    oof : pandas.DataFrame
        Out-of-fold predictions (``repeat``, ``y_true``, ``probability_<class>``).
    classes : sequence of str
        The model's classes.
    positive_class : str or None
        The binary task's positive class; ``None``: one-vs-rest per class.

    Returns
    -------
    pandas.DataFrame
        Long table: ``curve`` (``roc`` or ``pr``), ``class``, ``repeat``,
        ``x`` (false positive rate or recall, 0-1 in steps of 0.01), ``y``
        (true positive rate, or interpolated precision: the best precision at
        this recall or above) and ``auc`` (AUROC or average precision of that
        repeat).
    """
    targets = [positive_class] if positive_class is not None else list(classes)
    parts = []
    for target in targets:
        for repeat, group in oof.groupby("repeat", sort=True):
            truth = (group["y_true"].astype(str) == target).to_numpy()
            if truth.all() or not truth.any():
                continue
            score = group[f"probability_{target}"].to_numpy(dtype=np.float64)
            fpr, tpr, _ = roc_curve(truth, score)
            roc = np.interp(CURVE_GRID, fpr, tpr)
            roc[0] = 0.0
            precision, recall, _ = precision_recall_curve(truth, score)
            # interpolated precision: the best precision at this recall or higher
            order = np.argsort(recall)
            best = np.maximum.accumulate(precision[order][::-1])[::-1]
            pr = np.array([best[np.searchsorted(recall[order], r)] for r in CURVE_GRID])
            auroc = float(roc_auc_score(truth, score))
            ap = float(average_precision_score(truth, score))
            for curve, y, area in (("roc", roc, auroc), ("pr", pr, ap)):
                parts.append(
                    pd.DataFrame(
                        {
                            "curve": curve,
                            "class": target,
                            "repeat": int(repeat),
                            "x": CURVE_GRID,
                            "y": y,
                            "auc": area,
                        }
                    )
                )
    columns = ["curve", "class", "repeat", "x", "y", "auc"]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
