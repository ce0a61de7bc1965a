"""Bootstrap confidence intervals of CV metrics over out-of-fold predictions.

The interval answers "how uncertain is this metric, given these samples?":
the samples (or, with ``--group``, the subjects) are resampled with
replacement, stratified by class, and the metric is recomputed on each
resample of the out-of-fold predictions. Under leave-one-study-out CV each
study's units are resampled within that study, so every resample keeps every
study's size and case mix.

Every repeat of k-fold CV predicts every sample once, so one resample (a
multiplicity per sample) applies to every repeat: the metric is computed per
repeat on the same resample and averaged over repeats, exactly as the point
estimate (mean over repeats) is. Pooling the repeats instead would count each
sample once per repeat and shrink the interval by treating repeated predictions
of one sample as independent data.

Everything is vectorised over resamples: a resample is a row of integer
weights, and AUROC, AUPRC, balanced accuracy, MCC and the Brier score are
weighted sums over samples sorted once by score (rank-based AUROC), so 1,000
resamples of 1,000 samples take a fraction of a second.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import pandas as pd

__all__ = [
    "DEFAULT_RESAMPLES",
    "bootstrap_weights",
    "weighted_metrics",
    "percentile_interval",
    "summarize_resamples",
    "cv_intervals",
]

#: Resamples drawn for every CV interval unless configured otherwise.
DEFAULT_RESAMPLES = 1000


def bootstrap_weights(
    y: np.ndarray,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    groups: np.ndarray | None = None,
    strata: np.ndarray | None = None,
) -> np.ndarray:
    """Draw stratified bootstrap resamples as per-sample multiplicities.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Class code per sample; units are resampled within each class.
    n_resamples : int
        Number of resamples.
    seed : int
        Seed of the resampling.
    groups : ndarray of shape (n_samples,), optional
        Subject per sample: whole subjects are drawn (a subject's class is the
        class of its first sample).
    strata : ndarray of shape (n_samples,), optional
        Extra strata (the study under leave-one-study-out): units are drawn
        within each (stratum, class).

    Returns
    -------
    ndarray of shape (n_resamples, n_samples), int32
        How often each sample appears in each resample.

    Examples
    --------
    >>> w = bootstrap_weights(np.array([0, 0, 1, 1, 1]), n_resamples=3, seed=1)
    >>> w.shape, w[:, :2].sum(axis=1).tolist(), w[:, 2:].sum(axis=1).tolist()
    ((3, 5), [2, 2, 2], [3, 3, 3])
    """
    y = np.asarray(y)
    n = len(y)
    if groups is None:
        unit_of = np.arange(n)
    else:
        _, unit_of = np.unique(np.asarray(groups).astype(str), return_inverse=True)
    n_units = int(unit_of.max()) + 1 if n else 0
    first = np.full(n_units, -1, dtype=np.int64)
    first[unit_of[::-1]] = np.arange(n)[::-1]  # first sample of each unit
    unit_class = y[first].astype(str)
    if strata is not None:
        unit_class = np.char.add(np.asarray(strata)[first].astype(str), "\x1f" + unit_class)
    rng = np.random.default_rng(seed)
    counts = np.zeros((n_resamples, n_units), dtype=np.int32)
    rows = np.arange(n_resamples)[:, None]
    for stratum in np.unique(unit_class):
        members = np.flatnonzero(unit_class == stratum)
        drawn = members[rng.integers(0, len(members), size=(n_resamples, len(members)))]
        np.add.at(counts, (np.broadcast_to(rows, drawn.shape), drawn), 1)
    return counts[:, unit_of]


def _auroc(scores: np.ndarray, positive: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted (rank-based, ties count half) AUROC of every resample."""
    order = np.argsort(scores, kind="mergesort")
    s = scores[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    w = weights[:, order].astype(np.float64)
    pos = positive[order]
    w_pos = np.where(pos, w, 0.0)
    w_neg = w - w_pos
    neg_at = np.add.reduceat(w_neg, starts, axis=1)  # negatives at each tie level
    neg_below = np.cumsum(neg_at, axis=1) - neg_at
    credit = neg_below + 0.5 * neg_at  # per level: negatives beaten by a positive there
    pos_at = np.add.reduceat(w_pos, starts, axis=1)
    n_pos, n_neg = w_pos.sum(axis=1), w_neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (pos_at * credit).sum(axis=1) / (n_pos * n_neg)
    return np.where((n_pos > 0) & (n_neg > 0), auc, np.nan)


def _average_precision(scores: np.ndarray, positive: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted average precision (as scikit-learn defines it) of every resample."""
    order = np.argsort(-scores, kind="mergesort")
    s = scores[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    w = weights[:, order].astype(np.float64)
    w_pos = np.where(positive[order], w, 0.0)
    tp_at = np.add.reduceat(w_pos, starts, axis=1)
    all_at = np.add.reduceat(w, starts, axis=1)
    tp, total = np.cumsum(tp_at, axis=1), np.cumsum(all_at, axis=1)
    n_pos = w_pos.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(total > 0, tp / np.where(total > 0, total, 1), 0.0)
        ap = (tp_at * precision).sum(axis=1) / n_pos
    return np.where((n_pos > 0) & (n_pos < w.sum(axis=1)), ap, np.nan)


def weighted_metrics(
    y: np.ndarray,
    proba: np.ndarray,
    weights: np.ndarray,
    positive: int | None,
) -> dict[str, np.ndarray]:
    """Every CV metric of every resample, as :func:`mlmicro.model.metrics.score` defines it.

    Parameters
    ----------
    y : ndarray of shape (n_samples,)
        Class code per sample (column of ``proba``).
    proba : ndarray of shape (n_samples, n_classes)
        Predicted probabilities.
    weights : ndarray of shape (n_resamples, n_samples)
        Multiplicities from :func:`bootstrap_weights` (a row of ones is the
        sample itself).
    positive : int or None
        Column of the positive class (binary tasks); ``None``: multiclass
        (macro one-vs-rest AUROC and AUPRC over the classes present).

    Returns
    -------
    dict
        ``roc_auc``, ``average_precision``, ``balanced_accuracy``, ``mcc`` and
        ``brier``, each an array of shape ``(n_resamples,)`` (``NaN`` where a
        resample leaves the metric undefined).

    Examples
    --------
    >>> p = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.7, 0.3]])
    >>> out = weighted_metrics(np.array([0, 1, 1, 0]), p, np.ones((1, 4)), 1)
    >>> float(out["roc_auc"][0]), float(out["balanced_accuracy"][0])
    (1.0, 1.0)
    """
    y = np.asarray(y, dtype=np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    n_classes = proba.shape[1]
    onehot = np.eye(n_classes)[y]
    out: dict[str, np.ndarray] = {}
    total = w.sum(axis=1)
    if positive is not None and n_classes == 2:
        hit = y == positive
        out["roc_auc"] = _auroc(proba[:, positive], hit, w)
        out["average_precision"] = _average_precision(proba[:, positive], hit, w)
        out["brier"] = w @ ((proba[:, positive] - hit) ** 2) / total
    else:
        class_w = w @ onehot  # (B, K): weight of each class
        aucs = np.stack([_auroc(proba[:, k], y == k, w) for k in range(n_classes)], axis=1)
        aps = np.stack(
            [_average_precision(proba[:, k], y == k, w) for k in range(n_classes)], axis=1
        )
        present = class_w > 0
        with np.errstate(invalid="ignore"):
            aucs = np.where(present, aucs, np.nan)
            aps = np.where(present, aps, np.nan)
        enough = present.sum(axis=1) >= 2
        with np.errstate(invalid="ignore"), _quiet():
            out["roc_auc"] = np.where(enough, np.nanmean(aucs, axis=1), np.nan)
            out["average_precision"] = np.where(enough, np.nanmean(aps, axis=1), np.nan)
        out["brier"] = w @ np.sum((proba - onehot) ** 2, axis=1) / total
    predicted = np.argmax(proba, axis=1)
    # confusion[b, true, pred]
    cells = y * n_classes + predicted
    cell_onehot = np.eye(n_classes * n_classes)[cells]
    confusion = (w @ cell_onehot).reshape(len(w), n_classes, n_classes)
    support = confusion.sum(axis=2)
    present = support > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.diagonal(confusion, axis1=1, axis2=2) / np.where(present, support, 1)
        balanced = (recall * present).sum(axis=1) / present.sum(axis=1)
        # multiclass MCC from the confusion matrix (Gorodkin), as scikit-learn
        t_sum, p_sum = support, confusion.sum(axis=1)
        correct = np.trace(confusion, axis1=1, axis2=2)
        cov_ytyp = correct * total - (t_sum * p_sum).sum(axis=1)
        cov_ypyp = total**2 - (p_sum**2).sum(axis=1)
        cov_ytyt = total**2 - (t_sum**2).sum(axis=1)
        denom = np.sqrt(cov_ytyt * cov_ypyp)
        mcc = np.where(denom > 0, cov_ytyp / np.where(denom > 0, denom, 1), 0.0)
    two_classes = present.sum(axis=1) > 1
    out["balanced_accuracy"] = np.where(two_classes, balanced, np.nan)
    out["mcc"] = np.where(two_classes, mcc, np.nan)
    return out


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence numpy's "mean of empty slice" for all-NaN rows (they stay NaN)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def percentile_interval(
    values: np.ndarray, *, level: float = 0.95, max_undefined: float = 0.05
) -> list[float | None]:
    """Percentile interval of bootstrap values; ``[None, None]`` where undefined.

    Parameters
    ----------
    values : ndarray
        One metric per resample (``NaN`` where undefined).
    level : float
        Coverage of the interval.
    max_undefined : float
        Largest share of undefined resamples still giving an interval.

    Examples
    --------
    >>> [round(v, 6) for v in percentile_interval(np.arange(101.0))]
    [2.5, 97.5]
    >>> percentile_interval(np.array([np.nan, 1.0]))
    [None, None]
    """
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if len(values) == 0 or len(finite) < (1 - max_undefined) * len(values) or len(finite) < 2:
        return [None, None]
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(finite, [tail, 100 - tail])
    return [float(lo), float(hi)]


def summarize_resamples(
    per_repeat: Sequence[dict[str, np.ndarray]], *, level: float = 0.95
) -> dict[str, list[float | None]]:
    """Average each metric over repeats, resample by resample, and take its interval."""
    out: dict[str, list[float | None]] = {}
    for name in per_repeat[0]:
        stacked = np.stack([r[name] for r in per_repeat])
        with _quiet():
            mean = np.nanmean(stacked, axis=0) if len(stacked) > 1 else stacked[0]
        mean = np.where(np.isnan(stacked).any(axis=0), np.nan, mean)
        out[name] = percentile_interval(mean, level=level)
    return out


def cv_intervals(
    oof: pd.DataFrame,
    classes: Sequence[str],
    positive_class: str | None,
    *,
    sample_ids: Sequence[str],
    groups: np.ndarray | None = None,
    studies: np.ndarray | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> dict[str, list[float | None]]:
    """Bootstrap 95% intervals of every metric of a cross-validation.

    Parameters
    ----------
    oof : pandas.DataFrame
        Out-of-fold predictions (``repeat``, ``sample_id``, ``y_true``,
        ``probability_<class>``), each repeat predicting every sample once.
    classes : sequence of str
        Class names, in probability-column order.
    positive_class : str or None
        The class binary metrics score.
    sample_ids : sequence of str
        The training samples, in the order of ``groups`` and ``studies``.
    groups : ndarray, optional
        Subject per sample: subjects are resampled.
    studies : ndarray, optional
        Study per sample (leave-one-study-out): units are resampled within studies.
    n_resamples : int
        Resamples (0: no interval).
    seed : int
        Seed of the resampling.

    Returns
    -------
    dict
        ``{metric: [low, high]}``, ``[None, None]`` where undefined.
    """
    from mlmicro.model.metrics import METRICS

    if n_resamples <= 0:
        return {name: [None, None] for name in METRICS}
    ids = pd.Index([str(s) for s in sample_ids])
    columns = [f"probability_{c}" for c in classes]
    code = {c: i for i, c in enumerate(classes)}
    y = np.array([code[v] for v in _first_label(oof, ids)], dtype=np.int64)
    weights = bootstrap_weights(
        y, n_resamples=n_resamples, seed=seed, groups=groups, strata=studies
    )
    positive = None if positive_class is None or len(classes) != 2 else code[positive_class]
    per_repeat = []
    for _, part in oof.groupby("repeat", sort=True):
        rows = ids.get_indexer(part["sample_id"].astype(str))
        proba = np.full((len(ids), len(classes)), np.nan)
        proba[rows] = part[columns].to_numpy(dtype=np.float64)
        seen = ~np.isnan(proba).any(axis=1)
        per_repeat.append(weighted_metrics(y[seen], proba[seen], weights[:, seen], positive))
    return summarize_resamples(per_repeat)


def _first_label(oof: pd.DataFrame, ids: pd.Index) -> list[str]:
    first = oof.drop_duplicates("sample_id")
    labels = pd.Series(first["y_true"].to_numpy(), index=first["sample_id"].astype(str))
    return [str(v) for v in labels.loc[ids]]


def interval_method(n_resamples: int, *, grouped: bool, within_study: bool) -> dict[str, object]:
    """Describe how :func:`cv_intervals` computed an interval (for the model card).

    Examples
    --------
    >>> interval_method(1000, grouped=True, within_study=False)["unit"]
    'subject'
    """
    unit = "subject" if grouped else "sample"
    text = (
        f"percentile bootstrap, {n_resamples} resamples of {unit}s stratified by class"
        + (" within each study" if within_study else "")
        + "; each resample scored per CV repeat and averaged over repeats"
        if n_resamples
        else "none (cv.bootstrap = 0)"
    )
    return {
        "method": "bootstrap" if n_resamples else None,
        "resamples": int(n_resamples),
        "unit": unit,
        "within_study": bool(within_study),
        "description": text,
    }
