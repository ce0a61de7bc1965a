"""Codec for :class:`~sklearn.ensemble.RandomForestClassifier`, tree by tree.

Every tree's node arrays (``children_left``, ``children_right``, ``feature``,
``threshold``, ``impurity``, ``n_node_samples``, ``weighted_n_node_samples``
and, in scikit-learn versions that have it, ``missing_go_to_left``) are
concatenated over the trees into one array each, with ``node_count`` giving
each tree's share, plus ``values`` (per-node class weights). Trees are
rebuilt through scikit-learn's ``Tree`` constructor and ``__setstate__``,
with the node fields mapped by name onto the installed scikit-learn's node
layout.

The node arrays are checked before a tree is rebuilt: scikit-learn's tree
traversal does not check indices, so a child index out of range or a cycle
in a crafted bundle would read outside the arrays or never stop.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.tree import DecisionTreeClassifier
from sklearn.tree._tree import NODE_DTYPE, Tree

from mlmicro.exceptions import ModelBundleError
from mlmicro.model.persist.simple import OUTPUT_CONFIG
from mlmicro.model.persist.state import (
    Codec,
    State,
    check_declared,
    construct,
    decode_value,
    encode_value,
)

__all__ = ["FOREST_CODECS", "NODE_FIELDS"]

KIND = "sklearn.RandomForestClassifier"
#: Stored name of each node field, by its name in scikit-learn's node layout.
NODE_FIELDS: Mapping[str, str] = MappingProxyType(
    {
        "left_child": "children_left",
        "right_child": "children_right",
        "feature": "feature",
        "threshold": "threshold",
        "impurity": "impurity",
        "n_node_samples": "n_node_samples",
        "weighted_n_node_samples": "weighted_n_node_samples",
        "missing_go_to_left": "missing_go_to_left",
    }
)
#: Node fields a bundle may lack or the installed scikit-learn may not have:
#: missing-value routing, which mlmicro never needs (its inputs have no NaN).
_OPTIONAL_FIELDS = frozenset({"missing_go_to_left"})
_LEAF = -1
_UNDEFINED = -2
_FOREST_PUBLIC = (
    "n_features_in_",
    "n_outputs_",
    "classes_",
    "n_classes_",
    "feature_names_in_",
    "oob_score_",
    "oob_decision_function_",
)
_FOREST_PRIVATE = ("_n_samples", "_n_samples_bootstrap", "_sample_weight", OUTPUT_CONFIG)
_TREE_ATTRIBUTES = ("n_features_in_", "n_outputs_", "classes_", "n_classes_", "max_features_")


def _fail(what: str) -> ModelBundleError:
    return ModelBundleError(f"The {KIND} state is inconsistent: {what}.")


def _tree_summary(tree: DecisionTreeClassifier) -> tuple[str, str]:
    """Return the tree's parameters and per-tree attributes as canonical JSON."""
    params = tree.get_params(deep=False)
    params.pop("random_state")
    scratch: dict = {}
    attrs = {n: encode_value(getattr(tree, n), scratch, where=n) for n in _TREE_ATTRIBUTES}
    if scratch:
        attrs["arrays"] = {k: [v.dtype.str, v.tolist()] for k, v in scratch.items()}
    return (
        json.dumps(encode_value(params, {}, where="tree"), sort_keys=True),
        json.dumps(attrs, sort_keys=True),
    )


def forest_to_state(forest: RandomForestClassifier) -> State:
    """Return the state of a fitted random forest.

    Raises
    ------
    ModelBundleError
        If the forest is not fitted, has several outputs, or its trees differ
        in parameters other than their seeds.
    """
    if not hasattr(forest, "estimators_"):
        raise ModelBundleError("RandomForestClassifier is not fitted; fit it before saving it.")
    check_declared(forest, (*_FOREST_PUBLIC, "estimators_", "estimator_"))
    if forest.n_outputs_ != 1:
        raise ModelBundleError(
            f"RandomForestClassifier has {forest.n_outputs_} outputs; mlmicro saves "
            "single-output forests only."
        )
    arrays: dict[str, np.ndarray] = {}
    params = {
        k: encode_value(v, arrays, where=f"params.{k}")
        for k, v in forest.get_params(deep=False).items()
    }
    attributes = {
        n: encode_value(getattr(forest, n), arrays, where=n)
        for n in (*_FOREST_PUBLIC, *_FOREST_PRIVATE)
        if n in vars(forest)
    }
    trees = list(forest.estimators_)
    if not trees:
        raise ModelBundleError("RandomForestClassifier has no trees; fit it before saving it.")
    first = None
    seeds, counts, depths, nodes, values = [], [], [], [], []
    for tree in trees:
        if type(tree) is not DecisionTreeClassifier:
            raise ModelBundleError(
                f"A tree of the forest is a {type(tree).__name__}; only DecisionTreeClassifier "
                "trees are saved."
            )
        check_declared(tree, (*_TREE_ATTRIBUTES, "feature_names_in_", "tree_"))
        summary = _tree_summary(tree)
        if first is None:
            first = summary
            attributes["tree_params"] = json.loads(summary[0])
            attributes["tree_attributes"] = {
                n: encode_value(getattr(tree, n), arrays, where=f"tree.{n}")
                for n in _TREE_ATTRIBUTES
            }
        elif summary != first:
            raise ModelBundleError(
                "The trees of the RandomForestClassifier differ in parameters or classes; "
                "only forests fitted by scikit-learn are saved."
            )
        seed = tree.random_state
        if not isinstance(seed, int | np.integer) or isinstance(seed, bool):
            raise ModelBundleError(
                f"A tree of the forest has random_state {seed!r}; only integer seeds are saved."
            )
        state = tree.tree_.__getstate__()
        seeds.append(int(seed))
        counts.append(int(state["node_count"]))
        depths.append(int(state["max_depth"]))
        nodes.append(state["nodes"])
        values.append(state["values"])
    node_array = np.concatenate(nodes)
    for field in node_array.dtype.names:
        if field not in NODE_FIELDS:
            raise ModelBundleError(
                f"This scikit-learn's trees have node field {field!r}, which the model bundle "
                "format does not declare; install a scikit-learn release mlmicro supports."
            )
        arrays[f"nodes.{NODE_FIELDS[field]}"] = np.ascontiguousarray(node_array[field])
    arrays["values"] = np.ascontiguousarray(np.concatenate(values))
    arrays["node_count"] = np.asarray(counts, dtype=np.int64)
    arrays["max_depth"] = np.asarray(depths, dtype=np.int64)
    arrays["random_state"] = np.asarray(seeds, dtype=np.int64)
    return State(kind=KIND, params=params, attributes=attributes, arrays=arrays)


def _int_vector(state: State, name: str, n: int | None = None) -> np.ndarray:
    value = state.array(name, kinds="iu", ndim=1)
    if n is not None and len(value) != n:
        raise _fail(f"{name} has {len(value)} entries, expected {n}")
    return value.astype(np.int64)


def _check_nodes(fields: dict[str, np.ndarray], counts: np.ndarray, n_features: int) -> None:
    """Refuse node arrays that are not a forest of finite trees over ``n_features`` features."""
    total = int(counts.sum())
    offsets = np.repeat(np.cumsum(counts) - counts, counts)
    local = np.arange(total, dtype=np.int64) - offsets
    size = np.repeat(counts, counts)
    left = fields["left_child"].astype(np.int64)
    right = fields["right_child"].astype(np.int64)
    feature = fields["feature"].astype(np.int64)
    leaf = left == _LEAF
    internal = ~leaf
    if np.any(leaf & (right != _LEAF)):
        raise _fail("a leaf has a right child")
    for child in (left, right):
        if np.any(internal & ((child <= local) | (child >= size))):
            raise _fail("a child index points outside its tree or back to an earlier node")
    if np.any(internal & (left == right)):
        raise _fail("a node has the same left and right child")
    if np.any(internal & ((feature < 0) | (feature >= n_features))):
        raise _fail(f"a split uses a feature outside 0..{n_features - 1}")
    if np.any(leaf & (feature != _UNDEFINED)):
        raise _fail("a leaf names a split feature")
    for name in ("threshold", "impurity", "weighted_n_node_samples"):
        if name in fields and not np.isfinite(fields[name]).all():
            raise _fail(f"{NODE_FIELDS[name]} has NaN or infinite values")
    if np.any(fields["n_node_samples"] < 0):
        raise _fail("n_node_samples has negative values")
    if "missing_go_to_left" in fields and not np.isin(fields["missing_go_to_left"], (0, 1)).all():
        raise _fail("missing_go_to_left is not 0 or 1")


def _node_fields(state: State, total: int) -> dict[str, np.ndarray]:
    stored = {name[len("nodes.") :] for name in state.arrays if name.startswith("nodes.")}
    unknown = stored - set(NODE_FIELDS.values())
    if unknown:
        raise _fail(f"unknown node field {sorted(unknown)[0]!r}")
    installed = NODE_DTYPE.names
    fields: dict[str, np.ndarray] = {}
    for field in installed:
        stored_name = NODE_FIELDS.get(field)
        if stored_name is None or stored_name not in stored:
            if field in _OPTIONAL_FIELDS:
                fields[field] = np.zeros(total, dtype=NODE_DTYPE[field])
                continue
            raise ModelBundleError(
                f"The installed scikit-learn's trees need node field {field!r}, which the "
                "bundle lacks; retrain the model with this version."
            )
        value = state.array(f"nodes.{stored_name}", ndim=1)
        if len(value) != total:
            raise _fail(f"{stored_name} has {len(value)} entries, expected {total}")
        if NODE_DTYPE[field].kind in "iu" and value.dtype.kind not in "biu":
            raise _fail(f"{stored_name} is not an integer array")
        fields[field] = value.astype(NODE_DTYPE[field])
    for stored_name in stored - {NODE_FIELDS[f] for f in installed if f in NODE_FIELDS}:
        if stored_name not in _OPTIONAL_FIELDS:  # pragma: no cover - every field is installed
            raise _fail(f"node field {stored_name!r} is unknown to the installed scikit-learn")
    return fields


def forest_from_state(state: State) -> RandomForestClassifier:
    """Rebuild a random forest from its state.

    Raises
    ------
    ModelBundleError
        If the state is incomplete or its trees are malformed.
    """
    known = {*_FOREST_PUBLIC, *_FOREST_PRIVATE, "tree_params", "tree_attributes"}
    unknown = sorted(set(state.attributes) - known)
    if unknown:
        raise _fail(f"unknown attribute {unknown[0]!r}")
    forest = construct(RandomForestClassifier, state.decoded_params(), strict=False)
    for name in (*_FOREST_PUBLIC, *_FOREST_PRIVATE):
        if name in state.attributes:
            setattr(forest, name, state.value(name))
    n_features = forest.n_features_in_
    n_classes = forest.n_classes_
    if not isinstance(n_features, int) or n_features < 1:
        raise _fail(f"n_features_in_ is {n_features!r}")
    if not isinstance(n_classes, int) or n_classes < 1 or forest.n_outputs_ != 1:
        raise _fail("only single-output forests with at least one class are read")
    tree_params = decode_value(state.attributes.get("tree_params"), {}, where="tree_params")
    tree_attrs = state.attributes.get("tree_attributes")
    if not isinstance(tree_params, dict) or not isinstance(tree_attrs, dict):
        raise _fail("tree_params or tree_attributes is missing")
    tree_attrs = {
        n: decode_value(v, state.arrays, where=f"tree_attributes.{n}")
        for n, v in tree_attrs.items()
        if n in _TREE_ATTRIBUTES
    }
    if set(tree_attrs) != set(_TREE_ATTRIBUTES):
        raise _fail("tree_attributes does not list every per-tree attribute")
    counts = _int_vector(state, "node_count")
    n_trees = len(counts)
    if n_trees < 1 or np.any(counts < 1):
        raise _fail("a forest needs at least one tree, and every tree at least one node")
    depths = _int_vector(state, "max_depth", n_trees)
    seeds = _int_vector(state, "random_state", n_trees)
    if np.any(depths < 0):
        raise _fail("max_depth has negative values")
    total = int(counts.sum())
    fields = _node_fields(state, total)
    _check_nodes(fields, counts, n_features)
    values = state.array("values", kinds="f", ndim=3)
    if values.shape != (total, 1, n_classes) or not np.isfinite(values).all():
        raise _fail(f"values is not a finite ({total}, 1, {n_classes}) array")
    nodes = np.empty(total, dtype=NODE_DTYPE)
    for field, column in fields.items():
        nodes[field] = column
    values = np.ascontiguousarray(values, dtype=np.float64)
    forest.estimator_ = forest.estimator
    trees = []
    stops = np.cumsum(counts)
    for i, (start, stop) in enumerate(zip(stops - counts, stops, strict=True)):
        tree = construct(
            DecisionTreeClassifier, {**tree_params, "random_state": int(seeds[i])}, strict=False
        )
        for name, value in tree_attrs.items():
            setattr(
                tree, name, value.copy() if isinstance(value, np.ndarray | np.generic) else value
            )
        structure = Tree(n_features, np.asarray([n_classes], dtype=np.intp), 1)
        structure.__setstate__(
            {
                "max_depth": int(depths[i]),
                "node_count": int(counts[i]),
                "nodes": nodes[start:stop].copy(),
                "values": values[start:stop].copy(),
            }
        )
        tree.tree_ = structure
        trees.append(tree)
    forest.estimators_ = trees
    return forest


#: Codec of the ``"random-forest"`` classifier.
FOREST_CODECS: Mapping[type, Codec] = MappingProxyType(
    {RandomForestClassifier: Codec(KIND, forest_to_state, forest_from_state)}
)
