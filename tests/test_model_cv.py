"""CV schemes: no subject on both sides of a split; LOSO folds are the studies."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from mlmicro.exceptions import MetadataError
from mlmicro.model.cv import (
    FewerFoldsWarning,
    LeaveOneStudyOut,
    RepeatedStratifiedGroupKFold,
    RepeatedSubjectsWarning,
    iter_splits,
    make_splitter,
)


def _subjects(n_subjects: int = 60, seed: int = 0):
    rng = np.random.default_rng(seed)
    per_subject = rng.integers(1, 4, n_subjects)
    groups = np.repeat(np.arange(n_subjects), per_subject)
    subject_label = rng.integers(0, 2, n_subjects)
    y = subject_label[groups]
    return y, groups


def test_repeated_group_kfold_never_splits_a_subject():
    y, groups = _subjects()
    cv = RepeatedStratifiedGroupKFold(n_splits=5, n_repeats=3, random_state=1)
    splits = list(cv.split(np.zeros((len(y), 1)), y, groups))
    assert len(splits) == cv.get_n_splits() == 15
    for train, test in splits:
        assert not set(groups[train]) & set(groups[test])
    # each repeat covers every sample exactly once
    for r in range(3):
        tests = np.concatenate([t for _, t in splits[r * 5 : (r + 1) * 5]])
        assert sorted(tests) == list(range(len(y)))


def test_repeats_shuffle_differently():
    y, groups = _subjects()
    cv = RepeatedStratifiedGroupKFold(n_splits=5, n_repeats=2, random_state=1)
    splits = list(cv.split(np.zeros((len(y), 1)), y, groups))
    first = {tuple(sorted(t)) for _, t in splits[:5]}
    second = {tuple(sorted(t)) for _, t in splits[5:]}
    assert first != second


def test_group_folds_are_stratified():
    y, groups = _subjects(200)
    cv = RepeatedStratifiedGroupKFold(n_splits=5, n_repeats=1, random_state=0)
    overall = y.mean()
    for _, test in cv.split(np.zeros((len(y), 1)), y, groups):
        assert abs(y[test].mean() - overall) < 0.15


def test_leave_one_study_out_folds_are_exactly_the_studies():
    studies = np.array(["a"] * 10 + ["b"] * 7 + ["c"] * 5)
    y = np.tile([0, 1], 11)
    splitter, folds, split_groups = make_splitter(y, folds=10, repeats=5, seed=0, studies=studies)
    assert isinstance(splitter, LeaveOneStudyOut) and folds == 3
    splits = iter_splits(splitter, y, folds, split_groups)
    assert [s.study for s in splits] == ["a", "b", "c"]
    for s in splits:
        assert set(studies[s.test]) == {s.study}
        assert s.study not in set(studies[s.train])
        assert len(s.test) == (studies == s.study).sum()


def test_single_study_is_refused():
    with pytest.raises(MetadataError, match="two studies"):
        make_splitter(
            np.array([0, 1, 0, 1]), folds=2, repeats=1, seed=0, studies=np.array(["a"] * 4)
        )


def test_repeated_subjects_without_group_warn():
    meta = pd.DataFrame({"subject_id": ["s1", "s1", "s2", "s3"] * 5})
    y = np.array([0, 1] * 10)
    with pytest.warns(RepeatedSubjectsWarning, match="--group subject_id"):
        make_splitter(y, folds=5, repeats=1, seed=0, metadata=meta)


def test_no_warning_with_group():
    meta = pd.DataFrame({"subject_id": ["s1", "s1", "s2", "s3"] * 5})
    y = np.array([0, 1] * 10)
    groups = meta["subject_id"].to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_splitter(y, folds=2, repeats=1, seed=0, groups=groups, metadata=meta)


def test_folds_reduced_for_small_class():
    y = np.array([0] * 20 + [1] * 4)
    with pytest.warns(FewerFoldsWarning):
        _, folds, _ = make_splitter(y, folds=10, repeats=1, seed=0)
    assert folds == 4


def test_too_small_class_is_refused():
    with pytest.raises(MetadataError, match="fewer than two"):
        make_splitter(np.array([0] * 10 + [1]), folds=5, repeats=1, seed=0)
