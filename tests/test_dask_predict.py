"""Predict and explain on a Dask cluster: the same bytes as a local run, clean failures.

The cluster tests use the ``cluster`` / ``client`` fixtures of conftest.py (a
``distributed.LocalCluster`` of two single-threaded worker processes started
inside the test module); no outside service is used.
"""

from __future__ import annotations

import operator
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import mlmicro
from mlmicro.cli import app
from mlmicro.datasets import load_default_cohort
from mlmicro.exceptions import ClusterError
from mlmicro.explain import explain
from mlmicro.model.apply_blocks import apply_in_blocks, concat_applied, table_blocks
from mlmicro.model.model import InSampleWarning
from mlmicro.model.parallel import SCHEDULER_ENV, DaskRunner, ThreadRunner
from mlmicro.predict import predict_file

cli = CliRunner()

#: Small blocks, so that the embedded cohort's 257 samples make several tasks.
BLOCK = "40"


def _one_line_error(result) -> str:
    assert result.exit_code != 0
    text = result.output.strip()
    assert "Traceback" not in text
    errors = [line for line in text.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, text
    return errors[0]


@pytest.fixture(scope="module")
def cohort():
    return load_default_cohort()


@pytest.fixture(scope="module")
def files(tmp_path_factory, cohort):
    """A saved model and the embedded cohort as a samples-as-rows table, with metadata."""
    folder = tmp_path_factory.mktemp("dask-predict")
    model = mlmicro.train(config="fast", jobs=1, xgboost={"n_estimators": 15})
    path = model.save(folder / "model.mlmodel")
    table = folder / "cohort.tsv"
    cohort.table.to_csv(table, sep="\t", index_label="sample_id")
    meta = folder / "meta.tsv"
    cohort.metadata.to_csv(meta, sep="\t", index_label="sample_id")
    return {"model": path, "table": table, "metadata": meta}


def _predict(files, output: Path, *extra: str):
    return cli.invoke(
        app,
        [
            "predict",
            str(files["model"]),
            str(files["table"]),
            "-o",
            str(output),
            "--chunk-size",
            BLOCK,
            "--top-strains",
            "3",
            "--no-progress",
            *extra,
        ],
    )


def _stable(output: str) -> list[str]:
    """Messages of a run, without its wall time and output path."""
    return [line for line in output.splitlines() if not line.startswith(("predicted ", "wrote "))]


# ---------------------------------------------------------------------------
# Without a cluster


def test_thread_runner_streams_in_order_and_lazily():
    taken = []

    def items():
        for i in range(1, 7):
            taken.append(i)
            yield i

    stream = ThreadRunner(1).stream(divmod, items(), shared=(20,))
    assert taken == []  # nothing is read before a result is asked for
    assert next(stream) == (20, 0)
    assert taken == [1]
    assert list(stream) == [divmod(20, i) for i in range(2, 7)]


def test_blocks_put_back_together_equal_one_call(cohort):
    model = mlmicro.train(config="fast", jobs=1, xgboost={"n_estimators": 5})
    runner = model.runner(threads=1)
    table = cohort.table.iloc[:90]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InSampleWarning)
        whole = runner.run(table, contributions=True)
        alignment = runner.align(list(table.columns), table.to_numpy().sum(axis=0))
        parts = [
            runner.run(b, alignment=alignment, contributions=True) for b in table_blocks(table, 25)
        ]
    joined = concat_applied(parts)
    assert len(parts) == 4
    for name in ("abundance", "probabilities", "contributions", "features", "labels"):
        np.testing.assert_array_equal(getattr(joined, name), getattr(whole, name), err_msg=name)
    assert list(joined.sample_ids) == list(whole.sample_ids)
    np.testing.assert_array_equal(joined.domain.percentile, whole.domain.percentile)
    # on the local runner, in blocks, the same again
    local = apply_in_blocks(runner, table, ThreadRunner(1), contributions=True, block_size=25)
    np.testing.assert_array_equal(local.contributions, whole.contributions)


def test_without_dask_predict_and_explain_say_what_to_install(monkeypatch, files, tmp_path):
    monkeypatch.delenv(SCHEDULER_ENV, raising=False)
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    out = tmp_path / "predictions.tsv"
    line = _one_line_error(_predict(files, out, "--scheduler", "local:2"))
    assert "--scheduler local:2 needs Dask" in line and 'pip install "mlmicro[dask]"' in line
    assert not out.exists()
    report = tmp_path / "report"
    result = cli.invoke(
        app, ["explain", str(files["model"]), "-o", str(report), "--scheduler", "local:2"]
    )
    assert 'pip install "mlmicro[dask]"' in _one_line_error(result)
    assert not report.exists()
    monkeypatch.setenv(SCHEDULER_ENV, "tcp://127.0.0.1:8786")
    assert f"{SCHEDULER_ENV} tcp://127.0.0.1:8786 needs Dask" in _one_line_error(
        _predict(files, out)
    )
    with pytest.raises(ClusterError, match="needs Dask"):
        predict_file(files["model"], files["table"], out, scheduler="local:2")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------
# On the local cluster


def test_dask_stream_is_in_order_and_bounded(client):
    taken = []

    def items():
        for i in range(20):
            taken.append(i)
            yield i

    runner = DaskRunner(client)
    stream = runner.stream(operator.neg, items())
    first = next(stream)
    assert first == 0
    assert len(taken) <= 2 * 2 + 1  # two blocks per worker in flight, not the whole input
    assert [first, *stream] == [-i for i in range(20)]
    runner.release()


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".tsv", ".parquet"])
def test_predict_on_cluster_writes_the_same_bytes(cluster, files, tmp_path, suffix):
    extra = ["--metadata", str(files["metadata"])]
    local = tmp_path / f"local{suffix}"
    result = _predict(files, local, *extra)
    assert result.exit_code == 0, result.output
    remote = tmp_path / f"remote{suffix}"
    on_cluster = _predict(files, remote, *extra, "--scheduler", cluster.scheduler_address)
    assert on_cluster.exit_code == 0, on_cluster.output
    assert remote.read_bytes() == local.read_bytes()
    assert _stable(on_cluster.output) == _stable(result.output)  # coverage, validation, counts
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([local.name, remote.name])


@pytest.mark.slow
def test_explain_on_cluster_writes_the_same_tables(cluster, files, tmp_path, cohort):
    runs = {}
    for name, extra in {
        "local": [],
        "remote": ["--scheduler", cluster.scheduler_address, "--chunk-size", BLOCK],
    }.items():
        folder = tmp_path / name
        args = ["explain", str(files["model"]), str(files["table"]), "-o", str(folder)]
        result = cli.invoke(app, [*args, "--metadata", str(files["metadata"]), *extra])
        assert result.exit_code == 0, result.output
        runs[name] = folder
    for table in ("shap_summary.tsv", "shap_values.parquet"):
        local, remote = runs["local"] / table, runs["remote"] / table
        assert local.exists() and remote.read_bytes() == local.read_bytes(), table
    # the Python API, training cohort: the same SHAP values, value for value
    model = mlmicro.load_model(files["model"])
    here = explain(model)
    there = explain(model, scheduler=cluster.scheduler_address, block_size=60)
    assert here.values.equals(there.values)
    assert here.base_value == there.base_value


def test_recalibrate_on_cluster_gives_the_same_model(cluster, files, tmp_path, monkeypatch):
    from mlmicro.predict import recalibrate as module

    blocks = []
    original = module.apply_in_blocks
    monkeypatch.setattr(
        module, "apply_in_blocks", lambda *a, **k: blocks.append(a[2]) or original(*a, **k)
    )
    site = files["table"]
    args = [
        "recalibrate",
        str(files["model"]),
        str(site),
        "--metadata",
        str(files["metadata"]),
        "--label",
        "diagnosis",
        "--positive",
        "CD",
        "--negative",
        "control",
        "--group",
        "subject_id",
        "--holdout",
        "0.5",
    ]
    here = cli.invoke(app, [*args, "--output", str(tmp_path / "here.mlmodel")])
    there = cli.invoke(
        app,
        [*args, "--output", str(tmp_path / "there.mlmodel"), "--scheduler",
         cluster.scheduler_address],
    )  # fmt: skip
    assert here.exit_code == 0, here.output
    assert there.exit_code == 0, there.output
    assert len(blocks) == 1 and isinstance(blocks[0], DaskRunner)  # the samples ran on the cluster
    assert _stable(there.output)[:-1] == _stable(here.output)[:-1]  # the last line names the file
    local = mlmicro.load_model(tmp_path / "here.mlmodel")
    remote = mlmicro.load_model(tmp_path / "there.mlmodel")
    assert remote.trust.calibrator == local.trust.calibrator
    assert remote.trust.threshold == local.trust.threshold


def _exit_on_next_block(marker: str) -> None:
    """Make this worker process die inside its next block (runs on a worker)."""
    from mlmicro.predict import batch

    def dying_predict(self, block):
        Path(marker).write_text(str(os.getpid()))
        os._exit(1)

    batch.Predictor.predict = dying_predict


def _kill_next_block(client, marker: Path, workers: list[str]) -> None:
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        client.run(_exit_on_next_block, str(marker), workers=workers)
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


@pytest.mark.slow
def test_worker_killed_mid_predict_is_retried(client, files, tmp_path):
    local = tmp_path / "local.tsv"
    assert _predict(files, local).exit_code == 0
    marker = tmp_path / "killed"
    _kill_next_block(client, marker, [sorted(client.scheduler_info()["workers"])[0]])
    remote = tmp_path / "remote.tsv"
    with pytest.warns(InSampleWarning):  # the embedded cohort is the model's training cohort
        run = predict_file(
            files["model"], files["table"], remote, chunk_size=40, top_strains=3, scheduler=client
        )
    assert marker.exists(), "the worker was not killed"
    assert run.n_samples == 257
    assert remote.read_bytes() == local.read_bytes()


@pytest.mark.slow
def test_worker_deaths_past_the_retry_limit_leave_no_output(cluster, files, tmp_path):
    """Kills both workers; last in the module, so nothing waits for them to come back."""
    import distributed

    marker = tmp_path / "killed"
    allowed = cluster.scheduler.allowed_failures
    cluster.scheduler.allowed_failures = 0  # the first death of a task fails it
    out = tmp_path / "predictions.tsv"
    try:
        with distributed.Client(cluster, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=60)
            _kill_next_block(client, marker, sorted(client.scheduler_info()["workers"]))
            result = _predict(files, out, "--scheduler", cluster.scheduler_address)
    finally:
        cluster.scheduler.allowed_failures = allowed
    assert marker.exists(), "no worker was killed"
    line = _one_line_error(result)
    assert "Dask workers kept dying" in line and "no output was written" in line
    assert list(tmp_path.iterdir()) == [marker]  # no output, no temporary file
