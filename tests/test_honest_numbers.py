"""Honest numbers: bootstrap intervals, training samples recognised, labels, accounting, tuning."""

from __future__ import annotations

import time

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

import mlmicro
from mlmicro.datasets import simulate_cohort
from mlmicro.exceptions import ConfigError, MetadataError
from mlmicro.model.bootstrap import bootstrap_weights, cv_intervals, weighted_metrics
from mlmicro.model.insample import row_digests
from mlmicro.model.labels import make_target
from mlmicro.model.metrics import format_interval, score
from mlmicro.model.model import InSampleWarning
from mlmicro.predict import predict_table

matplotlib.use("Agg")

FAST = {"config": "fast", "jobs": 1}

# these tests apply models to their own training samples on purpose
pytestmark = [pytest.mark.filterwarnings("ignore::mlmicro.predict.trust.OutOfDomainWarning")]


@pytest.fixture(scope="module")
def cohort():
    return simulate_cohort(n_subjects=40, seed=3)


@pytest.fixture(scope="module")
def model(cohort):
    return mlmicro.train(
        cohort.table,
        cohort.metadata,
        label="diagnosis",
        group="subject_id",
        **FAST,
        **{"cv.repeats": 2, "cv.folds": 4},
    )


# ------------------------------------------------------------------ bootstrap
@pytest.mark.parametrize("n_classes", [2, 3])
def test_weighted_metrics_equal_scoring_the_resampled_rows(n_classes):
    rng = np.random.default_rng(0)
    n = 120
    y = rng.integers(0, n_classes, n)
    proba = rng.dirichlet(np.ones(n_classes), n)
    proba[np.arange(n), y] += 0.4
    proba = np.round(proba / proba.sum(1, keepdims=True), 2)  # ties, as real scores have
    proba /= proba.sum(1, keepdims=True)
    weights = bootstrap_weights(y, n_resamples=6, seed=2)
    classes = [str(k) for k in range(n_classes)]
    positive = 1 if n_classes == 2 else None
    got = weighted_metrics(y, proba, weights, positive)
    for b in range(len(weights)):
        rows = np.repeat(np.arange(n), weights[b])
        expected = score(
            np.asarray(classes, dtype=object)[y[rows]],
            proba[rows],
            classes,
            None if positive is None else "1",
        )
        for name, value in expected.items():
            assert got[name][b] == pytest.approx(value, abs=1e-12), name


def test_resamples_are_stratified_and_keep_subjects_whole():
    y = np.array([0] * 30 + [1] * 20)
    groups = np.repeat(np.arange(25), 2)
    weights = bootstrap_weights(y, n_resamples=50, seed=0, groups=groups)
    assert (weights[:, y == 0].sum(axis=1) == 30).all()
    assert (weights[:, y == 1].sum(axis=1) == 20).all()
    assert (weights[:, 0::2] == weights[:, 1::2]).all()  # both samples of a subject, or none
    studies = np.where(np.arange(50) < 10, "a", "b")
    by_study = bootstrap_weights(y, n_resamples=50, seed=0, strata=studies)
    assert (by_study[:, :10].sum(axis=1) == 10).all()


def test_bootstrap_is_fast():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 1000)
    proba = rng.random(1000)
    started = time.perf_counter()
    weights = bootstrap_weights(y, n_resamples=1000, seed=0)
    auc = weighted_metrics(y, np.column_stack([1 - proba, proba]), weights, 1)["roc_auc"]
    assert np.isfinite(auc).all() and time.perf_counter() - started < 30  # generous, not timed


def test_cv_interval_matches_a_plain_bootstrap():
    rng = np.random.default_rng(4)
    n = 200
    y = np.array(["a", "b"] * (n // 2), dtype=object)
    p = np.clip(rng.normal(0.5 + 0.2 * (y == "b"), 0.25), 0, 1)
    oof = pd.DataFrame(
        {
            "repeat": 0,
            "sample_id": [f"s{i}" for i in range(n)],
            "y_true": y,
            "probability_a": 1 - p,
            "probability_b": p,
        }
    )
    lo, hi = cv_intervals(oof, ["a", "b"], "b", sample_ids=oof["sample_id"], seed=1)["roc_auc"]
    plain = []
    for _ in range(1000):  # stratified, by hand
        rows = np.concatenate(
            [rng.choice(np.flatnonzero(y == c), (y == c).sum()) for c in ("a", "b")]
        )
        plain.append(roc_auc_score(y[rows] == "b", p[rows]))
    ref_lo, ref_hi = np.percentile(plain, [2.5, 97.5])
    assert lo < roc_auc_score(y == "b", p) < hi
    assert abs((hi - lo) - (ref_hi - ref_lo)) < 0.2 * (ref_hi - ref_lo)


def test_card_interval_is_a_bootstrap_and_spread_is_labelled(model):
    auc = model.card.cv_metrics["roc_auc"]
    lo, hi = auc["ci95"]
    assert lo < auc["mean"] < hi and hi - lo > 0.02
    assert auc["std"] is not None  # two repeats: the CV spread
    interval = model.card.cv["interval"]
    assert interval["method"] == "bootstrap" and interval["resamples"] == 1000
    assert interval["unit"] == "subject"


def test_one_repeat_prints_no_zero_width_interval(cohort):
    from mlmicro.cli.train import format_report

    one = mlmicro.train(
        cohort.table, cohort.metadata, label="diagnosis", group="subject_id", **FAST
    )
    assert one.card.cv["repeats"] == 1 and one.card.cv_metrics["roc_auc"]["std"] is None
    report = format_report(one)
    row = next(line for line in report.splitlines() if line.startswith("AUROC"))
    assert "n/a" in row  # no CV spread with one repeat
    assert format_interval(one.card.cv_metrics["roc_auc"]["ci95"]) in row
    for line in report.splitlines():
        assert not any(f"[{v}, {v}]" in line for v in ("0.000", "1.000"))
    assert format_interval([0.8, 0.8]) == "n/a"
    no_ci = mlmicro.train(
        cohort.table,
        cohort.metadata,
        label="diagnosis",
        group="subject_id",
        **FAST,
        **{"cv.bootstrap": 0},
    )
    assert no_ci.card.cv_metrics["roc_auc"]["ci95"] == [None, None]
    assert "n/a" in format_report(no_ci)


# ------------------------------------------------------------ training samples
def test_training_samples_get_out_of_fold_probabilities(model, cohort):
    oof = model.oof_predictions.groupby("sample_id")[["probability_control", "probability_CD"]]
    expected = oof.mean().loc[cohort.table.index.astype(str)]
    renamed = cohort.table * 7.0  # same composition, other scale and names
    renamed.index = "copy_" + renamed.index.astype(str)
    with pytest.warns(InSampleWarning, match=f"{len(cohort.table)} of {len(cohort.table)}"):
        proba = model.predict_proba(renamed)
    # out-of-fold probabilities, then the model's calibration, like every other sample
    calibrate = model.trust.calibrate if model.trust is not None else (lambda p: p)
    np.testing.assert_allclose(proba.to_numpy(), calibrate(expected.to_numpy()))
    in_sample = model.pipeline.predict_proba(cohort.table)
    assert not np.allclose(proba.to_numpy(), in_sample)
    applied = model.apply(cohort.table, training_probability="model")
    assert "in-sample" in applied.training_message()
    np.testing.assert_allclose(applied.raw_probabilities, in_sample, rtol=1e-6)
    assert set(applied.probability_source) == {"model"} and applied.in_training.all()


def test_external_validation_leaves_training_samples_out(model, cohort):
    new = simulate_cohort(n_subjects=30, seed=11)
    new.table.index = "new_" + new.table.index.astype(str)
    new.metadata.index = new.table.index
    table = pd.concat([cohort.table.iloc[:40], new.table]).fillna(0.0)
    meta = pd.concat([cohort.metadata.iloc[:40], new.metadata])
    with pytest.warns(InSampleWarning, match="40 of"):
        result = predict_table(model, table, metadata=meta)
    sources = result.predictions["probability_source"]
    assert (sources.iloc[:40] == "out-of-fold").all() and (sources.iloc[40:] == "model").all()
    validation = result.validation
    assert validation.source == "external" and validation.n_in_training == 40
    assert validation.n_samples == len(new.table)
    external = model.pipeline.predict_proba(new.table.reindex(columns=table.columns, fill_value=0))
    y = new.metadata["diagnosis"].to_numpy() == "CD"
    assert validation.metrics["roc_auc"] == pytest.approx(roc_auc_score(y, external[:, 1]))
    assert "40 labelled training samples of the model left out" in validation.format()


def test_training_samples_shap_values_are_flagged_in_sample(model, cohort):
    new = simulate_cohort(n_subjects=12, seed=11)
    new.table.index = "new_" + new.table.index.astype(str)
    table = pd.concat([cohort.table.iloc[:25], new.table]).fillna(0.0)
    inside = np.arange(len(table)) < 25
    with pytest.warns(
        InSampleWarning, match=r"these 25 training samples .*shap_source = in-sample"
    ):
        predicted = predict_table(model, table, top_strains=3).predictions
    columns = predicted.columns.tolist()
    assert columns.index("shap_source") == columns.index("top1_taxon") - 1
    expected = np.where(inside, "in-sample", "out-of-sample").tolist()
    assert predicted["shap_source"].tolist() == expected
    with pytest.warns(InSampleWarning, match="these 25 training samples"):
        explanation = model.explain(table)
    # one answer: the same flag, and the same top SHAP value, in predict and in explain
    assert explanation.shap_source.tolist() == predicted["shap_source"].tolist()
    assert any("shap_source = in-sample" in note for note in explanation.notes)
    top = explanation.values.abs().max(axis=1).to_numpy()
    np.testing.assert_allclose(predicted["top1_shap"].abs().to_numpy(), top, rtol=1e-5)
    titles = []
    for sample in (table.index[0], table.index[-1]):
        figure = explanation.plot_waterfall(str(sample))
        titles.append(figure.axes[0].get_title(loc="left"))
        plt.close(figure)
    assert "a training sample: the bars are in-sample" in " ".join(titles[0].split())
    assert "training sample" not in titles[1]
    # in-sample probabilities asked for: the attributions are in-sample all the same
    with pytest.warns(InSampleWarning):
        in_sample = predict_table(model, cohort.table, top_strains=1, training_probability="model")
    assert (in_sample.predictions["shap_source"] == "in-sample").all()


def test_validation_on_training_samples_only_is_out_of_fold(model, cohort):
    with pytest.warns(InSampleWarning):
        result = predict_table(model, cohort.table, metadata=cohort.metadata)
    validation = result.validation
    assert validation.source == "out-of-fold" and validation.metrics["roc_auc"] < 0.999
    mean = model.oof_predictions.groupby("sample_id")["probability_CD"].mean()
    y = cohort.metadata["diagnosis"].loc[mean.index] == "CD"
    assert validation.metrics["roc_auc"] == pytest.approx(roc_auc_score(y, mean))
    assert "no external validation" in validation.format()


def test_digests_ignore_scale_and_order_of_summation():
    rows = np.array([[1.0, 2.0, 0.0], [10.0, 20.0, 0.0], [1.0, 2.0, 1e-9]])
    d = row_digests(rows)
    assert d[0] == d[1] and d[0] != d[2]


# ----------------------------------------------------------------------- labels
def test_control_like_value_is_negative_whatever_the_alphabet():
    meta = pd.DataFrame({"Var": ["CD", "no", "CD", "no"]}, index=list("abcd"))
    target = make_target(meta, "Var")
    assert target.classes == ["no", "CD"] and target.positive_class == "CD"
    meta = pd.DataFrame({"dx": ["MS", "Healthy_Control"] * 2}, index=list("abcd"))
    assert make_target(meta, "dx").positive_class == "MS"


@pytest.mark.parametrize(
    ("values", "match"),
    [
        (["CD", "UC", "CD", "UC"], "neither reads as a control"),
        (["control", "healthy", "control", "healthy"], "both reads as a control"),
        (["CD", "cd", "control", "control"], "'CD' \\(1\\) / 'cd' \\(1\\)"),
        (["CD", " CD", "control", "control"], "surrounding space"),
    ],
)
def test_ambiguous_labels_are_refused(values, match):
    meta = pd.DataFrame({"dx": values}, index=list("abcd"))
    with pytest.raises(MetadataError, match=match):
        make_target(meta, "dx")


# ------------------------------------------------------------------- accounting
def test_dropped_samples_and_features_are_counted(cohort):
    meta = cohort.metadata.copy()
    meta.loc[meta.index[:5], "diagnosis"] = None
    meta.loc[meta.index[5:9], "diagnosis"] = "UC"
    meta = meta.iloc[:-3]
    table = cohort.table.copy()
    table["feature_without_taxonomy"] = 1.0
    with pytest.warns(UserWarning, match="3 of 55 table samples have no metadata row"):
        model = mlmicro.train(
            table,
            meta,
            label="diagnosis",
            positive=["CD"],
            negative=["control"],
            group="subject_id",
            **FAST,
        )
    dropped = model.card.dropped
    assert dropped["missing_label"]["n"] == 5 and dropped["in_no_class"]["n"] == 4
    assert dropped["in_no_class"]["values"] == {"UC": 4}
    assert dropped["samples_without_metadata"]["n"] == 3
    assert dropped["features_without_lineage"]["n"] == 1
    assert dropped["features_without_lineage"]["examples"] == ["feature_without_taxonomy"]
    assert dropped["samples"] == 9
    from mlmicro.cli.train import format_report

    report = format_report(model)
    assert "left out: 5 sample(s) with no value in 'diagnosis'" in report
    assert "left out: 4 sample(s) in no class (UC 4)" in report
    assert "left out: 3 table sample(s) with no metadata row" in report
    assert "left out: 1 feature(s) without lineage" in report


# ----------------------------------------------------------------------- tuning
def test_tuning_grid_from_the_configuration_and_chosen_parameters_kept(cohort, tmp_path):
    config = tmp_path / "tune.toml"
    config.write_text(
        'rank = "species"\n[cv]\nfolds = 3\nrepeats = 1\ntune = true\ninner_folds = 2\n'
        "[cv.grid]\nmax_depth = [2, 4]\n[xgboost]\nn_estimators = 20\n"
    )
    model = mlmicro.train(
        cohort.table,
        cohort.metadata,
        label="diagnosis",
        group="subject_id",
        config=config,
        jobs=1,
    )
    tuning = model.card.cv["tuning"]
    assert tuning["grid"] == {"classifier__max_depth": [2, 4]}
    assert len(tuning["per_fold"]) == 3
    assert all(row["params"]["classifier__max_depth"] in (2, 4) for row in tuning["per_fold"])
    assert tuning["final"]["classifier__max_depth"] in (2, 4)
    depth = model.pipeline[-1].get_params()["max_depth"]
    assert depth == tuning["final"]["classifier__max_depth"]
    card = mlmicro.model.ModelCard.from_dict(model.card.to_dict())
    assert card.cv["tuning"] == tuning


def test_bad_grid_is_refused():
    from mlmicro.config import TrainConfig

    with pytest.raises(ConfigError, match="cv.grid.max_depth"):
        TrainConfig().override(**{"cv.grid": {"max_depth": []}})
