"""Exact per-feature contributions (SHAP values) of a fitted pipeline's classifier.

One method per classifier mlmicro trains, each exact:

* XGBoost: XGBoost's native ``pred_contribs`` (TreeSHAP) in the booster's
  margin, the log-odds of the positive class;
* random forest: TreeSHAP of ``shap.TreeExplainer`` (path-dependent), in
  probability of the positive class;
* L1 logistic regression on standardised features: linear SHAP, the
  coefficient times the standardised value (whose training mean is 0), in
  log-odds.

Higher layers (explain, predict) map these feature contributions back to taxa.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import xgboost
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

__all__ = [
    "CONTRIBUTION_METHODS",
    "contribution_method",
    "feature_contributions",
    "is_xgboost",
    "supports_contributions",
    "transform_features",
]


@dataclass(frozen=True)
class ContributionMethod:
    """How the SHAP values of one kind of classifier are computed, and their unit."""

    name: str
    unit: Literal["log-odds", "probability"]


#: The method of each classifier kind mlmicro trains.
CONTRIBUTION_METHODS = {
    "xgboost": ContributionMethod("exact TreeSHAP (XGBoost pred_contribs)", "log-odds"),
    "random-forest": ContributionMethod(
        "exact TreeSHAP (shap TreeExplainer, path-dependent)", "probability"
    ),
    "logistic": ContributionMethod(
        "exact linear SHAP (coefficient x standardised value)", "log-odds"
    ),
}


def _kind(classifier: object) -> str | None:
    if isinstance(classifier, xgboost.XGBClassifier):
        return "xgboost"
    if isinstance(classifier, RandomForestClassifier):
        return "random-forest"
    if (
        isinstance(classifier, Pipeline)
        and isinstance(classifier[-1], LogisticRegression)
        and all(isinstance(step, StandardScaler) for step in classifier[:-1])
    ):
        return "logistic"
    return None


def is_xgboost(pipeline: Pipeline) -> bool:
    """Return whether the pipeline ends in an XGBoost classifier."""
    return isinstance(pipeline[-1], xgboost.XGBClassifier)


def supports_contributions(pipeline: Pipeline) -> bool:
    """Return whether the pipeline's classifier has an exact SHAP method here."""
    return _kind(pipeline[-1]) is not None


def contribution_method(pipeline: Pipeline) -> ContributionMethod | None:
    """Return how the classifier's SHAP values are computed (``None``: not supported)."""
    kind = _kind(pipeline[-1])
    return None if kind is None else CONTRIBUTION_METHODS[kind]


def transform_features(pipeline: Pipeline, table: pd.DataFrame) -> pd.DataFrame:
    """Apply every step but the classifier; return the classifier's input with names."""
    values = pipeline[:-1].transform(table)
    names = pipeline[:-1].get_feature_names_out()
    return pd.DataFrame(
        np.asarray(values, dtype=np.float64), index=table.index, columns=list(names)
    )


def feature_contributions(
    pipeline: Pipeline,
    table: pd.DataFrame,
    *,
    features: pd.DataFrame | None = None,
    threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Exact TreeSHAP values of the classifier's input features.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        A fitted pipeline ending in ``xgboost.XGBClassifier``.
    table : pandas.DataFrame
        Samples x taxa.
    features : pandas.DataFrame, optional
        ``transform_features(pipeline, table)`` when already computed.
    threads : int, optional
        Threads XGBoost uses for this call (``None``: the booster's own setting,
        one thread for models trained with ``jobs=1``).

    Returns
    -------
    values : ndarray
        ``(n_samples, n_features)`` for binary models (log-odds of the second
        class), ``(n_samples, n_classes, n_features)`` for multiclass models.
    base : ndarray
        Expected value: scalar array for binary, ``(n_classes,)`` for multiclass.
    features : pandas.DataFrame
        The transformed features the values refer to.
    """
    if features is None:
        features = transform_features(pipeline, table)
    kind = _kind(pipeline[-1])
    if kind == "random-forest":
        return (*_forest(pipeline[-1], features.to_numpy(dtype=np.float64)), features)
    if kind == "logistic":
        return (*_linear(pipeline[-1], features.to_numpy(dtype=np.float64)), features)
    booster = pipeline[-1].get_booster()
    matrix = xgboost.DMatrix(features.to_numpy(dtype=np.float32), nthread=threads)
    if threads is None:
        contribs = booster.predict(matrix, pred_contribs=True, validate_features=False)
    else:
        saved = json.loads(booster.save_config())["learner"]["generic_param"]["nthread"]
        booster.set_param({"nthread": threads})
        try:
            contribs = booster.predict(matrix, pred_contribs=True, validate_features=False)
        finally:
            booster.set_param({"nthread": saved})
    if contribs.ndim == 2:
        return (
            contribs[:, :-1].astype(np.float64),
            np.asarray(contribs[0, -1], dtype=np.float64),
            features,
        )
    return (
        contribs[:, :, :-1].astype(np.float64),
        contribs[0, :, -1].astype(np.float64),
        features,
    )


def _binary_or_classes(values: np.ndarray, base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (samples, features, classes) values in this module's layout (binary: class 1)."""
    if values.shape[2] == 2:
        return values[:, :, 1], np.asarray(base[1], dtype=np.float64)
    return np.transpose(values, (0, 2, 1)), np.asarray(base, dtype=np.float64)


def _forest(forest: RandomForestClassifier, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with warnings.catch_warnings():  # shap's plotting code warns about matplotlib on import
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        import shap

    explainer = shap.TreeExplainer(forest)
    values = np.asarray(explainer.shap_values(x, check_additivity=False), dtype=np.float64)
    if values.ndim == 2:  # one output
        values = values[:, :, None]
    return _binary_or_classes(values, np.atleast_1d(explainer.expected_value))


def _linear(classifier: Pipeline, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = classifier[:-1].transform(x) if len(classifier) > 1 else x
    logistic = classifier[-1]
    coef = np.atleast_2d(logistic.coef_)
    intercept = np.atleast_1d(logistic.intercept_).astype(np.float64)
    if coef.shape[0] == 1:  # binary: the log-odds of the second class
        return z * coef[0], intercept[0].reshape(())
    # multinomial: one margin per class; the standardised training mean is 0
    return z[:, None, :] * coef[None, :, :], intercept
