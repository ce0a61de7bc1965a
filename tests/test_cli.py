"""The command line: exit codes, one-line errors, no partial output."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest
from typer.testing import CliRunner

import mlmicro
from mlmicro.cli import app
from mlmicro.datasets import default_cohort_path
from mlmicro.model.model import InSampleWarning

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def _one_line_error(result) -> str:
    assert result.exit_code != 0
    text = result.output.strip()
    assert "Traceback" not in text
    errors = [line for line in text.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, text
    return errors[0]


def test_version_and_help():
    result = run("--version")
    assert result.exit_code == 0 and result.output.strip() == f"mlmicro {mlmicro.__version__}"
    result = run("--help")
    assert result.exit_code == 0
    for command in ("transform", "train"):
        assert command in result.output


@pytest.mark.parametrize("method", ["relative", "clr", "alr", "ilr", "log"])
def test_transform_methods(tmp_path, method):
    out = tmp_path / f"out_{method}.tsv"
    result = run(
        "transform",
        default_cohort_path(),
        "--method",
        method,
        "--rank",
        "genus",
        "--min-prevalence",
        "0.1",
        "--output",
        out,
    )
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out, sep="\t", index_col=0)
    assert table.shape[0] == 257 and table.notna().all().all()
    if method == "clr":
        assert table.sum(axis=1).abs().max() < 1e-8
    if method == "relative":
        assert (table.sum(axis=1) <= 1 + 1e-9).all()


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_transform_output_formats(tmp_path, suffix):
    out = tmp_path / f"out{suffix}"
    result = run(
        "transform", default_cohort_path(), "-m", "clr", "--zeros", "pseudocount", "-o", out
    )
    assert result.exit_code == 0, result.output
    table = pd.read_parquet(out) if suffix == ".parquet" else pd.read_csv(out)
    assert len(table) == 257


def test_transform_leaves_input_unchanged(tmp_path):
    src = default_cohort_path()
    before = hashlib.sha256(src.read_bytes()).hexdigest()
    run("transform", src, "-m", "clr", "-o", tmp_path / "x.tsv")
    assert hashlib.sha256(src.read_bytes()).hexdigest() == before


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["transform", "missing.tsv", "-o", "{out}"], "missing.tsv"),
        (["transform", "{empty}", "-o", "{out}"], "empty"),
        (["transform", "{negative}", "-o", "{out}"], "egative"),
        (["transform", "{cohort}", "-r", "tribe", "-o", "{out}"], "Unknown rank"),
        (["transform", "{cohort}", "-o", "{bad_ext}"], "output format"),
    ],
)
def test_transform_bad_input(tmp_path, args, expected):
    empty = tmp_path / "empty.tsv"
    empty.write_text("")
    negative = tmp_path / "neg.tsv"
    negative.write_text("clade_name\ts1\ts2\nk__B|g__A\t1\t-2\nk__B|g__C\t3\t4\n")
    paths = {
        "out": tmp_path / "out.tsv",
        "empty": empty,
        "negative": negative,
        "cohort": default_cohort_path(),
        "bad_ext": tmp_path / "out.xlsx",
    }
    result = run(*[a.format(**paths) for a in args])
    assert expected in _one_line_error(result)
    assert not paths["out"].exists() and not paths["bad_ext"].exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


def test_transform_refuses_to_overwrite(tmp_path):
    out = tmp_path / "out.tsv"
    out.write_text("keep me")
    result = run("transform", default_cohort_path(), "-o", out)
    assert "--force" in _one_line_error(result)
    assert out.read_text() == "keep me"
    assert run("transform", default_cohort_path(), "-o", out, "--force").exit_code == 0


def test_train_cli_embedded_cohort(tmp_path):
    out = tmp_path / "models" / "demo.mlmodel"
    result = run("train", "--config", "fast", "--no-progress", "--output", out)
    assert result.exit_code == 0, result.output
    assert "AUROC" in result.output and "stratified group k-fold" in result.output
    card = json.loads(out.with_suffix(".card.json").read_text())
    assert card["classes"] == ["control", "CD"]
    model = mlmicro.load_model(out)
    with pytest.warns(InSampleWarning, match="2 of 2"):  # training samples: out-of-fold
        assert model.predict_proba(mlmicro.read_table(default_cohort_path()).iloc[:2]).shape == (
            2,
            2,
        )


def test_train_cli_with_files_and_options(tmp_path):
    from mlmicro.datasets import default_metadata_path

    out = tmp_path / "m.mlmodel"
    result = run(
        "train",
        default_cohort_path(),
        "--metadata",
        default_metadata_path(),
        "--label",
        "diagnosis",
        "--positive",
        "CD",
        "--negative",
        "control",
        "--group",
        "subject_id",
        "--rank",
        "genus",
        "--folds",
        "3",
        "--repeats",
        "1",
        "--model",
        "random-forest",
        "--no-progress",
        "--output",
        out,
    )
    assert result.exit_code == 0, result.output
    card = json.loads(out.with_suffix(".card.json").read_text())
    assert card["rank"] == "genus" and card["config"]["model"] == "random-forest"
    assert card["cv"]["folds"] == 3 and card["cv"]["repeats"] == 1


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--label", "nope"], "not in the sample metadata"),
        (["--label", "diagnosis", "--positive", "UC"], "never occurs"),
        (["--label", "diagnosis", "--group", "nope"], "--group column"),
        (["--label", "diagnosis", "--config", "nope"], "neither a preset"),
    ],
)
def test_train_cli_bad_input(tmp_path, extra, expected):
    from mlmicro.datasets import default_metadata_path

    out = tmp_path / "m.mlmodel"
    result = run(
        "train",
        default_cohort_path(),
        "--metadata",
        default_metadata_path(),
        *extra,
        "--no-progress",
        "--output",
        out,
    )
    assert expected in _one_line_error(result)
    assert not out.exists()
