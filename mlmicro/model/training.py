"""Cross-validated training: every step refitted inside every fold.

:func:`cross_validate` runs the CV scheme and keeps out-of-fold predictions,
per-repeat metrics, per-study AUROC (leave-one-study-out), a label-permutation
null and each fold model's feature importance. :func:`fit_final` refits the
same pipeline on all samples: that is the model that gets saved.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from tqdm.auto import tqdm

from mlmicro.config import TrainConfig
from mlmicro.model.contributions import feature_contributions, supports_contributions
from mlmicro.model.cv import LeaveOneStudyOut, Split, iter_splits, make_splitter
from mlmicro.model.estimators import balanced_sample_weight, supports_sample_weight
from mlmicro.model.metrics import METRICS, score, summarize
from mlmicro.model.pipeline import build_pipeline

__all__ = ["CVResult", "cross_validate", "fit_final", "TUNING_GRIDS"]

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
        Mean, sd and 95% CI of each metric across repeats.
    oof : pandas.DataFrame
        Out-of-fold predictions: ``repeat``, ``fold``, ``sample_id``,
        ``y_true`` and ``probability_<class>`` columns.
    per_study : pandas.DataFrame or None
        Leave-one-study-out: metrics per held-out study.
    permutation : dict or None
        ``{"n": N, "null_roc_auc": [...], "p_value": p}``.
    fold_importance : pandas.DataFrame or None
        Mean |SHAP| of each feature in each fold model (rows: splits), for
        XGBoost models.
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


def _fit_params(config: TrainConfig, y: np.ndarray) -> dict[str, np.ndarray]:
    if supports_sample_weight(config.model):
        return {"classifier__sample_weight": balanced_sample_weight(y)}
    return {}


def _make_estimator(
    config: TrainConfig, y: np.ndarray, groups: np.ndarray | None, threads: int | None
) -> Pipeline | GridSearchCV:
    pipeline = build_pipeline(config, threads=threads)
    if config.model == "logistic-l1":
        pipeline[-1][-1].set_params(class_weight="balanced")
    elif config.model == "random-forest":
        pipeline[-1].set_params(class_weight="balanced_subsample")
    if not config.cv.tune:
        return pipeline
    n_classes = len(np.unique(y))
    scoring = "roc_auc" if n_classes == 2 else "roc_auc_ovr"
    smallest = int(np.bincount(y).min())
    inner_folds = max(2, min(config.cv.inner_folds, smallest))
    inner = (
        StratifiedGroupKFold(n_splits=inner_folds, shuffle=True, random_state=config.seed)
        if groups is not None
        else StratifiedKFold(n_splits=inner_folds, shuffle=True, random_state=config.seed)
    )
    return GridSearchCV(
        pipeline, TUNING_GRIDS[config.model], scoring=scoring, cv=inner, refit=True, n_jobs=1
    )


def _fit(
    config: TrainConfig,
    table: pd.DataFrame,
    y: np.ndarray,
    groups: np.ndarray | None,
    threads: int | None,
) -> Pipeline:
    estimator = _make_estimator(config, y, groups, threads)
    params = _fit_params(config, y)
    with warnings.catch_warnings():
        # a filter that keeps few taxa in one fold warns; the fold result still counts
        warnings.filterwarnings("ignore", message=".*prevalen.*", category=UserWarning)
        if isinstance(estimator, GridSearchCV):
            estimator.fit(table, y, groups=groups, **params)
            return estimator.best_estimator_
        return estimator.fit(table, y, **params)


def _run_split(
    config: TrainConfig,
    table: pd.DataFrame,
    y: np.ndarray,
    groups: np.ndarray | None,
    split: Split,
    threads: int | None,
    importance: bool,
) -> tuple[Split, np.ndarray, pd.Series | None]:
    train_groups = groups[split.train] if groups is not None else None
    model = _fit(config, table.iloc[split.train], y[split.train], train_groups, threads)
    test = table.iloc[split.test]
    proba = model.predict_proba(test)
    fold_importance = None
    if importance and supports_contributions(model):
        values, _, features = feature_contributions(model, test)
        magnitude = np.abs(values)
        if magnitude.ndim == 3:  # multiclass: mean over classes
            magnitude = magnitude.mean(axis=1)
        fold_importance = pd.Series(magnitude.mean(axis=0), index=features.columns)
    return split, proba, fold_importance


def _threads(jobs: int) -> int:
    # One thread per fit: CV data are small, folds run in parallel instead (--jobs),
    # and OpenMP threads on a busy machine slow XGBoost down by orders of magnitude.
    return 1


def _run_all(
    config: TrainConfig,
    table: pd.DataFrame,
    y: np.ndarray,
    groups: np.ndarray | None,
    splits: list[Split],
    *,
    importance: bool,
    progress: bool,
    description: str,
) -> list[tuple[Split, np.ndarray, pd.Series | None]]:
    jobs = config.jobs
    # Threads, not processes: XGBoost, scikit-learn's trees and numpy release the GIL,
    # and threads share the table instead of pickling it to every worker.
    runner = Parallel(n_jobs=jobs, prefer="threads", return_as="generator") if jobs != 1 else None
    tasks = (
        delayed(_run_split)(config, table, y, groups, s, _threads(jobs), importance) for s in splits
    )
    results = runner(tasks) if runner is not None else (f(*a, **k) for f, a, k in tasks)
    bar = tqdm(total=len(splits), desc=description, unit="fold", disable=not progress, leave=False)
    out = []
    for item in results:
        out.append(item)
        bar.update(1)
    bar.close()
    return out


def _permuted(y: np.ndarray, groups: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    if groups is None:
        return rng.permutation(y)
    frame = pd.DataFrame({"g": groups, "y": y})
    per_group = frame.groupby("g")["y"].agg(lambda s: s.iloc[0])
    if (frame.groupby("g")["y"].nunique() > 1).any():
        return rng.permutation(y)  # labels vary within subjects: permute samples
    shuffled = pd.Series(rng.permutation(per_group.to_numpy()), index=per_group.index)
    return shuffled.loc[groups].to_numpy()


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

    Returns
    -------
    CVResult
    """
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
    results = _run_all(
        config,
        table,
        y_codes,
        group_values,
        splits,
        importance=True,
        progress=progress,
        description="cross-validation",
    )
    proba_cols = [f"probability_{c}" for c in classes]
    oof_parts = []
    importances = []
    for split, proba, imp in results:
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
    result = CVResult(
        scheme="leave-one-study-out"
        if loso
        else ("stratified group k-fold" if group_values is not None else "stratified k-fold"),
        folds=folds,
        repeats=repeats,
        per_repeat=per_repeat,
        summary=summarize(per_repeat),
        oof=oof,
        per_study=per_study,
        fold_importance=fold_importance,
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
) -> dict[str, object]:
    """AUROC under shuffled labels, one repeat of the same folds per permutation."""
    rng = np.random.default_rng(config.seed + 1)
    first_repeat = [s for s in splits if s.repeat == 0]
    null = []
    labels = np.asarray(classes, dtype=object)
    for _ in tqdm(
        range(config.cv.permutations), desc="permutations", disable=not progress, leave=False
    ):
        permuted = _permuted(y_codes, groups, rng)
        results = _run_all(
            config,
            table,
            permuted,
            groups,
            first_repeat,
            importance=False,
            progress=False,
            description="permutation",
        )
        proba = np.zeros((len(permuted), len(classes)))
        for split, p, _ in results:
            proba[split.test] = p
        null.append(score(labels[permuted], proba, classes, positive_class)["roc_auc"])
    null_arr = np.asarray(null)
    p_value = float((1 + np.sum(null_arr >= observed)) / (len(null_arr) + 1))
    return {"n": len(null), "null_roc_auc": null_arr.tolist(), "p_value": p_value}


def fit_final(
    table: pd.DataFrame,
    y: pd.Series,
    *,
    classes: list[str],
    config: TrainConfig,
    groups: pd.Series | None = None,
) -> Pipeline:
    """Fit the configured pipeline on all samples: the model that gets saved."""
    y_codes = np.array([classes.index(v) for v in y], dtype=np.int64)
    group_values = groups.to_numpy() if groups is not None else None
    threads = None if config.jobs == -1 else config.jobs
    return _fit(config, table, y_codes, group_values, threads)
