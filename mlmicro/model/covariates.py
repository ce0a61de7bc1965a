"""Covariate baseline: what the microbiome adds to covariates such as age and sex.

:func:`covariate_baseline` cross-validates two more models on exactly the
folds of the microbiome model (rebuilt from its out-of-fold predictions):

* **covariates only**: the configured classifier on the covariates;
* **microbiome + covariates**: the microbiome pipeline with the encoded
  covariates appended to the classifier's input (:class:`WithCovariates`).

Covariates are encoded inside each fold (:class:`CovariateEncoder`): numeric
columns standardised, with missing values set to the training fold's median;
categorical columns one-hot, with missing values as a level of their own.
Every fit is an independent task on the same runner as the CV fits (local
threads or Dask), so results do not depend on where they run.

The microbiome's *added AUROC* is the AUROC of microbiome + covariates minus
that of covariates alone, averaged over CV repeats. Its 95% interval is a
paired bootstrap: subjects (or samples, without a group column) are drawn
with replacement, both models are scored on the same draw, and the 2.5 and
97.5 percentiles of the difference are reported. It measures the sampling
uncertainty of the difference on these folds, not the variation between
different fold assignments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.pipeline import Pipeline

from mlmicro.config import TrainConfig
from mlmicro.exceptions import MetadataError
from mlmicro.model.estimators import (
    balanced_sample_weight,
    make_classifier,
    supports_sample_weight,
)
from mlmicro.model.metrics import score, summarize
from mlmicro.model.parallel import Runner, ThreadRunner
from mlmicro.model.pipeline import build_pipeline, classifier_params

__all__ = [
    "BOOTSTRAP",
    "CovariateBaseline",
    "CovariateEncoder",
    "WithCovariates",
    "check_covariates",
    "covariate_baseline",
    "covariate_kinds",
]

#: Paired bootstrap draws of the added AUROC.
BOOTSTRAP: int = 1000
#: The two covariate models, in the order their fits are submitted.
MODELS: tuple[str, str] = ("covariates", "combined")
#: Prefix of covariate columns in the frames the covariate models take.
PREFIX = "covariate:"


def covariate_kinds(frame: pd.DataFrame) -> dict[str, str]:
    """``numeric`` or ``categorical`` per covariate column (from its values, not the label)."""
    kinds = {}
    for name in frame.columns:
        present = frame[name].dropna()
        numeric = pd.api.types.is_numeric_dtype(present) or bool(
            len(present) and pd.to_numeric(present, errors="coerce").notna().all()
        )
        kinds[str(name)] = "numeric" if numeric else "categorical"
    return kinds


class CovariateEncoder(TransformerMixin, BaseEstimator):
    """Standardise numeric and one-hot categorical covariates, fitted on training rows only.

    Parameters
    ----------
    kinds : dict
        ``numeric`` or ``categorical`` per column.

    Examples
    --------
    >>> frame = pd.DataFrame({"age": [20.0, 40.0, None], "sex": ["f", "m", "f"]})
    >>> enc = CovariateEncoder({"age": "numeric", "sex": "categorical"}).fit(frame)
    >>> enc.transform(frame).round(2).tolist()
    [[-1.22, 1.0, 0.0], [1.22, 0.0, 1.0], [0.0, 1.0, 0.0]]
    """

    def __init__(self, kinds: dict[str, str]) -> None:
        self.kinds = kinds

    def fit(self, X: pd.DataFrame, y: Any = None) -> CovariateEncoder:  # noqa: N803
        """Learn medians, scales and levels from ``X``."""
        self.center_: dict[str, float] = {}
        self.scale_: dict[str, float] = {}
        self.levels_: dict[str, list[str]] = {}
        for name, kind in self.kinds.items():
            if kind == "numeric":
                values = pd.to_numeric(X[name], errors="coerce").astype(float)
                median = float(values.median()) if values.notna().any() else 0.0
                filled = values.fillna(median)
                self.center_[name] = median
                std = float(filled.std(ddof=0))
                self.scale_[name] = std if std > 0 else 1.0
            else:
                self.levels_[name] = sorted(set(self._levels(X[name])))
        return self

    @staticmethod
    def _levels(values: pd.Series) -> pd.Series:
        return values.astype(object).where(values.notna(), "(missing)").astype(str)

    def transform(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """Return the encoded covariates (unseen levels: all zeros)."""
        blocks = []
        for name, kind in self.kinds.items():
            if kind == "numeric":
                values = pd.to_numeric(X[name], errors="coerce").astype(float)
                filled = values.fillna(self.center_[name]).to_numpy()
                blocks.append(((filled - self.center_[name]) / self.scale_[name])[:, None])
            else:
                levels = self._levels(X[name]).to_numpy()
                known = np.asarray(self.levels_[name], dtype=object)
                blocks.append((levels[:, None] == known[None, :]).astype(float))
        return np.hstack(blocks) if blocks else np.zeros((len(X), 0))


class WithCovariates(ClassifierMixin, BaseEstimator):
    """A classifier on the microbiome features with the covariates appended.

    Takes a frame of taxa columns plus covariate columns named
    ``covariate:<name>``. Fitting fits the microbiome preprocessing on the taxa,
    a :class:`CovariateEncoder` on the covariates, and the classifier on both
    side by side; without ``preprocessing`` the classifier sees the covariates
    only.

    Parameters
    ----------
    preprocessing : sklearn.pipeline.Pipeline or None
        The microbiome steps (rank collapse ... transform), unfitted.
    classifier : estimator
        The classifier, unfitted.
    kinds : dict
        Covariate kinds (see :func:`covariate_kinds`).
    """

    def __init__(self, preprocessing: Pipeline | None, classifier: Any, kinds: dict[str, str]):
        self.preprocessing = preprocessing
        self.classifier = classifier
        self.kinds = kinds

    def _split(self, X: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:  # noqa: N803
        names = [f"{PREFIX}{k}" for k in self.kinds]
        covariates = X[names].copy()
        covariates.columns = list(self.kinds)
        return X.drop(columns=names), covariates

    def _matrix(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        taxa, covariates = self._split(X)
        parts = [self.encoder_.transform(covariates)]
        if self.preprocessing_ is not None:
            parts.insert(0, np.asarray(self.preprocessing_.transform(taxa), dtype=np.float64))
        return np.hstack(parts)

    def fit(self, X: pd.DataFrame, y: np.ndarray, sample_weight: np.ndarray | None = None):  # noqa: N803
        """Fit the encoder, the preprocessing and the classifier on ``X``."""
        taxa, covariates = self._split(X)
        self.encoder_ = CovariateEncoder(self.kinds).fit(covariates)
        self.preprocessing_ = None
        if self.preprocessing is not None:
            self.preprocessing_ = clone(self.preprocessing).fit(taxa, y)
        self.classifier_ = clone(self.classifier)
        extra = {} if sample_weight is None else {"sample_weight": sample_weight}
        self.classifier_.fit(self._matrix(X), y, **extra)
        self.classes_ = self.classifier_.classes_
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """Class probabilities."""
        return self.classifier_.predict_proba(self._matrix(X))


@dataclass(frozen=True)
class CovariateTask:
    """One covariate-model fit: rows to fit on, rows to predict, which model."""

    train: np.ndarray
    test: np.ndarray
    model: str  # "covariates" or "combined"


def _model(config: TrainConfig, kinds: dict[str, str], which: str) -> WithCovariates:
    params = dict(classifier_params(config))
    if which == "covariates" and config.model == "xgboost":
        params["colsample_bynode"] = 1.0  # a handful of columns: let every split see them all
    classifier = make_classifier(config.model, params, seed=config.seed, threads=1)
    if config.model == "logistic-l1":
        classifier[-1].set_params(class_weight="balanced")
    elif config.model == "random-forest":
        classifier.set_params(class_weight="balanced_subsample")
    preprocessing = None
    if which == "combined":
        preprocessing = Pipeline(build_pipeline(config, threads=1).steps[:-1])
    return WithCovariates(preprocessing, classifier, kinds)


def _fit_predict(
    config: TrainConfig,
    frame: pd.DataFrame,
    y: np.ndarray,
    kinds: dict[str, str],
    task: CovariateTask,
) -> np.ndarray:
    """Fit one covariate model on a task's training rows; predict its test rows."""
    model = _model(config, kinds, task.model)
    labels = y[task.train]
    weights = balanced_sample_weight(labels) if supports_sample_weight(config.model) else None
    model.fit(frame.iloc[task.train], labels, sample_weight=weights)
    return model.predict_proba(frame.iloc[task.test])


@dataclass(frozen=True)
class CovariateBaseline:
    """The microbiome's added value over the covariates, on the microbiome model's folds.

    Attributes
    ----------
    columns : list of str
        The covariates.
    kinds : dict
        ``numeric`` or ``categorical`` per covariate.
    missing : dict
        Samples with a missing value, per covariate (imputed in the folds).
    microbiome_only, covariates_only, combined : dict
        AUROC summary over CV repeats (``mean``, ``std``, ``ci95``, ``n``) of
        the microbiome model, the covariate model and microbiome + covariates.
    added_roc_auc : dict
        ``mean`` (combined minus covariates only, averaged over repeats),
        ``ci95`` (paired bootstrap percentile interval), ``n_bootstrap`` and
        ``unit`` (what was resampled: subjects or samples).
    notes : list of str
        What the numbers mean.
    """

    columns: list[str]
    kinds: dict[str, str]
    missing: dict[str, int]
    microbiome_only: dict[str, Any]
    covariates_only: dict[str, Any]
    combined: dict[str, Any]
    added_roc_auc: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-ready plain values (the model card's ``covariates``)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CovariateBaseline:
        """Build the result from :meth:`to_dict` output."""
        return cls(
            columns=[str(c) for c in data["columns"]],
            kinds={str(k): str(v) for k, v in data["kinds"].items()},
            missing={str(k): int(v) for k, v in data["missing"].items()},
            microbiome_only=dict(data["microbiome_only"]),
            covariates_only=dict(data["covariates_only"]),
            combined=dict(data["combined"]),
            added_roc_auc=dict(data["added_roc_auc"]),
            notes=[str(n) for n in data.get("notes") or []],
        )


def _rank_auroc(truth: np.ndarray, scores: np.ndarray) -> float:
    positives = truth.sum()
    negatives = len(truth) - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = stats.rankdata(scores)
    return float((ranks[truth].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def _auroc(y: np.ndarray, proba: np.ndarray, classes: list[str], positive: str | None) -> float:
    if positive is not None and len(classes) == 2:
        k = classes.index(positive)
        return _rank_auroc(y == positive, proba[:, k])
    return score(y, proba, classes, None)["roc_auc"]


def _paired_bootstrap(
    y: np.ndarray,
    combined: list[np.ndarray],
    covariates: list[np.ndarray],
    classes: list[str],
    positive: str | None,
    units: np.ndarray,
    *,
    n: int,
    seed: int,
) -> tuple[np.ndarray, int]:
    rng = np.random.default_rng([seed, 7])
    names, codes = np.unique(units, return_inverse=True)
    members = [np.flatnonzero(codes == u) for u in range(len(names))]
    draws = []
    for _ in range(n):
        picked = rng.integers(0, len(names), len(names))
        rows = np.concatenate([members[u] for u in picked])
        diffs = [
            _auroc(y[rows], c[rows], classes, positive)
            - _auroc(y[rows], v[rows], classes, positive)
            for c, v in zip(combined, covariates, strict=True)
        ]
        draws.append(np.nanmean(diffs) if np.isfinite(diffs).any() else np.nan)
    draws_arr = np.asarray(draws)
    return draws_arr[np.isfinite(draws_arr)], len(names)


def check_covariates(
    metadata: pd.DataFrame, covariates: Sequence[str], *, label: str | None = None
) -> list[str]:
    """Check the covariate columns before any fit; return their names.

    Raises
    ------
    MetadataError
        If a covariate is not in the metadata, is the label, or has fewer
        than two distinct values.
    """
    columns = [str(c) for c in covariates]
    for name in columns:
        if name not in metadata.columns:
            raise MetadataError(
                f"Covariate {name!r} is not in the sample metadata (columns: "
                f"{', '.join(map(str, metadata.columns[:12]))}); check --covariates."
            )
        if name == label:
            raise MetadataError(f"Covariate {name!r} is the label column; leave it out.")
        if metadata[name].dropna().astype(str).nunique() < 2:
            raise MetadataError(
                f"Covariate {name!r} has fewer than two distinct values among the training "
                "samples; it cannot inform a model, leave it out."
            )
    return columns


def covariate_baseline(
    table: pd.DataFrame,
    y: pd.Series,
    metadata: pd.DataFrame,
    covariates: Sequence[str],
    *,
    oof: pd.DataFrame,
    microbiome_summary: Mapping[str, Any],
    classes: list[str],
    positive_class: str | None,
    config: TrainConfig,
    groups: pd.Series | None = None,
    runner: Runner | None = None,
    n_bootstrap: int = BOOTSTRAP,
    progress: bool = False,
) -> CovariateBaseline:
    """Cross-validate covariates alone and microbiome + covariates on the microbiome's folds.

    Parameters
    ----------
    table : pandas.DataFrame
        Samples x taxa (the training table), rows aligned with ``y``.
    y : pandas.Series
        Class per sample.
    metadata : pandas.DataFrame
        Sample metadata holding the covariate columns.
    covariates : sequence of str
        Covariate columns.
    oof : pandas.DataFrame
        The microbiome model's out-of-fold predictions
        (:attr:`CVResult.oof`): its folds are reused exactly.
    microbiome_summary : dict
        The microbiome model's AUROC summary (``CVResult.summary["roc_auc"]``).
    classes, positive_class
        As in training.
    config : TrainConfig
        The classifier and preprocessing settings.
    groups : pandas.Series, optional
        Subject per sample: the bootstrap resamples subjects.
    runner : Runner, optional
        Where the fits run (default: local threads, ``config.jobs``).
    n_bootstrap : int
        Paired bootstrap draws.
    progress : bool
        Show a progress bar.

    Returns
    -------
    CovariateBaseline

    Raises
    ------
    MetadataError
        If a covariate is not in the metadata, is the label, or has fewer
        than two distinct values.
    """
    runner = runner if runner is not None else ThreadRunner(config.jobs)
    columns = check_covariates(metadata.loc[table.index], covariates, label=str(y.name))
    frame = metadata.loc[table.index, columns]
    kinds = covariate_kinds(frame)
    wide = pd.concat([table, frame.add_prefix(PREFIX)], axis=1)
    y_codes = np.array([classes.index(v) for v in y], dtype=np.int64)
    position = pd.Series(np.arange(len(table)), index=table.index.astype(str))
    splits = []
    for (repeat, _fold), part in oof.groupby(["repeat", "fold"], sort=True):
        test = position.loc[part["sample_id"].astype(str)].to_numpy()
        train = np.setdiff1d(np.arange(len(table)), test)
        splits.append((int(repeat), train, test))
    tasks = [CovariateTask(tr, te, m) for m in MODELS for _, tr, te in splits]
    results = runner.map(
        _fit_predict,
        tasks,
        shared=(config, wide, y_codes, kinds),
        progress=progress,
        description="covariate baseline",
    )
    repeats = sorted({r for r, _, _ in splits})
    proba = {m: {r: np.zeros((len(table), len(classes))) for r in repeats} for m in MODELS}
    for task, (repeat, _, test), result in zip(tasks, splits * 2, results, strict=True):
        proba[task.model][repeat][test] = result
    labels = y.astype(str).to_numpy()
    per_repeat = {
        m: pd.DataFrame(
            {"roc_auc": [_auroc(labels, proba[m][r], classes, positive_class) for r in repeats]}
        )
        for m in MODELS
    }
    diff = (per_repeat["combined"]["roc_auc"] - per_repeat["covariates"]["roc_auc"]).mean()
    units = groups.astype(str).to_numpy() if groups is not None else table.index.astype(str)
    draws, n_units = _paired_bootstrap(
        labels,
        [proba["combined"][r] for r in repeats],
        [proba["covariates"][r] for r in repeats],
        classes,
        positive_class,
        np.asarray(units),
        n=n_bootstrap,
        seed=config.seed,
    )
    unit = "subjects" if groups is not None else "samples"
    ci = (
        [float(np.percentile(draws, 2.5)), float(np.percentile(draws, 97.5))]
        if len(draws)
        else [
            None,
            None,
        ]
    )
    notes = [
        f"Covariates ({', '.join(columns)}) encoded inside each fold: numeric standardised with "
        "missing values set to the fold's median, categorical one-hot with missing as a level.",
        "Both covariate models use the microbiome model's folds and classifier settings"
        + (" (without nested tuning)" if config.cv.tune else "")
        + (
            "; the covariates-only XGBoost samples every column at each split"
            if config.model == "xgboost"
            else ""
        )
        + ".",
        f"Added AUROC = AUROC(microbiome + covariates) - AUROC(covariates), averaged over "
        f"repeats; 95% interval: paired bootstrap over {n_units} {unit} ({len(draws)} draws), "
        "the sampling uncertainty on these folds, not the variation between fold assignments.",
    ]
    return CovariateBaseline(
        columns=columns,
        kinds=kinds,
        missing={name: int(frame[name].isna().sum()) for name in columns},
        microbiome_only=dict(microbiome_summary),
        covariates_only=summarize(per_repeat["covariates"])["roc_auc"],
        combined=summarize(per_repeat["combined"])["roc_auc"],
        added_roc_auc={
            "mean": float(diff),
            "ci95": ci,
            "n_bootstrap": int(len(draws)),
            "unit": unit,
        },
        notes=notes,
    )
