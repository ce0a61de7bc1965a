"""The registry of supported classes, and the pipeline codec that walks it.

:data:`REGISTRY` maps each class mlmicro puts in a model pipeline to its
:class:`~mlmicro.model.persist.state.Codec`: the ``(to_state, from_state)``
pair plus a stable kind name. :func:`to_state` and :func:`from_state`
dispatch on the exact class (a subclass may hold more state, so it is
refused too), and anything not in the registry is refused with a
:class:`~mlmicro.exceptions.ModelBundleError` naming its type; nothing is
ever pickled.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from sklearn.pipeline import Pipeline

from mlmicro.exceptions import ModelBundleError
from mlmicro.model.persist.boosting import BOOSTING_CODECS
from mlmicro.model.persist.forest import FOREST_CODECS
from mlmicro.model.persist.linear import LINEAR_CODECS
from mlmicro.model.persist.simple import OUTPUT_CONFIG
from mlmicro.model.persist.state import Codec, State, check_declared, construct, encode_value
from mlmicro.model.persist.transformers import TRANSFORMER_CODECS

__all__ = ["REGISTRY", "to_state", "from_state", "supported_kinds"]

_PIPELINE = "sklearn.Pipeline"


def _pipeline_to_state(pipeline: Pipeline) -> State:
    check_declared(pipeline, ())
    arrays: dict = {}
    params = {
        k: encode_value(v, arrays, where=f"params.{k}")
        for k, v in pipeline.get_params(deep=False).items()
        if k != "steps"
    }
    if params.get("memory") is not None:
        raise ModelBundleError("A Pipeline with a memory cache cannot be saved; set memory=None.")
    children: dict[str, State] = {}
    for name, step in pipeline.steps:
        if not isinstance(name, str) or name in children:
            raise ModelBundleError(f"Pipeline step name {name!r} is not a unique string.")
        children[name] = to_state(step)
    attributes = {}
    if OUTPUT_CONFIG in vars(pipeline):
        attributes[OUTPUT_CONFIG] = encode_value(
            vars(pipeline)[OUTPUT_CONFIG], arrays, where=OUTPUT_CONFIG
        )
    return State(
        kind=_PIPELINE, params=params, attributes=attributes, arrays=arrays, children=children
    )


def _pipeline_from_state(state: State) -> Pipeline:
    if not state.children:
        raise ModelBundleError("The saved pipeline has no steps.")
    unknown = sorted(set(state.attributes) - {OUTPUT_CONFIG})
    if unknown:
        raise ModelBundleError(
            f"The saved pipeline holds attribute {unknown[0]!r}, which this mlmicro does not know."
        )
    steps = [(name, from_state(child)) for name, child in state.children.items()]
    params = state.decoded_params()
    if params.get("memory") is not None:
        raise ModelBundleError("The saved pipeline names a memory cache; refusing it.")
    pipeline = construct(Pipeline, {**params, "steps": steps}, strict=False)
    if OUTPUT_CONFIG in state.attributes:
        setattr(pipeline, OUTPUT_CONFIG, state.value(OUTPUT_CONFIG))
    return pipeline


#: Every class a saved model may hold, with its codec.
REGISTRY: Mapping[type, Codec] = MappingProxyType(
    {
        Pipeline: Codec(_PIPELINE, _pipeline_to_state, _pipeline_from_state),
        **TRANSFORMER_CODECS,
        **LINEAR_CODECS,
        **FOREST_CODECS,
        **BOOSTING_CODECS,
    }
)
_BY_KIND: Mapping[str, Codec] = MappingProxyType({c.kind: c for c in REGISTRY.values()})


def supported_kinds() -> list[str]:
    """Return the kind names of every supported class."""
    return sorted(_BY_KIND)


def to_state(obj: Any) -> State:
    """Return the declared state of a fitted pipeline or pipeline component.

    Parameters
    ----------
    obj : object
        A fitted :class:`~sklearn.pipeline.Pipeline` made by
        :func:`mlmicro.model.pipeline.build_pipeline`, or one of its steps.

    Returns
    -------
    State

    Raises
    ------
    ModelBundleError
        If ``obj`` (or a step inside it) is of a class outside :data:`REGISTRY`,
        is not fitted, or holds state that cannot be stored as data.
    """
    codec = REGISTRY.get(type(obj))
    if codec is None:
        kind = f"{type(obj).__module__}.{type(obj).__qualname__}"
        raise ModelBundleError(
            f"A model bundle cannot store a {kind}; it stores only the pipeline steps mlmicro "
            f"builds ({', '.join(c.__name__ for c in REGISTRY)})."
        )
    return codec.to_state(obj)


def from_state(state: State) -> Any:
    """Rebuild the fitted object a :class:`State` describes.

    Raises
    ------
    ModelBundleError
        If the state's kind is unknown or the state is incomplete or inconsistent.
    """
    codec = _BY_KIND.get(state.kind)
    if codec is None:
        raise ModelBundleError(
            f"The bundle holds a component of kind {str(state.kind)[:80]!r}, which this mlmicro "
            "does not read; only data-only model states are loaded."
        )
    return codec.from_state(state)
