"""Checking an XGBoost model document before XGBoost parses it.

XGBoost's own model loaders trust their input: a truncated UBJSON booster
crashes the process (xgboost 3.2), and its tree traversal follows child and
feature indices without bounds checks. A bundle therefore stores the booster
as XGBoost's JSON document, and :func:`check_booster_json` parses it with
Python's JSON parser (strictly: no NaN, no duplicate keys) and checks every
tree before the same bytes are handed to XGBoost:

* a gradient-boosted tree model (``gbtree``) with a classification
  objective, numerical splits only, one value per leaf;
* in each tree, per-node arrays of the declared length, children that come
  after their parent and are each used once, so that every walk from the root
  ends at a leaf; split features below the model's feature count; finite
  split values and leaf weights.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlmicro.exceptions import ModelBundleError

__all__ = ["BoosterSummary", "check_booster_json"]

_NODE_ARRAYS = (
    "base_weights",
    "default_left",
    "left_children",
    "right_children",
    "parents",
    "loss_changes",
    "split_conditions",
    "split_indices",
    "split_type",
    "sum_hessian",
)
_EMPTY_ARRAYS = ("categories", "categories_nodes", "categories_segments", "categories_sizes")
_TREE_PARAMS = frozenset({"num_deleted", "num_feature", "num_nodes", "size_leaf_vector"})
_TREE_KEYS = frozenset({*_NODE_ARRAYS, *_EMPTY_ARRAYS, "id", "tree_param"})
_FINITE = ("base_weights", "loss_changes", "split_conditions", "sum_hessian")
_NO_PARENT = 2147483647
_MAX_DEPTH = 12
_FEATURE_TYPES = frozenset({"float", "int", "i", "q"})


@dataclass(frozen=True)
class BoosterSummary:
    """What the checked document declares.

    Attributes
    ----------
    objective : str
    n_classes : int
        At least 2 (XGBoost records 0 for binary models).
    n_features : int
    n_trees : int
    """

    objective: str
    n_classes: int
    n_features: int
    n_trees: int


def _fail(what: str) -> ModelBundleError:
    return ModelBundleError(f"The XGBoost booster in the bundle is malformed: {what}.")


def _refuse_constant(token: str) -> None:
    raise _fail(f"it holds the non-JSON number {token}")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _fail(f"key {key!r} appears twice in one object")
        out[key] = value
    return out


def _walk(value: Any, depth: int) -> None:
    """Refuse deep nesting, non-finite numbers (``1e999``) and integers beyond 64 bits."""
    if depth > _MAX_DEPTH:
        raise _fail("it nests too deeply")
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for item in items:
        if type(item) is float:
            if not math.isfinite(item):
                raise _fail("it holds an infinite number")
        elif type(item) is int:
            if not -(2**63) <= item < 2**63:
                raise _fail("it holds an integer beyond 64 bits")
        elif isinstance(item, dict | list):
            _walk(item, depth + 1)


def _get(mapping: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(mapping, dict) or key not in mapping:
        raise _fail(f"{where} lacks {key!r}")
    value = mapping[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise _fail(f"{where}.{key} has the wrong type")
    return value


def _int_text(mapping: Any, key: str, where: str, minimum: int = 0) -> int:
    text = _get(mapping, key, str, where)
    if not text.isdigit() or len(text) > 12 or int(text) < minimum:
        raise _fail(f"{where}.{key} is {text[:20]!r}, not a whole number >= {minimum}")
    return int(text)


def _numbers(tree: dict[str, Any], key: str, n: int, where: str, integer: bool) -> np.ndarray:
    value = tree[key]
    array = np.asarray(value) if isinstance(value, list) else np.empty(0)
    if array.shape != (n,):
        raise _fail(f"{where}.{key} does not hold {n} entries")
    if array.dtype.kind not in ("i" if integer else "if"):
        raise _fail(
            f"{where}.{key} holds a value that is not a {'whole ' if integer else ''}number"
        )
    return array.astype(np.int64 if integer else np.float64, copy=False)


_INTEGER_ARRAYS = frozenset(
    {"default_left", "left_children", "right_children", "parents", "split_indices", "split_type"}
)


def _tree_arrays(tree: Any, index: int, n_features: int) -> dict[str, np.ndarray]:
    """Check one tree's fields and return its node arrays."""
    where = f"tree {index}"
    if not isinstance(tree, dict) or set(tree) != _TREE_KEYS:
        raise _fail(f"{where} does not have exactly the fields of a tree")
    if tree["id"] != index:
        raise _fail(f"{where} has id {tree['id']!r}")
    param = tree["tree_param"]
    if not isinstance(param, dict) or set(param) != _TREE_PARAMS:
        raise _fail(f"{where} does not have exactly the tree parameters")
    n = _int_text(param, "num_nodes", where, minimum=1)
    if _int_text(param, "num_feature", where) != n_features:
        raise _fail(f"{where} declares another number of features than the model")
    if _int_text(param, "num_deleted", where) != 0:
        raise _fail(f"{where} holds deleted nodes")
    if _int_text(param, "size_leaf_vector", where) > 1:
        raise _fail(f"{where} has vector leaves; only one value per leaf is read")
    for key in _EMPTY_ARRAYS:
        if tree[key] != []:
            raise _fail(f"{where} has categorical splits, which mlmicro models never use")
    return {k: _numbers(tree, k, n, where, k in _INTEGER_ARRAYS) for k in _NODE_ARRAYS}


def _check_nodes(per_tree: list[dict[str, np.ndarray]], n_features: int) -> None:
    """Check the node arrays of all trees at once (indices are local to each tree)."""
    counts = np.array([len(t["left_children"]) for t in per_tree], dtype=np.int64)
    nodes = {k: np.concatenate([t[k] for t in per_tree]) for k in _NODE_ARRAYS}
    starts = np.cumsum(counts) - counts
    offset = np.repeat(starts, counts)
    local = np.arange(int(counts.sum())) - offset
    size = np.repeat(counts, counts)

    def first_tree(bad: np.ndarray) -> str:
        return f"tree {int(np.searchsorted(starts, np.flatnonzero(bad)[0], side='right')) - 1}"

    for key in _FINITE:
        bad = ~np.isfinite(nodes[key])
        if bad.any():
            raise _fail(f"{first_tree(bad)}.{key} holds NaN or infinite values")
    left, right = nodes["left_children"], nodes["right_children"]
    leaf = left == -1
    internal = ~leaf
    bad = leaf & (right != -1)
    if bad.any():
        raise _fail(f"{first_tree(bad)} has a leaf with a right child")
    for child in (left, right):
        bad = internal & ((child <= local) | (child >= size))
        if bad.any():
            raise _fail(
                f"{first_tree(bad)} has a child index outside the tree or before its parent"
            )
    # n - 1 distinct children per tree: every node but the root has exactly one parent
    children = np.concatenate([(left + offset)[internal], (right + offset)[internal]])
    per_tree_children = (
        np.bincount(np.repeat(np.arange(len(counts)), counts)[internal], minlength=len(counts)) * 2
    )
    if len(np.unique(children)) != len(children) or np.any(per_tree_children != counts - 1):
        raise _fail("a tree is not a binary tree (a node has two parents or none)")
    parents = nodes["parents"]
    if (
        np.any(parents[starts] != _NO_PARENT)
        or np.any(parents[(left + offset)[internal]] != local[internal])
        or np.any(parents[(right + offset)[internal]] != local[internal])
    ):
        raise _fail("a tree has parent links that do not match its children")
    features = nodes["split_indices"]
    bad = internal & ((features < 0) | (features >= n_features))
    if bad.any():
        raise _fail(f"{first_tree(bad)} splits on a feature outside 0..{n_features - 1}")
    if np.any(nodes["split_type"] != 0) or not np.isin(nodes["default_left"], (0, 1)).all():
        raise _fail("a tree has non-numerical splits or bad default directions")


def check_booster_json(data: bytes) -> BoosterSummary:
    """Parse and check an XGBoost JSON model document (``Booster.save_raw("json")``).

    Parameters
    ----------
    data : bytes

    Returns
    -------
    BoosterSummary

    Raises
    ------
    ModelBundleError
        If the document is not strict JSON or not a model mlmicro makes, as
        listed in the module docstring.
    """
    try:
        document = json.loads(
            data.decode("utf-8"), parse_constant=_refuse_constant, object_pairs_hook=_unique_keys
        )
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise _fail("it is not valid JSON (truncated or damaged)") from None
    learner = _get(document, "learner", dict, "the document")
    params = _get(learner, "learner_model_param", dict, "learner")
    n_features = _int_text(params, "num_feature", "learner_model_param", minimum=1)
    n_classes = _int_text(params, "num_class", "learner_model_param")
    if _int_text(params, "num_target", "learner_model_param", minimum=1) != 1:
        raise _fail("it has several targets")
    objective = _get(_get(learner, "objective", dict, "learner"), "name", str, "objective")
    if not objective.startswith(("binary:", "multi:")):
        raise _fail(f"its objective {objective[:40]!r} is not a classification objective")
    booster = _get(learner, "gradient_booster", dict, "learner")
    if _get(booster, "name", str, "gradient_booster") != "gbtree":
        raise _fail("it is not a gradient-boosted tree model (gbtree)")
    model = _get(booster, "model", dict, "gradient_booster")
    trees = _get(model, "trees", list, "model")
    # everything but the trees, which _tree_arrays checks field by field
    rest = {k: v for k, v in model.items() if k != "trees"}
    _walk({**document, "learner": {**learner, "gradient_booster": {**booster, "model": rest}}}, 0)
    declared = _int_text(
        _get(model, "gbtree_model_param", dict, "model"), "num_trees", "gbtree_model_param"
    )
    if declared != len(trees) or not trees:
        raise _fail(f"it declares {declared} trees but holds {len(trees)}")
    info = _get(model, "tree_info", list, "model")
    groups = max(n_classes, 1)
    if len(info) != len(trees) or not all(type(g) is int and 0 <= g < groups for g in info):
        raise _fail("its tree_info does not give every tree a class")
    indptr = model.get("iteration_indptr", [0, len(trees)])
    if (
        not isinstance(indptr, list)
        or not all(type(v) is int for v in indptr)
        or indptr[:1] != [0]
        or indptr[-1:] != [len(trees)]
        or np.any(np.diff(indptr) < 0)
    ):
        raise _fail("its iteration_indptr does not cover the trees")
    cats = model.get("cats", {})
    if not isinstance(cats, dict) or any(v != [] for v in cats.values()):
        raise _fail("it has categorical features, which mlmicro models never use")
    names = learner.get("feature_names", [])
    kinds = learner.get("feature_types", [])
    if not (isinstance(names, list) and all(isinstance(v, str) for v in names)) or len(
        names
    ) not in (0, n_features):
        raise _fail("its feature names do not match its number of features")
    if not (isinstance(kinds, list) and set(kinds) <= _FEATURE_TYPES) or len(kinds) not in (
        0,
        n_features,
    ):
        raise _fail("its feature types are not all numerical")
    _check_nodes([_tree_arrays(tree, i, n_features) for i, tree in enumerate(trees)], n_features)
    return BoosterSummary(
        objective=objective, n_classes=max(n_classes, 2), n_features=n_features, n_trees=len(trees)
    )
