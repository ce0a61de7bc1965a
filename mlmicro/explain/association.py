"""Per-taxon association tests beside SHAP: whether a taxon differs between the classes.

SHAP says what a model uses; it does not test whether a taxon differs between
the classes. :func:`taxon_associations` does, per taxon, on a labelled cohort
(the training cohort by default), for one class against the rest (a binary
model: the positive class against the negative; a multiclass model: one vs
rest, per class view):

``assoc_p_value``, ``assoc_q_value``
    Two-sided Wilcoxon rank-sum test on centred log-ratio (CLR) values, with
    Benjamini-Hochberg FDR over the taxa. CLR (each taxon's log abundance
    minus the sample's mean log abundance) makes the test compositional: it
    compares each taxon relative to the rest of its sample, so it does not
    depend on sequencing depth or on one sample's total, and a rank test needs
    no distribution for the zero-inflated, skewed values. This is the test
    ALDEx2 reports; a bias-corrected log fold change (ANCOM-BC) would also
    estimate the sampling fraction, which needs absolute-scale assumptions and
    an iterative fit. Zeros are replaced multiplicatively first (0.65 times
    the smallest non-zero proportion of the cohort).
``assoc_clr_difference``
    Mean CLR of the class minus mean CLR of the rest (natural log units).
``assoc_direction``
    Where the taxon is relatively more abundant, from the rank statistic: the
    class, the other class (``not <class>`` for one vs rest), or ``none``.
``generalised_fold_change``
    SIAMCAT's generalised fold change: the mean difference, over the 10th to
    90th percentiles in steps of 5, between the quantiles of log10(relative
    abundance + 1e-5) of the class and of the rest.
``prevalence_shift``
    Share of the class's samples with the taxon minus that of the rest.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from mlmicro.model.confounders import benjamini_hochberg

__all__ = ["ASSOCIATION_COLUMNS", "PSEUDOCOUNT", "clr_values", "taxon_associations"]

#: Columns :func:`taxon_associations` returns, in order.
ASSOCIATION_COLUMNS: tuple[str, ...] = (
    "assoc_clr_difference",
    "assoc_p_value",
    "assoc_q_value",
    "assoc_direction",
    "generalised_fold_change",
    "prevalence_shift",
)
#: Pseudocount of the generalised fold change (relative abundance, as in SIAMCAT).
PSEUDOCOUNT: float = 1e-5
_QUANTILES = np.arange(0.1, 0.9 + 1e-9, 0.05)


def clr_values(abundance: np.ndarray) -> np.ndarray:
    """CLR of each row after multiplicative zero replacement.

    Examples
    --------
    >>> clr_values(np.array([[1.0, 1.0], [3.0, 1.0]])).round(3).tolist()
    [[0.0, 0.0], [0.549, -0.549]]
    """
    x = np.asarray(abundance, dtype=np.float64)
    totals = x.sum(axis=1, keepdims=True)
    p = np.divide(x, totals, out=np.zeros_like(x), where=totals > 0)
    positive = p[p > 0]
    delta = 0.65 * float(positive.min()) if positive.size else 1e-6
    zeros = p == 0
    scale = 1.0 - delta * zeros.sum(axis=1, keepdims=True)
    replaced = np.where(zeros, delta, p * scale)
    logs = np.log(replaced)
    return logs - logs.mean(axis=1, keepdims=True)


def taxon_associations(
    abundance: pd.DataFrame,
    labels: pd.Series,
    target: str,
    classes: Sequence[str],
) -> pd.DataFrame:
    """Test every taxon for a difference between ``target`` and the other classes.

    Parameters
    ----------
    abundance : pandas.DataFrame
        Samples x taxa relative abundances (or counts).
    labels : pandas.Series
        True class per sample; unlabelled samples (NaN) are left out.
    target : str
        The class tested against the rest.
    classes : sequence of str
        The model's classes (two: the rest is named by the other class).

    Returns
    -------
    pandas.DataFrame
        Indexed like ``abundance.columns``, with :data:`ASSOCIATION_COLUMNS`.
    """
    labels = labels.reindex(abundance.index)
    known = labels.notna().to_numpy()
    x = abundance.to_numpy(dtype=np.float64)[known]
    y = labels.to_numpy(dtype=object)[known]
    inside = y == target
    other = next(c for c in classes if c != target) if len(classes) == 2 else f"not {target}"
    out = pd.DataFrame(index=abundance.columns)
    n_in, n_out = int(inside.sum()), int((~inside).sum())
    if n_in == 0 or n_out == 0 or x.shape[1] == 0:
        for column in ASSOCIATION_COLUMNS:
            out[column] = np.nan
        return out
    clr = clr_values(x)
    u, p = stats.mannwhitneyu(clr[inside], clr[~inside], axis=0, alternative="two-sided")
    effect = np.asarray(u, dtype=np.float64) / (n_in * n_out)  # P(class > rest), ties halved
    p = np.asarray(p, dtype=np.float64)
    logs = np.log10(x / np.maximum(x.sum(axis=1, keepdims=True), 1e-300) + PSEUDOCOUNT)
    gfc = (
        np.quantile(logs[inside], _QUANTILES, axis=0)
        - np.quantile(logs[~inside], _QUANTILES, axis=0)
    ).mean(axis=0)
    out["assoc_clr_difference"] = clr[inside].mean(axis=0) - clr[~inside].mean(axis=0)
    out["assoc_p_value"] = p
    out["assoc_q_value"] = benjamini_hochberg(p)
    out["assoc_direction"] = np.where(
        effect > 0.5, target, np.where(effect < 0.5, other, "none")
    ).astype(object)
    out["generalised_fold_change"] = gfc
    out["prevalence_shift"] = (x[inside] > 0).mean(axis=0) - (x[~inside] > 0).mean(axis=0)
    return out
