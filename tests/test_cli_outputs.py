"""Every command that writes checks its output first, never overwrites an input, and
leaves nothing half-written: on bad paths, usage errors, SIGTERM and concurrent runs."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

import mlmicro
from mlmicro.cli import app
from mlmicro.cli._app import handle_errors
from mlmicro.datasets import simulate_cohort
from mlmicro.exceptions import OutputExistsError
from mlmicro.io import atomic_write

runner = CliRunner()


def one_line_error(result) -> str:
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    return errors[0]


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("outputs")
    cohort = simulate_cohort(n_subjects=30, seed=3)
    table = folder / "cohort.tsv"
    mlmicro.write_table(cohort.table, table)
    metadata = folder / "metadata.tsv"
    cohort.metadata.to_csv(metadata, sep="\t")
    model = mlmicro.train(
        cohort.table,
        cohort.metadata,
        label="diagnosis",
        positive=["CD"],
        group="subject_id",
        config="fast",
        jobs=1,
        **{"cv.folds": 3},
    )
    bundle = model.save(folder / "model.mlmodel")
    return {"folder": folder, "table": table, "metadata": metadata, "bundle": bundle}


TRAIN = ["--label", "diagnosis", "--positive", "CD", "--config", "fast", "--no-progress"]


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_no_command_overwrites_its_input(files, force):
    table, metadata, bundle = files["table"], files["metadata"], files["bundle"]
    card_named = files["folder"] / "cohort.card.json"  # a table whose name a model card would take
    card_named.write_bytes(table.read_bytes())
    before = {p: digest(p) for p in (table, metadata, bundle, card_named)}
    cases = [
        ["transform", table, "--method", "clr", "--output", table, *force],
        ["predict", bundle, table, "--output", table, *force],
        ["predict", bundle, table, "--metadata", metadata, "--output", metadata, *force],
        ["predict", bundle, table, "--output", bundle, *force],
        # the model card goes beside the bundle: it may not land on an input either
        ["train", card_named, "--metadata", metadata, *TRAIN, "--output", card_named, *force],
    ]
    for args in cases:
        result = runner.invoke(app, [str(a) for a in args])
        message = one_line_error(result)
        assert "input" in message or "exists" in message, message
    assert {p: digest(p) for p in before} == before
    assert leftovers(files["folder"]) == []


def test_bad_output_paths_are_refused_before_any_work(files, tmp_path):
    table, metadata, bundle = files["table"], files["metadata"], files["bundle"]
    a_file = tmp_path / "plain.txt"
    a_file.write_text("x")
    cases = [
        (["train", table, "--metadata", metadata, *TRAIN, "--output", tmp_path], "folder"),
        (["predict", bundle, table, "--output", tmp_path], "folder"),
        (["transform", table, "--output", a_file / "out.tsv"], "is a file"),
        (["predict", bundle, table, "--output", a_file / "p.tsv"], "is a file"),
        (["explain", bundle, "--output-dir", a_file], "is a file"),
    ]
    for args, expected in cases:
        message = one_line_error(runner.invoke(app, [str(a) for a in args]))
        assert expected in message, message
    assert a_file.read_text() == "x"


def test_train_refuses_an_existing_model_without_force(files, tmp_path):
    out = tmp_path / "m.mlmodel"
    out.write_bytes(b"an earlier model")
    result = runner.invoke(
        app,
        ["train", str(files["table"]), "--metadata", str(files["metadata"]), *TRAIN]
        + ["--output", str(out)],
    )
    assert "--force" in one_line_error(result)
    assert out.read_bytes() == b"an earlier model"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_output_folder(files, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        result = runner.invoke(
            app, ["transform", str(files["table"]), "--output", str(locked / "out.tsv")]
        )
        assert "not writable" in one_line_error(result)
    finally:
        locked.chmod(0o700)


def test_top_strains_is_capped_at_the_number_of_taxa(files, tmp_path):
    out = tmp_path / "p.tsv"
    result = runner.invoke(
        app,
        ["predict", str(files["bundle"]), str(files["table"]), "--top-strains", "1000000"]
        + ["--output", str(out)],
    )
    assert result.exit_code == 0, result.output
    columns = pd.read_csv(out, sep="\t", nrows=1).columns
    n_used = len(mlmicro.load_model(files["bundle"]).features_used)
    assert f"top{n_used}_taxon" in columns and f"top{n_used + 1}_taxon" not in columns


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["train", "--folds", "1"], "--folds"),
        (["predict"], "Missing argument"),
        (["transform", "x.tsv", "--output", "y.tsv", "--min-prevalence", "2"], "--min-prevalence"),
    ],
)
def test_usage_errors_are_one_line(args, expected, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mlmicro", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and expected in lines[0], lines
    assert "Traceback" not in result.stderr


def test_sigterm_removes_the_temporary_file(tmp_path):
    target = tmp_path / "out.tsv"

    @handle_errors
    def long_write() -> None:
        with atomic_write(target) as handle:
            handle.write(b"half")
            os.kill(os.getpid(), signal.SIGTERM)
            handle.write(b" never")

    with pytest.raises(typer.Exit) as stopped:
        long_write()
    assert stopped.value.exit_code == 143
    assert not target.exists() and list(tmp_path.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # restored after the run


def test_two_runs_to_one_output_never_silently_replace_each_other(tmp_path):
    target = tmp_path / "predictions.tsv"
    with pytest.raises(OutputExistsError, match="appeared while this run"):
        with atomic_write(target, overwrite=False) as first:
            first.write(b"first run")
            with atomic_write(target, overwrite=False) as second:
                second.write(b"second run")
    assert target.read_bytes() == b"second run"  # the run that finished first stays
    assert leftovers(tmp_path) == []


def test_train_writes_the_out_of_fold_predictions(files, tmp_path):
    oof = tmp_path / "oof.tsv"
    result = runner.invoke(
        app,
        ["train", str(files["table"]), "--metadata", str(files["metadata"]), *TRAIN]
        + ["--group", "subject_id", "--folds", "3", "--oof", str(oof)]
        + ["--output", str(tmp_path / "m.mlmodel")],
    )
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(oof, sep="\t", dtype={"sample_id": str})
    assert list(frame.columns[:4]) == ["repeat", "fold", "sample_id", "y_true"]
    model = mlmicro.load_model(tmp_path / "m.mlmodel")
    assert len(frame) == len(model.oof_predictions) and frame["sample_id"].is_unique
    bad = runner.invoke(
        app,
        ["train", str(files["table"]), "--metadata", str(files["metadata"]), *TRAIN]
        + ["--oof", str(files["metadata"]), "--output", str(tmp_path / "n.mlmodel")],
    )
    assert "one of the inputs" in one_line_error(bad)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("no trees", "n_estimators must be a whole number"),
        ("one taxon", "a classifier needs at least two"),
        ("filter all", "would remove every taxon"),
    ],
)
def test_tables_and_configs_no_model_can_learn_from_are_refused(change, message):
    from mlmicro.exceptions import ConfigError

    cohort = simulate_cohort(n_subjects=20, seed=9)
    table = cohort.table.copy()
    options = dict(label="diagnosis", positive=["CD"], group="subject_id", jobs=1)
    if change == "one taxon":
        table = table.iloc[:, [0]] + 1.0
    if change == "filter all":  # no taxon in every sample
        table.iloc[0, :], table.iloc[1, :] = 0.0, 0.0
        table.iloc[0, 0], table.iloc[1, 1] = 5.0, 5.0
        options["preprocessing.min_prevalence"] = 1.0
    with pytest.raises(ConfigError, match=message):
        trees = {"n_estimators": 0} if change == "no trees" else {}
        config = mlmicro.TrainConfig().override(xgboost=trees)
        mlmicro.train(table, cohort.metadata, config=config, **options)
