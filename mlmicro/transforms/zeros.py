"""Zero handling: :class:`ZeroReplacement` and :class:`LogTransform`.

Both learn their replacement value in ``fit`` and reuse it unchanged on new
data, so a model applied to another cohort treats zeros exactly as it did in
training. The default pseudocount is half the smallest non-zero proportion of
the training data: a crude pseudocount of 1 (on counts) or of a fixed size
swamps rare taxa and badly hurts log-ratio models on sparse (e.g. skin) data.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import OneToOneFeatureMixin
from sklearn.utils.validation import check_is_fitted

from mlmicro.choices import DEFAULT_ZEROS, ZERO_METHODS, ZerosName
from mlmicro.exceptions import TransformError
from mlmicro.transforms import _functional as F
from mlmicro.transforms._base import TableTransformer

__all__ = ["ZeroReplacement", "LogTransform"]

_METHODS = tuple(ZERO_METHODS)


def _split_empty(arr: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Return ``arr`` with all-zero rows set to ones, and which rows those were.

    After a prevalence filter, a sample can hold none of the kept taxa. Its
    composition over them is unknown, so it is treated as uniform (every
    log-ratio 0) instead of failing the whole table. Empty samples in the raw
    table are refused earlier, by the reader and by :class:`Closure`.
    """
    empty = ~(arr > 0).any(axis=1)
    if empty.any():
        arr = arr.copy()
        arr[empty] = 1.0
    return arr, empty


def _learned_pseudocount(arr: NDArray[np.float64], labels) -> float:
    """Half the smallest non-zero training proportion, over the non-empty samples."""
    filled = ~(arr > 0).any(axis=1)
    if filled.all():
        raise TransformError(
            "Every training sample is empty after filtering, so no pseudocount can be "
            "learned; lower the prevalence filter."
        )
    rows = arr[~filled]
    kept = [labels[i] for i in np.flatnonzero(~filled)] if labels is not None else None
    return F.default_pseudocount(F.closure(rows, row_labels=kept))


def _check_positive_number(value: object, name: str, owner: str, *, allow_zero: bool) -> float:
    ok = isinstance(value, Real) and not isinstance(value, bool) and np.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise TransformError(f"{owner} {name} must be a finite number {bound}, got {value!r}.")
    return float(value)


class ZeroReplacement(OneToOneFeatureMixin, TableTransformer):
    """Replace zeros so that log-ratio transforms can be applied; output rows sum to 1.

    Parameters
    ----------
    method : {"multiplicative", "pseudocount"}, default="multiplicative"
        ``"multiplicative"``: multiplicative replacement (Martín-Fernández et
        al., 2003), the same result as ``skbio.stats.composition.multi_replace``:
        in a sample with ``k`` zeros, each zero becomes ``delta`` and the other
        proportions are multiplied by ``1 - k * delta``.
        ``"pseudocount"``: add ``pseudocount`` to every proportion, then close.
    delta : float, optional
        Replacement value for ``"multiplicative"``. Default: ``1 / n_taxa**2``
        (scikit-bio's default), fixed at ``fit``.
    pseudocount : float, optional
        Value added to proportions for ``"pseudocount"``. Default: half the
        smallest non-zero proportion in the training data, learned in ``fit``.

    Attributes
    ----------
    delta_ : float or None
        The replacement value used by ``"multiplicative"`` (``None`` otherwise).
    pseudocount_ : float or None
        The pseudocount used by ``"pseudocount"`` (``None`` otherwise).
    n_features_in_ : int
        Number of taxa seen in ``fit``.
    feature_names_in_ : ndarray of str
        Taxa seen in ``fit`` (only when fitted on a DataFrame).

    Raises
    ------
    TransformError
        If a sample is all zeros, or has so many zeros that ``k * delta >= 1``.

    Examples
    --------
    >>> import numpy as np
    >>> ZeroReplacement().fit_transform(np.array([[0.2, 0.4, 0.4, 0.0]]))
    array([[0.1875, 0.375 , 0.375 , 0.0625]])
    >>> zr = ZeroReplacement(method="pseudocount").fit(np.array([[0.0, 1.0, 3.0]]))
    >>> zr.pseudocount_
    0.125
    """

    def __init__(
        self,
        method: ZerosName = DEFAULT_ZEROS,
        delta: float | None = None,
        pseudocount: float | None = None,
    ) -> None:
        self.method = method
        self.delta = delta
        self.pseudocount = pseudocount

    def fit(self, X: ArrayLike, y: object = None) -> ZeroReplacement:
        """Learn ``delta_`` or ``pseudocount_`` from the training table.

        Parameters
        ----------
        X : DataFrame or array_like of shape (n_samples, n_taxa)
            Non-negative abundances.
        y : ignored

        Returns
        -------
        self : ZeroReplacement
        """
        if self.method not in _METHODS:
            raise TransformError(
                f"ZeroReplacement method must be one of {', '.join(_METHODS)}; got {self.method!r}."
            )
        arr, labels = self._validate(X, reset=True)
        owner = "ZeroReplacement"
        if self.method == "multiplicative":
            if self.pseudocount is not None:
                raise TransformError(
                    "ZeroReplacement pseudocount only applies to method='pseudocount'; "
                    "use delta= with method='multiplicative'."
                )
            self.delta_ = (
                F.default_delta(arr.shape[1])
                if self.delta is None
                else _check_positive_number(self.delta, "delta", owner, allow_zero=False)
            )
            self.pseudocount_ = None
        else:
            if self.delta is not None:
                raise TransformError(
                    "ZeroReplacement delta only applies to method='multiplicative'; "
                    "use pseudocount= with method='pseudocount'."
                )
            self.pseudocount_ = (
                _learned_pseudocount(arr, labels)
                if self.pseudocount is None
                else _check_positive_number(
                    self.pseudocount, "pseudocount", owner, allow_zero=False
                )
            )
            self.delta_ = None
        return self

    def transform(self, X: ArrayLike) -> NDArray[np.float64]:
        """Return strictly positive proportions, using the values learned in ``fit``.

        Parameters
        ----------
        X : DataFrame or array_like of shape (n_samples, n_taxa)
            Non-negative abundances with the taxa seen in ``fit``.

        Returns
        -------
        ndarray of shape (n_samples, n_taxa)
            Rows sum to 1.
        """
        check_is_fitted(self)
        arr, labels = self._validate(X, reset=False)
        arr, _ = _split_empty(arr)  # a sample emptied by filtering becomes uniform
        if self.delta_ is not None:
            return F.multiplicative_replacement(arr, self.delta_, row_labels=labels)
        return F.pseudocount_replacement(arr, self.pseudocount_, row_labels=labels)


class LogTransform(OneToOneFeatureMixin, TableTransformer):
    """Log of relative abundances with a pseudocount: ``log(x / sum(x) + pseudocount_)``.

    Rows are closed first, then the pseudocount is added (the result is not
    re-closed).

    Parameters
    ----------
    pseudocount : float, optional
        Added to every proportion before the log. Default: half the smallest
        non-zero proportion in the training data, learned in ``fit``. ``0`` is
        allowed for strictly positive data.

    Attributes
    ----------
    pseudocount_ : float
        The pseudocount used, frozen at ``fit``.
    n_features_in_ : int
        Number of taxa seen in ``fit``.
    feature_names_in_ : ndarray of str
        Taxa seen in ``fit`` (only when fitted on a DataFrame).

    Examples
    --------
    >>> import numpy as np
    >>> log = LogTransform().fit(np.array([[0.0, 1.0, 3.0]]))
    >>> log.pseudocount_
    0.125
    >>> log.transform(np.array([[0.0, 1.0, 3.0]])).round(4)
    array([[-2.0794, -0.9808, -0.1335]])
    """

    def __init__(self, pseudocount: float | None = None) -> None:
        self.pseudocount = pseudocount

    def fit(self, X: ArrayLike, y: object = None) -> LogTransform:
        """Learn ``pseudocount_`` from the training table.

        Parameters
        ----------
        X : DataFrame or array_like of shape (n_samples, n_taxa)
            Non-negative abundances.
        y : ignored

        Returns
        -------
        self : LogTransform
        """
        arr, labels = self._validate(X, reset=True)
        if self.pseudocount is None:
            self.pseudocount_ = _learned_pseudocount(arr, labels)
        else:
            self.pseudocount_ = _check_positive_number(
                self.pseudocount, "pseudocount", "LogTransform", allow_zero=True
            )
        return self

    def transform(self, X: ArrayLike) -> NDArray[np.float64]:
        """Return ``log(proportion + pseudocount_)``.

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
        arr, empty = _split_empty(arr)
        props = F.closure(arr, row_labels=labels)
        props[empty] = 0.0  # a sample emptied by filtering: every taxon absent
        if self.pseudocount_ == 0 and props.size and props.min() <= 0:
            raise TransformError(
                "LogTransform with pseudocount=0 got zeros; leave pseudocount unset to "
                "learn one, or add ZeroReplacement() first."
            )
        props += self.pseudocount_
        return np.log(props, out=props)
