"""Shared pytest fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_datasets_dir() -> Path:
    """Return the folder of real public cohorts (``MLMICRO_SHARED_DATASETS``)."""
    default = REPO_ROOT.parent / "shared" / "datasets"
    return Path(os.environ.get("MLMICRO_SHARED_DATASETS", default))


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """Path to ``../shared/datasets``; skips the test when it is not there."""
    path = shared_datasets_dir()
    if not path.is_dir():
        pytest.skip(f"real cohorts not found at {path} (set MLMICRO_SHARED_DATASETS)")
    return path


@pytest.fixture(scope="module")
def cluster():
    """A ``distributed.LocalCluster`` of two single-threaded worker processes, per module."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        silence_logs=50,
    ) as local_cluster:
        yield local_cluster


@pytest.fixture()
def client(cluster):
    """A client of :func:`cluster`; waits for both workers before and after the test."""
    import distributed

    with distributed.Client(cluster, set_as_default=False) as dask_client:
        dask_client.wait_for_workers(2, timeout=60)
        yield dask_client
        dask_client.wait_for_workers(2, timeout=60)  # restarted workers are back
