"""Pure numpy kernels of the compositional transforms.

Every kernel takes a 2-D ``samples x parts`` array, works row-wise in float64
and returns a new array; the input is never modified. Kernels do not validate
their input beyond what they need to compute (no NaN or sign checks): the
transformers in :mod:`mlmicro.transforms` do that once, then call these.

The kernels are vectorised over rows and allocate at most two arrays the size
of the input, so they can be run on chunks of about 10**6 x 10**3 values. The
default isometric log-ratio basis is applied in O(D) per row through
cumulative sums rather than as a dense ``D x D`` product.

Results match :mod:`skbio.stats.composition` (``closure``, ``multi_replace``,
``clr``, ``clr_inv``, ``alr``, ``alr_inv``, ``ilr``, ``ilr_inv``) to rounding.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mlmicro.exceptions import TransformError

__all__ = [
    "closure",
    "multiplicative_replacement",
    "default_delta",
    "default_pseudocount",
    "pseudocount_replacement",
    "clr",
    "clr_inv",
    "alr",
    "alr_inv",
    "ilr",
    "ilr_inv",
    "gram_schmidt_basis",
]

FloatArray = NDArray[np.float64]


def _as_2d(mat: ArrayLike) -> FloatArray:
    arr = np.asarray(mat, dtype=np.float64)
    if arr.ndim != 2:
        raise TransformError(f"Expected a 2-D samples x taxa array, got {arr.ndim} dimension(s).")
    return arr


def _row_label(row: int, row_labels: Sequence[object] | None) -> str:
    if row_labels is not None:
        return f"sample {row_labels[row]!r} (row {row})"
    return f"the sample at row {row}"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def closure(mat: ArrayLike, *, row_labels: Sequence[object] | None = None) -> FloatArray:
    """Scale each row to proportions that sum to 1.

    Parameters
    ----------
    mat : array_like of shape (n_samples, n_parts)
        Non-negative values.
    row_labels : sequence, optional
        Sample names, used only to name a failing sample in the error message.

    Returns
    -------
    ndarray of shape (n_samples, n_parts)
        Each row divided by its sum.

    Raises
    ------
    TransformError
        If a row sums to zero.

    Examples
    --------
    >>> closure([[2.0, 2.0, 6.0]])
    array([[0.2, 0.2, 0.6]])
    """
    arr = _as_2d(mat)
    totals = arr.sum(axis=1, keepdims=True)
    if arr.shape[0] and not (totals > 0).all():
        row = int(np.flatnonzero(~(totals[:, 0] > 0))[0])
        raise TransformError(
            f"{_sentence(_row_label(row, row_labels))} has no non-zero abundance, so it "
            "cannot be turned into proportions; remove empty samples before transforming."
        )
    return np.divide(arr, totals)


def default_delta(n_parts: int) -> float:
    """Return scikit-bio's default replacement value for zeros, ``1 / n_parts**2``."""
    return (1.0 / n_parts) ** 2


def multiplicative_replacement(
    mat: ArrayLike,
    delta: float | None = None,
    *,
    row_labels: Sequence[object] | None = None,
) -> FloatArray:
    """Replace zeros by ``delta`` and shrink the other parts so rows still sum to 1.

    Multiplicative replacement (Martín-Fernández et al., 2003): in a row with
    ``k`` zeros, each zero becomes ``delta`` and each non-zero proportion ``p``
    becomes ``(1 - k * delta) * p``, so the ratios between non-zero parts are
    kept.

    Parameters
    ----------
    mat : array_like of shape (n_samples, n_parts)
        Non-negative values; rows are closed first.
    delta : float, optional
        The replacement value; ``1 / n_parts**2`` (scikit-bio's default) if omitted.
    row_labels : sequence, optional
        Sample names, used only in error messages.

    Returns
    -------
    ndarray of shape (n_samples, n_parts)
        Strictly positive proportions; each row sums to 1.

    Raises
    ------
    TransformError
        If a row sums to zero, or has so many zeros that ``k * delta >= 1``.

    Examples
    --------
    >>> multiplicative_replacement([[0.2, 0.4, 0.4, 0.0]])
    array([[0.1875, 0.375 , 0.375 , 0.0625]])
    """
    props = closure(mat, row_labels=row_labels)
    if delta is None:
        delta = default_delta(props.shape[1])
    is_zero = props == 0
    n_zero = np.count_nonzero(is_zero, axis=1)
    keep = 1.0 - n_zero * float(delta)
    if keep.size and keep.min() <= 0:
        row = int(np.argmin(keep))
        raise TransformError(
            f"Multiplicative replacement with delta={delta:g} would leave no mass for the "
            f"non-zero taxa of {_row_label(row, row_labels)} ({int(n_zero[row])} zeros); "
            "use a smaller delta."
        )
    props *= keep[:, None]
    props[is_zero] = delta
    return props


def default_pseudocount(proportions: ArrayLike) -> float:
    """Return half the smallest non-zero proportion.

    Parameters
    ----------
    proportions : array_like
        Closed (proportion) data.

    Returns
    -------
    float
        The default pseudocount mlmicro learns from training data.

    Raises
    ------
    TransformError
        If there is no non-zero value at all.

    Examples
    --------
    >>> default_pseudocount([[0.0, 0.25, 0.75], [0.5, 0.5, 0.0]])
    0.125
    """
    arr = np.asarray(proportions, dtype=np.float64)
    smallest = float(np.min(arr, where=arr > 0, initial=np.inf))
    if not np.isfinite(smallest):
        raise TransformError(
            "The training data have no non-zero value to learn a pseudocount from; "
            "give pseudocount= explicitly."
        )
    return smallest / 2.0


def pseudocount_replacement(
    mat: ArrayLike,
    pseudocount: float,
    *,
    row_labels: Sequence[object] | None = None,
) -> FloatArray:
    """Close rows, add ``pseudocount`` to every proportion, and close again.

    Examples
    --------
    >>> pseudocount_replacement([[0.0, 1.0, 1.0, 2.0]], 0.25)
    array([[0.125, 0.25 , 0.25 , 0.375]])
    """
    props = closure(mat, row_labels=row_labels)
    props += pseudocount
    props /= props.sum(axis=1, keepdims=True)
    return props


def clr(mat: ArrayLike) -> FloatArray:
    """Centred log-ratio: ``log(x) - mean(log(x))`` per row.

    Parameters
    ----------
    mat : array_like of shape (n_samples, n_parts)
        Strictly positive values (not necessarily closed: the result is scale
        invariant).

    Returns
    -------
    ndarray of shape (n_samples, n_parts)
        Rows sum to 0.

    Examples
    --------
    >>> clr([[1.0, 1.0, 1.0]])
    array([[0., 0., 0.]])
    """
    out = np.log(_as_2d(mat))
    out -= out.mean(axis=1, keepdims=True)
    return out


def _exp_closure_inplace(out: FloatArray) -> FloatArray:
    """Turn log-scale rows into proportions in place (shifted by the row max for stability)."""
    out -= out.max(axis=1, keepdims=True)
    np.exp(out, out=out)
    out /= out.sum(axis=1, keepdims=True)
    return out


def clr_inv(mat: ArrayLike) -> FloatArray:
    """Inverse centred log-ratio: ``closure(exp(z))``, computed stably.

    Examples
    --------
    >>> clr_inv([[0.0, 0.0]])
    array([[0.5, 0.5]])
    """
    return _exp_closure_inplace(np.array(_as_2d(mat), dtype=np.float64, copy=True))


def alr(mat: ArrayLike, ref_idx: int) -> FloatArray:
    """Additive log-ratio against the part at ``ref_idx``.

    Parameters
    ----------
    mat : array_like of shape (n_samples, n_parts)
        Strictly positive values.
    ref_idx : int
        Column of the reference (denominator) part.

    Returns
    -------
    ndarray of shape (n_samples, n_parts - 1)
        ``log(x_j / x_ref)`` for every part ``j`` other than the reference, in
        column order.

    Examples
    --------
    >>> alr([[1.0, 2.0, 4.0]], 0).round(4)
    array([[0.6931, 1.3863]])
    """
    logs = np.log(_as_2d(mat))
    ref = ref_idx % logs.shape[1]
    out = np.delete(logs, ref, axis=1)
    out -= logs[:, ref : ref + 1]
    return out


def alr_inv(mat: ArrayLike, ref_idx: int) -> FloatArray:
    """Inverse additive log-ratio; the reference part is re-inserted at ``ref_idx``.

    Examples
    --------
    >>> alr_inv([[0.0, np.log(2.0)]], 0)
    array([[0.25, 0.25, 0.5 ]])
    """
    arr = _as_2d(mat)
    n_parts = arr.shape[1] + 1
    ref = ref_idx % n_parts
    return _exp_closure_inplace(np.insert(arr, ref, 0.0, axis=1))


def gram_schmidt_basis(n_parts: int) -> FloatArray:
    """Return the default orthonormal basis of the ``n_parts``-part simplex.

    This is the basis scikit-bio uses by default (Egozcue et al., 2003), in
    clr coordinates: row ``j`` (with ``i = j + 1``) is
    ``sqrt(i / (i + 1)) * [1/i, ..., 1/i, -1, 0, ..., 0]`` with ``i`` leading
    entries, so coordinate ``j`` contrasts the first ``i`` parts with part ``i``.

    Parameters
    ----------
    n_parts : int
        Number of parts ``D`` (at least 2).

    Returns
    -------
    ndarray of shape (n_parts - 1, n_parts)
        Orthonormal rows, each summing to 0.

    Examples
    --------
    >>> gram_schmidt_basis(2).round(4)
    array([[ 0.7071, -0.7071]])
    """
    if n_parts < 2:
        raise TransformError(f"An ILR basis needs at least 2 parts, got {n_parts}.")
    i = np.arange(1, n_parts, dtype=np.float64)
    basis = np.tri(n_parts - 1, n_parts, dtype=np.float64) / i[:, None]
    basis[np.arange(n_parts - 1), np.arange(1, n_parts)] = -1.0
    basis *= np.sqrt(i / (i + 1.0))[:, None]
    return basis


def ilr(mat: ArrayLike, basis: ArrayLike | None = None) -> FloatArray:
    """Isometric log-ratio coordinates: ``clr(x) @ basis.T``.

    Parameters
    ----------
    mat : array_like of shape (n_samples, n_parts)
        Strictly positive values.
    basis : array_like of shape (n_parts - 1, n_parts), optional
        Orthonormal basis in clr coordinates. The default,
        :func:`gram_schmidt_basis`, is applied in O(n_parts) per row without
        forming the matrix.

    Returns
    -------
    ndarray of shape (n_samples, n_parts - 1)

    Examples
    --------
    >>> ilr([[0.1, 0.3, 0.4, 0.2]]).round(6)
    array([[-0.776836, -0.683398,  0.117048]])
    """
    arr = _as_2d(mat)
    if basis is not None:
        return clr(arr) @ np.asarray(basis, dtype=np.float64).T
    n_parts = arr.shape[1]
    if n_parts < 2:
        raise TransformError(f"ILR needs at least 2 parts, got {n_parts}.")
    logs = np.log(arr)
    # coordinate j (i = j + 1): sqrt(i/(i+1)) * (mean(log x[:i]) - log x[i]);
    # the clr centring cancels because each basis row sums to zero.
    out = np.cumsum(logs[:, :-1], axis=1)
    i = np.arange(1, n_parts, dtype=np.float64)
    out /= i
    out -= logs[:, 1:]
    out *= np.sqrt(i / (i + 1.0))
    return out


def ilr_inv(mat: ArrayLike, basis: ArrayLike | None = None) -> FloatArray:
    """Inverse isometric log-ratio: ``clr_inv(y @ basis)``.

    Parameters
    ----------
    mat : array_like of shape (n_samples, n_parts - 1)
        ILR coordinates.
    basis : array_like of shape (n_parts - 1, n_parts), optional
        The basis used by :func:`ilr`; the default is applied in O(n_parts)
        per row.

    Returns
    -------
    ndarray of shape (n_samples, n_parts)
        Proportions; rows sum to 1.

    Examples
    --------
    >>> ilr_inv(ilr([[0.1, 0.3, 0.4, 0.2]])).round(6)
    array([[0.1, 0.3, 0.4, 0.2]])
    """
    arr = _as_2d(mat)
    if basis is not None:
        return clr_inv(arr @ np.asarray(basis, dtype=np.float64))
    n_coords = arr.shape[1]
    i = np.arange(1, n_coords + 1, dtype=np.float64)
    scale = np.sqrt(i / (i + 1.0))
    # clr_k = sum_{j >= k} y_j * scale_j / (j + 1)  -  y_{k-1} * scale_{k-1}
    weighted = arr * (scale / i)
    out = np.zeros((arr.shape[0], n_coords + 1), dtype=np.float64)
    out[:, :n_coords] = np.cumsum(weighted[:, ::-1], axis=1)[:, ::-1]
    out[:, 1:] -= arr * scale
    return _exp_closure_inplace(out)
