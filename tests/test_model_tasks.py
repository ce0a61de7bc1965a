"""Fits as independent tasks: nested tuning as GridSearchCV did it, order-free results."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold

from mlmicro.config import load_config
from mlmicro.datasets import simulate_cohort
from mlmicro.model.estimators import balanced_sample_weight
from mlmicro.model.parallel import ThreadRunner
from mlmicro.model.training import (
    TUNING_GRIDS,
    FitTask,
    _make_pipeline,
    _score_candidate,
    _task_labels,
    _tune,
    cross_validate,
    permutation_seed,
    tuning_candidates,
)


class ReversedRunner(ThreadRunner):
    """Computes the tasks last to first, returns them in task order."""

    def map(self, func, items, *, shared=(), progress=False, description="fits"):
        items = list(items)
        done = [func(*shared, item) for item in reversed(items)]
        return done[::-1]


@pytest.fixture(scope="module")
def cohort():
    cohort = simulate_cohort(n_subjects=30, seed=8)
    y = (cohort.metadata["diagnosis"] == "CD").astype(np.int64).to_numpy()
    return cohort, y


SMALL_TREES = {"n_estimators": 6, "num_parallel_tree": 2}


def test_tuning_picks_what_grid_search_picks(cohort):
    data, y = cohort
    groups = data.metadata["subject_id"].to_numpy()
    config = load_config("fast").override(
        rank="species", **{"cv.tune": True, "cv.inner_folds": 2}, xgboost=SMALL_TREES
    )
    train = np.arange(len(y))[: int(len(y) * 0.8)]
    (best,) = _tune(
        ThreadRunner(1),
        config,
        data.table,
        y,
        groups,
        [FitTask(train)],
        progress=False,
        description="test",
    )
    search = GridSearchCV(
        _make_pipeline(config, threads=1),
        TUNING_GRIDS["xgboost"],
        scoring="roc_auc",
        cv=StratifiedGroupKFold(n_splits=2, shuffle=True, random_state=config.seed),
        n_jobs=1,
    )
    search.fit(
        data.table.iloc[train],
        y[train],
        groups=groups[train],
        classifier__sample_weight=balanced_sample_weight(y[train]),
    )
    assert best == search.best_params_
    scores = [
        _score_candidate(config, data.table, y, groups, (FitTask(train), i)).mean()
        for i in range(len(tuning_candidates(config)))
    ]
    np.testing.assert_allclose(scores, search.cv_results_["mean_test_score"], rtol=0, atol=1e-12)


def test_permutation_labels_depend_only_on_their_seed(cohort):
    data, y = cohort
    groups = data.metadata["subject_id"].to_numpy()
    a = _task_labels(y, groups, permutation_seed(0, 7))
    np.testing.assert_array_equal(a, _task_labels(y, groups, permutation_seed(0, 7)))
    assert not np.array_equal(a, _task_labels(y, groups, permutation_seed(0, 8)))
    assert not np.array_equal(a, _task_labels(y, groups, permutation_seed(1, 7)))
    # subjects' labels are shuffled between subjects; each subject keeps one label
    per_subject = pd.Series(a).groupby(groups)
    assert (per_subject.nunique() == 1).all()
    assert sorted(per_subject.first()) == sorted(pd.Series(y).groupby(groups).first())


def test_results_do_not_depend_on_task_order(cohort):
    data, _ = cohort
    y = data.metadata["diagnosis"].where(data.metadata["diagnosis"] == "CD", "control")
    config = load_config("fast").override(
        rank="species", **{"cv.folds": 3, "cv.permutations": 2}, xgboost=SMALL_TREES, jobs=1
    )
    kwargs = {
        "classes": ["control", "CD"],
        "positive_class": "CD",
        "config": config,
        "groups": data.metadata["subject_id"],
    }
    forward = cross_validate(data.table, y, runner=ThreadRunner(1), **kwargs)
    backward = cross_validate(data.table, y, runner=ReversedRunner(1), **kwargs)
    pd.testing.assert_frame_equal(forward.oof, backward.oof)
    assert forward.permutation == backward.permutation
    pd.testing.assert_frame_equal(forward.fold_importance, backward.fold_importance)
