"""Fitted pipelines as declared state: JSON values, numeric arrays, XGBoost's own format.

Nothing here pickles or unpickles. :func:`to_state` turns a fitted
component (a :class:`~sklearn.pipeline.Pipeline` made by
:func:`mlmicro.model.pipeline.build_pipeline`, or one of its steps) into a
:class:`State`; :func:`from_state` rebuilds it. :data:`REGISTRY` lists the
supported classes; any other is refused. :func:`dump_pipeline` /
:func:`load_pipeline` go straight between a pipeline and archive members
(:mod:`mlmicro.model.archive`).
"""

from mlmicro.model.persist.members import (
    PREFIX,
    STATE_FORMAT,
    STATE_VERSION,
    decode_state,
    dump_pipeline,
    encode_state,
    load_pipeline,
)
from mlmicro.model.persist.registry import REGISTRY, from_state, supported_kinds, to_state
from mlmicro.model.persist.state import Codec, State

__all__ = [
    "Codec",
    "PREFIX",
    "REGISTRY",
    "STATE_FORMAT",
    "STATE_VERSION",
    "State",
    "decode_state",
    "dump_pipeline",
    "encode_state",
    "from_state",
    "load_pipeline",
    "supported_kinds",
    "to_state",
]
