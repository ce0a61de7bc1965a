"""Classification metrics over out-of-fold predictions, their CV spread and intervals."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import (
    average_precision_score,
    balanced_accuracy_score,
    matthews_corrcoef,
    roc_auc_score,
)

__all__ = [
    "METRICS",
    "METRIC_LABELS",
    "format_interval",
    "format_permutation",
    "metric_label",
    "format_value",
    "score",
    "summarize",
]

#: Metric names in report order.
METRICS: tuple[str, ...] = ("roc_auc", "average_precision", "balanced_accuracy", "mcc", "brier")
#: How reports name each metric.
METRIC_LABELS: dict[str, str] = {
    "roc_auc": "AUROC",
    "average_precision": "AUPRC",
    "balanced_accuracy": "balanced accuracy",
    "mcc": "MCC",
    "brier": "Brier score",
}

#: How multiclass AUROC and AUPRC average over classes (see :func:`score`).
MULTICLASS_AVERAGING: dict[str, str] = {
    "roc_auc": "macro, one-vs-rest",
    "average_precision": "macro",
}


def metric_label(name: str, multiclass: bool = False) -> str:
    """Name a metric for reports; multiclass AUROC says it is a macro one-vs-rest mean.

    Examples
    --------
    >>> metric_label("roc_auc"), metric_label("roc_auc", multiclass=True)
    ('AUROC', 'AUROC (macro, one-vs-rest)')
    """
    label = METRIC_LABELS[name]
    if multiclass and name in MULTICLASS_AVERAGING:
        return f"{label} ({MULTICLASS_AVERAGING[name]})"
    return label


def score(
    y_true: Sequence[str],
    proba: np.ndarray,
    classes: Sequence[str],
    positive_class: str | None,
    predicted: Sequence[str] | None = None,
) -> dict[str, float]:
    """Score class probabilities.

    Parameters
    ----------
    y_true : sequence of str
        True class labels.
    proba : ndarray of shape (n_samples, n_classes)
        Predicted probabilities, columns in ``classes`` order.
    classes : sequence of str
        Class labels.
    positive_class : str or None
        For binary tasks, the class AUROC and AUPRC are computed for. For
        multiclass tasks (``None``), AUROC is the macro one-vs-rest mean and
        AUPRC the macro mean of per-class average precision.
    predicted : sequence of str, optional
        Predicted labels for balanced accuracy and MCC (e.g. by a model's
        threshold); default the most probable class.

    Returns
    -------
    dict
        ``roc_auc``, ``average_precision`` (AUPRC), ``balanced_accuracy``,
        ``mcc`` and ``brier`` (mean squared error of the probability vector;
        for binary tasks the usual Brier score of the positive class).

    Examples
    --------
    >>> p = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6]])
    >>> score(["a", "b", "b"], p, ["a", "b"], "b")["roc_auc"]
    1.0
    """
    y = np.asarray(y_true, dtype=object)
    classes = list(classes)
    onehot = (y[:, None] == np.asarray(classes, dtype=object)[None, :]).astype(float)
    if predicted is None:
        predicted = np.asarray(classes, dtype=object)[np.argmax(proba, axis=1)]
    else:
        predicted = np.asarray(predicted, dtype=object)
    out: dict[str, float] = {}
    present = onehot.sum(0) > 0
    if positive_class is not None and len(classes) == 2:
        k = classes.index(positive_class)
        if present.all():
            out["roc_auc"] = float(roc_auc_score(onehot[:, k], proba[:, k]))
            out["average_precision"] = float(average_precision_score(onehot[:, k], proba[:, k]))
        else:
            out["roc_auc"] = out["average_precision"] = float("nan")
        out["brier"] = float(np.mean((proba[:, k] - onehot[:, k]) ** 2))
    else:
        cols = np.flatnonzero(present)
        if len(cols) >= 2:
            aucs = [roc_auc_score(onehot[:, k], proba[:, k]) for k in cols]
            aps = [average_precision_score(onehot[:, k], proba[:, k]) for k in cols]
            out["roc_auc"] = float(np.mean(aucs))
            out["average_precision"] = float(np.mean(aps))
        else:
            out["roc_auc"] = out["average_precision"] = float("nan")
        out["brier"] = float(np.mean(np.sum((proba - onehot) ** 2, axis=1)))
    out["balanced_accuracy"] = (
        float(balanced_accuracy_score(y, predicted)) if len(set(y)) > 1 else float("nan")
    )
    out["mcc"] = float(matthews_corrcoef(y, predicted)) if len(set(y)) > 1 else float("nan")
    return {name: out[name] for name in METRICS}


def summarize(
    per_repeat: pd.DataFrame,
    intervals: Mapping[str, Sequence[float | None]] | None = None,
) -> dict[str, dict[str, object]]:
    """Mean over repeats, CV spread and 95% confidence interval of each metric.

    Parameters
    ----------
    per_repeat : pandas.DataFrame
        One row per repeat, one column per metric.
    intervals : mapping, optional
        The 95% confidence interval of each metric, from a bootstrap of the
        out-of-fold predictions (:func:`mlmicro.model.bootstrap.cv_intervals`);
        ``[None, None]`` (shown as n/a) when not given.

    Returns
    -------
    dict
        ``{metric: {"mean": m, "std": s, "ci95": [lo, hi], "n": R}}``: ``std``
        is the CV spread, the standard deviation across the R repeats (how much
        the fold assignment moves the metric; ``None`` with one repeat), not
        the uncertainty of the metric; ``ci95`` is that uncertainty.

    Examples
    --------
    >>> frame = pd.DataFrame({"roc_auc": [0.8, 0.9]})
    >>> summarize(frame, {"roc_auc": [0.7, 0.95]})["roc_auc"]["ci95"]
    [0.7, 0.95]
    """
    summary: dict[str, dict[str, object]] = {}
    for name in per_repeat.columns:
        values = per_repeat[name].dropna().to_numpy(dtype=float)
        n = len(values)
        ci = list((intervals or {}).get(name) or [None, None])
        if n == 0:
            summary[name] = {"mean": None, "std": None, "ci95": [None, None], "n": 0}
            continue
        std = float(values.std(ddof=1)) if n > 1 else None
        summary[name] = {"mean": float(values.mean()), "std": std, "ci95": ci, "n": n}
    return summary


def format_value(value: object, digits: int = 3) -> str:
    """Format a metric as text: ``n/a`` when undefined (``None`` or ``NaN``)."""
    if value is None or not np.isfinite(float(value)):  # type: ignore[arg-type]
        return "n/a"
    return f"{float(value):.{digits}f}"  # type: ignore[arg-type]


def format_interval(interval: Sequence[float | None] | None, digits: int = 3) -> str:
    """Format a confidence interval as ``[lo, hi]``; ``n/a`` when undefined or of no width.

    Examples
    --------
    >>> format_interval([0.5, 0.75]), format_interval([None, None]), format_interval([0.8, 0.8])
    ('[0.500, 0.750]', 'n/a', 'n/a')
    """
    if not interval or any(v is None or not np.isfinite(float(v)) for v in interval):
        return "n/a"
    lo, hi = (float(v) for v in interval)  # type: ignore[arg-type]
    if hi <= lo:
        return "n/a"
    return f"[{lo:.{digits}f}, {hi:.{digits}f}]"


def format_permutation(permutation: Mapping[str, object]) -> str:
    """Say what the label-permutation null gave: p-value, its floor, the null's mean and sd.

    Examples
    --------
    >>> format_permutation({"n": 99, "p_value": 0.01, "null_mean": 0.5, "null_sd": 0.04})
    'p = 0.0100 (99 permutations), the smallest p that 99 permutations can give: no permuted \
labelling scored as high (more permutations resolve smaller p); null AUROC mean 0.500, sd 0.040'
    """
    n = int(permutation["n"])  # type: ignore[call-overload]
    p = float(permutation["p_value"])  # type: ignore[arg-type]
    text = f"p = {p:.4f} ({n} permutation{'' if n == 1 else 's'})"
    if p <= 1.0 / (n + 1) + 1e-12:
        text += (
            f", the smallest p that {n} permutations can give: no permuted labelling scored as "
            "high (more permutations resolve smaller p)"
        )
    if permutation.get("null_mean") is not None:
        text += (
            f"; null AUROC mean {format_value(permutation['null_mean'])}, "
            f"sd {format_value(permutation.get('null_sd'))}"
        )
    return text
