"""Every command, given a bad input, answers one ``error:`` line and leaves nothing behind.

The bad files are the refused cases of ``test_io_robustness`` (truncated, binary,
odd encodings gone wrong, NaN / negative / overflowing values, duplicate IDs,
pipes, over-long lines, broken BIOM and .qza ...), each given to ``transform``,
``train``, ``predict`` and ``explain`` as the table, plus bad model files given
to ``predict`` and ``explain``. For each: a non-zero exit, exactly one
``error:`` line, no traceback, no output or temporary file, the inputs unchanged.
"""

from __future__ import annotations

import hashlib
import os
import pickle

import pytest
from test_io_robustness import CASES
from typer.testing import CliRunner

import mlmicro
from mlmicro.cli import app
from mlmicro.datasets import simulate_cohort

runner = CliRunner()
REFUSED = [name for name, _, shape in CASES if shape is None]
COMMANDS = ["transform", "train", "predict", "explain"]


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("robust")
    cohort = simulate_cohort(n_subjects=30, seed=4)
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
    return {"bundle": model.save(folder / "model.mlmodel"), "metadata": metadata}


def _digests(paths) -> dict:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths if p.is_file()}


def _check(result, folder, before, outputs) -> None:
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    assert not any(out.exists() for out in outputs)
    assert not [p for p in folder.rglob("*") if p.name.endswith(".tmp")]
    assert _digests(before) == before


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", REFUSED)
def test_a_bad_table_is_one_error_line(case, command, model_files, tmp_path):
    if case == "fifo" and not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes here")
    build = next(builder for name, builder, _ in CASES if name == case)
    table = build(tmp_path)
    out = tmp_path / "out" / "result.tsv"
    bundle, metadata = model_files["bundle"], model_files["metadata"]
    args = {
        "transform": ["transform", table, "-o", out],
        "train": ["train", table, "--metadata", metadata, "--label", "diagnosis"]
        + ["--config", "fast", "--no-progress", "-o", out.with_suffix(".mlmodel")],
        "predict": ["predict", bundle, table, "-o", out],
        "explain": ["explain", bundle, table, "--output-dir", out.parent],
    }[command]
    before = _digests([table, bundle, metadata])
    outputs = [out, out.with_suffix(".mlmodel"), out.parent / "report.html"]
    _check(runner.invoke(app, [str(a) for a in args]), tmp_path, before, outputs)


BAD_MODELS = {
    "text": lambda p: p.write_text("not a model"),
    "empty": lambda p: p.write_bytes(b""),
    "pickle-list": lambda p: p.write_bytes(pickle.dumps([1, 2, 3])),
    "truncated": lambda p, src=None: p.write_bytes(b"\x80\x04\x95"),
    "json-card-only": lambda p: p.with_suffix(".json").write_text('{"format": "x"}'),
}


@pytest.mark.parametrize("command", ["predict", "explain"])
@pytest.mark.parametrize("kind", list(BAD_MODELS))
def test_a_bad_model_file_is_one_error_line(kind, command, model_files, tmp_path):
    model = tmp_path / "bad.mlmodel"
    BAD_MODELS[kind](model)
    table = tmp_path / "t.tsv"
    mlmicro.write_table(simulate_cohort(n_subjects=5, seed=1).table, table)
    out = tmp_path / "out.tsv"
    args = (
        ["predict", model, table, "-o", out]
        if command == "predict"
        else ["explain", model, table, "--output-dir", tmp_path / "r"]
    )
    before = _digests([table, model])
    _check(runner.invoke(app, [str(a) for a in args]), tmp_path, before, [out, tmp_path / "r"])
