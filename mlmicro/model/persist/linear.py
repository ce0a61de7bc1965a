"""Codecs for the L1 logistic classifier: :class:`StandardScaler` and :class:`LogisticRegression`.

:func:`mlmicro.model.estimators.make_classifier` builds ``"logistic-l1"`` as a
two-step pipeline (scaler, then logistic regression); the pipeline itself is
handled by :mod:`mlmicro.model.persist.registry`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from mlmicro.exceptions import ModelBundleError
from mlmicro.model.persist.simple import attribute_codec
from mlmicro.model.persist.state import Codec, State

__all__ = ["LINEAR_CODECS"]


def _fail(state: State, what: str) -> ModelBundleError:
    return ModelBundleError(f"The {state.kind} state is inconsistent: {what}.")


def _n_features(obj: Any, state: State) -> int:
    n = obj.n_features_in_
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise _fail(state, f"n_features_in_ is {n!r}")
    return n


def _check_scaler(obj: StandardScaler, state: State) -> None:
    n = _n_features(obj, state)
    for name in ("mean_", "var_", "scale_"):
        value = getattr(obj, name)
        if value is not None and not (
            isinstance(value, np.ndarray) and value.dtype.kind == "f" and value.shape == (n,)
        ):
            raise _fail(state, f"{name} is not None or a vector of {n} floats")


def _check_logistic(obj: LogisticRegression, state: State) -> None:
    n = _n_features(obj, state)
    classes, coef, intercept = obj.classes_, obj.coef_, obj.intercept_
    if not isinstance(classes, np.ndarray) or classes.ndim != 1 or len(classes) < 2:
        raise _fail(state, "classes_ is not a vector of at least 2 labels")
    rows = 1 if len(classes) == 2 else len(classes)
    if not (isinstance(coef, np.ndarray) and coef.dtype.kind == "f" and coef.shape == (rows, n)):
        raise _fail(state, f"coef_ is not a ({rows}, {n}) float array")
    if not (
        isinstance(intercept, np.ndarray)
        and intercept.dtype.kind == "f"
        and intercept.shape == (rows,)
    ):
        raise _fail(state, f"intercept_ is not a vector of {rows} floats")


#: Codecs of the steps of the ``"logistic-l1"`` classifier pipeline.
LINEAR_CODECS: Mapping[type, Codec] = MappingProxyType(
    {
        StandardScaler: attribute_codec(
            StandardScaler,
            "sklearn.StandardScaler",
            required=("n_features_in_", "n_samples_seen_", "mean_", "var_", "scale_"),
            optional=("feature_names_in_",),
            strict=False,
            check=_check_scaler,
        ),
        LogisticRegression: attribute_codec(
            LogisticRegression,
            "sklearn.LogisticRegression",
            required=("n_features_in_", "classes_", "coef_", "intercept_"),
            optional=("feature_names_in_", "n_iter_"),
            strict=False,
            check=_check_logistic,
        ),
    }
)
