"""Training on a Dask cluster: same results as local threads, retries, clean failures.

The cluster tests start a ``distributed.LocalCluster`` of two single-threaded
worker processes inside the test module; no outside service is used.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

import mlmicro
from mlmicro.cli import app
from mlmicro.config import load_config
from mlmicro.datasets import load_default_cohort, simulate_cohort
from mlmicro.exceptions import ClusterError, ConfigError, DeviceError
from mlmicro.model import device as device_module
from mlmicro.model.model import InSampleWarning
from mlmicro.model.parallel import (
    SCHEDULER_ENV,
    DaskRunner,
    ThreadRunner,
    open_runner,
    parse_scheduler,
    resolve_scheduler,
)

cli = CliRunner()

# A small but complete run: 5-fold grouped CV, a few permutations, fewer trees.
SMALL = {"config": "fast", "cv.permutations": 3, "jobs": 1, "xgboost": {"n_estimators": 15}}


def _one_line_error(result) -> str:
    assert result.exit_code != 0
    text = result.output.strip()
    assert "Traceback" not in text
    errors = [line for line in text.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, text
    return errors[0]


def _assert_same_training(a: mlmicro.Model, b: mlmicro.Model, table: pd.DataFrame) -> None:
    assert a.card.cv_metrics == b.card.cv_metrics
    assert a.card.cv == b.card.cv
    pd.testing.assert_frame_equal(a.oof_predictions, b.oof_predictions)
    if a.cv.permutation is not None:
        assert a.cv.permutation == b.cv.permutation
    if a.cv.fold_importance is not None:
        pd.testing.assert_frame_equal(a.cv.fold_importance, b.cv.fold_importance)
    with warnings.catch_warnings():  # training samples: out-of-fold probabilities, warned about
        warnings.simplefilter("ignore", InSampleWarning)
        pd.testing.assert_frame_equal(a.predict_proba(table), b.predict_proba(table))


# ---------------------------------------------------------------------------
# Scheduler values, without a cluster


@pytest.mark.parametrize(
    ("value", "kind", "workers", "address"),
    [
        ("local:3", "local", 3, None),
        ("tcp://10.0.0.5:8786", "address", None, "tcp://10.0.0.5:8786"),
        ("tls://scheduler:8786", "address", None, "tls://scheduler:8786"),
        ("node042:8786", "address", None, "tcp://node042:8786"),
    ],
)
def test_scheduler_values(value, kind, workers, address):
    spec = parse_scheduler(value)
    assert (spec.kind, spec.workers, spec.address) == (kind, workers, address)


def test_local_without_a_count_uses_every_core():
    assert parse_scheduler("local").workers == (os.cpu_count() or 1)


@pytest.mark.parametrize("value", ["bogus", "local:two", "8786"])
def test_bad_scheduler_values_are_refused(value):
    with pytest.raises(ConfigError, match="local:N or a Dask scheduler address"):
        parse_scheduler(value)
    with pytest.raises(ConfigError, match="at least 1"):
        parse_scheduler("local:0")


def test_scheduler_from_the_environment(monkeypatch):
    monkeypatch.setenv(SCHEDULER_ENV, "local:2")
    spec = resolve_scheduler(None)
    assert spec.workers == 2 and spec.source == SCHEDULER_ENV
    assert resolve_scheduler("local:3").workers == 3  # the argument wins
    monkeypatch.setenv(SCHEDULER_ENV, "nonsense")
    with pytest.raises(ConfigError, match=SCHEDULER_ENV):
        resolve_scheduler(None)
    monkeypatch.setenv(SCHEDULER_ENV, "")
    assert resolve_scheduler(None) is None
    with pytest.raises(ConfigError, match="distributed.Client; got int"):
        resolve_scheduler(8786)


def test_no_scheduler_runs_on_threads(monkeypatch):
    monkeypatch.delenv(SCHEDULER_ENV, raising=False)
    with open_runner(None, jobs=2) as runner:
        assert isinstance(runner, ThreadRunner) and runner.jobs == 2
        assert runner.map(divmod, [7, 9], shared=(20,)) == [(2, 6), (2, 2)]


def test_training_does_not_import_dask():
    code = (
        "import sys, mlmicro.model.api, mlmicro.cli.train\n"
        "assert 'distributed' not in sys.modules and 'dask' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent.parent)


def test_without_dask_scheduler_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.delenv(SCHEDULER_ENV, raising=False)
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    with pytest.raises(ClusterError, match=r'pip install "mlmicro\[dask\]"'):
        mlmicro.train(scheduler="local:2", config="fast")
    out = tmp_path / "model.mlmodel"
    result = cli.invoke(app, ["train", "--config", "fast", "--scheduler", "local:2", "-o", out])
    line = _one_line_error(result)
    assert "--scheduler local:2 needs Dask" in line and 'pip install "mlmicro[dask]"' in line
    assert not out.exists()
    monkeypatch.setenv(SCHEDULER_ENV, "tcp://127.0.0.1:8786")
    result = cli.invoke(app, ["train", "--config", "fast", "-o", out])
    assert f"{SCHEDULER_ENV} tcp://127.0.0.1:8786 needs Dask" in _one_line_error(result)
    assert not out.exists()


def test_without_dask_training_runs_as_before(monkeypatch):
    monkeypatch.delenv(SCHEDULER_ENV, raising=False)
    monkeypatch.setitem(sys.modules, "distributed", None)
    cohort = simulate_cohort(n_subjects=30, seed=5)
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
    assert model.card.cv_metrics["roc_auc"]["mean"] > 0.5


def test_final_fit_dask_needs_a_scheduler_and_xgboost(monkeypatch):
    monkeypatch.delenv(SCHEDULER_ENV, raising=False)
    with pytest.raises(ConfigError, match="needs a Dask cluster"):
        mlmicro.train(config="fast", final_fit="dask")
    with pytest.raises(ConfigError, match="must be one of local, dask"):
        mlmicro.train(config="fast", final_fit="cluster")


# ---------------------------------------------------------------------------
# --device


def _has_gpu() -> bool:
    return Path("/dev/nvidia0").exists() or Path("/dev/nvidiactl").exists()


@pytest.mark.skipif(_has_gpu(), reason="a GPU is present")
def test_device_cuda_without_gpu_fails_in_one_line(tmp_path):
    out = tmp_path / "model.mlmodel"
    result = cli.invoke(app, ["train", "--config", "fast", "--device", "cuda", "-o", out])
    line = _one_line_error(result)
    assert "--device cuda" in line and ("no GPU was found" in line or "without CUDA" in line)
    assert not out.exists()


def test_device_fallback_to_cpu_is_an_error(monkeypatch):
    """XGBoost falls back to the CPU with a warning; mlmicro refuses instead."""
    monkeypatch.setattr(device_module.xgboost, "build_info", lambda: {"USE_CUDA": True})
    monkeypatch.setattr(device_module, "_probe", lambda device: "cpu")
    with pytest.raises(DeviceError, match="^--device cuda: no GPU was found"):
        device_module.check_device("cuda")
    monkeypatch.setattr(device_module.xgboost, "build_info", lambda: {"USE_CUDA": False})
    with pytest.raises(DeviceError, match="built without CUDA support"):
        device_module.check_device("cuda:1")


def test_device_choices(monkeypatch):
    assert device_module.check_device("cpu") == "cpu"
    with pytest.raises(ConfigError, match="cpu, cuda or cuda:N"):
        device_module.check_device("tpu")
    config = load_config("fast")
    monkeypatch.setattr(device_module, "check_device", lambda device: device)
    assert device_module.with_device(config, "cuda").xgboost["device"] == "cuda"
    assert device_module.with_device(config, None) is config
    with pytest.raises(ConfigError, match="XGBoost only"):
        device_module.with_device(config.override(model="random-forest"), "cuda")


# ---------------------------------------------------------------------------
# On a local cluster (the cluster and client fixtures are in conftest.py)


@pytest.fixture(scope="module")
def embedded():
    return load_default_cohort()


@pytest.fixture(scope="module")
def local_model():
    return mlmicro.train(**SMALL)


def _exit_on_first_fit(marker: str) -> None:
    """Make this worker process die inside its next fit (runs on a worker)."""
    from mlmicro.model import training

    original = training._fit

    def dying_fit(*args, **kwargs):
        Path(marker).write_text(str(os.getpid()))
        os._exit(1)
        return original(*args, **kwargs)  # pragma: no cover

    training._fit = dying_fit


def _kill_next_fit(client, marker: Path, workers: list[str]) -> None:
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        client.run(_exit_on_first_fit, str(marker), workers=workers)
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


@pytest.mark.slow
def test_cluster_training_equals_local_training(cluster, local_model, embedded):
    """CV folds and permutations on two worker processes, by scheduler address."""
    on_cluster = mlmicro.train(scheduler=cluster.scheduler_address, **SMALL)
    _assert_same_training(local_model, on_cluster, embedded.table)
    assert on_cluster.card.cv["permutation"]["n"] == 3


@pytest.mark.slow
def test_tuning_and_leave_one_study_out_on_cluster(client):
    """Tuning candidates and held-out studies are tasks too; results do not move."""
    cohort = simulate_cohort(n_subjects=40, seed=11)
    config = load_config("fast").override(
        **{"cv.tune": True, "cv.inner_folds": 2, "cv.permutations": 1}
    )
    kwargs = {
        "label": "diagnosis",
        "positive": ["CD"],
        "group": "subject_id",
        "study": "study",
        "config": config,
        "jobs": 1,
        "xgboost": {"n_estimators": 8, "num_parallel_tree": 2},
    }
    local = mlmicro.train(cohort.table, cohort.metadata, **kwargs)
    remote = mlmicro.train(cohort.table, cohort.metadata, scheduler=client, **kwargs)
    assert local.card.cv["scheme"] == "leave-one-study-out"
    _assert_same_training(local, remote, cohort.table)
    assert (
        local.pipeline.get_params()["classifier__max_depth"]
        == (remote.pipeline.get_params()["classifier__max_depth"])
    )


@pytest.mark.slow
def test_worker_killed_mid_run_is_retried(client, local_model, embedded, tmp_path):
    marker = tmp_path / "killed"
    first = sorted(client.scheduler_info()["workers"])[0]
    _kill_next_fit(client, marker, [first])
    model = mlmicro.train(scheduler=client, **SMALL)
    assert marker.exists(), "the worker was not killed"
    _assert_same_training(local_model, model, embedded.table)


def _exit_worker() -> None:  # runs on a worker
    os._exit(1)


@pytest.mark.slow
def test_shared_arguments_survive_the_death_of_every_worker_holding_them(client):
    """A shared table lost with its workers is rebuilt, not reported lost."""
    runner = DaskRunner(client)
    table = np.arange(12.0).reshape(3, 4)
    shared = runner._share(table)
    shared.result()
    holders = list(client.who_has([shared])[shared.key])
    assert holders
    with pytest.raises(Exception):  # noqa: B017 - the run's reply is lost with the worker
        client.run(_exit_worker, workers=holders)
    client.wait_for_workers(2, timeout=60)
    assert runner.map(np.dot, [np.ones(4), np.arange(4.0)], shared=(table,)) == [
        pytest.approx(table @ np.ones(4)),
        pytest.approx(table @ np.arange(4.0)),
    ]
    runner.release()


@pytest.mark.slow
def test_worker_deaths_past_the_retry_limit_fail_cleanly(cluster, client, tmp_path):
    marker = tmp_path / "killed"
    allowed = cluster.scheduler.allowed_failures
    cluster.scheduler.allowed_failures = 0  # the first death of a task fails it
    try:
        _kill_next_fit(client, marker, sorted(client.scheduler_info()["workers"]))
        out = tmp_path / "model.mlmodel"
        result = cli.invoke(
            app,
            ["train", "--config", "fast", "--scheduler", cluster.scheduler_address, "-o", out],
        )
    finally:
        cluster.scheduler.allowed_failures = allowed
    assert marker.exists(), "no worker was killed"
    line = _one_line_error(result)
    assert "Dask workers kept dying" in line and "nothing was saved" in line
    assert not out.exists() and not out.with_suffix(".card.json").exists()
    assert list(tmp_path.iterdir()) == [marker]


def _model_proba(model: mlmicro.Model, table: pd.DataFrame) -> pd.DataFrame:
    """The final model's own probabilities, also of its training samples."""
    applied = model.apply(table, training_probability="model")
    columns = [f"probability_{c}" for c in model.classes]
    return pd.DataFrame(applied.probabilities, index=table.index, columns=columns)


@pytest.mark.slow
def test_final_fit_with_xgboost_dask(client, local_model, embedded, tmp_path):
    from xgboost import XGBClassifier

    model = mlmicro.train(scheduler=client, final_fit="dask", config="fast", jobs=1)
    assert type(model.pipeline[-1]) is XGBClassifier  # a plain model: predicts without Dask
    proba = _model_proba(model, embedded.table)
    assert proba.shape == (len(embedded.table), 2)
    values = proba.to_numpy()
    assert np.all((values > 0) & (values < 1)) and np.allclose(values.sum(axis=1), 1.0)
    truth = embedded.metadata.loc[proba.index, "diagnosis"] == "CD"
    assert roc_auc_score(truth, proba["probability_CD"]) > 0.9
    local = _model_proba(local_model, embedded.table)["probability_CD"]
    assert np.corrcoef(proba["probability_CD"], local)[0, 1] > 0.9
    path = model.save(tmp_path / "dask.mlmodel")
    pd.testing.assert_frame_equal(_model_proba(mlmicro.load_model(path), embedded.table), proba)
    assert json.loads(path.with_suffix(".card.json").read_text())["config"]["model"] == "xgboost"
