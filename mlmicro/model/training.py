"""Cross-validated training: every step refitted inside every fold.

:func:`cross_validate` runs the CV scheme and keeps out-of-fold predictions,
per-repeat metrics, per-study AUROC (leave-one-study-out), a label-permutation
null and each fold model's feature importance. :func:`fit_final` refits the
same pipeline on all samples: that is the model that gets saved.

Every fit is an independent :class:`FitTask` (a CV split, a permutation's
split, a tuning candidate's inner CV) mapped over a runner from
:mod:`mlmicro.model.parallel`: local threads or a Dask cluster. A task holds
its rows, its permutation seed and its parameters, so results are the same
whichever runner computes them, in whatever order.
"""

from __future__ import annotations

import dataclasses
import sys
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import get_scorer
from sklearn.model_selection import ParameterGrid, StratifiedGroupKFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from tqdm.auto import tqdm

from mlmicro.config import TrainConfig
from mlmicro.model.bootstrap import cv_intervals, interval_method
from mlmicro.model.contributions import feature_contributions, is_xgboost
from mlmicro.model.cv import LeaveOneStudyOut, Split, iter_splits, make_splitter
from mlmicro.model.dask_xgboost import check_final_fit, fit_final_dask
from mlmicro.model.estimators import balanced_sample_weight, supports_sample_weight
from mlmicro.model.metrics import METRICS, score, summarize
from mlmicro.model.parallel import Runner, ThreadRunner
from mlmicro.model.pipeline import build_pipeline

__all__ = [
    "CVResult",
    "FitTask",
    "cross_validate",
    "fit_final",
    "tune_final",
    "tuning_candidates",
    "tuning_grid",
    "permutation_seed",
    "TUNING_GRIDS",
]

#: Small grids searched by nested tuning (``--tune``), per classifier.
TUNING_GRIDS: dict[str, dict[str, list[Any]]] = {
    "xgboost": {
        "classifier__max_depth": [3, 5],
        "classifier__colsample_bynode": [0.1, 0.3],
        "classifier__min_child_weight": [0.25, 1.0],
    },
    "random-forest": {"classifier__max_features": ["sqrt", 0.1, 0.3]},
    "logistic-l1": {"classifier__logisticregression__C": [0.01, 0.1, 1.0, 10.0]},
}


@dataclass
class CVResult:
    """What cross-validation measured.

    Attributes
    ----------
    scheme : str
        ``"stratified k-fold"``, ``"stratified group k-fold"`` or
        ``"leave-one-study-out"``.
    folds, repeats : int
        Folds per repeat actually used, and repeats.
    per_repeat : pandas.DataFrame
        One row per repeat, one column per metric (over that repeat's
        out-of-fold predictions).
    summary : dict
        Per metric: mean over repeats, CV spread (sd across repeats) and the
        bootstrap 95% CI (:func:`mlmicro.model.bootstrap.cv_intervals`).
    oof : pandas.DataFrame
        Out-of-fold predictions: ``repeat``, ``fold``, ``sample_id``,
        ``y_true`` and ``probability_<class>`` columns.
    per_study : pandas.DataFrame or None
        Leave-one-study-out: metrics per held-out study.
    permutation : dict or None
        ``{"n": N, "null_roc_auc": [...], "p_value": p, "null_mean": m, "null_sd": s}``
        (mean and sd of the null AUROCs).
    fold_importance : pandas.DataFrame or None
        Mean |SHAP| of each feature in each fold model (rows: splits), for
        XGBoost models.
    interval : dict
        How ``summary``'s ``ci95`` was computed
        (:func:`mlmicro.model.bootstrap.interval_method`).
    tuning : list of dict or None
        With nested tuning: ``{"repeat", "fold", "study", "params"}``, the
        parameters chosen in each outer fold.
    """

    scheme: str
    folds: int
    repeats: int
    per_repeat: pd.DataFrame
    summary: dict[str, dict[str, object]]
    oof: pd.DataFrame
    per_study: pd.DataFrame | None = None
    permutation: dict[str, object] | None = None
    fold_importance: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    interval: dict[str, Any] = field(default_factory=dict)
    tuning: list[dict[str, Any]] | None = None


def _make_pipeline(config: TrainConfig, threads: int | None) -> Pipeline:
    pipeline = build_pipeline(config, threads=threads)
    if config.model == "logistic-l1":
        pipeline[-1][-1].set_params(class_weight="balanced")
    elif config.model == "random-forest":
        pipeline[-1].set_params(class_weight="balanced_subsample")
    return pipeline


def tuning_grid(config: TrainConfig) -> dict[str, list[Any]]:
    """Return the grid nested tuning searches: ``cv.grid``, else the built-in one.

    Names without a step prefix are the classifier's (``max_depth`` becomes
    ``classifier__max_depth``).

    Examples
    --------
    >>> from mlmicro.config import TrainConfig
    >>> tuning_grid(TrainConfig().override(**{"cv.grid": {"max_depth": [2, 4]}}))
    {'classifier__max_depth': [2, 4]}
    """
    if not config.cv.grid:
        return {k: list(v) for k, v in TUNING_GRIDS[config.model].items()}
    prefix = "classifier__logisticregression__" if config.model == "logistic-l1" else "classifier__"
    return {
        (name if "__" in name else prefix + name): list(values)
        for name, values in config.cv.grid.items()
    }


def tuning_candidates(config: TrainConfig) -> list[dict[str, Any]]:
    """Return the hyperparameter candidates nested tuning tries, in search order."""
    return list(ParameterGrid(tuning_grid(config)))


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters as JSON-ready values (numpy scalars become Python ones)."""
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in params.items()}


@dataclass(frozen=True)
class FitTask:
    """One independent fit, everything it needs to run anywhere.

    Attributes
    ----------
    train : ndarray
        Row positions the pipeline is fitted on.
    test : ndarray or None
        Row positions it predicts (``None``: tuning only).
    label_seed : tuple of int or None
        Seed of a label permutation (``None``: the true labels). The labels
        are permuted inside the task, so no task depends on another's random
        state or on the order tasks run in.
    params : dict or None
        Tuned pipeline parameters to set before fitting.
    importance : bool
        Also return the fold model's mean |SHAP| per feature.
    """

    train: np.ndarray
    test: np.ndarray | None = None
    label_seed: tuple[int, ...] | None = None
    params: dict[str, Any] | None = None
    importance: bool = False


def _task_labels(
    y: np.ndarray, groups: np.ndarray | None, label_seed: tuple[int, ...] | None
) -> np.ndarray:
    if label_seed is None:
        return y
    return _permuted(y, groups, np.random.default_rng(list(label_seed)))


def _fit(
    config: TrainConfig,
    table: pd.DataFrame,
    y: np.ndarray,
    threads: int | None,
    params: dict[str, Any] | None = None,
    sample_weight: np.ndarray | None = None,
) -> Pipeline:
    pipeline = _make_pipeline(config, threads)
    if params:
        pipeline.set_params(**params)
    fit_params = {}
    if supports_sample_weight(config.model):
        weights = balanced_sample_weight(y) if sample_weight is None else sample_weight
        fit_params["classifier__sample_weight"] = weights
    with warnings.catch_warnings():
        # a filter that keeps few taxa in one fold warns; the fold result still counts
        warnings.filterwarnings("ignore", message=".*prevalen.*", category=UserWarning)
        return pipeline.fit(table, y, **fit_params)


def _inner_cv(config: TrainConfig, y: np.ndarray, grouped: bool) -> object:
    smallest = int(np.bincount(y).min())
    inner_folds = max(2, min(config.cv.inner_folds, smallest))
    if grouped:
        return StratifiedGroupKFold(n_splits=inner_folds, shuffle=True, random_state=config.seed)
    return StratifiedKFold(n_splits=inner_folds, shuffle=True, random_state=config.seed)


def _score_candidate(
    config: TrainConfig,
    table: pd.DataFrame,
    y: np.ndarray,
    groups: np.ndarray | None,
    item: tuple[FitTask, int],
) -> np.ndarray:
    """Inner-CV scores of one tuning candidate on one task's training rows."""
    task, candidate = item
    labels = _task_labels(y, groups, task.label_seed)[task.train]
    train_table = table.iloc[task.train]
    train_groups = groups[task.train] if groups is not None else None
    params = tuning_candidates(config)[candidate]
    scorer = get_scorer("roc_auc" if len(np.unique(labels)) == 2 else "roc_auc_ovr")
    # weights balance the task's training rows, then follow each inner split (as in GridSearchCV)
    weights = balanced_sample_weight(labels)
    scores = []
    inner = _inner_cv(config, labels, train_groups is not None)
    for fit_rows, score_rows in inner.split(train_table, labels, train_groups):
        model = _fit(
            config,
            train_table.iloc[fit_rows],
            labels[fit_rows],
            threads=1,
            params=params,
            sample_weight=weights[fit_rows],
        )
        scores.append(scorer(model, train_table.iloc[score_rows], labels[score_rows]))
    return np.asarray(scores, dtype=np.float64)


def _fit_predict(
    config: TrainConfig,
    table: pd.DataFrame,
    y: np.ndarray,
    groups: np.ndarray | None,
    task: FitTask,
) -> tuple[np.ndarray, pd.Series | None]:
    """Fit on a task's training rows; predict its test rows (and their mean |SHAP|)."""
    labels = _task_labels(y, groups, task.label_seed)
    # One thread per fit: CV data are small, fits run in parallel instead (--jobs or a
    # cluster), and OpenMP threads on a busy machine slow XGBoost down by orders of magnitude.
    model = _fit(config, table.iloc[task.train], labels[task.train], threads=1, params=task.params)
    test = table.iloc[task.test]
    proba = model.predict_proba(test)
    fold_importance = None
    if task.importance and is_xgboost(model):
        values, _, features = feature_contributions(model, test)
        magnitude = np.abs(values)
        if magnitude.ndim == 3:  # multiclass: mean over classes
            magnitude = magnitude.mean(axis=1)
        fold_importance = pd.Series(magnitude.mean(axis=0), index=features.columns)
    return proba, fold_importance


def _tune(
    runner: Runner,
    config: TrainConfig,
    table: pd.DataFrame,
    y: np.ndarray,
    groups: np.ndarray | None,
    tasks: list[FitTask],
    *,
    progress: bool,
    description: str,
) -> list[dict[str, Any]]:
    """Best candidate of each task: one independent inner CV per (task, candidate)."""
    candidates = tuning_candidates(config)
    items = [(task, c) for task in tasks for c in range(len(candidates))]
    scores = runner.map(
        _score_candidate,
        items,
        shared=(config, table, y, groups),
        progress=progress,
        description=f"{description} tuning",
    )
    best = []
    for t in range(len(tasks)):
        block = np.vstack(scores[t * len(candidates) : (t + 1) * len(candidates)])
        means = np.average(block, axis=1)
        # GridSearchCV's choice: highest mean inner score, the first on ties, NaN last
        best.append(candidates[int(np.argmax(np.nan_to_num(means, nan=-np.inf)))])
    return best


def _fit_all(
    runner: Runner,
    config: TrainConfig,
    table: pd.DataFrame,
    y: np.ndarray,
    groups: np.ndarray | None,
    tasks: list[FitTask],
    *,
    progress: bool,
    description: str,
) -> tuple[list[tuple[np.ndarray, pd.Series | None]], list[dict[str, Any]] | None]:
    best = None
    if config.cv.tune:
        best = _tune(
            runner, config, table, y, groups, tasks, progress=progress, description=description
        )
        tasks = [
            dataclasses.replace(task, params=params)
            for task, params in zip(tasks, best, strict=True)
        ]
    results = runner.map(
        _fit_predict,
        tasks,
        shared=(config, table, y, groups),
        progress=progress,
        description=description,
    )
    return results, best


def _permuted(y: np.ndarray, groups: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    if groups is None:
        return rng.permutation(y)
    frame = pd.DataFrame({"g": groups, "y": y})
    per_group = frame.groupby("g")["y"].agg(lambda s: s.iloc[0])
    if (frame.groupby("g")["y"].nunique() > 1).any():
        return rng.permutation(y)  # labels vary within subjects: permute samples
    shuffled = pd.Series(rng.permutation(per_group.to_numpy()), index=per_group.index)
    return shuffled.loc[groups].to_numpy()


def permutation_seed(seed: int, index: int) -> tuple[int, int, int]:
    """Seed of label permutation ``index`` of a run seeded with ``seed``."""
    return (seed, 1, index)


def cross_validate(
    table: pd.DataFrame,
    y: pd.Series,
    *,
    classes: list[str],
    positive_class: str | None,
    config: TrainConfig,
    groups: pd.Series | None = None,
    studies: pd.Series | None = None,
    metadata: pd.DataFrame | None = None,
    progress: bool = False,
    runner: Runner | None = None,
) -> CVResult:
    """Cross-validate the configured pipeline.

    Parameters
    ----------
    table : pandas.DataFrame
        Samples x taxa, rows aligned with ``y``.
    y : pandas.Series
        Class label per sample.
    classes : list of str
        Class labels in model order.
    positive_class : str or None
        Class scored by binary metrics.
    config : TrainConfig
        Pipeline and CV settings.
    groups : pandas.Series, optional
        Subject per sample; no subject is ever on both sides of a split.
    studies : pandas.Series, optional
        Study per sample; switches to leave-one-study-out.
    metadata : pandas.DataFrame, optional
        Used to warn when subjects repeat but no ``groups`` were given.
    progress : bool
        Show a progress bar over folds.
    runner : Runner, optional
        Where the fits run (see :mod:`mlmicro.model.parallel`); default: local
        threads, ``config.jobs`` at a time. Results do not depend on it.

    Returns
    -------
    CVResult
    """
    runner = runner if runner is not None else ThreadRunner(config.jobs)
    y_codes = np.array([classes.index(v) for v in y], dtype=np.int64)
    group_values = groups.to_numpy() if groups is not None else None
    study_values = studies.astype(str).to_numpy() if studies is not None else None
    splitter, folds, split_groups = make_splitter(
        y_codes,
        folds=config.cv.folds,
        repeats=config.cv.repeats,
        seed=config.seed,
        groups=group_values,
        studies=study_values,
        metadata=metadata,
    )
    splits = iter_splits(splitter, y_codes, folds, split_groups)
    loso = isinstance(splitter, LeaveOneStudyOut)
    repeats = 1 if loso else config.cv.repeats
    results, tuned = _fit_all(
        runner,
        config,
        table,
        y_codes,
        group_values,
        [FitTask(s.train, s.test, importance=True) for s in splits],
        progress=progress,
        description="cross-validation",
    )
    proba_cols = [f"probability_{c}" for c in classes]
    oof_parts = []
    importances = []
    for split, (proba, imp) in zip(splits, results, strict=True):
        part = pd.DataFrame(proba, columns=proba_cols)
        part.insert(0, "y_true", y.iloc[split.test].to_numpy())
        part.insert(0, "sample_id", table.index[split.test].astype(str))
        part.insert(0, "fold", split.fold)
        part.insert(0, "repeat", split.repeat)
        if split.study is not None:
            part.insert(2, "study", split.study)
        oof_parts.append(part)
        if imp is not None:
            importances.append(imp.rename(f"r{split.repeat}f{split.fold}"))
    oof = pd.concat(oof_parts, ignore_index=True)
    per_repeat = pd.DataFrame(
        [
            score(g["y_true"], g[proba_cols].to_numpy(), classes, positive_class)
            for _, g in oof.groupby("repeat", sort=True)
        ],
        columns=list(METRICS),
    )
    per_repeat.index.name = "repeat"
    per_study = None
    if loso:
        rows = []
        for study, g in oof.groupby("study", sort=True):
            metrics = score(g["y_true"], g[proba_cols].to_numpy(), classes, positive_class)
            rows.append({"study": study, "n_samples": len(g), **metrics})
        per_study = pd.DataFrame(rows)
    fold_importance = pd.concat(importances, axis=1).T.fillna(0.0) if importances else None
    intervals = cv_intervals(
        oof,
        classes,
        positive_class,
        sample_ids=table.index.astype(str),
        groups=group_values,
        studies=study_values if loso else None,
        n_resamples=config.cv.bootstrap,
        seed=config.seed,
    )
    result = CVResult(
        scheme="leave-one-study-out"
        if loso
        else ("stratified group k-fold" if group_values is not None else "stratified k-fold"),
        folds=folds,
        repeats=repeats,
        per_repeat=per_repeat,
        summary=summarize(per_repeat, intervals),
        oof=oof,
        per_study=per_study,
        fold_importance=fold_importance,
        interval=interval_method(
            config.cv.bootstrap, grouped=group_values is not None, within_study=loso
        ),
        tuning=None
        if tuned is None
        else [
            {"repeat": s.repeat, "fold": s.fold, "study": s.study, "params": _plain(p)}
            for s, p in zip(splits, tuned, strict=True)
        ],
    )
    if config.cv.permutations:
        result.permutation = _permutation_null(
            table,
            y_codes,
            group_values,
            splits,
            classes,
            positive_class,
            config,
            observed=float(per_repeat["roc_auc"].mean()),
            progress=progress,
            runner=runner,
        )
    return result


def _permutation_null(
    table: pd.DataFrame,
    y_codes: np.ndarray,
    groups: np.ndarray | None,
    splits: list[Split],
    classes: list[str],
    positive_class: str | None,
    config: TrainConfig,
    *,
    observed: float,
    progress: bool,
    runner: Runner,
) -> dict[str, object]:
    """AUROC under shuffled labels, one repeat of the same folds per permutation.

    Permutation ``i`` shuffles the labels with :func:`permutation_seed`
    ``(config.seed, i)``; every (permutation, fold) fit is an independent task.
    """
    first_repeat = [s for s in splits if s.repeat == 0]
    seeds = [permutation_seed(config.seed, i) for i in range(config.cv.permutations)]
    tasks = [FitTask(s.train, s.test, label_seed=seed) for seed in seeds for s in first_repeat]
    results, _ = _fit_all(
        runner,
        config,
        table,
        y_codes,
        groups,
        tasks,
        progress=progress,
        description="permutations",
    )
    null = []
    labels = np.asarray(classes, dtype=object)
    for i, seed in enumerate(seeds):
        permuted = _task_labels(y_codes, groups, seed)
        proba = np.zeros((len(permuted), len(classes)))
        block = results[i * len(first_repeat) : (i + 1) * len(first_repeat)]
        for split, (p, _) in zip(first_repeat, block, strict=True):
            proba[split.test] = p
        null.append(score(labels[permuted], proba, classes, positive_class)["roc_auc"])
    null_arr = np.asarray(null)
    p_value = float((1 + np.sum(null_arr >= observed)) / (len(null_arr) + 1))
    finite = null_arr[np.isfinite(null_arr)]
    return {
        "n": len(null),
        "null_roc_auc": null_arr.tolist(),
        "p_value": p_value,
        "null_mean": float(finite.mean()) if len(finite) else None,
        "null_sd": float(finite.std(ddof=1)) if len(finite) > 1 else None,
    }


def tune_final(
    table: pd.DataFrame,
    y: pd.Series,
    *,
    classes: list[str],
    config: TrainConfig,
    groups: pd.Series | None = None,
    runner: Runner | None = None,
    progress: bool = False,
) -> dict[str, Any] | None:
    """Tuned pipeline parameters for the final fit on all samples (``None`` without tuning)."""
    if not config.cv.tune:
        return None
    runner = runner if runner is not None else ThreadRunner(config.jobs)
    y_codes = np.array([classes.index(v) for v in y], dtype=np.int64)
    group_values = groups.to_numpy() if groups is not None else None
    task = FitTask(np.arange(len(y_codes)))
    (best,) = _tune(
        runner,
        config,
        table,
        y_codes,
        group_values,
        [task],
        progress=progress,
        description="final model",
    )
    return _plain(best)


#: Tables up to this many values (samples x taxa) get their final fit on one thread.
SMALL_FIT_VALUES = 2_000_000


def fit_final(
    table: pd.DataFrame,
    y: pd.Series,
    *,
    classes: list[str],
    config: TrainConfig,
    groups: pd.Series | None = None,
    runner: Runner | None = None,
    final_fit: str = "local",
    progress: bool = False,
    params: dict[str, Any] | None = None,
) -> Pipeline:
    """Fit the configured pipeline on all samples: the model that gets saved.

    With nested tuning, the candidates' inner CVs run on ``runner`` (local
    threads by default). The final fit itself runs here on ``config.jobs``
    threads, or, with ``final_fit="dask"``, across the runner's Dask workers
    (see :mod:`mlmicro.model.dask_xgboost`). ``params`` are tuned parameters
    already chosen by :func:`tune_final` (then it is not run again).
    """
    runner = runner if runner is not None else ThreadRunner(config.jobs)
    check_final_fit(final_fit, config, runner)
    if params is None:
        params = tune_final(
            table,
            y,
            classes=classes,
            config=config,
            groups=groups,
            runner=runner,
            progress=progress,
        )
    y_codes = np.array([classes.index(v) for v in y], dtype=np.int64)
    threads = None if config.jobs == -1 else config.jobs
    if final_fit == "dask":
        return fit_final_dask(
            table, y_codes, config=config, runner=runner, params=params, threads=threads
        )
    # A small fit is fastest on one thread: OpenMP threads of a fit this size mostly wait on
    # each other, and on a busy machine they slow it down several-fold. Predictions of the
    # saved model still use the configured threads.
    fit_threads = 1 if table.size <= SMALL_FIT_VALUES else threads
    with tqdm(
        total=1,
        desc="final model fit",
        unit=" fit",
        disable=None if progress else True,  # None: only on a terminal
        file=sys.stderr,
        leave=False,
    ) as bar:
        pipeline = _fit(config, table, y_codes, fit_threads, params=params)
        bar.update(1)
    if fit_threads != threads:
        _set_threads(pipeline[-1], threads)
    return pipeline


def _set_threads(classifier: Any, threads: int | None) -> None:
    """Let a fitted classifier predict on ``threads`` threads (``None``: all cores)."""
    if "n_jobs" not in classifier.get_params(deep=False):
        return  # the logistic pipeline predicts on one thread anyway
    classifier.set_params(n_jobs=threads)
    if hasattr(classifier, "get_booster"):
        classifier.get_booster().set_param({"nthread": 0 if threads is None else threads})
