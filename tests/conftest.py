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
