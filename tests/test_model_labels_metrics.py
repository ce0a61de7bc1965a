"""Target construction, metrics and config handling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from mlmicro.config import TrainConfig, list_presets, load_config
from mlmicro.exceptions import ConfigError, MetadataError
from mlmicro.model.labels import make_target
from mlmicro.model.metrics import score, summarize

META = pd.DataFrame(
    {"dx": ["CD", "UC", "control", "CD", None, "IC"]}, index=[f"s{i}" for i in range(6)]
)


def test_positive_and_negative_drop_the_rest():
    target = make_target(META, "dx", positive=["CD", "UC"], negative=["control"])
    assert target.classes == ["control", "CD+UC"]
    assert target.positive_class == "CD+UC"
    assert sorted(target.dropped) == ["s4", "s5"]
    assert target.y.to_dict() == {"s0": "CD+UC", "s1": "CD+UC", "s2": "control", "s3": "CD+UC"}


def test_positive_only_makes_everything_else_negative():
    target = make_target(META, "dx", positive=["CD"])
    assert target.classes == ["other", "CD"]
    assert (target.y == "other").sum() == 3


def test_multiclass_without_positive():
    target = make_target(META, "dx")
    assert target.classes == ["CD", "IC", "UC", "control"]
    assert target.positive_class is None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"label": "nope"}, "not in the sample metadata"),
        ({"label": "dx", "positive": ["XX"]}, "never occurs"),
        ({"label": "dx", "negative": ["CD"]}, "needs --positive"),
        ({"label": "dx", "positive": ["CD"], "negative": ["CD"]}, "both positive and negative"),
    ],
)
def test_bad_labels(kwargs, match):
    label = kwargs.pop("label")
    with pytest.raises(MetadataError, match=match):
        make_target(META, label, **kwargs)


def test_binary_scores_match_sklearn():
    rng = np.random.default_rng(0)
    y = np.array(["a", "b"] * 50)
    p = rng.random(100)
    proba = np.column_stack([1 - p, p])
    out = score(y, proba, ["a", "b"], "b")
    assert out["roc_auc"] == pytest.approx(roc_auc_score(y == "b", p))
    assert out["brier"] == pytest.approx(np.mean((p - (y == "b")) ** 2))
    assert set(out) == {"roc_auc", "average_precision", "balanced_accuracy", "mcc", "brier"}


def test_multiclass_scores():
    y = np.array(["a", "b", "c"] * 10)
    proba = np.eye(3)[np.tile([0, 1, 2], 10)]
    out = score(y, proba, ["a", "b", "c"], None)
    assert out["roc_auc"] == 1.0 and out["balanced_accuracy"] == 1.0 and out["brier"] == 0.0


def test_summary_keeps_cv_spread_and_takes_the_given_interval():
    per_repeat = pd.DataFrame({"roc_auc": [0.8, 0.82, 0.78, 0.81, 0.79]})
    s = summarize(per_repeat, {"roc_auc": [0.7, 0.9]})["roc_auc"]
    assert s["ci95"] == [0.7, 0.9]
    assert s["std"] == pytest.approx(np.std([0.8, 0.82, 0.78, 0.81, 0.79], ddof=1))
    assert summarize(per_repeat)["roc_auc"]["ci95"] == [None, None]  # n/a, never zero width
    assert summarize(per_repeat.iloc[:1])["roc_auc"]["std"] is None  # one repeat: no spread


def test_presets_load():
    assert {"default", "fast", "16s-genus", "shotgun-species"} <= set(list_presets())
    for name in list_presets():
        assert isinstance(load_config(name), TrainConfig)
    assert load_config("16s-genus").rank == "genus"


def test_config_file_and_overrides(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('rank = "genus"\n[cv]\nfolds = 4\n[xgboost]\nmax_depth = 2\n')
    config = load_config(path)
    assert config.rank == "genus" and config.cv.folds == 4 and config.xgboost == {"max_depth": 2}
    changed = config.override(**{"cv.folds": 7, "rank": None, "model": "random-forest"})
    assert changed.cv.folds == 7 and changed.rank == "genus" and changed.model == "random-forest"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("bogus = 1\n", "Unknown key 'bogus'"),
        ("[cv]\nfoldz = 3\n", "Unknown key 'foldz'"),
        ('model = "svm"\n', "model must be one of"),
        ('rank = "tribe"\n', "Unknown rank"),
        ("rank = \n", "not valid TOML"),
    ],
)
def test_bad_config(tmp_path, text, match):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_config(path)


def test_missing_config():
    with pytest.raises(ConfigError, match="neither a preset"):
        load_config("no-such-preset")


def test_numeric_labels_with_gaps_read_as_whole_numbers():
    meta = pd.DataFrame({"case": [1.0, 0.0, np.nan, 1.0]}, index=list("abcd"))
    target = make_target(meta, "case", positive=["1"], negative=["0"])
    assert target.classes == ["0", "1"] and target.dropped == ["c"]
