"""A boosted forest plus a random forest's vote, as one XGBoost booster.

:class:`BoostedForestClassifier` fits mlmicro's boosted forest (an ordinary
:class:`xgboost.XGBClassifier`) and, on the same features, a scikit-learn
random forest (``forest_trees`` trees, scikit-learn defaults, unweighted).
The forest's trees are then written into the booster as extra trees whose
leaves hold the forest's vote, scaled so that the booster's margin is::

    boosted forest margin + forest_weight x 4 x (vote share of the class - 0.5)

for binary models (the vote share of each class minus ``1 / n_classes`` for
multiclass ones). The result is one booster: predictions, exact TreeSHAP
values (XGBoost's ``pred_contribs``, equal to the boosted forest's SHAP values
plus the weighted forest's), model bundles and GPU prediction work as for any
XGBoost model, and the random forest itself is not kept.

Each scikit-learn split ``x <= t`` (``x`` a float32 feature value, as both
libraries see it) becomes XGBoost's ``x < c`` with ``c`` the next float32 above
the largest float32 not above ``t``, so each tree routes every sample exactly
as the forest did. XGBoost walks a tree assuming a node's right child follows
its left one, so nodes are renumbered breadth-first.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import xgboost
from sklearn.ensemble import RandomForestClassifier
from sklearn.tree import DecisionTreeClassifier
from xgboost import XGBClassifier

__all__ = ["BoostedForestClassifier", "FOREST_PARAMS", "merge_forest"]

#: The parameters :class:`BoostedForestClassifier` adds to XGBoost's.
FOREST_PARAMS = ("forest_trees", "forest_weight")
_NO_PARENT = 2147483647


class BoostedForestClassifier(XGBClassifier):
    """XGBoost's boosted forest with a random forest's vote added to its margin.

    Parameters
    ----------
    forest_trees : int
        Trees of the random forest (``max_features="sqrt"``, fully grown,
        bootstrap samples, no class weights). 0 fits the boosted forest alone.
    forest_weight : float
        Weight of the forest's margin, ``4 x (vote share - 0.5)``, against the
        boosted forest's log-odds.
    **kwargs
        :class:`xgboost.XGBClassifier` parameters; ``random_state`` and
        ``n_jobs`` also seed and thread the random forest.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.random((60, 5)).astype(np.float32)
    >>> y = (x[:, 0] > 0.5).astype(int)
    >>> model = BoostedForestClassifier(
    ...     forest_trees=20, n_estimators=5, num_parallel_tree=10, n_jobs=1
    ... ).fit(x, y)
    >>> model.get_booster().num_boosted_rounds()
    7
    """

    def __init__(self, *, forest_trees: int = 500, forest_weight: float = 4.0, **kwargs: Any):
        super().__init__(**kwargs)
        self.forest_trees = forest_trees
        self.forest_weight = forest_weight

    def get_xgb_params(self) -> dict[str, Any]:
        """XGBoost's parameters, without the forest's (the booster does not take them)."""
        params = super().get_xgb_params()
        for name in FOREST_PARAMS:
            params.pop(name, None)
        return params

    def fit(self, X: Any, y: Any, *, sample_weight: Any = None, **kwargs: Any):  # noqa: N803
        """Fit the boosted forest (with ``sample_weight``), then the forest (without).

        Returns
        -------
        BoostedForestClassifier
            ``self``.
        """
        super().fit(X, y, sample_weight=sample_weight, **kwargs)
        if self.forest_trees > 0:
            values = np.asarray(X, dtype=np.float32)
            forest = RandomForestClassifier(
                n_estimators=int(self.forest_trees),
                max_features="sqrt",
                n_jobs=-1 if self.n_jobs is None else self.n_jobs,
                random_state=self.random_state,
            ).fit(values, np.asarray(y))
            self._Booster = merge_forest(self.get_booster(), forest, weight=self.forest_weight)
        return self


def merge_forest(
    booster: xgboost.Booster, forest: RandomForestClassifier, *, weight: float
) -> xgboost.Booster:
    """Return a booster holding ``booster``'s trees and ``forest``'s weighted vote.

    Parameters
    ----------
    booster : xgboost.Booster
        A fitted gradient-boosted tree booster (binary or multiclass).
    forest : sklearn.ensemble.RandomForestClassifier
        Fitted on the same features, with the classes ``0 .. n_classes - 1``.
    weight : float
        See :class:`BoostedForestClassifier`.

    Returns
    -------
    xgboost.Booster
        A new booster, with the original's configuration (threads, device).
    """
    document = json.loads(bytes(booster.save_raw(raw_format="json")))
    model = document["learner"]["gradient_booster"]["model"]
    n_classes = max(int(document["learner"]["learner_model_param"]["num_class"]), 1)
    if list(forest.classes_) != list(range(max(n_classes, 2))):
        raise ValueError(
            f"the forest's classes {list(forest.classes_)} are not 0 .. {max(n_classes, 2) - 1}"
        )
    n_features = int(document["learner"]["learner_model_param"]["num_feature"])
    per_iteration = int(model["gbtree_model_param"]["num_parallel_tree"])
    trees, info, indptr = model["trees"], model["tree_info"], model["iteration_indptr"]
    scale = 4.0 * float(weight) / len(forest.estimators_)
    estimators = list(forest.estimators_)
    for start in range(0, len(estimators), per_iteration):
        chunk = estimators[start : start + per_iteration]
        for group in range(n_classes):
            for estimator in chunk:
                trees.append(_tree(estimator, group, n_classes, scale, n_features, len(trees)))
                info.append(group)
        indptr.append(len(trees))
    model["gbtree_model_param"]["num_trees"] = str(len(trees))
    merged = xgboost.Booster()
    merged.load_model(bytearray(json.dumps(document).encode()))
    merged.load_config(booster.save_config())
    return merged


def _split_value(threshold: np.ndarray) -> np.ndarray:
    """XGBoost's ``x < c`` for scikit-learn's ``x <= threshold`` on float32 ``x``."""
    below = threshold.astype(np.float32)
    above = below.astype(np.float64) > threshold
    below[above] = np.nextafter(below[above], np.float32(-np.inf))
    return np.nextafter(below, np.float32(np.inf))


def _tree(
    estimator: DecisionTreeClassifier,
    group: int,
    n_classes: int,
    scale: float,
    n_features: int,
    tree_id: int,
) -> dict[str, Any]:
    """One forest tree as an XGBoost tree document, leaves holding the class's scaled vote."""
    tree = estimator.tree_
    left, right = tree.children_left, tree.children_right
    order = [0]
    for node in order:  # breadth first: a node's children sit side by side
        if left[node] != -1:
            order.extend((int(left[node]), int(right[node])))
    order_array = np.asarray(order)
    position = np.empty(len(order_array), dtype=np.int64)
    position[order_array] = np.arange(len(order_array))
    leaf = left[order_array] == -1
    new_left = np.where(leaf, -1, position[np.maximum(left[order_array], 0)])
    new_right = np.where(leaf, -1, position[np.maximum(right[order_array], 0)])
    parents = np.full(len(order_array), _NO_PARENT, dtype=np.int64)
    inner = np.flatnonzero(~leaf)
    parents[new_left[inner]] = inner
    parents[new_right[inner]] = inner
    shares = tree.value[order_array, 0, :]
    shares = shares / shares.sum(axis=1, keepdims=True)
    if n_classes == 1:  # binary: the second class's vote, centred on a tie
        votes = scale * (shares[:, 1] - 0.5)
    else:
        votes = scale * (shares[:, group] - 1.0 / n_classes)
    conditions = np.where(leaf, votes, _split_value(tree.threshold[order_array]))
    count = len(order_array)
    return {
        "base_weights": votes.astype(np.float32).tolist(),
        "categories": [],
        "categories_nodes": [],
        "categories_segments": [],
        "categories_sizes": [],
        "default_left": [0] * count,
        "id": tree_id,
        "left_children": new_left.tolist(),
        "loss_changes": [0.0] * count,
        "parents": parents.tolist(),
        "right_children": new_right.tolist(),
        "split_conditions": conditions.astype(np.float32).tolist(),
        "split_indices": np.where(leaf, 0, tree.feature[order_array]).tolist(),
        "split_type": [0] * count,
        "sum_hessian": tree.weighted_n_node_samples[order_array].astype(np.float64).tolist(),
        "tree_param": {
            "num_deleted": "0",
            "num_feature": str(n_features),
            "num_nodes": str(count),
            "size_leaf_vector": "1",
        },
    }
