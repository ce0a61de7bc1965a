"""``mlmicro predict``: output, reports, and one-line refusals that leave nothing behind."""

from __future__ import annotations

import json
import zipfile
from io import StringIO
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from bundle_helpers import members_of, rewrite, write_members
from typer.testing import CliRunner

import mlmicro
from mlmicro.cli import app
from mlmicro.datasets import simulate_cohort

runner = CliRunner()


def run(*args):
    return runner.invoke(app, ["predict", *map(str, args)])


def one_line_error(result) -> str:
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    return errors[0]


def train(seed: int, **options) -> mlmicro.Model:
    cohort = simulate_cohort(n_subjects=40, seed=seed)
    return mlmicro.train(
        cohort.table,
        cohort.metadata,
        label="diagnosis",
        positive=["CD"],
        group="subject_id",
        config="fast",
        jobs=1,
        **{"cv.folds": 3},
        **options,
    )


# the "new" cohorts are simulated with other seeds: other taxa and baselines, so out of the
# training cohort's applicability domain (tested in tests/test_trust.py)
pytestmark = pytest.mark.filterwarnings("ignore::mlmicro.predict.OutOfDomainWarning")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("predict_cli")
    model = train(1, negative=["control"])
    bundle = model.save(folder / "model.mlmodel")
    new = simulate_cohort(n_subjects=25, seed=5)
    table = folder / "cohort.tsv"
    mlmicro.write_table(new.table, table)
    metadata = folder / "metadata.tsv"
    new.metadata.to_csv(metadata, sep="\t")
    return {"folder": folder, "bundle": bundle, "table": table, "metadata": metadata, "new": new}


def test_predict_to_a_file_with_report_and_validation(setup, tmp_path):
    out = tmp_path / "predictions.csv"
    result = run(
        setup["bundle"],
        setup["table"],
        "--output",
        out,
        "--metadata",
        setup["metadata"],
        "--top-strains",
        "2",
        "--chunk-size",
        "9",
        "--no-progress",
    )
    assert result.exit_code == 0, result.output
    written = pd.read_csv(out)
    assert written.columns.tolist() == [
        "sample_id",
        "predicted_label",
        "probability_control",
        "probability_CD",
        "probability_source",
        "status",
        "domain_score",
        "in_domain",
        "shap_source",
        "top1_taxon",
        "top1_shap",
        "top2_taxon",
        "top2_shap",
    ]
    assert len(written) == len(setup["new"].table)
    assert (written["probability_source"] == "model").all()  # a cohort the model never saw
    assert (written["shap_source"] == "out-of-sample").all()
    stderr = result.stderr
    for text in ("coverage:", "model taxa", "abundance on model taxa", "AUROC", "AUPRC"):
        assert text in stderr
    assert "balanced accuracy" in stderr and f"wrote {out}" in stderr
    assert result.stdout == ""


def test_predict_without_output_writes_tsv_to_stdout(setup):
    result = run(setup["bundle"], setup["table"], "--no-progress")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(StringIO(result.stdout), sep="\t", index_col="sample_id")
    notebook = mlmicro.load_model(setup["bundle"]).predict_proba(mlmicro.read_table(setup["table"]))
    np.testing.assert_allclose(table[notebook.columns], notebook, rtol=1e-12)
    assert "coverage:" in result.stderr and "coverage:" not in result.stdout


def test_existing_output_is_refused_without_force(setup, tmp_path):
    out = tmp_path / "p.tsv"
    out.write_text("keep me\n")
    error = one_line_error(run(setup["bundle"], setup["table"], "-o", out, "--no-progress"))
    assert "already exists" in error and "--force" in error
    assert out.read_text() == "keep me\n"
    result = run(setup["bundle"], setup["table"], "-o", out, "--force", "--no-progress")
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("sample_id\t")


def _no_output(folder) -> None:
    assert not [p for p in folder.iterdir() if p.name.startswith(("out", ".out"))]


def test_a_table_is_not_a_model(setup, tmp_path):
    error = one_line_error(run(setup["table"], setup["table"], "-o", tmp_path / "out.tsv"))
    assert "not a model bundle" in error
    _no_output(tmp_path)


def test_a_bundle_under_another_name_is_read_and_an_artifact_is_not(setup, tmp_path):
    """``train --output model.bin`` writes a bundle; predict reads it by its contents."""
    renamed = tmp_path / "crohn.model"
    renamed.write_bytes(Path(setup["bundle"]).read_bytes())
    result = run(renamed, setup["table"], "-o", tmp_path / "out.tsv", "--no-progress")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out.tsv").read_text().startswith("sample_id\t")
    artifact = tmp_path / "table.qza"  # a QIIME 2 artifact is a zip archive too
    artifact.write_bytes(Path(setup["bundle"]).read_bytes())
    error = one_line_error(run(artifact, setup["table"], "-o", tmp_path / "out2.tsv"))
    assert "not a model bundle" in error and "MODEL comes before TABLE" in error


def test_a_tampered_model_is_refused(setup, tmp_path):
    bundle = tmp_path / "model.mlmodel"
    members = members_of(setup["bundle"])
    card = json.loads(members["card.json"])
    card["classes"] = list(reversed(card["classes"]))
    members["card.json"] = json.dumps(card).encode()
    # the archive's own listing still holds the genuine digests
    with zipfile.ZipFile(setup["bundle"]) as archive:
        members["format.json"] = archive.read("format.json")
    write_members(bundle, members, relist=False)
    error = one_line_error(run(bundle, setup["table"], "-o", tmp_path / "out.tsv"))
    assert "SHA-256" in error and "changed or damaged" in error
    _no_output(tmp_path)


def test_a_model_from_an_incompatible_version_is_refused(setup, tmp_path):
    bundle = tmp_path / "model.mlmodel"

    def future(members):
        members["model.json"] = json.dumps({"format": "mlmicro-model", "format_version": 99})
        members["model.json"] = members["model.json"].encode()

    rewrite(setup["bundle"], bundle, future)
    error = one_line_error(run(bundle, setup["table"], "-o", tmp_path / "out.tsv"))
    assert "bundle format 99" in error and "retrain" in error
    _no_output(tmp_path)


def test_a_file_that_is_not_a_bundle_is_refused(setup, tmp_path):
    bundle = tmp_path / "model.mlmodel"
    bundle.write_bytes(b"not a bundle")
    error = one_line_error(run(bundle, setup["table"], "-o", tmp_path / "out.tsv"))
    assert "not an mlmicro model bundle" in error
    _no_output(tmp_path)


def test_the_card_copy_beside_a_bundle_is_not_needed(setup, tmp_path):
    bundle = tmp_path / "model.mlmodel"
    bundle.write_bytes(setup["bundle"].read_bytes())
    result = run(bundle, setup["table"], "-o", tmp_path / "out.tsv")
    assert result.exit_code == 0, result.output
    assert f"model {bundle}: unsigned" in result.stderr


def test_a_table_with_no_taxa_in_common_is_refused(setup, tmp_path):
    table = tmp_path / "otus.tsv"
    pd.DataFrame(
        {"OTU_1": [1.0, 2.0], "OTU_2": [3.0, 1.0]}, index=pd.Index(["a", "b"], name="sample_id")
    ).to_csv(table, sep="\t")
    error = one_line_error(
        run(setup["bundle"], table, "-o", tmp_path / "out.tsv", "--min-coverage", "0")
    )
    assert "None of the 2 taxa" in error
    _no_output(tmp_path)


def test_low_coverage_is_refused_unless_overridden(setup, tmp_path):
    table = mlmicro.read_table(setup["table"])
    few = tmp_path / "few.tsv"
    prevalent = (table > 0).sum().sort_values(ascending=False).index[:4]
    subset = table[prevalent]
    mlmicro.write_table(subset[subset.sum(axis=1) > 0], few)
    error = one_line_error(run(setup["bundle"], few, "-o", tmp_path / "out.tsv"))
    assert "below the minimum coverage of 50%" in error and "--min-coverage 0" in error
    _no_output(tmp_path)
    result = run(setup["bundle"], few, "-o", tmp_path / "out.tsv", "--min-coverage", "0")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("where", ["same block", "later block"])
def test_duplicate_sample_ids_are_refused(setup, tmp_path, where):
    table = mlmicro.read_table(setup["table"])
    ids = table.index.tolist()
    ids[1 if where == "same block" else -1] = ids[0]
    table.index = pd.Index(ids, name="sample_id")
    path = tmp_path / "dups.tsv"
    table.to_csv(path, sep="\t")
    error = one_line_error(
        run(setup["bundle"], path, "-o", tmp_path / "out.tsv", "--chunk-size", "5")
    )
    assert f"{ids[0]!r} appears" in error
    _no_output(tmp_path)


def test_a_bad_cell_in_a_later_block_leaves_no_partial_output(setup, tmp_path):
    text = setup["table"].read_text().splitlines()
    cells = text[-1].split("\t")
    cells[3] = "n/a"
    text[-1] = "\t".join(cells)
    path = tmp_path / "bad.tsv"
    path.write_text("\n".join(text) + "\n")
    error = one_line_error(
        run(setup["bundle"], path, "-o", tmp_path / "out.tsv", "--chunk-size", "4")
    )
    assert "Missing value" in error and cells[0] in error
    _no_output(tmp_path)


def test_top_strains_of_a_forest_are_its_tree_shap(setup, tmp_path):
    forest = train(2, model="random-forest")
    bundle = forest.save(tmp_path / "forest.mlmodel")
    out = tmp_path / "out.tsv"
    result = run(bundle, setup["table"], "-o", out, "--top-strains", "3")
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(out, sep="\t", dtype={"sample_id": str}).set_index("sample_id")
    exp = forest.explain(mlmicro.read_table(setup["table"]))
    key_of = dict(zip(exp.features["name"], exp.features.index, strict=True))
    sample = rows.index[0]
    assert rows.at[sample, "top1_shap"] == pytest.approx(
        exp.values.at[sample, key_of[rows.at[sample, "top1_taxon"]]], abs=1e-9
    )


def test_validation_with_other_label_spellings_and_a_single_class(setup, tmp_path):
    meta = pd.read_csv(setup["metadata"], sep="\t", index_col=0)
    meta["status"] = meta["diagnosis"].map({"CD": "yes", "control": "no"})
    path = tmp_path / "meta.tsv"
    meta.to_csv(path, sep="\t")
    args = [setup["bundle"], setup["table"], "-o", tmp_path / "o.tsv", "--no-progress"]
    result = run(
        *args, "--metadata", path, "--label", "status", "--positive", "yes", "--negative", "no"
    )
    assert result.exit_code == 0, result.output
    assert "AUROC" in result.stderr and "n/a" not in result.stderr
    meta[meta["diagnosis"] == "CD"].to_csv(path, sep="\t")
    result = run(*args, "--force", "--metadata", path)
    assert result.exit_code == 0, result.output
    assert "AUROC              n/a (no control)" in result.stderr
    error = one_line_error(run(*args, "--force", "--label", "status"))
    assert "need --metadata" in error


def test_an_unknown_output_extension_is_refused_before_reading(setup, tmp_path):
    error = one_line_error(run(setup["bundle"], setup["table"], "-o", tmp_path / "out.xlsx"))
    assert "output format" in error
