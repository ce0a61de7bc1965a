"""Numeric kernels: golden values from scikit-bio and hypothesis properties."""

from __future__ import annotations

import numpy as np
import pytest
import skbio.stats.composition as skc
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from skbio.stats.composition._base import _gram_schmidt_basis

from mlmicro.exceptions import TransformError
from mlmicro.transforms import _functional as F

TOL = 1e-10
PROPS = settings(max_examples=60, deadline=None)


@pytest.fixture(scope="module")
def positive() -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.gamma(0.5, 1.0, size=(40, 25)) + 1e-4


@pytest.fixture(scope="module")
def sparse() -> np.ndarray:
    rng = np.random.default_rng(8)
    counts = rng.negative_binomial(1, 0.05, size=(40, 25)).astype(np.float64)
    counts[:, 0] += 1  # no empty samples
    return counts


# ---------------------------------------------------------------- golden values


def test_closure_matches_skbio(sparse):
    np.testing.assert_allclose(F.closure(sparse), skc.closure(sparse), rtol=0, atol=TOL)


@pytest.mark.parametrize("delta", [None, 1e-5])
def test_multiplicative_replacement_matches_skbio(sparse, delta):
    assert (sparse == 0).any()
    ours = F.multiplicative_replacement(sparse, delta)
    np.testing.assert_allclose(ours, skc.multi_replace(sparse, delta=delta), rtol=0, atol=TOL)


def test_clr_and_inverse_match_skbio(positive):
    np.testing.assert_allclose(F.clr(positive), skc.clr(positive), rtol=0, atol=TOL)
    coords = skc.clr(positive)
    np.testing.assert_allclose(F.clr_inv(coords), skc.clr_inv(coords), rtol=0, atol=TOL)


@pytest.mark.parametrize("ref", [0, 7, 24, -1])
def test_alr_and_inverse_match_skbio(positive, ref):
    ref_idx = ref % positive.shape[1]
    expected = skc.alr(positive, ref_idx)
    np.testing.assert_allclose(F.alr(positive, ref), expected, rtol=0, atol=TOL)
    np.testing.assert_allclose(
        F.alr_inv(expected, ref), skc.alr_inv(expected, ref_idx), rtol=0, atol=TOL
    )


def test_default_basis_matches_skbio():
    for n_parts in (2, 3, 10, 50):
        np.testing.assert_allclose(
            F.gram_schmidt_basis(n_parts), _gram_schmidt_basis(n_parts), rtol=0, atol=1e-15
        )


@pytest.mark.parametrize("explicit_basis", [False, True])
def test_ilr_and_inverse_match_skbio(positive, explicit_basis):
    basis = F.gram_schmidt_basis(positive.shape[1]) if explicit_basis else None
    expected = skc.ilr(positive)
    np.testing.assert_allclose(F.ilr(positive, basis), expected, rtol=0, atol=TOL)
    np.testing.assert_allclose(F.ilr_inv(expected, basis), skc.ilr_inv(expected), rtol=0, atol=TOL)


def test_skbio_docstring_values():
    x = np.array([[0.1, 0.3, 0.4, 0.2]])
    np.testing.assert_allclose(
        F.clr(x), [[-0.79451346, 0.30409883, 0.5917809, -0.10136628]], atol=1e-8
    )
    np.testing.assert_allclose(F.ilr(x), [[-0.7768362, -0.68339802, 0.11704769]], atol=1e-8)
    np.testing.assert_allclose(F.alr(x, 3), [[-0.69314718, 0.40546511, 0.69314718]], atol=1e-8)


# ---------------------------------------------------------------- edge cases


def test_closure_rejects_empty_row_and_names_it():
    with pytest.raises(TransformError, match=r"'S2' \(row 1\)"):
        F.closure(np.array([[1.0, 2.0], [0.0, 0.0]]), row_labels=["S1", "S2"])
    with pytest.raises(TransformError, match="row 1"):
        F.closure(np.array([[1.0, 2.0], [0.0, 0.0]]))


def test_multiplicative_replacement_rejects_too_large_delta():
    with pytest.raises(TransformError, match="smaller delta"):
        F.multiplicative_replacement(np.array([[1.0, 0.0, 0.0]]), delta=0.5)


def test_default_pseudocount_is_half_smallest_nonzero():
    props = np.array([[0.0, 0.2, 0.8], [0.05, 0.0, 0.95]])
    assert F.default_pseudocount(props) == pytest.approx(0.025)
    with pytest.raises(TransformError):
        F.default_pseudocount(np.zeros((2, 3)))


def test_kernels_do_not_modify_input(positive):
    before = positive.copy()
    for kernel in (F.closure, F.clr, F.clr_inv, F.ilr, F.ilr_inv, F.multiplicative_replacement):
        kernel(positive)
    F.alr(positive, 2)
    F.alr_inv(positive, 2)
    np.testing.assert_array_equal(positive, before)


def test_ilr_needs_two_parts():
    with pytest.raises(TransformError):
        F.ilr(np.ones((2, 1)))
    with pytest.raises(TransformError):
        F.gram_schmidt_basis(1)


def test_kernels_reject_non_2d():
    with pytest.raises(TransformError, match="2-D"):
        F.clr(np.ones(3))


# ---------------------------------------------------------------- properties


def _compositions(min_parts: int = 2) -> st.SearchStrategy[np.ndarray]:
    shapes = st.tuples(st.integers(1, 6), st.integers(min_parts, 12))
    return shapes.flatmap(
        lambda shape: arrays(
            np.float64, shape, elements=st.floats(1e-4, 1e4, allow_nan=False, width=64)
        )
    )


def _aitchison_distance(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pairwise-log-ratio form, independent of clr."""
    lx, ly = np.log(x), np.log(y)
    diff = (lx[:, :, None] - lx[:, None, :]) - (ly[:, :, None] - ly[:, None, :])
    return np.sqrt((diff**2).sum(axis=(1, 2)) / (2 * x.shape[1]))


@PROPS
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 6), st.integers(1, 12)),
        elements=st.floats(0, 1e6, allow_nan=False, width=64),
    )
)
def test_closure_rows_sum_to_one(mat):
    mat[:, 0] += 1.0
    out = F.closure(mat)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-12)
    assert (out >= 0).all()


@PROPS
@given(_compositions(1))
def test_clr_rows_sum_to_zero(mat):
    np.testing.assert_allclose(F.clr(mat).sum(axis=1), 0.0, atol=1e-9)


@PROPS
@given(_compositions(), st.floats(1e-3, 1e3))
def test_clr_scale_invariance(mat, scale):
    np.testing.assert_allclose(F.clr(scale * mat), F.clr(mat), rtol=0, atol=1e-9)


@PROPS
@given(_compositions(), _compositions())
def test_ilr_is_an_isometry(x, y):
    n_rows = min(len(x), len(y))
    n_parts = min(x.shape[1], y.shape[1])
    x, y = x[:n_rows, :n_parts], y[:n_rows, :n_parts]
    euclid = np.linalg.norm(F.ilr(x) - F.ilr(y), axis=1)
    np.testing.assert_allclose(euclid, _aitchison_distance(x, y), rtol=1e-8, atol=1e-8)


@PROPS
@given(_compositions(), st.data())
def test_alr_roundtrip(mat, data):
    ref = data.draw(st.integers(-mat.shape[1], mat.shape[1] - 1))
    np.testing.assert_allclose(F.alr_inv(F.alr(mat, ref), ref), F.closure(mat), atol=1e-10)


@PROPS
@given(_compositions())
def test_ilr_roundtrip_default_and_explicit_basis(mat):
    basis = F.gram_schmidt_basis(mat.shape[1])
    np.testing.assert_allclose(F.ilr_inv(F.ilr(mat)), F.closure(mat), atol=1e-10)
    np.testing.assert_allclose(F.ilr(mat, basis), F.ilr(mat), atol=1e-9)
    np.testing.assert_allclose(F.ilr_inv(F.ilr(mat), basis), F.closure(mat), atol=1e-10)


@PROPS
@given(st.integers(2, 60))
def test_default_basis_is_orthonormal_in_clr_space(n_parts):
    basis = F.gram_schmidt_basis(n_parts)
    np.testing.assert_allclose(basis @ basis.T, np.eye(n_parts - 1), atol=1e-12)
    np.testing.assert_allclose(basis.sum(axis=1), 0.0, atol=1e-12)


@PROPS
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 6), st.integers(2, 12)),
        elements=st.sampled_from([0.0, 0.5, 1.0, 3.0, 100.0]),
    )
)
def test_multiplicative_replacement_keeps_ratios(mat):
    mat[:, 0] += 1.0
    out = F.multiplicative_replacement(mat)
    props = F.closure(mat)
    assert (out > 0).all()
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-12)
    nonzero = props > 0
    ratio = np.where(nonzero, out / np.where(nonzero, props, 1.0), np.nan)
    # within a row, every non-zero part is shrunk by the same factor
    spread = np.nanmax(ratio, axis=1) - np.nanmin(ratio, axis=1)
    np.testing.assert_allclose(spread, 0.0, atol=1e-12)
