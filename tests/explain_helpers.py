"""Models the explain and report tests share, trained once per test session.

No tests here: test_explain.py and test_report.py import these cached builders.
"""

from __future__ import annotations

import functools

import matplotlib

matplotlib.use("Agg")

import mlmicro  # noqa: E402
from mlmicro.datasets import simulate_cohort  # noqa: E402

#: Small boosted forests: enough for the API tests, fast to train.
SMALL_XGB = {"n_estimators": 12, "num_parallel_tree": 2}


@functools.cache
def planted():
    """(cohort, model): ~600 samples, 10 planted driver strains, default XGBoost, strain rank."""
    cohort = simulate_cohort(n_subjects=420, seed=0)
    model = mlmicro.train(
        cohort.table,
        cohort.metadata,
        label="diagnosis",
        positive=["CD"],
        negative=["control"],
        group="subject_id",
        rank="strain",
        jobs=1,
        **{"cv.folds": 3, "cv.repeats": 1},
    )
    return cohort, model


@functools.cache
def small(transform: str = "relative", multiclass: bool = False):
    """(cohort, metadata, model): 120 subjects at species rank with a small forest.

    ``multiclass`` splits the cases into CD and UC by subject, for a three-class task.
    """
    cohort = simulate_cohort(n_subjects=120, seed=3)
    metadata = cohort.metadata.copy()
    options = {}
    if multiclass:
        odd = metadata["subject_id"].str[-1].astype(int) % 2 == 1
        metadata.loc[(metadata["diagnosis"] == "CD") & odd, "diagnosis"] = "UC"
    else:
        options = {"positive": ["CD"], "negative": ["control"]}
    model = mlmicro.train(
        cohort.table,
        metadata,
        label="diagnosis",
        group="subject_id",
        rank="species",
        jobs=1,
        xgboost=SMALL_XGB,
        **options,
        **{"cv.folds": 3, "cv.repeats": 2, "preprocessing.transform": transform},
    )
    return cohort, metadata, model
