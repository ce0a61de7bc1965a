"""Confounder screening, the covariate baseline and association tests beside SHAP."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

import mlmicro
from mlmicro.cli import app
from mlmicro.datasets import load_default_cohort
from mlmicro.exceptions import MetadataError, ModelBundleError
from mlmicro.explain.association import clr_values, robust_clr_ranks, taxon_associations
from mlmicro.model.card import ModelCard
from mlmicro.model.confounders import (
    ConfounderWarning,
    benjamini_hochberg,
    screen_confounders,
)
from mlmicro.model.covariates import CovariateEncoder
from mlmicro.model.model import InSampleWarning
from mlmicro.report.screening import association_table
from mlmicro.taxonomy import truncate_lineage


def _labels(n: int, seed: int = 0) -> pd.Series:
    rng = np.random.default_rng(seed)
    return pd.Series(
        rng.permutation(["case", "control"] * (n // 2)), index=[f"s{i}" for i in range(n)]
    )


def test_screen_flags_separating_columns_and_skips_ids():
    y = _labels(80)
    rng = np.random.default_rng(1)
    case = (y == "case").to_numpy()
    meta = pd.DataFrame(
        {
            "sample_id": [f"x{i}" for i in range(80)],
            "subject": [f"p{i // 2}" for i in range(80)],
            "diagnosis": y.to_numpy(),
            "site": np.where(case, "biopsy", np.where(rng.random(80) < 0.5, "biopsy", "stool")),
            "noise": rng.choice(["a", "b", "c"], 80),
            "age": np.where(case, 60.0, 30.0) + rng.normal(0, 5, 80),
            "bmi": rng.normal(25, 3, 80),
        },
        index=y.index,
    )
    meta.loc[meta.index[:5], "bmi"] = np.nan
    with pytest.warns(ConfounderWarning, match="'age'.*'site'|'site'.*'age'"):
        screen = screen_confounders(meta, y, label="diagnosis", group="subject")
    flagged = {c.column for c in screen.flagged}
    assert flagged == {"age", "site"}
    by_name = {c.column: c for c in screen.columns}
    assert by_name["site"].test == "Fisher's exact"
    assert by_name["site"].pure_levels[0]["level"] == "stool"  # every stool sample is a control
    assert by_name["age"].test == "Wilcoxon rank-sum" and by_name["age"].auroc > 0.95
    assert by_name["noise"].test == "chi-squared" and not by_name["noise"].separates
    assert by_name["bmi"].n_missing == 5 and by_name["bmi"].n_samples == 75
    assert by_name["sample_id"].status == "skipped" and "identifier" in by_name["sample_id"].reason
    assert by_name["diagnosis"].reason == "the label column"
    assert by_name["subject"].reason == "the group (subject) column"
    tested = screen.tested
    q = benjamini_hochberg([c.p_value for c in tested])
    assert np.allclose(q, [c.q_value for c in tested])
    assert "in-sample" in screen.warning()


def test_confounder_warning_quotes_a_column_name_for_the_shell():
    y = _labels(60)
    case = (y == "case").to_numpy()
    site = np.where(case, "skin", "gut")
    site[np.flatnonzero(~case)[:3]] = "skin"  # not a copy of the label, but close
    meta = pd.DataFrame({"diagnosis": y.to_numpy(), "body site": site}, index=y.index)
    with pytest.warns(ConfounderWarning) as caught:
        screen = screen_confounders(meta, y, label="diagnosis")
    assert "--study 'body site'," in screen.warning()
    assert any("--study 'body site'," in str(w.message) for w in caught)


def test_screen_of_unconfounded_metadata_is_quiet():
    y = _labels(60, seed=3)
    rng = np.random.default_rng(4)
    meta = pd.DataFrame(
        {"sex": rng.choice(["f", "m"], 60), "age": rng.normal(40, 10, 60)}, index=y.index
    )
    screen = screen_confounders(meta, y)  # warnings are errors here: none may be issued
    assert screen.flagged == [] and len(screen.tested) == 2


def test_multiclass_screen_uses_chi_squared_and_kruskal():
    rng = np.random.default_rng(5)
    y = pd.Series(rng.choice(["CD", "UC", "control"], 90), index=[f"s{i}" for i in range(90)])
    centre = y.map({"CD": "a", "UC": "b", "control": "c"}).to_numpy().copy()
    centre[:6] = "a"  # a few samples of other classes in centre a
    meta = pd.DataFrame(
        {
            "centre": centre,
            "subtype": y.map({"CD": "L1", "UC": "E2", "control": "none"}),
            "age": rng.normal(0, 1, 90),
        },
        index=y.index,
    )
    with pytest.warns(ConfounderWarning, match="centre"):
        screen = screen_confounders(meta, y)
    by_name = {c.column: c for c in screen.columns}
    assert by_name["centre"].test == "chi-squared" and by_name["centre"].auroc > 0.9
    assert by_name["subtype"].status == "skipped" and "derived from the label" in (
        by_name["subtype"].reason
    )
    assert by_name["age"].test == "Kruskal-Wallis" and not by_name["age"].separates


def test_covariate_encoder_learns_from_training_rows_only():
    train = pd.DataFrame({"age": [10.0, 20.0, np.nan], "sex": ["f", None, "m"]})
    test = pd.DataFrame({"age": [np.nan, 40.0], "sex": ["x", "f"]})
    encoder = CovariateEncoder({"age": "numeric", "sex": "categorical"}).fit(train)
    assert encoder.center_["age"] == 15.0
    assert encoder.levels_["sex"] == ["(missing)", "f", "m"]
    out = encoder.transform(test)
    assert out[0, 0] == 0.0  # missing -> the training median, standardised
    assert out[0, 1:].tolist() == [0.0, 0.0, 0.0]  # unseen level: no column set


@pytest.fixture(scope="module")
def embedded_model():
    cohort = load_default_cohort()
    meta = cohort.metadata.copy()
    rng = np.random.default_rng(0)
    cd = (meta["diagnosis"] == "CD").to_numpy()
    # a covariate that knows the label 80% of the time
    meta["marker"] = np.where(rng.random(len(meta)) < 0.8, cd, ~cd).astype(int).astype(str)
    model = mlmicro.train(
        cohort.table,
        meta,
        label="diagnosis",
        positive=["CD"],
        negative=["control"],
        group="subject_id",
        config="fast",
        covariates=["age", "marker"],
        jobs=1,
    )
    return model, cohort


def test_train_records_screen_and_covariate_baseline(embedded_model, tmp_path):
    model, _ = embedded_model
    card = model.card
    assert {c.column for c in card.confounders} >= {"study", "age", "sex", "marker"}
    assert not any(c.separates for c in card.confounders if c.column != "marker")
    baseline = card.covariates
    assert baseline.columns == ["age", "marker"]
    assert baseline.microbiome_only["mean"] == pytest.approx(card.metric("roc_auc")["mean"])
    assert 0.7 < baseline.covariates_only["mean"] < 0.9  # the marker is right 80% of the time
    assert baseline.combined["mean"] > baseline.covariates_only["mean"]
    lo, hi = baseline.added_roc_auc["ci95"]
    assert lo < baseline.added_roc_auc["mean"] < hi and baseline.added_roc_auc["unit"] == "subjects"
    path = model.save(tmp_path / "m.mlmodel")
    again = mlmicro.load_model(path)
    assert again.card.covariates == baseline and again.card.confounders == card.confounders


def test_card_without_screen_fields_is_refused(embedded_model):
    data = embedded_model[0].card.to_dict()
    assert json.loads(json.dumps(data))["confounders"]
    del data["confounders"]
    with pytest.raises(ModelBundleError, match="confounders"):
        ModelCard.from_dict(data)


def test_unknown_covariate_fails_before_training():
    cohort = load_default_cohort()
    with pytest.raises(MetadataError, match="Covariate 'bmi' is not in the sample metadata"):
        mlmicro.train(cohort.table, cohort.metadata, label="diagnosis", covariates=["bmi"])


def test_planted_drivers_significant_and_agree_with_shap(embedded_model):
    model, cohort = embedded_model
    summary = model.explain().summary().set_index("lineage")
    keys = [truncate_lineage(lineage, model.rank) for lineage in cohort.drivers["lineage"]]
    drivers = summary.loc[keys]
    expected = np.where(cohort.drivers["direction"] == "enriched", "CD", "control")
    assert drivers["assoc_direction"].tolist() == expected.tolist()
    assert drivers["agrees_with_shap"].tolist() == [True] * len(keys)
    assert (drivers["assoc_p_value"] < 0.05).all()
    # FDR 5% over the model's taxa. The default rank of this cohort is its SGB rows, where each
    # planted strain is a taxon of its own (at species rank F. prausnitzii's row also holds two
    # unplanted sister strains, 57% of its abundance, and misses the FDR at q 0.07).
    assert model.rank == "strain"
    assert (drivers["assoc_q_value"] < 0.05).all()
    assert (np.sign(drivers["generalised_fold_change"]) == np.where(expected == "CD", 1, -1)).all()
    others = summary.drop(index=keys)
    assert (others["assoc_q_value"] < 0.05).mean() < 0.1


def test_association_counts_each_subject_once():
    """Labels given per subject, no class effect: by subject the test keeps its 5% level."""
    rng = np.random.default_rng(7)
    n_subjects, per_subject, n_taxa = 40, 8, 300
    subject = np.repeat(np.arange(n_subjects), per_subject)
    # each subject has its own composition; its samples vary little around it
    own = rng.normal(0.0, 1.5, (n_subjects, n_taxa))
    values = np.exp(own[subject] + rng.normal(0.0, 0.3, (len(subject), n_taxa)))
    ids = [f"s{i}" for i in range(len(subject))]
    table = pd.DataFrame(values, index=ids)
    groups = pd.Series([f"p{s}" for s in subject], index=ids)
    case_subjects = rng.permutation(n_subjects) < n_subjects // 2
    labels = pd.Series(np.where(case_subjects[subject], "case", "control"), index=ids)
    by_sample = taxon_associations(table, labels, "case", ["control", "case"])
    by_subject = taxon_associations(table, labels, "case", ["control", "case"], groups=groups)
    assert (by_sample["assoc_p_value"] < 0.05).mean() > 0.3  # pseudo-replication
    assert (by_subject["assoc_p_value"] < 0.05).mean() < 0.1
    # the test on subjects is the rank test of the subjects' mean rCLR values
    ranked = pd.DataFrame(robust_clr_ranks(values)).groupby(subject).mean().to_numpy()
    expected = stats.mannwhitneyu(ranked[case_subjects], ranked[~case_subjects], axis=0).pvalue
    np.testing.assert_allclose(by_subject["assoc_p_value"].to_numpy(), expected)
    # samples without a subject count on their own
    loose = taxon_associations(
        table, labels, "case", ["control", "case"], groups=pd.Series(dtype=object)
    )
    pd.testing.assert_frame_equal(loose, by_sample)


def test_subjects_travel_in_the_bundle_to_the_association_tests(embedded_model, tmp_path):
    model, cohort = embedded_model
    subjects = model.training.subject_ids()
    assert subjects is not None
    assert (
        subjects.to_dict()
        == cohort.metadata.loc[subjects.index, "subject_id"].astype(str).to_dict()
    )
    path = tmp_path / "model.mlmodel"
    model.save(path)
    loaded = mlmicro.load_model(path)
    pd.testing.assert_series_equal(loaded.training.subject_ids(), subjects)
    explanation = loaded.explain()
    n_subjects = cohort.metadata["subject_id"].nunique()
    expected = f"each subject once per class ({n_subjects} subjects"
    assert any(expected in note for note in explanation.notes)
    pd.testing.assert_frame_equal(explanation.summary(), model.explain().summary())
    caption = association_table(explanation, explanation.summary())
    assert "each subject counted once per class" in caption
    # a given cohort: the subjects come from the model's group column of its metadata
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InSampleWarning)
        given = model.explain(cohort.table, metadata=cohort.metadata)
        unpaired = model.explain(cohort.table, metadata=cohort.metadata.drop(columns="subject_id"))
    assert any(expected in note for note in given.notes)
    assert given.subjects is not None and unpaired.subjects is None
    assert "each sample counted as independent" in association_table(unpaired, unpaired.summary())


def test_association_of_a_taxon_ignores_how_many_others_are_absent():
    rng = np.random.default_rng(4)
    n, cases = 300, np.arange(300) < 150
    values = np.exp(rng.normal(0.0, 1.0, (n, 30)))
    # cases lose taxa 10-29 more often; taxa 0-9 have the same distribution in both classes
    absent = rng.random((n, 20)) < np.where(cases, 0.6, 0.1)[:, None]
    values[:, 10:][absent] = 0.0
    table = pd.DataFrame(values, index=[f"s{i}" for i in range(n)])
    labels = pd.Series(np.where(cases, "case", "control"), index=table.index)
    tests = taxon_associations(table, labels, "case", ["control", "case"])
    assert (tests["assoc_q_value"].iloc[:10] > 0.05).all()
    assert (tests["assoc_q_value"].iloc[10:] < 0.05).all()
    # the plain CLR after zero replacement moves every taxon with the others' zeros
    clr = clr_values(values)
    p = stats.mannwhitneyu(clr[cases, :10], clr[~cases, :10], axis=0).pvalue
    assert (p < 0.05).all()


def test_confounders_command(tmp_path):
    cohort = load_default_cohort()
    meta = cohort.metadata.copy()
    control = (meta["diagnosis"] != "CD").to_numpy()
    meta["centre"] = np.where(control & (np.arange(len(meta)) % 4 != 0), "south", "north")
    table_path, meta_path = tmp_path / "table.tsv", tmp_path / "meta.tsv"
    cohort.table.to_csv(table_path, sep="\t")
    meta.to_csv(meta_path, sep="\t")
    out = tmp_path / "screen.tsv"
    runner = CliRunner()
    args = ["confounders", str(table_path), "--metadata", str(meta_path), "--label", "diagnosis"]
    result = runner.invoke(
        app, [*args, "--positive", "CD", "--group", "subject_id", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "warning: 1 metadata column(s) on their own separate the classes" in result.output
    assert "'centre'" in result.output and "skipped (the label column): diagnosis" in result.output
    frame = pd.read_csv(out, sep="\t")
    assert frame.loc[frame["column"] == "centre", "separates"].item()
    again = runner.invoke(app, [*args, "-o", str(out)])
    assert again.exit_code == 1 and "already exists" in again.output
    bad = runner.invoke(app, [*args[:-1], "nope"])
    assert bad.exit_code == 1 and bad.output.startswith("error: Label column 'nope'")
