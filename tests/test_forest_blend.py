"""The boosted forest with a random forest's vote in its booster (``xgboost.forest_trees``)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import shap
import xgboost
from sklearn.ensemble import RandomForestClassifier
from xgboost import XGBClassifier

from mlmicro.config import TrainConfig, load_config
from mlmicro.exceptions import ConfigError
from mlmicro.model.contributions import feature_contributions
from mlmicro.model.dask_xgboost import check_final_fit
from mlmicro.model.forest_blend import BoostedForestClassifier, _split_value
from mlmicro.model.persist import decode_state, encode_state, from_state, to_state
from mlmicro.model.pipeline import build_pipeline

PARAMS = {
    "n_estimators": 8,
    "num_parallel_tree": 10,
    "max_depth": 4,
    "subsample": 0.632,
    "colsample_bynode": 0.2,
    "random_state": 3,
    "n_jobs": 1,
}


def _data(n: int, classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = (rng.random((n, 30)) * (rng.random((n, 30)) < 0.5)).astype(np.float32)
    y = np.minimum((x[:, 0] + x[:, 1] + rng.normal(0, 0.2, n)) * classes / 1.2, classes - 1)
    return x, np.maximum(y, 0).astype(int)


@pytest.mark.parametrize("classes", [2, 3])
def test_margin_is_the_boosted_forest_plus_the_weighted_vote(classes):
    x, y = _data(160, classes, 0)
    test, _ = _data(60, classes, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # XGBoost must not be handed the forest's parameters
        blend = BoostedForestClassifier(forest_trees=40, forest_weight=2.5, **PARAMS).fit(x, y)
    boosted = XGBClassifier(**PARAMS).fit(x, y)
    forest = RandomForestClassifier(40, max_features="sqrt", n_jobs=1, random_state=3).fit(x, y)
    votes = forest.predict_proba(test)
    extra = 4 * 2.5 * (votes[:, 1] - 0.5 if classes == 2 else votes - 1 / classes)
    matrix = xgboost.DMatrix(test)
    margin = blend.get_booster().predict(matrix, output_margin=True)
    want = boosted.get_booster().predict(matrix, output_margin=True) + extra
    np.testing.assert_allclose(margin, want, atol=2e-5)
    assert blend.get_booster().num_boosted_rounds() == 8 + 4  # 40 forest trees, 10 per round
    # the class probabilities are the softmax / logistic of that margin
    if classes == 2:
        expected = 1 / (1 + np.exp(-want))
    else:
        expected = np.exp(want) / np.exp(want).sum(axis=1, keepdims=True)
    got = blend.predict_proba(test)
    np.testing.assert_allclose(got[:, 1] if classes == 2 else got, expected, atol=1e-5)


def test_shap_values_are_the_boosted_forests_plus_the_weighted_forests():
    x, y = _data(200, 2, 2)
    test, _ = _data(50, 2, 3)
    blend = BoostedForestClassifier(forest_trees=30, forest_weight=4.0, **PARAMS).fit(x, y)
    boosted = XGBClassifier(**PARAMS).fit(x, y)
    forest = RandomForestClassifier(30, max_features="sqrt", n_jobs=1, random_state=3).fit(x, y)
    matrix = xgboost.DMatrix(test)
    contribs = blend.get_booster().predict(matrix, pred_contribs=True)
    forest_shap = np.asarray(shap.TreeExplainer(forest).shap_values(test))[:, :, 1]
    want = boosted.get_booster().predict(matrix, pred_contribs=True)[:, :-1] + 16 * forest_shap
    np.testing.assert_allclose(contribs[:, :-1], want, atol=2e-5)
    np.testing.assert_allclose(
        contribs.sum(axis=1), blend.get_booster().predict(matrix, output_margin=True), atol=2e-5
    )


def test_split_values_route_float32_features_as_scikit_learn_does():
    rng = np.random.default_rng(0)
    thresholds = np.concatenate([rng.random(2000) * 1e-3, rng.random(2000)])
    cut = _split_value(thresholds)
    near = thresholds.astype(np.float32)
    for values in (near, np.nextafter(near, np.float32(1)), np.nextafter(near, np.float32(0))):
        np.testing.assert_array_equal(values < cut, values.astype(np.float64) <= thresholds)


def test_a_pipeline_with_a_forest_explains_and_round_trips_through_a_bundle():
    settings = {k: v for k, v in PARAMS.items() if k not in ("random_state", "n_jobs")}
    config = TrainConfig(rank="species", xgboost={**settings, "forest_trees": 20})
    pipeline = build_pipeline(config, threads=1)
    assert isinstance(pipeline[-1], BoostedForestClassifier)
    assert isinstance(build_pipeline(TrainConfig(rank="species"))[-1], XGBClassifier)
    assert not isinstance(build_pipeline(TrainConfig(rank="species"))[-1], BoostedForestClassifier)
    rng = np.random.default_rng(4)
    names = [f"k__Bacteria|s__Taxon_{i}" for i in range(25)]
    table = pd.DataFrame(rng.poisson(3, (80, 25)) * (rng.random((80, 25)) < 0.6), columns=names)
    table.index = [f"S{i}" for i in range(80)]
    y = (table.iloc[:, 0] > 2).to_numpy().astype(int)
    pipeline.fit(table, y)
    values, base, features = feature_contributions(pipeline, table)
    margin = np.log(pipeline.predict_proba(table)[:, 1] / pipeline.predict_proba(table)[:, 0])
    np.testing.assert_allclose(values.sum(axis=1) + base, margin, atol=1e-4)
    loaded = from_state(decode_state(encode_state(to_state(pipeline))))
    assert type(loaded[-1]) is BoostedForestClassifier and loaded[-1].forest_trees == 20
    np.testing.assert_array_equal(loaded.predict_proba(table), pipeline.predict_proba(table))


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"forest_trees": -1}, "xgboost.forest_trees must be a whole number of at least 0"),
        ({"forest_trees": 2.5}, "xgboost.forest_trees must be a whole number of at least 0"),
        ({"forest_weight": 0}, "xgboost.forest_weight must be a positive number"),
    ],
)
def test_bad_forest_settings_are_refused(section, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(xgboost=section)


def test_the_preset_adds_a_500_tree_forest_and_dask_final_fits_refuse_it():
    config = load_config("forest-blend")
    assert config.xgboost["forest_trees"] == 500
    with pytest.raises(ConfigError, match="trains the boosted forest alone"):
        check_final_fit("dask", config, runner=None)
