"""Calibration, operating point, applicability domain and recalibration (synthetic data)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import mlmicro
from mlmicro.cli import app
from mlmicro.datasets import simulate_cohort
from mlmicro.exceptions import ConfigError
from mlmicro.model.calibration import fit_calibrator, measure_calibration
from mlmicro.model.domain import DomainModel, fit_domain
from mlmicro.model.threshold import choose_threshold, ppv_npv, rates_at
from mlmicro.model.trust import Trust, domain_in_cv
from mlmicro.predict import OutOfDomainWarning, predict_table
from mlmicro.predict.recalibrate import holdout_split, recalibrate
from mlmicro.report.trust import trust_sections

# these tests apply models to their own training samples on purpose
pytestmark = [pytest.mark.filterwarnings("ignore::mlmicro.model.model.InSampleWarning")]


@pytest.fixture(scope="module")
def cohort():
    return simulate_cohort(n_subjects=60, seed=3)


def _train(cohort, **options):
    return mlmicro.train(
        cohort.table,
        cohort.metadata,
        label="diagnosis",
        group="subject_id",
        config="fast",
        jobs=1,
        **{"cv.folds": 4, "cv.repeats": 1},
        **options,
    )


@pytest.fixture(scope="module")
def model(cohort):
    return _train(cohort, positive=["CD"], negative=["control"])


# ------------------------------------------------------------------ calibration
def test_calibration_measures_a_calibrated_and_an_overconfident_forecaster():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.02, 0.98, 20000)
    y = (rng.uniform(size=p.size) < p).astype(int)
    good = measure_calibration(p, y)
    assert good.slope == pytest.approx(1.0, abs=0.05)
    assert good.intercept == pytest.approx(0.0, abs=0.05)
    assert all(abs(row["observed"] - row["mean_predicted"]) < 0.05 for row in good.curve)
    logit = np.log(p / (1 - p))
    extreme = 1 / (1 + np.exp(-(3 * logit + 1)))  # too extreme and too high
    bad = measure_calibration(extreme, y)
    assert bad.slope == pytest.approx(1 / 3, abs=0.03)
    assert bad.intercept < -0.2 and bad.brier > good.brier
    for method in ("sigmoid", "isotonic"):
        fixed = fit_calibrator(extreme, y, method).apply(extreme)
        assert measure_calibration(fixed, y).brier < bad.brier
        assert np.all(np.diff(fixed[np.argsort(extreme)]) >= -1e-12)  # monotone
    sigmoid = fit_calibrator(extreme, y, "sigmoid")
    assert sigmoid.slope == pytest.approx(1 / 3, abs=0.03)
    with pytest.raises(ConfigError, match="Unknown calibration"):
        fit_calibrator(p, y, "platt")


def test_threshold_rules_and_predictive_values():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 400)
    p = np.clip(0.3 * y + rng.normal(0.35, 0.15, 400), 0, 1)
    youden = choose_threshold(p, y)
    sens, spec = rates_at(p, y, youden.threshold)
    assert (sens, spec) == (youden.sensitivity, youden.specificity)
    grid = np.linspace(0, 1, 501)
    best = max(sum(rates_at(p, y, t)) for t in grid)
    assert sens + spec >= best - 1e-12
    high = choose_threshold(p, y, target_sensitivity=0.95)
    assert high.sensitivity >= 0.95 and high.threshold <= youden.threshold
    strict = choose_threshold(p, y, target_specificity=0.95)
    assert strict.specificity >= 0.95 and strict.threshold >= youden.threshold
    with pytest.raises(ConfigError, match="not both"):
        choose_threshold(p, y, target_sensitivity=0.9, target_specificity=0.9)
    ppv, npv = ppv_npv(0.8, 0.9, 0.05)
    assert ppv == pytest.approx(0.04 / (0.04 + 0.095))
    assert npv == pytest.approx(0.855 / (0.855 + 0.01))
    with pytest.raises(ConfigError, match="prevalence"):
        ppv_npv(0.8, 0.9, 1.5)


def test_domain_separates_another_community_and_round_trips():
    rng = np.random.default_rng(2)
    base = rng.dirichlet(np.ones(40), size=1)[0]
    own = rng.dirichlet(base * 200, size=80)
    other = rng.dirichlet(rng.dirichlet(np.ones(40)) * 200, size=30)
    domain = fit_domain(own[:60], np.ones(60), metric="braycurtis")
    held = domain.score(own[60:], np.ones(20))
    far = domain.score(other, np.ones(30))
    assert held.in_domain.mean() >= 0.8 and not far.in_domain.any()
    assert (far.percentile == 100).all() and (held.percentile <= 100).all()
    # abundance on taxa the model does not know counts as distance
    low = domain.score(own[60:], np.full(20, 0.3))
    assert not low.in_domain.any()
    again = DomainModel.from_dict(json.loads(json.dumps(domain.to_dict())))
    np.testing.assert_array_equal(again.score(other, np.ones(30)).distance, far.distance)


# ---------------------------------------------------------------- in the model
def test_training_fits_calibration_threshold_and_domain(model, cohort, tmp_path):
    trust, report = model.trust, model.card.trust
    assert trust.calibrator.method == "sigmoid" and report.calibration == "sigmoid"
    assert report.cv_raw.n == model.card.n_samples and report.cv_calibrated is not None
    assert 0 < trust.threshold < 1 and report.operating_point.rule == "youden"
    assert set(report.crossfit) == {"sensitivity", "specificity", "balanced_accuracy"}
    assert report.domain["cv_n"] == model.card.n_samples
    assert 0.75 <= report.domain["cv_in_domain"] <= 1.0
    # train runs the held-out check beside the final fit, from an unfitted rank step: the same
    # share as from the saved model's fitted one
    groups = cohort.metadata.loc[cohort.table.index, "subject_id"].astype(str)
    rate, n = domain_in_cv(model.pipeline[0], cohort.table, model.cv.oof, groups, "braycurtis")
    assert (rate, n) == (report.domain["cv_in_domain"], report.domain["cv_n"])
    # labels are decided by the threshold on the calibrated probability, in one place
    proba = model.predict_proba(cohort.table)["probability_CD"].to_numpy()
    labels = model.predict(cohort.table).to_numpy()
    np.testing.assert_array_equal(labels == "CD", proba >= trust.threshold)
    applied = model.apply(cohort.table)
    np.testing.assert_array_equal(applied.labels, labels)
    np.testing.assert_allclose(
        applied.probabilities[:, 1], trust.calibrator.apply(applied.raw_probabilities[:, 1])
    )
    # saved and loaded: same state, same predictions; the card says it in JSON
    path = model.save(tmp_path / "cd.mlmodel")
    loaded = mlmicro.load_model(path)
    assert loaded.trust.to_dict() == json.loads(json.dumps(model.trust.to_dict()))
    pd.testing.assert_frame_equal(
        loaded.predict_proba(cohort.table), model.predict_proba(cohort.table)
    )
    card = json.loads(path.with_suffix(".card.json").read_text())
    assert card["trust"]["cv_raw"]["slope"] == pytest.approx(report.cv_raw.slope)
    assert card["trust"]["operating_point"]["threshold"] == pytest.approx(trust.threshold)


def test_targets_and_multiclass(cohort):
    sensitive = _train(
        cohort,
        positive=["CD"],
        negative=["control"],
        target_sensitivity=0.95,
        calibration="isotonic",
    )
    point = sensitive.card.trust.operating_point
    assert point.rule == "sensitivity" and point.sensitivity >= 0.95
    assert sensitive.trust.calibrator.method == "isotonic"
    meta = cohort.metadata.assign(three=np.where(cohort.metadata["age"] > 50, "old", "young"))
    meta.loc[meta["diagnosis"] == "CD", "three"] = "CD"
    multi = mlmicro.train(
        cohort.table,
        meta,
        label="three",
        group="subject_id",
        config="fast",
        jobs=1,
        **{"cv.folds": 3, "cv.repeats": 1},
    )
    assert multi.trust.calibrator is None and multi.trust.threshold is None
    assert any("multiclass" in note for note in multi.card.trust.notes)
    assert multi.card.trust.domain["cv_in_domain"] > 0.5
    with pytest.raises(ConfigError, match="binary model"):
        predict_table(multi, cohort.table, threshold=0.3)


def test_predict_threshold_prevalence_and_out_of_domain_warning(model, cohort):
    own = predict_table(model, cohort.table, prevalence=0.05)
    assert own.predictions["in_domain"].mean() > 0.8
    text = own.trust.format()
    assert "at prevalence 5.0%: PPV" in text and "applicability domain" in text
    sens, spec, _ = own.trust.rates
    assert own.trust.predictive_values == pytest.approx(ppv_npv(sens, spec, 0.05))
    low = predict_table(model, cohort.table, threshold=0.0)
    assert (low.predictions["predicted_label"] == "CD").all()
    assert low.trust.threshold == 0.0 and "given by hand" in low.trust.format()
    other = simulate_cohort(n_subjects=20, seed=11)  # other taxa and baselines
    with pytest.warns(OutOfDomainWarning, match="outside the model's applicability domain"):
        far = predict_table(model, other.table)
    assert far.predictions["in_domain"].mean() < 0.5


# ---------------------------------------------------------------- recalibration
def _shifted_site(cohort):
    """The same kind of samples, read at another site: one driver-free taxon inflated."""
    table = cohort.table.copy()
    table.iloc[:, :5] *= 20
    return table


def test_holdout_split_keeps_subjects_whole_and_is_seeded():
    y = np.array([1, 1, 0, 0, 1, 0, 1, 0, 1, 0])
    groups = np.array(list("aabbcdeffg"))
    fit, held = holdout_split(y, groups, 0.5, seed=4)
    assert not set(groups[fit]) & set(groups[held]) and len(fit) + len(held) == len(y)
    again = holdout_split(y, groups, 0.5, seed=4)
    np.testing.assert_array_equal(held, again[1])


def test_recalibration_refits_after_the_frozen_pipeline(model, cohort):
    site = _shifted_site(cohort)
    result = recalibrate(
        model, site, cohort.metadata, group="subject_id", holdout=0.5, seed=0, source="site"
    )
    new = result.model
    assert new.pipeline is model.pipeline and model.trust.calibrator.method == "sigmoid"
    np.testing.assert_array_equal(
        new.apply(site).raw_probabilities, model.apply(site).raw_probabilities
    )
    assert result.n_fit + result.n_holdout == len(site) and result.n_holdout > 0
    assert result.after["brier"] <= result.before["brier"] + 0.02
    record = new.card.trust.recalibrations[-1]
    assert record["table"] == "site" and record["n_fit"] == result.n_fit
    assert record["intercept"] == new.trust.calibrator.intercept
    assert model.card.trust.recalibrations == []  # the original is left alone
    assert "before" in result.format() and "balanced accuracy" in result.format()
    # the training cohort's confusion matrix says it is at the training threshold, not the new one
    old, moved = model.card.classwise, new.card.classwise
    assert moved.confusion == old.confusion and moved.threshold == old.threshold
    assert "since recalibrated on site" in moved.source and "since" not in old.source
    assert f"threshold now {new.trust.threshold:.3f}" in moved.source


def test_recalibrate_cli(model, cohort, tmp_path):
    bundle = model.save(tmp_path / "cd.mlmodel")
    table = tmp_path / "site.tsv"
    meta = tmp_path / "site_meta.tsv"
    mlmicro.write_table(_shifted_site(cohort), table)
    cohort.metadata.rename_axis("sample_id").to_csv(meta, sep="\t")
    before = bundle.read_bytes()
    runner = CliRunner()
    args = [
        "recalibrate",
        str(bundle),
        str(table),
        "--metadata",
        str(meta),
        "--group",
        "subject_id",
        "--holdout",
        "0.5",
    ]
    same = runner.invoke(app, [*args, "--output", str(bundle)])
    assert same.exit_code == 1 and "is the input model" in same.output
    out = tmp_path / "site.mlmodel"
    result = runner.invoke(app, [*args, "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "held-out samples" in result.output and out.is_file()
    assert bundle.read_bytes() == before
    card = json.loads(out.with_suffix(".card.json").read_text())
    assert card["trust"]["recalibrations"][0]["n_holdout"] > 0
    again = runner.invoke(app, [*args, "--output", str(out)])
    assert again.exit_code == 1 and "--force" in again.output
    predicted = runner.invoke(
        app, ["predict", str(out), str(table), "--prevalence", "0.1", "--no-progress"]
    )
    assert predicted.exit_code == 0, predicted.output
    assert "recalibration samples" in predicted.output and "PPV" in predicted.output


def test_report_sections(model):
    sections = dict((a, body) for a, _, body in trust_sections(model))
    assert "<img" in sections["calibration"] and "slope" in sections["calibration"]
    assert f"{model.trust.threshold:.3f}" in sections["threshold"]
    assert "in domain" in sections["domain"]
    plain = Trust(classes=("a", "b"))
    assert plain.labels(np.array([[0.4, 0.6], [np.nan, np.nan]])).tolist() == ["b", None]
