"""The explanation report: one self-contained HTML file, its tables and the CLI."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from explain_helpers import planted, small
from typer.testing import CliRunner

from mlmicro.cli import app
from mlmicro.report import write_report

runner = CliRunner()
SCREENSHOT = Path(__file__).resolve().parents[1] / "benchmarks" / "screenshot_report.sh"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    _, model = planted()
    exp = model.explain()
    folder = tmp_path_factory.mktemp("report")
    samples = list(exp.sample_ids[:2])
    files = write_report(exp, model, folder, top=12, samples=samples, aggregate="genus")
    return exp, model, folder, files, samples


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    cohort, model = planted()
    path = model.save(tmp_path_factory.mktemp("model") / "cd.mlmodel")
    return cohort, path


def test_report_is_one_self_contained_file(report):
    _, _, folder, files, _ = report
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert files["report"] == folder / "report.html"
    # no network: nothing loaded by URL, images embedded
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<script src" not in page and "<link" not in page
    images = re.findall(r'<img src="data:image/png;base64,', page)
    # CV curves, calibration, bar + beeswarm + dependence, aggregated bar + beeswarm, waterfalls
    assert len(images) == 1 + 1 + 3 + 2 + 2
    for heading in [
        "Model card",
        "Cross-validated performance",
        "Taxa that drive predictions",
        "Aggregated to genus",
        "Single samples",
    ]:
        assert heading in page
    assert 'class="sortable strains"' in page and "addEventListener" in page


def test_report_shows_the_model_card(report):
    _, model, folder, _, _ = report
    page = (folder / "report.html").read_text(encoding="utf-8")
    auc = model.card.cv_metrics["roc_auc"]
    assert f"{auc['mean']:.3f}" in page
    assert model.card.cv["scheme"] in page
    assert f"{model.card.n_samples} (" in page


def test_tables_hold_the_plotted_numbers(report):
    exp, model, folder, files, samples = report
    summary = pd.read_csv(folder / "shap_summary.tsv", sep="\t")
    expected = exp.summary(top_k=12)
    assert summary["lineage"].tolist() == expected["lineage"].tolist()
    np.testing.assert_allclose(summary["mean_abs_shap"], expected["mean_abs_shap"], rtol=1e-5)
    assert {"rank", "name", "direction", "prevalence_CD", "cv_top_k_share"} <= set(summary)
    values = pd.read_parquet(folder / "shap_values.parquet").set_index("sample_id")
    np.testing.assert_allclose(values.to_numpy(), exp.values.to_numpy())
    assert list(values.columns) == list(exp.values.columns)
    data = pd.read_parquet(folder / "feature_values.parquet").set_index("sample_id")
    np.testing.assert_allclose(data.to_numpy(), exp.data.to_numpy())
    curves = pd.read_csv(folder / "cv_curves.tsv", sep="\t")
    assert set(curves["curve"]) == {"roc", "pr"} and curves["y"].between(0, 1).all()
    contributions = pd.read_csv(folder / "sample_contributions.tsv", sep="\t")
    assert contributions["sample_id"].unique().tolist() == samples
    first = contributions[contributions["sample_id"] == samples[0]]
    margin = first["base_value"].iloc[0] + first["shap"].sum()
    # training samples: the waterfall's probability is out-of-fold, the bars the in-sample model
    assert (first["probability_source"] == "out-of-fold").all()
    assert (first["shap_source"] == "in-sample").all()
    oof = exp.probability.loc[samples[0]].iloc[-1]
    assert first["probability"].iloc[0] == pytest.approx(oof, abs=1e-5)
    assert 1 / (1 + np.exp(-margin)) != pytest.approx(oof, rel=1e-4)
    genus = pd.read_csv(folder / "shap_summary_genus.tsv", sep="\t")
    assert genus["lineage"].str.contains(r"\|g__[^|]+$").all()
    record = json.loads((folder / "explanation.json").read_text())
    assert record["base_value"] == pytest.approx(exp.base_value)
    assert record["files"]["summary"] == "shap_summary.tsv"
    assert not list(folder.glob(".*.tmp"))  # atomic writes leave no temporary files


@pytest.mark.filterwarnings("ignore::mlmicro.model.model.InSampleWarning")
def test_tables_fall_back_to_tsv_without_a_parquet_engine(tmp_path, monkeypatch):
    import importlib.util

    _, model = planted()
    exp = model.explain(model.training.table().iloc[:30])
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name in ("pyarrow", "fastparquet") else real(name, *a),
    )
    from mlmicro.report import write_tables

    files = write_tables(exp, tmp_path)
    assert files["values"].name == "shap_values.tsv"
    back = pd.read_csv(files["values"], sep="\t", index_col="sample_id")
    np.testing.assert_allclose(back.to_numpy(), exp.values.to_numpy())


def test_multiclass_report_has_a_view_per_class(tmp_path):
    _, _, model = small("relative", multiclass=True)
    exp = model.explain()
    write_report(exp, model, tmp_path, top=5, samples=[exp.sample_ids[0]])
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    for name in model.classes:
        assert f"Taxa that drive predictions of {name}" in page
    values = pd.read_parquet(tmp_path / "shap_values.parquet")
    assert list(values.columns[:2]) == ["sample_id", "class"]
    assert len(values) == len(exp.sample_ids) * len(model.classes)


def test_ilr_report_says_it_explains_balances(tmp_path):
    _, _, model = small("ilr")
    exp = model.explain()
    write_report(exp, model, tmp_path, top=5)
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "balances" in page and "not taxa" in page


# ----------------------------------------------------------------------- CLI
def test_cli_explains_the_training_cohort(saved_model, tmp_path):
    _, path = saved_model
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        [
            "explain",
            str(path),
            "--output-dir",
            str(out),
            "--top",
            "8",
            "--aggregate",
            "family",
            "--samples",
            "S0001,S0002",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "top 8 of" in result.output and "more of it" in result.output
    for name in ["report.html", "shap_summary.tsv", "shap_summary_family.tsv"]:
        assert (out / name).is_file(), name
    again = runner.invoke(app, ["explain", str(path), "--output-dir", str(out)])
    assert again.exit_code == 1
    assert "already exists" in again.output and "--force" in again.output
    assert "Traceback" not in again.output


def test_cli_explains_a_given_cohort_with_labels(saved_model, tmp_path):
    cohort, path = saved_model
    table = cohort.table.iloc[:50].T  # taxa as rows: the reader sniffs the orientation
    table.index.name = "taxon"
    table_path = tmp_path / "new.tsv"
    table.to_csv(table_path, sep="\t")
    meta_path = tmp_path / "meta.tsv"
    cohort.metadata.iloc[:50].to_csv(meta_path, sep="\t")
    out = tmp_path / "new"
    result = runner.invoke(
        app,
        ["explain", str(path), str(table_path), "--metadata", str(meta_path), "-o", str(out)],
    )
    assert result.exit_code == 0, result.output
    summary = pd.read_csv(out / "shap_summary.tsv", sep="\t")
    assert {"prevalence_CD", "prevalence_control"} <= set(summary.columns)
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "50 samples (given cohort)" in page


def test_cli_unknown_sample_is_one_line_and_writes_nothing(saved_model, tmp_path):
    _, path = saved_model
    out = tmp_path / "bad"
    result = runner.invoke(app, ["explain", str(path), "-o", str(out), "--samples", "NOT-A-SAMPLE"])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "NOT-A-SAMPLE" in result.output
    assert not (out / "report.html").exists()


def test_cli_default_output_folder_is_reports_model_name(saved_model, tmp_path, monkeypatch):
    _, path = saved_model
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["explain", str(path), "--top", "5"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "reports" / "cd" / "report.html").is_file()


# ------------------------------------------------------------------ rendering
@pytest.mark.slow
@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium not installed")
def test_report_renders_in_headless_chromium(report, tmp_path):
    _, _, folder, _, _ = report
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            "bash",
            str(SCREENSHOT),
            str(folder / "report.html"),
            str(shot),
            "2400",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    from PIL import Image

    with Image.open(shot) as image:
        assert image.size == (1400, 2400)
        colours = image.convert("L").resize((70, 120)).getextrema()
    assert colours[1] - colours[0] > 100  # not a blank page
