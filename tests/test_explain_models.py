"""Explanations for every model type: exact TreeSHAP for forests, linear SHAP for logistic."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

import mlmicro
from mlmicro.cli import app
from mlmicro.datasets import simulate_cohort
from mlmicro.model.contributions import contribution_method
from mlmicro.taxonomy import truncate_lineage

# these tests apply models to their own training samples on purpose
pytestmark = [
    pytest.mark.filterwarnings("ignore::mlmicro.model.model.InSampleWarning"),
    pytest.mark.filterwarnings("ignore::mlmicro.model.confounders.ConfounderWarning"),
]


@pytest.fixture(scope="module")
def cohort():
    return simulate_cohort(n_subjects=80, seed=2)


def _train(cohort, model, **task):
    task = task or dict(positive=["CD"])
    return mlmicro.train(
        cohort.table,
        cohort.metadata,
        label="diagnosis",
        group="subject_id",
        config="fast",
        rank="species",
        model=model,
        jobs=1,
        **{"cv.folds": 3},
        **task,
    )


def _raw_output(model, table):
    """What the classifier computes: probability (forest) or log-odds (logistic)."""
    applied = model.apply(table)
    classifier = model.pipeline[-1]
    if model.card.model_type == "random-forest":
        return classifier.predict_proba(applied.features)
    return classifier.decision_function(applied.features)


@pytest.mark.parametrize("kind", ["random-forest", "logistic-l1"])
def test_shap_values_add_up_to_the_classifier_output(cohort, kind):
    model = _train(cohort, kind)
    table = cohort.table.iloc[:40]
    exp = model.explain(table)
    assert exp.unit == contribution_method(model.pipeline).unit
    total = exp.values.sum(axis=1).to_numpy() + exp.base_value
    raw = _raw_output(model, table)
    expected = raw[:, 1] if raw.ndim == 2 else raw
    np.testing.assert_allclose(total, expected, atol=1e-6)
    # probabilities reported are the classifier's own
    np.testing.assert_allclose(
        exp.probability.to_numpy(), model.predict_proba(table).to_numpy(), atol=1e-12
    )
    # the planted drivers lead the ranking
    drivers = {truncate_lineage(lineage, "species") for lineage in cohort.drivers["lineage"]}
    assert len(drivers & set(exp.ranked_keys(10))) >= 4


def test_multiclass_logistic_has_one_view_per_class(cohort):
    meta = cohort.metadata.copy()
    meta["group3"] = np.where(meta["age"] < 30, "young", meta["diagnosis"])
    model = mlmicro.train(
        cohort.table,
        meta,
        label="group3",
        group="subject_id",
        config="fast",
        model="logistic-l1",
        jobs=1,
        **{"cv.folds": 3},
    )
    exp = model.explain(cohort.table.iloc[:30])
    assert [v.outputs[0] for v in exp.views()] == model.classes
    margins = exp.values.sum(axis=1)  # per (sample, class)
    decision = model.pipeline[-1].decision_function(model.apply(cohort.table.iloc[:30]).features)
    for k, name in enumerate(model.classes):
        got = margins.xs(name, level="class").to_numpy() + exp.base_value[name]
        np.testing.assert_allclose(got, decision[:, k], atol=1e-6)


def test_cli_explain_and_top_strains_work_for_a_forest(cohort, tmp_path):
    model = _train(cohort, "random-forest")
    bundle = model.save(tmp_path / "rf.mlmodel")
    table = tmp_path / "t.tsv"
    mlmicro.write_table(cohort.table.iloc[:30], table)
    out = tmp_path / "p.tsv"
    result = CliRunner().invoke(
        app, ["predict", str(bundle), str(table), "--top-strains", "3", "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(
        app, ["explain", str(bundle), str(table), "--output-dir", str(tmp_path / "r")]
    )
    assert result.exit_code == 0, result.output
    page = (tmp_path / "r" / "report.html").read_text()
    assert "probability of CD" in page and "TreeExplainer" in page
