"""Exact per-feature contributions (TreeSHAP) of a fitted XGBoost pipeline.

Uses XGBoost's native ``pred_contribs``, which computes exact TreeSHAP values
in the booster's margin (log-odds) space. Higher layers (explain, predict) map
these feature contributions back to taxa.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import xgboost
from sklearn.pipeline import Pipeline

__all__ = ["supports_contributions", "transform_features", "feature_contributions"]


def supports_contributions(pipeline: Pipeline) -> bool:
    """Return whether the pipeline ends in an XGBoost classifier."""
    return isinstance(pipeline[-1], xgboost.XGBClassifier)


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
