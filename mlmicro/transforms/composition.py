"""Closure and log-ratio transformers: :class:`Closure`, :class:`CLR`, :class:`ALR`, :class:`ILR`.

All take a samples x taxa table of non-negative values (a DataFrame whose
columns are lineages, or an array). The log-ratio transforms need strictly
positive values: put :class:`~mlmicro.transforms.ZeroReplacement` before them
in a pipeline.
"""

from __future__ import annotations

from numbers import Integral
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import OneToOneFeatureMixin
from sklearn.utils.validation import check_is_fitted

from mlmicro.exceptions import TransformError
from mlmicro.transforms import _functional as F
from mlmicro.transforms._base import TableTransformer, input_feature_names

__all__ = ["Closure", "CLR", "ALR", "ILR"]


def _check_n_coordinates(estimator: TableTransformer, X: ArrayLike, expected: int) -> np.ndarray:
    check_is_fitted(estimator)
    arr = np.asarray(X, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != expected:
        raise TransformError(
            f"{type(estimator).__name__}.inverse_transform expects {expected} columns, "
            f"got an array of shape {arr.shape}."
        )
    if not np.isfinite(arr).all():
        raise TransformError(
            f"{type(estimator).__name__}.inverse_transform got NaN or infinite values."
        )
    return arr


class Closure(OneToOneFeatureMixin, TableTransformer):
    """Scale each sample to relative abundances (proportions summing to 1).

    Attributes
    ----------
    n_features_in_ : int
        Number of taxa seen in ``fit``.
    feature_names_in_ : ndarray of str
        Taxa seen in ``fit`` (only when fitted on a DataFrame).

    Raises
    ------
    TransformError
        In ``transform``, if a sample has no non-zero abundance (the message
        names the sample).

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"g__A": [2.0, 1.0], "g__B": [6.0, 3.0]}, index=["s1", "s2"])
    >>> Closure().set_output(transform="pandas").fit_transform(table)
        g__A  g__B
    s1  0.25  0.75
    s2  0.25  0.75
    """

    def fit(self, X: ArrayLike, y: object = None) -> Closure:
        """Record the taxa; nothing is learned.

        Parameters
        ----------
        X : DataFrame or array_like of shape (n_samples, n_taxa)
            Non-negative abundances.
        y : ignored

        Returns
        -------
        self : Closure
        """
        self._validate(X, reset=True)
        return self

    def transform(self, X: ArrayLike) -> NDArray[np.float64]:
        """Return the rows of ``X`` divided by their sums.

        Parameters
        ----------
        X : DataFrame or array_like of shape (n_samples, n_taxa)
            Non-negative abundances with the taxa seen in ``fit``.

        Returns
        -------
        ndarray of shape (n_samples, n_taxa)
        """
        check_is_fitted(self)
        arr, labels = self._validate(X, reset=False)
        return F.closure(arr, row_labels=labels)


class CLR(OneToOneFeatureMixin, TableTransformer):
    """Centred log-ratio transform: ``log(x_j / g(x))`` with ``g`` the geometric mean.

    The input must be strictly positive (it need not be closed: the result is
    scale invariant). Each output row sums to 0; features keep the taxa names.

    Attributes
    ----------
    n_features_in_ : int
        Number of taxa seen in ``fit``.
    feature_names_in_ : ndarray of str
        Taxa seen in ``fit`` (only when fitted on a DataFrame).

    Raises
    ------
    TransformError
        If the input has zeros; add :class:`~mlmicro.transforms.ZeroReplacement` first.

    Examples
    --------
    >>> import numpy as np
    >>> CLR().fit_transform(np.array([[1.0, 1.0, 4.0]])).round(4)
    array([[-0.4621, -0.4621,  0.9242]])
    """

    def fit(self, X: ArrayLike, y: object = None) -> CLR:
        """Check ``X`` and record the taxa; nothing is learned.

        Parameters
        ----------
        X : DataFrame or array_like of shape (n_samples, n_taxa)
            Strictly positive abundances.
        y : ignored

        Returns
        -------
        self : CLR
        """
        self._validate(X, reset=True, strictly_positive=True)
        return self

    def transform(self, X: ArrayLike) -> NDArray[np.float64]:
        """Return the clr coordinates of ``X``.

        Parameters
        ----------
        X : DataFrame or array_like of shape (n_samples, n_taxa)
            Strictly positive abundances.

        Returns
        -------
        ndarray of shape (n_samples, n_taxa)
        """
        check_is_fitted(self)
        arr, _ = self._validate(X, reset=False, strictly_positive=True)
        return F.clr(arr)

    def inverse_transform(self, X: ArrayLike) -> NDArray[np.float64]:
        """Map clr coordinates back to proportions (rows sum to 1).

        Parameters
        ----------
        X : array_like of shape (n_samples, n_taxa)
            clr coordinates.

        Returns
        -------
        ndarray of shape (n_samples, n_taxa)
        """
        return F.clr_inv(_check_n_coordinates(self, X, self.n_features_in_))


class ALR(TableTransformer):
    """Additive log-ratio transform against one reference taxon.

    Output feature ``j`` is ``log(x_j / x_ref)`` for every taxon except the
    reference, in input order; output features are named by their taxon alone
    (the reference is ``reference_``), so that feature importances read as taxa.

    Parameters
    ----------
    reference : "auto", str or int, default="auto"
        The reference (denominator) taxon. ``"auto"`` chooses it in ``fit``:
        among the taxa present (> 0) in every training sample, the one whose
        log-proportion has the smallest variance across samples (ties: the
        first in column order). If no taxon is present in every sample, the
        most prevalent taxon is used (ties: the larger mean proportion, then
        the first). A string names a taxon (a column of the training frame); an
        integer is a column index (negative counts from the end).

    Attributes
    ----------
    reference_ : str
        Name of the reference taxon (``x<i>`` when fitted on an array).
    reference_index_ : int
        Its column index in the input.
    n_features_in_ : int
        Number of taxa seen in ``fit``.
    feature_names_in_ : ndarray of str
        Taxa seen in ``fit`` (only when fitted on a DataFrame).

    Notes
    -----
    ``fit`` accepts zeros (they only restrict the ``"auto"`` choice);
    ``transform`` needs strictly positive values.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"g__A": [1.0, 2.0], "g__B": [2.0, 4.0], "g__C": [4.0, 1.0]})
    >>> alr = ALR(reference="g__B").fit(table)
    >>> alr.get_feature_names_out().tolist()
    ['g__A', 'g__C']
    >>> alr.transform(table).round(4)
    array([[-0.6931,  0.6931],
           [-0.6931, -1.3863]])
    """

    def __init__(self, reference: Literal["auto"] | str | int = "auto") -> None:
        self.reference = reference

    def fit(self, X: ArrayLike, y: object = None) -> ALR:
        """Choose the reference taxon.

        Parameters
        ----------
        X : DataFrame or array_like of shape (n_samples, n_taxa)
            Non-negative abundances, at least 2 taxa.
        y : ignored

        Returns
        -------
        self : ALR
        """
        arr, _ = self._validate(X, reset=True, min_features=2)
        names = input_feature_names(self, None)
        n_taxa = arr.shape[1]
        reference = self.reference
        if isinstance(reference, Integral) and not isinstance(reference, bool):
            if not -n_taxa <= reference < n_taxa:
                raise TransformError(
                    f"ALR reference index {reference} is out of range for {n_taxa} taxa."
                )
            index = int(reference) % n_taxa
        elif isinstance(reference, str) and reference == "auto":
            index = self._auto_reference(arr)
        elif isinstance(reference, str):
            matches = np.flatnonzero(names == reference)
            if not len(matches):
                raise TransformError(
                    f"ALR reference {reference!r} is not a taxon of the training table; "
                    "give one of its column names, a column index, or 'auto'."
                )
            index = int(matches[0])
        else:
            raise TransformError(
                f"ALR reference must be 'auto', a taxon name or a column index, got {reference!r}."
            )
        self.reference_index_ = index
        self.reference_ = str(names[index])
        return self

    @staticmethod
    def _auto_reference(arr: NDArray[np.float64]) -> int:
        present = arr > 0
        everywhere = present.all(axis=0)
        if everywhere.any():
            candidates = np.flatnonzero(everywhere)
            logs = np.log(F.closure(arr[:, candidates]))
            return int(candidates[np.argmin(logs.var(axis=0))])
        totals = arr.sum(axis=1, keepdims=True)
        props = np.divide(arr, totals, out=np.zeros_like(arr), where=totals > 0)
        order = np.lexsort((-props.mean(axis=0), -present.sum(axis=0)))
        return int(order[0])

    def transform(self, X: ArrayLike) -> NDArray[np.float64]:
        """Return ``log(x_j / x_ref)`` for every taxon but the reference.

        Parameters
        ----------
        X : DataFrame or array_like of shape (n_samples, n_taxa)
            Strictly positive abundances with the taxa seen in ``fit``.

        Returns
        -------
        ndarray of shape (n_samples, n_taxa - 1)
        """
        check_is_fitted(self)
        arr, _ = self._validate(X, reset=False, strictly_positive=True, min_features=2)
        return F.alr(arr, self.reference_index_)

    def inverse_transform(self, X: ArrayLike) -> NDArray[np.float64]:
        """Map alr coordinates back to proportions, re-inserting the reference.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_taxa - 1)
            alr coordinates.

        Returns
        -------
        ndarray of shape (n_samples, n_taxa)
            Proportions; rows sum to 1.
        """
        arr = _check_n_coordinates(self, X, self.n_features_in_ - 1)
        return F.alr_inv(arr, self.reference_index_)

    def get_feature_names_out(self, input_features: ArrayLike | None = None) -> np.ndarray:
        """Return the names of the taxa other than the reference.

        Parameters
        ----------
        input_features : array_like of str, optional
            Must match the names seen in ``fit`` when given.

        Returns
        -------
        ndarray of str
        """
        check_is_fitted(self)
        names = input_feature_names(self, input_features)
        return np.delete(names, self.reference_index_)


class ILR(TableTransformer):
    """Isometric log-ratio transform.

    Coordinates are ``clr(x) @ basis_.T``. With the default basis (the one
    scikit-bio's ``ilr`` uses, Egozcue et al. 2003), coordinate ``j`` contrasts
    the geometric mean of taxa ``0..j`` with taxon ``j + 1``; Euclidean
    distances between coordinates equal Aitchison distances between samples.

    Parameters
    ----------
    basis : array_like of shape (n_taxa - 1, n_taxa), optional
        An orthonormal basis in clr coordinates (rows orthonormal, each summing
        to 0). Default: :func:`mlmicro.transforms._functional.gram_schmidt_basis`.

    Attributes
    ----------
    basis_ : ndarray of shape (n_taxa - 1, n_taxa)
        The basis used.
    n_features_in_ : int
        Number of taxa seen in ``fit``.
    feature_names_in_ : ndarray of str
        Taxa seen in ``fit`` (only when fitted on a DataFrame).

    Notes
    -----
    Output features are named ``ilr0 .. ilr{D-2}``.

    Examples
    --------
    >>> import numpy as np
    >>> ilr = ILR().fit(np.array([[0.1, 0.3, 0.4, 0.2]]))
    >>> ilr.transform(np.array([[0.1, 0.3, 0.4, 0.2]])).round(4)
    array([[-0.7768, -0.6834,  0.117 ]])
    >>> ilr.get_feature_names_out().tolist()
    ['ilr0', 'ilr1', 'ilr2']
    """

    def __init__(self, basis: ArrayLike | None = None) -> None:
        self.basis = basis

    def fit(self, X: ArrayLike, y: object = None) -> ILR:
        """Build or check the basis for the number of taxa in ``X``.

        Parameters
        ----------
        X : DataFrame or array_like of shape (n_samples, n_taxa)
            Strictly positive abundances, at least 2 taxa.
        y : ignored

        Returns
        -------
        self : ILR
        """
        arr, _ = self._validate(X, reset=True, strictly_positive=True, min_features=2)
        n_taxa = arr.shape[1]
        if self.basis is None:
            self.basis_ = F.gram_schmidt_basis(n_taxa)
            self._default_basis = True
            return self
        basis = np.array(self.basis, dtype=np.float64)
        if basis.shape != (n_taxa - 1, n_taxa):
            raise TransformError(
                f"ILR basis must have shape ({n_taxa - 1}, {n_taxa}) for {n_taxa} taxa, "
                f"got {basis.shape}."
            )
        if not (
            np.allclose(basis @ basis.T, np.eye(n_taxa - 1), atol=1e-8)
            and np.allclose(basis.sum(axis=1), 0.0, atol=1e-8)
        ):
            raise TransformError(
                "ILR basis must be orthonormal with rows summing to 0 (a basis in clr "
                "coordinates); build one with gram_schmidt_basis or skbio's sbp_basis."
            )
        self.basis_ = basis
        self._default_basis = False
        return self

    def transform(self, X: ArrayLike) -> NDArray[np.float64]:
        """Return the ilr coordinates of ``X``.

        Parameters
        ----------
        X : DataFrame or array_like of shape (n_samples, n_taxa)
            Strictly positive abundances with the taxa seen in ``fit``.

        Returns
        -------
        ndarray of shape (n_samples, n_taxa - 1)
        """
        check_is_fitted(self)
        arr, _ = self._validate(X, reset=False, strictly_positive=True, min_features=2)
        return F.ilr(arr, None if self._default_basis else self.basis_)

    def inverse_transform(self, X: ArrayLike) -> NDArray[np.float64]:
        """Map ilr coordinates back to proportions (rows sum to 1).

        Parameters
        ----------
        X : array_like of shape (n_samples, n_taxa - 1)
            ilr coordinates.

        Returns
        -------
        ndarray of shape (n_samples, n_taxa)
        """
        arr = _check_n_coordinates(self, X, self.n_features_in_ - 1)
        return F.ilr_inv(arr, None if self._default_basis else self.basis_)

    def get_feature_names_out(self, input_features: ArrayLike | None = None) -> np.ndarray:
        """Return ``ilr0 .. ilr{D-2}``.

        Parameters
        ----------
        input_features : array_like of str, optional
            Checked against the names seen in ``fit`` when given.

        Returns
        -------
        ndarray of str
        """
        check_is_fitted(self)
        input_feature_names(self, input_features)
        return np.asarray([f"ilr{i}" for i in range(self.n_features_in_ - 1)], dtype=object)
