"""Per-taxon association tests beside SHAP: whether a taxon differs between the classes.

SHAP says what a model uses; it does not test whether a taxon differs between
the classes. :func:`taxon_associations` does, per taxon, on a labelled cohort
(the training cohort by default), for one class against the rest (a binary
model: the positive class against the negative; a multiclass model: one vs
rest, per class view):

``assoc_p_value``, ``assoc_q_value``
    Two-sided Wilcoxon rank-sum test on robust centred log-ratios (rCLR,
    :func:`robust_clr_ranks`), with Benjamini-Hochberg FDR over the taxa
    tested (the model's taxa, after its prevalence filter). A log-ratio makes
    the test compositional: it compares each taxon with the rest of its
    sample, so it does not depend on sequencing depth or on one sample's
    total, and a rank test needs no distribution for the zero-inflated, skewed
    values (the test ALDEx2 reports). The robust form centres each sample on
    the mean log share of the taxa *present* in it and ties every absent taxon
    below all present ones. The plain CLR after multiplicative zero
    replacement does not: each zero enters the sample's mean as the log of a
    tiny replacement value, so every taxon's CLR moves with how many *other*
    taxa are absent, and a disease that changes some taxa's prevalence shifts
    all the others. On the embedded cohort that made 73% of the taxa with no
    planted effect look depleted in CD (50% with rCLR). A bias-corrected log
    fold change (ANCOM-BC) would also estimate the sampling fraction, which
    needs absolute-scale assumptions and an iterative fit. Where samples
    come from subjects (the training ``--group``, kept in the bundle, or that
    column of new metadata), a subject's samples of one class count once:
    the test compares subjects' mean rCLR values, since repeated samples of
    one subject are not independent. Under labels permuted between subjects
    of the embedded cohort, counting each sample put 7.9% of its SGBs at
    p < 0.05, counting each subject once 5.0%, the nominal level (mean of 20
    permutations, ``benchmarks/association_level.py``).
``assoc_clr_difference``
    Mean CLR of the class minus mean CLR of the rest (natural log units),
    zeros replaced multiplicatively (0.65 times the smallest non-zero
    proportion of the cohort, :func:`clr_values`).
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
from mlmicro.model.labels import subject_units

__all__ = [
    "ASSOCIATION_COLUMNS",
    "PSEUDOCOUNT",
    "clr_values",
    "robust_clr_ranks",
    "taxon_associations",
    "unit_means",
]

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


def robust_clr_ranks(abundance: np.ndarray) -> np.ndarray:
    """Robust CLR of each row, absent taxa tied below every present one.

    A present taxon's value is the log of its share minus the mean log share
    of the taxa present in that sample; no zero is replaced, so no value
    depends on how many other taxa are absent. Absent taxa all get one value
    below every present value in the cohort, so a rank test ties them.

    Examples
    --------
    >>> robust_clr_ranks(np.array([[1.0, 1.0, 0.0], [3.0, 1.0, 0.0]])).round(3).tolist()
    [[0.0, 0.0, -1.549], [0.549, -0.549, -1.549]]
    """
    x = np.asarray(abundance, dtype=np.float64)
    present = x > 0
    logs = np.log(np.where(present, x, 1.0))
    counts = present.sum(axis=1, keepdims=True)
    centre = np.divide(
        (logs * present).sum(axis=1, keepdims=True),
        counts,
        out=np.zeros((len(x), 1)),
        where=counts > 0,
    )
    values = logs - centre
    floor = float(values[present].min()) - 1.0 if present.any() else -1.0
    return np.where(present, values, floor)


def unit_means(values: np.ndarray, units: np.ndarray) -> np.ndarray:
    """Mean of the rows of ``values`` within each unit (one row per unit).

    Examples
    --------
    >>> unit_means(np.array([[1.0], [3.0], [5.0]]), np.array(["a", "a", "b"])).tolist()
    [[2.0], [5.0]]
    """
    return pd.DataFrame(values).groupby(units, sort=True).mean().to_numpy(dtype=np.float64)


def taxon_associations(
    abundance: pd.DataFrame,
    labels: pd.Series,
    target: str,
    classes: Sequence[str],
    groups: pd.Series | None = None,
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
    groups : pandas.Series, optional
        Subject per sample. The rank test then takes one value per subject
        and side (the mean rCLR of its samples); samples without a subject
        count on their own. The descriptive columns stay per sample.

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
    ranked = robust_clr_ranks(x)
    cases, rest = ranked[inside], ranked[~inside]
    if groups is not None:
        units = subject_units(groups, abundance.index)[known]
        cases, rest = unit_means(cases, units[inside]), unit_means(rest, units[~inside])
    u, p = stats.mannwhitneyu(cases, rest, axis=0, alternative="two-sided")
    effect = np.asarray(u, dtype=np.float64) / (len(cases) * len(rest))  # P(class > rest)
    p = np.asarray(p, dtype=np.float64)
    logs = np.log10(x / np.maximum(x.sum(axis=1, keepdims=True), 1e-300) + PSEUDOCOUNT)
    gfc = (
        np.quantile(logs[inside], _QUANTILES, axis=0)
        - np.quantile(logs[~inside], _QUANTILES, axis=0)
    ).mean(axis=0)
    clr = clr_values(x)
    out["assoc_clr_difference"] = clr[inside].mean(axis=0) - clr[~inside].mean(axis=0)
    out["assoc_p_value"] = p
    out["assoc_q_value"] = benjamini_hochberg(p)
    out["assoc_direction"] = np.where(
        effect > 0.5, target, np.where(effect < 0.5, other, "none")
    ).astype(object)
    out["generalised_fold_change"] = gfc
    out["prevalence_shift"] = (x[inside] > 0).mean(axis=0) - (x[~inside] > 0).mean(axis=0)
    return out
