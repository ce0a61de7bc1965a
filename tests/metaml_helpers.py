"""The MetAML table, read once per test session (reading its bz2 file takes about 8 s)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd

from mlmicro.io import read_metaml


@lru_cache(maxsize=1)
def _read(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    return read_metaml(path)


def read_metaml_once(path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return copies of :func:`mlmicro.io.read_metaml` of ``path``, read once per session."""
    table, metadata = _read(Path(path).resolve())
    return table.copy(), metadata.copy()
