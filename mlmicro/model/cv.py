"""Cross-validation splitters that keep subjects and studies apart.

* :class:`RepeatedStratifiedGroupKFold`: repeated stratified k-fold where all
  samples of one subject fall in the same fold (scikit-learn has
  ``StratifiedGroupKFold`` but no repeated version).
* :class:`LeaveOneStudyOut`: each study is held out once.
* :func:`make_splitter` picks one from the options and checks it can work.
"""

from __future__ import annotations

import shlex
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import (
    BaseCrossValidator,
    RepeatedStratifiedKFold,
    StratifiedGroupKFold,
)

from mlmicro.exceptions import MetadataError

__all__ = [
    "RepeatedStratifiedGroupKFold",
    "LeaveOneStudyOut",
    "Split",
    "make_splitter",
    "check_study_classes",
    "iter_splits",
    "RepeatedSubjectsWarning",
    "FewerFoldsWarning",
]


class RepeatedSubjectsWarning(UserWarning):
    """Subjects have several samples but no ``--group`` was given."""


class FewerFoldsWarning(UserWarning):
    """The data cannot support the requested number of folds."""


class RepeatedStratifiedGroupKFold:
    """Repeated stratified k-fold that never splits a group.

    Parameters
    ----------
    n_splits : int
        Folds per repeat.
    n_repeats : int
        Repeats, each with its own shuffle.
    random_state : int
        Seed; repeat ``r`` uses a seed drawn from it.

    Examples
    --------
    >>> y = np.array([0, 0, 1, 1] * 5); groups = np.repeat(np.arange(10), 2)
    >>> cv = RepeatedStratifiedGroupKFold(n_splits=5, n_repeats=2, random_state=0)
    >>> sum(1 for _ in cv.split(np.zeros((20, 1)), y, groups))
    10
    """

    def __init__(self, n_splits: int = 10, n_repeats: int = 5, random_state: int = 0) -> None:
        self.n_splits = n_splits
        self.n_repeats = n_repeats
        self.random_state = random_state

    def get_n_splits(self, X=None, y=None, groups=None) -> int:  # noqa: N803 - sklearn API
        """Return the number of splits (folds x repeats)."""
        return self.n_splits * self.n_repeats

    def split(self, X, y, groups) -> Iterator[tuple[np.ndarray, np.ndarray]]:  # noqa: N803
        """Yield train and test indices, repeat by repeat."""
        seeds = np.random.default_rng(self.random_state).integers(0, 2**31 - 1, self.n_repeats)
        for seed in seeds:
            inner = StratifiedGroupKFold(
                n_splits=self.n_splits, shuffle=True, random_state=int(seed)
            )
            yield from inner.split(X, y, groups)


class LeaveOneStudyOut(BaseCrossValidator):
    """Hold out each study in turn; the folds are exactly the studies."""

    def get_n_splits(self, X=None, y=None, groups=None) -> int:  # noqa: N803
        """Return the number of studies."""
        return int(len(np.unique(groups)))

    def _iter_test_masks(self, X=None, y=None, groups=None):  # noqa: N803
        groups = np.asarray(groups)
        for study in np.unique(groups):
            yield groups == study


@dataclass(frozen=True)
class Split:
    """One train/test split of the cross-validation."""

    repeat: int
    fold: int
    train: np.ndarray
    test: np.ndarray
    study: str | None = None


def _warn_repeated_subjects(metadata: pd.DataFrame | None) -> None:
    if metadata is None:
        return
    candidates = [
        c
        for c in metadata.columns
        if any(k in str(c).lower() for k in ("subject", "host_id", "patient", "participant"))
    ]
    for column in candidates:
        values = metadata[column].dropna()
        if len(values) and values.duplicated().any():
            n_subjects = values.nunique()
            warnings.warn(
                f"Column {column!r} shows repeated subjects ({len(values)} samples from "
                f"{n_subjects} subjects) but no --group was given: samples of one subject can "
                "land on both sides of a split and inflate AUROC; pass --group "
                f"{shlex.quote(str(column))}.",
                RepeatedSubjectsWarning,
                stacklevel=3,
            )
            return


def check_study_classes(studies: pd.Series, y: pd.Series, *, column: str) -> None:
    """Refuse a ``--study`` column with which leave-one-study-out cannot be scored or fitted.

    Every study holding one class only gives no study-level AUROC at all; a
    study whose removal leaves a class out of the training samples gives a
    fold that cannot be fitted.

    Raises
    ------
    MetadataError
        Naming the column and, where one fails, the study.

    Examples
    --------
    >>> s = pd.Series(["a", "a", "b", "b"]); y = pd.Series(["CD", "CD", "no", "no"])
    >>> check_study_classes(s, y, column="cohort")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mlmicro.exceptions.MetadataError: --study column 'cohort': every study holds one class only...
    """
    studies = studies.astype(str).to_numpy()
    labels = y.astype(str).to_numpy()
    classes = sorted(set(labels))
    per_study = {s: sorted(set(labels[studies == s])) for s in sorted(set(studies))}
    if len(per_study) >= 2 and all(len(v) == 1 for v in per_study.values()):
        shown = ", ".join(f"{s}: {v[0]}" for s, v in list(per_study.items())[:6])
        raise MetadataError(
            f"--study column {column!r}: every study holds one class only ({shown}"
            f"{', ...' if len(per_study) > 6 else ''}); leave-one-study-out needs both classes "
            "in some study to score a held-out study; choose another --study column, or use "
            "--group for subject-grouped k-fold."
        )
    for study in per_study:
        missing = [c for c in classes if c not in set(labels[studies != study])]
        if missing and len(per_study) >= 2:
            raise MetadataError(
                f"--study column {column!r}: holding out study {study!r} leaves no "
                f"{', '.join(map(repr, missing))} sample to train on; leave-one-study-out needs "
                "every class in at least two studies: choose another --study column, or use "
                "--group."
            )


def make_splitter(
    y: np.ndarray,
    *,
    folds: int,
    repeats: int,
    seed: int,
    groups: np.ndarray | None = None,
    studies: np.ndarray | None = None,
    metadata: pd.DataFrame | None = None,
) -> tuple[object, int, np.ndarray | None]:
    """Choose the CV scheme and check the data supports it.

    Returns
    -------
    splitter : object
        A scikit-learn style splitter.
    folds : int
        Folds actually used (fewer than asked when the smallest class or the
        number of groups is too small; a warning says so).
    split_groups : ndarray or None
        The ``groups`` argument to pass to ``splitter.split``.
    """
    if studies is not None:
        n_studies = len(np.unique(studies))
        if n_studies < 2:
            raise MetadataError(
                "Leave-one-study-out needs at least two studies in the --study column; found one."
            )
        return LeaveOneStudyOut(), n_studies, studies
    if groups is None:
        _warn_repeated_subjects(metadata)
    _, counts = np.unique(y, return_counts=True)
    limit = int(counts.min())
    if groups is not None:
        per_class_groups = [len(np.unique(groups[y == c])) for c in np.unique(y)]
        limit = min(limit, *per_class_groups)
    if limit < 2:
        raise MetadataError(
            "The smallest class has fewer than two samples (or subjects), too few to "
            "cross-validate; add samples or merge classes."
        )
    if folds > limit:
        warnings.warn(
            f"Only {limit} samples (or subjects) in the smallest class: using {limit} folds "
            f"instead of {folds}.",
            FewerFoldsWarning,
            stacklevel=2,
        )
        folds = limit
    if groups is not None:
        return RepeatedStratifiedGroupKFold(folds, repeats, seed), folds, groups
    return (
        RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed),
        folds,
        None,
    )


def iter_splits(
    splitter: object, y: np.ndarray, folds: int, split_groups: np.ndarray | None
) -> list[Split]:
    """Materialise the splits with their repeat and fold numbers."""
    dummy = np.zeros((len(y), 1))
    out = []
    for i, (train, test) in enumerate(splitter.split(dummy, y, split_groups)):
        study = None
        if isinstance(splitter, LeaveOneStudyOut):
            study = str(split_groups[test[0]])
            out.append(Split(0, i, train, test, study))
        else:
            out.append(Split(i // folds, i % folds, train, test))
    return out
