"""Declared state: what a fitted component is, as JSON values and named arrays.

A :class:`State` is the whole description of one fitted component: a kind
(the registry name of its class), constructor parameters and fitted
attributes as JSON values, numeric arrays by name, opaque blobs in a library's
own data format (an XGBoost booster), and child states (pipeline steps).
Nothing in it is a Python object that needs pickle to be rebuilt.

:func:`encode_value` / :func:`decode_value` turn parameter and attribute
values into JSON values and back, losslessly for the types fitted
components hold; numeric arrays go to the state's ``arrays`` and are
referenced by name. Every other type is refused.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from mlmicro.exceptions import ModelBundleError

__all__ = [
    "State",
    "Codec",
    "encode_value",
    "decode_value",
    "fitted_attributes",
    "check_declared",
    "construct",
]

_ARRAY_KINDS = "biuf"
_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_TAGS = ("$float", "$scalar", "$tuple", "$dict", "$array", "$strings")


@dataclass
class State:
    """The declared state of one fitted component.

    Attributes
    ----------
    kind : str
        Registry name of the component's class (e.g. ``"mlmicro.RankCollapser"``).
    params : dict
        Constructor parameters, as JSON values (see :func:`encode_value`).
    attributes : dict
        Fitted attributes, as JSON values.
    arrays : dict of str to numpy.ndarray
        Boolean and numeric arrays referenced from ``params`` / ``attributes``
        as ``{"$array": name}``, or read by name by the component's codec.
    blobs : dict of str to bytes
        Data in a library's own format, named with its extension
        (``"booster.ubj"``).
    children : dict of str to State
        Sub-components in order (pipeline steps).
    """

    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    children: dict[str, State] = field(default_factory=dict)

    def array(self, name: str, *, kinds: str = _ARRAY_KINDS, ndim: int | None = None) -> np.ndarray:
        """Return the array ``name``, checking its dtype kind and dimensions.

        Raises
        ------
        ModelBundleError
            If the array is missing or has another dtype kind or shape.
        """
        if name not in self.arrays:
            raise ModelBundleError(f"The {self.kind} state lacks its {name!r} array.")
        value = self.arrays[name]
        if value.dtype.kind not in kinds or (ndim is not None and value.ndim != ndim):
            raise ModelBundleError(
                f"The {self.kind} state's {name!r} array has dtype {value.dtype} and "
                f"{value.ndim} dimension(s); expected kind {kinds!r}"
                + (f" and {ndim} dimension(s)." if ndim is not None else ".")
            )
        return value

    def value(self, name: str, default: Any = ...) -> Any:
        """Return the decoded attribute ``name`` (``default`` when absent, if given).

        Raises
        ------
        ModelBundleError
            If the attribute is missing and no default is given.
        """
        if name not in self.attributes:
            if default is not ...:
                return default
            raise ModelBundleError(f"The {self.kind} state lacks its {name!r} attribute.")
        return decode_value(self.attributes[name], self.arrays, where=f"{self.kind}.{name}")

    def decoded_params(self) -> dict[str, Any]:
        """Return the decoded constructor parameters."""
        return {
            k: decode_value(v, self.arrays, where=f"{self.kind} parameter {k}")
            for k, v in self.params.items()
        }


class Codec(NamedTuple):
    """How one class is turned into a :class:`State` and back.

    Attributes
    ----------
    kind : str
        The class's stable name in saved states.
    to_state : callable
        Fitted object -> :class:`State`.
    from_state : callable
        :class:`State` -> fitted object.
    """

    kind: str
    to_state: Callable[[Any], State]
    from_state: Callable[[State], Any]


def _refuse(value: object, where: str) -> ModelBundleError:
    return ModelBundleError(
        f"{where} holds a {type(value).__module__}.{type(value).__qualname__}, which a model "
        "bundle cannot store without pickle; use plain numbers, strings, lists or arrays."
    )


def encode_value(value: Any, arrays: dict[str, np.ndarray], *, where: str) -> Any:
    """Return ``value`` as a JSON value, moving numeric arrays into ``arrays``.

    ``None``, booleans, integers, strings and finite floats stay as they are;
    everything else becomes a one-key tagged object: ``{"$float": "nan"}``,
    ``{"$scalar": [dtype, value]}`` (numpy scalars), ``{"$tuple": [...]}``,
    ``{"$dict": {...}}`` (string keys only), ``{"$strings": [dtype, [...]]}``
    (1-D arrays of strings) and ``{"$array": name}`` (boolean or numeric arrays,
    stored in ``arrays`` under ``where``'s last part).

    Parameters
    ----------
    value : object
    arrays : dict
        Receives the arrays.
    where : str
        Dotted name of the value, used as array name and in error messages.

    Raises
    ------
    ModelBundleError
        For any other type (functions, objects, dicts with non-string keys, ...).
    """
    if isinstance(value, np.generic) and value.dtype.kind in _ARRAY_KINDS:
        return {"$scalar": [value.dtype.str, encode_value(value.item(), arrays, where=where)]}
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return {"$float": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    if isinstance(value, list):
        return [encode_value(v, arrays, where=f"{where}.{i}") for i, v in enumerate(value)]
    if isinstance(value, tuple):
        return {
            "$tuple": [encode_value(v, arrays, where=f"{where}.{i}") for i, v in enumerate(value)]
        }
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise ModelBundleError(
                f"{where} is a dict with non-string keys; a model bundle stores string keys only."
            )
        return {
            "$dict": {k: encode_value(v, arrays, where=f"{where}.{k}") for k, v in value.items()}
        }
    if isinstance(value, np.ndarray):
        if value.dtype.kind in _ARRAY_KINDS and value.dtype.fields is None:
            name = where.rsplit(".", 1)[-1] if "." in where else where
            if name in arrays:
                name = where
            if name in arrays:
                raise ModelBundleError(f"Two arrays of one component are both named {name!r}.")
            arrays[name] = value
            return {"$array": name}
        if value.ndim == 1 and value.dtype.kind in "OU" and all(isinstance(v, str) for v in value):
            return {"$strings": [value.dtype.str, [str(v) for v in value]]}
    raise _refuse(value, where)


def decode_value(value: Any, arrays: Mapping[str, np.ndarray], *, where: str) -> Any:
    """Rebuild a value written by :func:`encode_value`.

    Raises
    ------
    ModelBundleError
        If the value is not a JSON value of that form or names a missing array.
    """
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return [decode_value(v, arrays, where=where) for v in value]
    if isinstance(value, dict) and len(value) == 1:
        tag, body = next(iter(value.items()))
        if tag == "$float" and body in _NON_FINITE:
            return _NON_FINITE[body]
        if tag == "$scalar" and isinstance(body, list) and len(body) == 2:
            dtype = _dtype(body[0], where)
            if dtype.kind in _ARRAY_KINDS:
                return dtype.type(decode_value(body[1], arrays, where=where))
        if tag == "$tuple" and isinstance(body, list):
            return tuple(decode_value(v, arrays, where=where) for v in body)
        if tag == "$dict" and isinstance(body, dict):
            return {str(k): decode_value(v, arrays, where=where) for k, v in body.items()}
        if tag == "$array" and isinstance(body, str):
            if body not in arrays:
                raise ModelBundleError(f"{where} refers to array {body!r}, which is missing.")
            return arrays[body]
        if (
            tag == "$strings"
            and isinstance(body, list)
            and len(body) == 2
            and isinstance(body[1], list)
            and all(isinstance(v, str) for v in body[1])
        ):
            dtype = _dtype(body[0], where)
            if dtype.kind == "O":
                return np.array(body[1], dtype=object)
            if dtype.kind == "U":
                return np.array(body[1], dtype=dtype)
    raise ModelBundleError(f"{where} holds a value this mlmicro cannot read: {str(value)[:80]}.")


def _dtype(text: object, where: str) -> np.dtype:
    if not isinstance(text, str) or len(text) > 16:
        raise ModelBundleError(f"{where} names an invalid dtype {text!r}.")
    try:
        return np.dtype(text)
    except TypeError:
        raise ModelBundleError(f"{where} names an invalid dtype {text!r}.") from None


def fitted_attributes(obj: object) -> list[str]:
    """Return the public fitted attributes of ``obj`` (instance names ending in ``_``)."""
    return [n for n in vars(obj) if n.endswith("_") and not n.startswith("_")]


def check_declared(obj: object, declared: Iterable[str], *, ignored: Iterable[str] = ()) -> None:
    """Refuse ``obj`` if it has a public fitted attribute the format does not declare.

    A new fitted attribute would otherwise be silently lost on saving.

    Raises
    ------
    ModelBundleError
        Naming the first undeclared attribute.
    """
    known = set(declared) | set(ignored)
    extra = [n for n in fitted_attributes(obj) if n not in known]
    if extra:
        raise ModelBundleError(
            f"{type(obj).__name__} has fitted attribute {extra[0]!r}, which the model bundle "
            "format does not declare; it cannot be saved without losing it."
        )


def construct(cls: type, params: Mapping[str, Any], *, strict: bool) -> Any:
    """Return ``cls(**params)``.

    Parameters
    ----------
    cls : type
    params : mapping
        Decoded constructor parameters.
    strict : bool
        Refuse parameters ``cls`` does not take (mlmicro's own classes). When
        false, such parameters are dropped: a scikit-learn or XGBoost
        estimator's predictions depend on its fitted state only, and other
        library versions add and remove parameters.

    Raises
    ------
    ModelBundleError
        If a parameter is unknown (``strict``) or the constructor rejects one.
    """
    accepted = set(cls._get_param_names()) if hasattr(cls, "_get_param_names") else None
    if accepted is not None:
        unknown = sorted(set(params) - accepted)
        if unknown and strict:
            raise ModelBundleError(
                f"{cls.__name__} takes no parameter {unknown[0]!r}; the bundle was made by "
                "another mlmicro version. Retrain the model with this version."
            )
        params = {k: v for k, v in params.items() if k in accepted}
    try:
        return cls(**params)
    except (TypeError, ValueError) as exc:
        raise ModelBundleError(
            f"{cls.__name__} cannot be rebuilt from the bundle's parameters ({exc})."
        ) from None
