"""A :class:`State` as archive members: one JSON document, ``.npy`` arrays and blobs.

``pipeline/state.json`` holds the tree of states (kinds, parameters,
attributes, and the member name of every array and blob); each array is a
``pipeline/arrays/<path>.npy`` member and each blob a
``pipeline/blobs/<path>.<ext>`` member, where ``<path>`` is the dotted path of
step names from the root (``model``) to the component, then the array's name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from sklearn.pipeline import Pipeline

from mlmicro.exceptions import ModelBundleError
from mlmicro.model.archive import array_to_npy, npy_to_array
from mlmicro.model.persist.registry import from_state, to_state
from mlmicro.model.persist.state import State

__all__ = [
    "json_nesting",
    "STATE_FORMAT",
    "STATE_VERSION",
    "PREFIX",
    "encode_state",
    "decode_state",
    "dump_pipeline",
    "load_pipeline",
]

STATE_FORMAT = "mlmicro-state"
STATE_VERSION = 1
#: Folder of the pipeline's members in an archive.
PREFIX = "pipeline"
_ROOT = "model"
_STEP = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_LOCAL = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
_BLOB = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}\.(ubj|json)")
_NODE_KEYS = frozenset({"kind", "params", "attributes", "arrays", "blobs", "children"})
_MAX_DEPTH = 16
_MAX_NESTING = 64


def json_nesting(document: object) -> int:
    """Return how deeply lists and objects nest in a parsed JSON document."""
    deepest, stack = 0, [(document, 0)]
    while stack:
        value, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return deepest


def _versions() -> dict[str, str]:
    out = {}
    for name in ("mlmicro", "scikit-learn", "xgboost", "numpy"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:  # pragma: no cover - all are dependencies
            out[name] = "not installed"
    return out


def _encode_node(state: State, path: str, members: dict[str, bytes], prefix: str) -> dict[str, Any]:
    arrays: dict[str, str] = {}
    for local, array in state.arrays.items():
        if not _LOCAL.fullmatch(local):
            raise ModelBundleError(f"Array name {local!r} of {path} cannot be a member name.")
        member = f"{prefix}/arrays/{path}.{local}.npy"
        members[member] = array_to_npy(array, name=f"{path}.{local}")
        arrays[local] = member
    blobs: dict[str, str] = {}
    for local, blob in state.blobs.items():
        if not _BLOB.fullmatch(local):
            raise ModelBundleError(f"Blob name {local!r} of {path} cannot be a member name.")
        member = f"{prefix}/blobs/{path}.{local}"
        members[member] = bytes(blob)
        blobs[local] = member
    children = []
    for name, child in state.children.items():
        if not _STEP.fullmatch(name):
            raise ModelBundleError(
                f"Pipeline step name {name!r} cannot be saved; use letters, digits, '_' and '-'."
            )
        children.append([name, _encode_node(child, f"{path}.{name}", members, prefix)])
    return {
        "kind": state.kind,
        "params": state.params,
        "attributes": state.attributes,
        "arrays": arrays,
        "blobs": blobs,
        "children": children,
    }


def encode_state(state: State, *, prefix: str = PREFIX) -> dict[str, bytes]:
    """Return ``state`` as archive members.

    Parameters
    ----------
    state : State
    prefix : str
        Folder of the members.

    Returns
    -------
    dict of str to bytes
        ``<prefix>/state.json`` plus one member per array and blob.
    """
    members: dict[str, bytes] = {}
    root = _encode_node(state, _ROOT, members, prefix)
    document = {
        "format": STATE_FORMAT,
        "format_version": STATE_VERSION,
        "versions": _versions(),
        "root": root,
    }
    try:
        text = json.dumps(document, indent=1, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise ModelBundleError(f"The model state is not plain JSON ({exc}).") from None
    return {f"{prefix}/state.json": (text + "\n").encode("utf-8"), **members}


class _Decoder:
    def __init__(self, members: Mapping[str, bytes], prefix: str, source: str) -> None:
        self.members = members
        self.prefix = prefix
        self.source = source
        self.used: set[str] = set()

    def fail(self, what: str) -> ModelBundleError:
        return ModelBundleError(f"{self.source}: {self.prefix}/state.json {what}.")

    def member(self, name: object, folder: str) -> bytes:
        if not isinstance(name, str) or not name.startswith(f"{self.prefix}/{folder}/"):
            raise self.fail(f"names {str(name)[:80]!r} outside {self.prefix}/{folder}/")
        if name not in self.members:
            raise self.fail(f"refers to member {name!r}, which the bundle lacks")
        if name in self.used:
            raise self.fail(f"refers to member {name!r} twice")
        self.used.add(name)
        return self.members[name]

    def node(self, node: object, depth: int) -> State:
        if depth > _MAX_DEPTH:
            raise self.fail("nests components too deeply")
        if not isinstance(node, dict) or not set(node) <= _NODE_KEYS or "kind" not in node:
            raise self.fail("has a component that is not a state object")
        kind = node["kind"]
        params = node.get("params", {})
        attributes = node.get("attributes", {})
        arrays = node.get("arrays", {})
        blobs = node.get("blobs", {})
        children = node.get("children", [])
        if not (
            isinstance(kind, str)
            and all(isinstance(x, dict) for x in (params, attributes, arrays, blobs))
            and isinstance(children, list)
        ):
            raise self.fail("has a component with fields of the wrong type")
        loaded = {
            local: npy_to_array(self.member(name, "arrays"), name=f"{self.source}: member {name!r}")
            for local, name in arrays.items()
        }
        raw = {local: self.member(name, "blobs") for local, name in blobs.items()}
        kids: dict[str, State] = {}
        for entry in children:
            if (
                not isinstance(entry, list)
                or len(entry) != 2
                or not isinstance(entry[0], str)
                or entry[0] in kids
            ):
                raise self.fail("has a malformed or duplicate child entry")
            kids[entry[0]] = self.node(entry[1], depth + 1)
        return State(
            kind=kind, params=params, attributes=attributes, arrays=loaded, blobs=raw, children=kids
        )


def decode_state(
    members: Mapping[str, bytes], *, prefix: str = PREFIX, source: str = "the bundle"
) -> State:
    """Rebuild the :class:`State` that :func:`encode_state` wrote.

    Members outside ``prefix`` are ignored; every member inside it must be
    ``state.json`` or referenced from it exactly once.

    Raises
    ------
    ModelBundleError
        If ``state.json`` is missing or malformed, an array is not a plain
        numeric ``.npy`` array, or a member is missing or unreferenced.
    """
    name = f"{prefix}/state.json"
    decoder = _Decoder(members, prefix, source)
    if name not in members:
        raise ModelBundleError(f"{source} has no {name}; it holds no model pipeline.")
    try:
        document = json.loads(members[name])
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise decoder.fail("is not valid JSON") from None
    if json_nesting(document) > _MAX_NESTING:
        raise decoder.fail("nests values too deeply")
    if not isinstance(document, dict) or document.get("format") != STATE_FORMAT:
        raise decoder.fail("is not an mlmicro model state")
    if document.get("format_version") != STATE_VERSION:
        raise decoder.fail(
            f"uses state format {document.get('format_version')!r}, this mlmicro reads "
            f"{STATE_VERSION}; retrain the model with this version"
        )
    state = decoder.node(document.get("root"), 0)
    inside = {m for m in members if m.startswith(f"{prefix}/") and m != name}
    unused = sorted(inside - decoder.used)
    if unused:
        raise decoder.fail(f"does not refer to member {unused[0]!r}; refusing the bundle")
    return state


def dump_pipeline(pipeline: Pipeline, *, prefix: str = PREFIX) -> dict[str, bytes]:
    """Return a fitted mlmicro pipeline as archive members, without pickle.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        As made by :func:`mlmicro.model.pipeline.build_pipeline` and fitted.
    prefix : str
        Folder of the members.

    Returns
    -------
    dict of str to bytes

    Raises
    ------
    ModelBundleError
        If a step is of an unsupported class or holds state that is not data.
    """
    if not isinstance(pipeline, Pipeline):
        raise ModelBundleError(
            f"Expected a fitted sklearn Pipeline, got {type(pipeline).__name__}."
        )
    return encode_state(to_state(pipeline), prefix=prefix)


def load_pipeline(
    members: Mapping[str, bytes], *, prefix: str = PREFIX, source: str = "the bundle"
) -> Pipeline:
    """Rebuild the pipeline :func:`dump_pipeline` saved.

    Parameters
    ----------
    members : mapping of str to bytes
        Archive members (e.g. from :func:`mlmicro.model.archive.read_archive`).
    prefix : str
        Folder of the pipeline's members.
    source : str
        Names the bundle in error messages.

    Returns
    -------
    sklearn.pipeline.Pipeline

    Raises
    ------
    ModelBundleError
        If the members do not describe a pipeline of supported, consistent steps.
    """
    try:
        pipeline = from_state(decode_state(members, prefix=prefix, source=source))
    except ModelBundleError as exc:
        message = str(exc)
        if not message.startswith(source):
            message = f"{source}: {message}"
        raise ModelBundleError(message) from None
    if not isinstance(pipeline, Pipeline):
        raise ModelBundleError(f"{source}: the saved model is not a pipeline.")
    return pipeline
