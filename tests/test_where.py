"""``--where``: choosing samples by their metadata in train, predict and explain."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

import mlmicro
from mlmicro.cli import app
from mlmicro.datasets import default_cohort_path, default_metadata_path, load_default_cohort
from mlmicro.exceptions import MetadataError
from mlmicro.io import select_samples

runner = CliRunner()


def test_select_samples_keeps_what_the_condition_says():
    meta = load_default_cohort().metadata
    chosen = select_samples(meta, 'study == "study1" and age >= 30')
    expected = meta[(meta["study"] == "study1") & (meta["age"] >= 30)].index
    assert list(chosen.kept) == list(expected.astype(str))
    assert chosen.n_dropped == len(meta) - len(expected)
    spaced = meta.rename(columns={"study": "Sample type"})
    assert len(select_samples(spaced, '`Sample type` == "study2"').kept) == 130


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("nonsense == 1", "names a column"),
        ("study ==", "is not a condition"),
        ("age + 1", "yes or no"),
        ('study == "nowhere"', "keeps none"),
        ("__import__('os').system('true')", "not a condition"),
    ],
)
def test_bad_conditions_are_one_line_errors(where, message):
    with pytest.raises(MetadataError, match=message) as error:
        select_samples(load_default_cohort().metadata, where)
    assert "\n" not in str(error.value)


def test_train_predict_and_explain_use_only_the_selected_samples(tmp_path):
    table, metadata = default_cohort_path(), default_metadata_path()
    where = 'study == "study1"'
    bundle = tmp_path / "m.mlmodel"
    result = runner.invoke(
        app,
        [
            "train",
            str(table),
            "--metadata",
            str(metadata),
            "--label",
            "diagnosis",
            "--positive",
            "CD",
            "--group",
            "subject_id",
            "--config",
            "fast",
            "--folds",
            "3",
            "--no-progress",
            "--where",
            where,
            "--output",
            str(bundle),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "left out 130 samples; trained on 127" in result.output
    card = json.loads(bundle.with_suffix(".card.json").read_text())
    assert card["n_samples"] == 127 and card["dropped"]["not_selected"] == 130
    out = tmp_path / "p.tsv"
    result = runner.invoke(
        app,
        ["predict", str(bundle), str(table), "--metadata", str(metadata)]
        + ["--where", 'study == "study2"', "--output", str(out)],
    )
    assert result.exit_code == 0, result.output
    predicted = pd.read_csv(out, sep="\t")
    assert len(predicted) == 130 and predicted["sample_id"].str.len().gt(0).all()
    result = runner.invoke(
        app,
        ["explain", str(bundle), "--metadata", str(metadata), "--where", "age < 30"]
        + ["--output-dir", str(tmp_path / "r")],
    )
    assert result.exit_code == 0, result.output
    values = pd.read_parquet(tmp_path / "r" / "shap_values.parquet")
    young = mlmicro.read_metadata(metadata).query('study == "study1" and age < 30')
    assert len(values) == len(young)
    result = runner.invoke(app, ["predict", str(bundle), str(table), "--where", "age < 30"])
    assert result.exit_code == 1 and "give --metadata" in result.output


def test_organelle_features_are_left_out_and_counted():
    cohort = load_default_cohort()
    table = cohort.table.copy()
    table[
        "k__Bacteria|p__Proteobacteria|c__Alphaproteobacteria|o__Rickettsiales|f__mitochondria"
    ] = 5.0
    table["k__Bacteria|p__Cyanobacteria|c__Chloroplast"] = 3.0
    task = dict(label="diagnosis", positive=["CD"], group="subject_id", config="fast", jobs=1)
    model = mlmicro.train(table, cohort.metadata, **task, **{"cv.folds": 3})
    assert model.card.dropped["organelle_features"] == 2
    assert not any("mitochondria" in f or "Chloroplast" in f for f in model.features)
    kept = mlmicro.train(
        table, cohort.metadata, keep_organelles=True, rank="family", **task, **{"cv.folds": 3}
    )
    assert kept.card.dropped["organelle_features"] == 0
    assert any("mitochondria" in f for f in kept.features)
