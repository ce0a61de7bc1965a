"""End to end on real public cohorts: train, save, predict, explain."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from metaml_helpers import read_metaml_once
from typer.testing import CliRunner

import mlmicro
from mlmicro.cli import app
from mlmicro.model.confounders import ConfounderWarning

pytestmark = pytest.mark.shared


def test_psoriasis_grouped_by_subject(shared_datasets):
    """70 skin samples of 21 subjects: no subject on both sides of any split."""
    table, meta = read_metaml_once(shared_datasets / "metaml" / "abundance.txt.bz2")
    meta = meta[meta["dataset_name"] == "Psoriasis_2014"]
    with pytest.warns(ConfounderWarning, match="'bodysite'"):  # lesions differ by body site
        model = mlmicro.train(
            table.loc[meta.index],
            meta,
            label="disease",
            positive=["y"],
            negative=["n"],
            group="subjectID",
            config="fast",
            **{"cv.repeats": 2},
        )
    assert model.card.n_samples == 70
    assert model.card.cv["scheme"] == "stratified group k-fold"
    subject = meta["subjectID"]
    oof = model.oof_predictions
    for _, rep in oof.groupby("repeat"):
        folds_per_subject = (
            rep.assign(subject=subject.loc[rep["sample_id"]].to_numpy())
            .groupby("subject")["fold"]
            .nunique()
        )
        assert (folds_per_subject == 1).all()
    assert model.card.cv_metrics["roc_auc"]["mean"] > 0.7


def test_qiime2_ms_cohort_through_the_cli(shared_datasets, tmp_path):
    """Jangi et al. MS: QIIME 2 artifacts -> train -> predict -> explain."""
    base = shared_datasets / "qiime2" / "jangi_ms"
    model_path = tmp_path / "models" / "ms.mlmodel"
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "train",
            str(base / "filt-feature-table.qza"),
            "--taxonomy",
            str(base / "hybrid-taxonomy.qza"),
            "--metadata",
            str(base / "subset_metadata_MS.tsv"),
            "--label",
            "Host_disease",
            "--positive",
            "Multiple_sclerosis_in_remission",
            "--negative",
            "Healthy_Control",
            "--config",
            "16s-genus",
            "--folds",
            "5",
            "--repeats",
            "1",
            "--no-progress",
            "--output",
            str(model_path),
        ],
    )
    assert result.exit_code == 0, result.output
    card = json.loads(model_path.with_suffix(".card.json").read_text())
    assert card["n_samples"] == 104 and card["rank"] == "genus"
    assert card["task"]["class_counts"] == {
        "Multiple_sclerosis_in_remission": 61,
        "Healthy_Control": 43,
    }

    out = tmp_path / "pred.csv"
    result = runner.invoke(
        app,
        [
            "predict",
            str(model_path),
            str(base / "filt-feature-table.qza"),
            "--taxonomy",
            str(base / "hybrid-taxonomy.qza"),
            "--no-progress",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    predictions = pd.read_csv(out)
    assert len(predictions) == 104
    assert {"sample_id", "predicted_label"} <= set(predictions.columns)

    report_dir = tmp_path / "report"
    result = runner.invoke(app, ["explain", str(model_path), "-o", str(report_dir), "--top", "10"])
    assert result.exit_code == 0, result.output
    summary = pd.read_csv(report_dir / "shap_summary.tsv", sep="\t")
    assert len(summary) > 10 and summary["mean_abs_shap"].is_monotonic_decreasing
    assert (report_dir / "report.html").stat().st_size > 10_000
