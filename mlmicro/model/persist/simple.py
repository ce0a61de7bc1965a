"""Codecs for estimators whose fitted state is a few declared attributes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from mlmicro.exceptions import ModelBundleError
from mlmicro.model.persist.state import (
    Codec,
    State,
    check_declared,
    construct,
    encode_value,
)

__all__ = ["attribute_codec", "OUTPUT_CONFIG"]

#: Set by ``set_output``; kept so a rebuilt step returns the same output type.
OUTPUT_CONFIG = "_sklearn_output_config"


def attribute_codec(
    cls: type,
    kind: str,
    *,
    required: Sequence[str],
    optional: Sequence[str] = (),
    private: Sequence[str] = (),
    strict: bool,
    check: Callable[[Any, State], None] | None = None,
) -> Codec:
    """Return a :class:`Codec` for ``cls`` from the list of its fitted attributes.

    Parameters
    ----------
    cls : type
        The class; subclasses are not accepted by the codec.
    kind : str
        Stable name in saved states.
    required : sequence of str
        Fitted attributes every fitted instance has.
    optional : sequence of str
        Public fitted attributes only some instances have
        (``feature_names_in_``).
    private : sequence of str
        Private attributes kept when present.
    strict : bool
        For mlmicro's own classes: refuse any instance attribute that is
        neither a parameter nor declared (a private one too), and any unknown
        parameter when loading. Otherwise only undeclared public fitted
        attributes are refused.
    check : callable, optional
        ``check(obj, state)`` validates the rebuilt object (shapes, ranges) and
        raises :class:`ModelBundleError`.

    Returns
    -------
    Codec
    """
    private = (*private, OUTPUT_CONFIG)
    declared = (*required, *optional, *private)

    def to_state(obj: Any) -> State:
        missing = [n for n in required if not hasattr(obj, n)]
        if missing:
            raise ModelBundleError(
                f"{cls.__name__} is not fitted (no {missing[0]!r}); fit the pipeline before "
                "saving it."
            )
        check_declared(obj, declared)
        if strict:
            params = set(obj.get_params(deep=False))
            extra = [n for n in vars(obj) if n not in params and n not in declared]
            if extra:
                raise ModelBundleError(
                    f"{cls.__name__} holds attribute {extra[0]!r}, which the model bundle format "
                    "does not declare; it cannot be saved without losing it."
                )
        arrays: dict = {}
        params = {
            k: encode_value(v, arrays, where=f"params.{k}")
            for k, v in obj.get_params(deep=False).items()
        }
        attributes = {
            name: encode_value(getattr(obj, name), arrays, where=name)
            for name in declared
            if name in vars(obj)
        }
        return State(kind=kind, params=params, attributes=attributes, arrays=arrays)

    def from_state(state: State) -> Any:
        unknown = sorted(set(state.attributes) - set(declared))
        if unknown:
            raise ModelBundleError(
                f"The {kind} state holds attribute {unknown[0]!r}, which this mlmicro does not "
                "know; it was saved by another version. Retrain the model with this version."
            )
        obj = construct(cls, state.decoded_params(), strict=strict)
        for name in required:
            setattr(obj, name, state.value(name))
        for name in (*optional, *private):
            if name in state.attributes:
                setattr(obj, name, state.value(name))
        if check is not None:
            check(obj, state)
        return obj

    return Codec(kind=kind, to_state=to_state, from_state=from_state)
