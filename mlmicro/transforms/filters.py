"""Feature filtering: :class:`PrevalenceFilter`."""

from __future__ import annotations

import warnings
from numbers import Real

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.feature_selection import SelectorMixin
from sklearn.utils.validation import check_is_fitted

from mlmicro.exceptions import TransformError
from mlmicro.transforms._base import TableTransformer, input_feature_names

__all__ = ["PrevalenceFilter"]


class PrevalenceFilter(SelectorMixin, TableTransformer):
    """Keep the taxa that are prevalent and abundant enough in the training data.

    A taxon is kept when it is present (value > ``detection_limit``) in at
    least ``min_prevalence`` of the training samples and its mean relative
    abundance (each sample closed to proportions; empty samples count as 0) is
    at least ``min_abundance``. Values are passed through unchanged (not closed).

    If no taxon passes, the most prevalent one (ties: the larger mean relative
    abundance, then the first) is kept and a ``UserWarning`` is issued, so the
    filter never returns zero features.

    Parameters
    ----------
    min_prevalence : float, default=0.1
        Fraction of training samples, in [0, 1].
    min_abundance : float, default=0.0
        Minimum mean relative abundance, in [0, 1].
    detection_limit : float, default=0.0
        A value must exceed this to count as present (same units as the input).

    Attributes
    ----------
    support_ : ndarray of bool, shape (n_taxa,)
        Mask of kept taxa.
    kept_features_ : ndarray of str
        Names of the kept taxa (``x<i>`` when fitted on an array).
    prevalence_ : ndarray of shape (n_taxa,)
        Fraction of training samples in which each taxon is present.
    mean_abundance_ : ndarray of shape (n_taxa,)
        Mean relative abundance of each taxon in the training data.
    n_features_in_ : int
        Number of taxa seen in ``fit``.
    feature_names_in_ : ndarray of str
        Taxa seen in ``fit`` (only when fitted on a DataFrame).

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"g__A": [5, 3, 4, 2], "g__B": [0, 0, 0, 1], "g__C": [1, 2, 0, 3]})
    >>> PrevalenceFilter(min_prevalence=0.5).fit(table).kept_features_.tolist()
    ['g__A', 'g__C']
    """

    def __init__(
        self,
        min_prevalence: float = 0.1,
        min_abundance: float = 0.0,
        detection_limit: float = 0.0,
    ) -> None:
        self.min_prevalence = min_prevalence
        self.min_abundance = min_abundance
        self.detection_limit = detection_limit

    def _check_params(self) -> None:
        for name, upper in (
            ("min_prevalence", 1.0),
            ("min_abundance", 1.0),
            ("detection_limit", np.inf),
        ):
            value = getattr(self, name)
            is_number = isinstance(value, Real) and not isinstance(value, bool)
            if not (is_number and 0 <= value <= upper):
                bounds = "in [0, 1]" if upper == 1.0 else ">= 0"
                raise TransformError(
                    f"PrevalenceFilter {name} must be a number {bounds}, got {value!r}."
                )

    def fit(self, X: ArrayLike, y: object = None) -> PrevalenceFilter:
        """Choose the taxa to keep.

        Parameters
        ----------
        X : DataFrame or array_like of shape (n_samples, n_taxa)
            Non-negative abundances.
        y : ignored

        Returns
        -------
        self : PrevalenceFilter
        """
        self._check_params()
        arr, _ = self._validate(X, reset=True)
        present = arr > self.detection_limit
        self.prevalence_ = np.count_nonzero(present, axis=0) / arr.shape[0]
        totals = arr.sum(axis=1, keepdims=True)
        props = np.divide(arr, totals, out=np.zeros_like(arr), where=totals > 0)
        self.mean_abundance_ = props.mean(axis=0)
        support = (self.prevalence_ >= self.min_prevalence) & (
            self.mean_abundance_ >= self.min_abundance
        )
        names = input_feature_names(self, None)
        if not support.any():
            best = int(np.lexsort((-self.mean_abundance_, -self.prevalence_))[0])
            support[best] = True
            warnings.warn(
                f"PrevalenceFilter: no taxon passes min_prevalence={self.min_prevalence} "
                f"and min_abundance={self.min_abundance}; keeping only the most prevalent "
                f"taxon {names[best]!r}. Lower the thresholds to keep more.",
                UserWarning,
                stacklevel=2,
            )
        self.support_ = support
        self.kept_features_ = names[support]
        return self

    def _get_support_mask(self) -> NDArray[np.bool_]:
        check_is_fitted(self)
        return self.support_

    def transform(self, X: ArrayLike) -> NDArray[np.float64]:
        """Return the columns of the kept taxa, values unchanged.

        Parameters
        ----------
        X : DataFrame or array_like of shape (n_samples, n_taxa)
            Non-negative abundances with the taxa seen in ``fit``.

        Returns
        -------
        ndarray of shape (n_samples, n_kept)
        """
        check_is_fitted(self)
        arr, _ = self._validate(X, reset=False)
        return arr[:, self.support_]
