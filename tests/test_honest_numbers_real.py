"""Honest numbers on real cohorts: intervals that mean what they say, no in-sample scores."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

import mlmicro
from mlmicro.cli import app

pytestmark = pytest.mark.shared


def test_jangi_ms_interval_and_predicting_the_training_samples(shared_datasets, tmp_path):
    """Jangi et al. MS (n = 104, genus): bootstrap CI; predict on training samples is OOF."""
    base = shared_datasets / "qiime2" / "jangi_ms"
    table, taxonomy = base / "filt-feature-table.qza", base / "hybrid-taxonomy.qza"
    model_path = tmp_path / "ms.mlmodel"
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "train",
            str(table),
            "--taxonomy",
            str(taxonomy),
            "--metadata",
            str(base / "subset_metadata_MS.tsv"),
            "--label",
            "Host_disease",  # no --positive: Healthy_Control reads as the control
            "--config",
            "16s-genus",
            "--folds",
            "5",
            "--repeats",
            "1",
            "--jobs",
            "1",
            "--no-progress",
            "--output",
            str(model_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "positive class: Multiple_sclerosis_in_remission" in result.output
    # the 2 features without a taxonomy row and the metadata row without a sample are counted
    assert "left out: 1 metadata row(s) with no table sample (e.g. SRR3501948)" in result.output
    assert "left out: 2 feature(s) without lineage" in result.output
    assert not re.search(r"\[(\d\.\d{3}), \1\]", result.output)  # no zero-width interval
    card = json.loads(model_path.with_suffix(".card.json").read_text())
    assert card["dropped"]["features_without_lineage"]["n"] == 2
    lo, hi = card["cv_metrics"]["roc_auc"]["ci95"]

    model = mlmicro.load_model(model_path)
    oof = model.oof_predictions
    y = (oof["y_true"] == "Multiple_sclerosis_in_remission").to_numpy()
    p = oof["probability_Multiple_sclerosis_in_remission"].to_numpy()
    rng = np.random.default_rng(0)
    aucs = []
    for _ in range(1000):
        rows = np.concatenate([rng.choice(np.flatnonzero(y == c), (y == c).sum()) for c in (0, 1)])
        aucs.append(roc_auc_score(y[rows], p[rows]))
    ref_lo, ref_hi = np.percentile(aucs, [2.5, 97.5])
    assert abs((hi - lo) - (ref_hi - ref_lo)) <= 0.2 * (ref_hi - ref_lo)
    assert lo < roc_auc_score(y, p) < hi

    out = tmp_path / "pred.tsv"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the CLI turns warnings into lines of its output
        result = runner.invoke(
            app,
            [
                "predict",
                str(model_path),
                str(table),
                "--taxonomy",
                str(taxonomy),
                "--metadata",
                str(base / "subset_metadata_MS.tsv"),
                "--no-progress",
                "-o",
                str(out),
            ],
        )
    assert result.exit_code == 0, result.output
    assert "warning: 104 of 104 predicted samples are this model's own training" in result.output
    assert "no external validation" in result.output
    shown = float(re.search(r"AUROC\s+(\d\.\d{3})", result.output.split("validation")[-1])[1])
    assert shown == pytest.approx(roc_auc_score(y, p), abs=5e-4) and shown < 0.999
    predictions = pd.read_csv(out, sep="\t")
    assert (predictions["probability_source"] == "out-of-fold").all()


def test_gevers_rectum_two_valued_label_gets_the_case_as_positive(shared_datasets):
    """CD / no: "no" is the control, so CD is positive without --positive."""
    gevers = shared_datasets / "mlrepo" / "gevers"
    table = mlmicro.read_table(gevers / "refseq" / "taxatable.txt")
    task = mlmicro.read_metadata(gevers / "task-rectum.txt")
    subjects = mlmicro.read_metadata(gevers / "mapping-orig.txt")["HOST_SUBJECT_ID"]
    meta = task.join(subjects)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # table samples without a task row
        model = mlmicro.train(
            table,
            meta,
            label="Var",
            group="HOST_SUBJECT_ID",
            rank="genus",
            config="fast",
            jobs=1,
        )
    assert model.positive_class == "CD" and model.classes == ["no", "CD"]
    assert model.card.task.class_counts == {"no": 92, "CD": 68}
    assert model.card.dropped["samples_without_metadata"]["n"] == len(table) - 160
    lo, hi = model.card.cv_metrics["roc_auc"]["ci95"]
    assert hi - lo > 0.05  # a sample bootstrap, not the spread of fold assignments
