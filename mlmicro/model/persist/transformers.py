"""Codecs for mlmicro's transformers (:mod:`mlmicro.transforms`)."""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Integral
from types import MappingProxyType
from typing import Any

import numpy as np

from mlmicro.exceptions import ModelBundleError
from mlmicro.model.persist.simple import attribute_codec
from mlmicro.model.persist.state import Codec, State
from mlmicro.transforms import (
    ALR,
    CLR,
    ILR,
    Closure,
    LogTransform,
    PrevalenceFilter,
    RankCollapser,
    ZeroReplacement,
)

__all__ = ["TRANSFORMER_CODECS"]

_NAMES = ("feature_names_in_",)


def _fail(state: State, what: str) -> ModelBundleError:
    return ModelBundleError(f"The {state.kind} state is inconsistent: {what}.")


def _n_features(obj: Any, state: State, *, minimum: int = 1) -> int:
    n = obj.n_features_in_
    if not isinstance(n, Integral) or isinstance(n, bool) or n < minimum:
        raise _fail(state, f"n_features_in_ is {n!r}")
    names = getattr(obj, "feature_names_in_", None)
    if names is not None and (
        not isinstance(names, np.ndarray) or names.dtype != object or len(names) != n
    ):
        raise _fail(state, f"feature_names_in_ does not hold {n} names")
    return int(n)


def _strings(value: object, state: State, name: str, length: int | None = None) -> None:
    if not (
        isinstance(value, np.ndarray)
        and value.dtype == object
        and value.ndim == 1
        and all(isinstance(v, str) for v in value)
        and (length is None or len(value) == length)
    ):
        raise _fail(state, f"{name} is not a list of {length if length is not None else ''} names")


def _vector(value: object, state: State, name: str, length: int, kind: str = "f") -> None:
    if not (
        isinstance(value, np.ndarray) and value.dtype.kind == kind and value.shape == (length,)
    ):
        raise _fail(state, f"{name} is not a vector of {length} values of kind {kind!r}")


def _number(value: object, state: State, name: str, *, optional: bool = False) -> None:
    if optional and value is None:
        return
    if not isinstance(value, float | int) or isinstance(value, bool) or not np.isfinite(value):
        raise _fail(state, f"{name} is {value!r}, not a finite number")


def _check_rank(obj: RankCollapser, state: State) -> None:
    _n_features(obj, state)
    _strings(obj.feature_names_in_, state, "feature_names_in_", obj.n_features_in_)
    _strings(obj.taxa_, state, "taxa_")
    if not len(obj.taxa_):
        raise _fail(state, "taxa_ is empty")


def _check_plain(obj: Any, state: State) -> None:
    _n_features(obj, state)


def _check_filter(obj: PrevalenceFilter, state: State) -> None:
    n = _n_features(obj, state)
    _vector(obj.support_, state, "support_", n, kind="b")
    _vector(obj.prevalence_, state, "prevalence_", n)
    _vector(obj.mean_abundance_, state, "mean_abundance_", n)
    _strings(obj.kept_features_, state, "kept_features_", int(obj.support_.sum()))


def _check_zeros(obj: ZeroReplacement, state: State) -> None:
    _n_features(obj, state)
    _number(obj.delta_, state, "delta_", optional=True)
    _number(obj.pseudocount_, state, "pseudocount_", optional=True)
    if (obj.delta_ is None) == (obj.pseudocount_ is None):
        raise _fail(state, "exactly one of delta_ and pseudocount_ must be set")


def _check_log(obj: LogTransform, state: State) -> None:
    _n_features(obj, state)
    _number(obj.pseudocount_, state, "pseudocount_")


def _check_alr(obj: ALR, state: State) -> None:
    n = _n_features(obj, state, minimum=2)
    index = obj.reference_index_
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < n:
        raise _fail(state, f"reference_index_ {index!r} is not a column index below {n}")
    if not isinstance(obj.reference_, str):
        raise _fail(state, "reference_ is not a taxon name")


def _check_ilr(obj: ILR, state: State) -> None:
    n = _n_features(obj, state, minimum=2)
    basis = obj.basis_
    if not (
        isinstance(basis, np.ndarray) and basis.dtype.kind == "f" and basis.shape == (n - 1, n)
    ):
        raise _fail(state, f"basis_ is not a ({n - 1}, {n}) float array")
    if not isinstance(getattr(obj, "_default_basis", None), bool):
        raise _fail(state, "_default_basis is not a boolean")


def _codec(cls: type, check, *fitted: str, private: tuple[str, ...] = ()) -> Codec:
    return attribute_codec(
        cls,
        f"mlmicro.{cls.__name__}",
        required=("n_features_in_", *fitted),
        optional=_NAMES,
        private=private,
        strict=True,
        check=check,
    )


#: Codec of every transformer :func:`mlmicro.transforms.table.preprocessing_steps` makes.
TRANSFORMER_CODECS: Mapping[type, Codec] = MappingProxyType(
    {
        RankCollapser: attribute_codec(
            RankCollapser,
            "mlmicro.RankCollapser",
            required=("n_features_in_", "feature_names_in_", "taxa_"),
            strict=True,
            check=_check_rank,
        ),
        Closure: _codec(Closure, _check_plain),
        PrevalenceFilter: _codec(
            PrevalenceFilter,
            _check_filter,
            "prevalence_",
            "mean_abundance_",
            "support_",
            "kept_features_",
        ),
        ZeroReplacement: _codec(ZeroReplacement, _check_zeros, "delta_", "pseudocount_"),
        LogTransform: _codec(LogTransform, _check_log, "pseudocount_"),
        CLR: _codec(CLR, _check_plain),
        ALR: _codec(ALR, _check_alr, "reference_", "reference_index_"),
        ILR: _codec(ILR, _check_ilr, "basis_", private=("_default_basis",)),
    }
)
