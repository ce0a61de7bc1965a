"""Validation shared by the transformers of samples x taxa tables."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from mlmicro.exceptions import InvalidTableError, TransformError

__all__ = ["TableTransformer", "sample_labels", "input_feature_names"]


def sample_labels(X: object) -> Sequence[object] | None:
    """Return the sample IDs of a DataFrame (its index), or ``None`` for an array."""
    return X.index if isinstance(X, pd.DataFrame) else None


def _row_name(row: int, labels: Sequence[object] | None) -> str:
    return f"sample {labels[row]!r} (row {row})" if labels is not None else f"row {row}"


def input_feature_names(
    estimator: BaseEstimator, input_features: ArrayLike | None
) -> NDArray[np.object_]:
    """Return the validated input feature names of a fitted estimator.

    ``input_features``, when given, must equal ``feature_names_in_`` (if the
    estimator was fitted on a DataFrame) and have ``n_features_in_`` entries;
    when omitted, the names seen in ``fit`` are used, or ``x0, x1, ...``.
    """
    check_is_fitted(estimator, "n_features_in_")
    fitted = getattr(estimator, "feature_names_in_", None)
    n_features = estimator.n_features_in_
    if input_features is not None:
        names = np.asarray(input_features, dtype=object)
        if fitted is not None and not np.array_equal(fitted, names):
            raise ValueError("input_features is not equal to feature_names_in_.")
        if len(names) != n_features:
            raise ValueError(
                f"input_features should have length equal to number of features "
                f"({n_features}), got {len(names)}."
            )
        return names
    if fitted is not None:
        return np.asarray(fitted, dtype=object)
    return np.asarray([f"x{i}" for i in range(n_features)], dtype=object)


class TableTransformer(TransformerMixin, BaseEstimator):
    """Base of mlmicro's transformers: non-negative float64 samples x taxa input.

    Subclasses call :meth:`_validate` at the start of ``fit`` (``reset=True``)
    and ``transform`` (``reset=False``); it records ``n_features_in_`` and
    ``feature_names_in_``, converts to float64, rejects NaN, infinite and
    negative values (and, with ``strictly_positive``, zeros), and returns the
    sample IDs of a DataFrame for error messages.
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        return tags

    def _validate(
        self,
        X: ArrayLike,
        *,
        reset: bool,
        strictly_positive: bool = False,
        min_features: int = 1,
    ) -> tuple[NDArray[np.float64], Sequence[object] | None]:
        labels = sample_labels(X)
        arr = validate_data(self, X, reset=reset, dtype=np.float64)
        name = type(self).__name__
        if arr.shape[1] < min_features:
            raise TransformError(
                f"{name} needs at least {min_features} taxa, got {arr.shape[1]} feature(s)."
            )
        if arr.size and arr.min() < 0:
            row = int(np.flatnonzero((arr < 0).any(axis=1))[0])
            raise InvalidTableError(
                f"Negative values in data passed to {name} ({_row_name(row, labels)}); "
                "a taxa table must hold non-negative counts or abundances."
            )
        if strictly_positive and arr.size and arr.min() <= 0:
            row = int(np.flatnonzero((arr <= 0).any(axis=1))[0])
            raise TransformError(
                f"{name} needs strictly positive values but {_row_name(row, labels)} has "
                "zeros; put ZeroReplacement() before it in the pipeline."
            )
        return arr, labels
