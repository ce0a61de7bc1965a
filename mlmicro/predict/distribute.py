"""Predicting the blocks of a table on a runner: local threads or a Dask cluster.

:func:`predicted_blocks` hands the blocks of :func:`mlmicro.predict.predict_file`
to a runner (:func:`mlmicro.model.parallel.open_runner`). On a Dask cluster
the :class:`~mlmicro.predict.batch.Predictor` (the fitted pipeline, trust
state, training lookup and alignment) is scattered to every worker once, each
block is predicted on a worker through the model's one application path, and
the output rows come back in input order, a few blocks ahead of the writer, so
the predictions file is the same, byte for byte, as a local run's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator, Iterable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mlmicro.model.apply import Applied
from mlmicro.model.parallel import Runner, ThreadRunner
from mlmicro.predict.memory import reuse_freed_blocks

if TYPE_CHECKING:  # pragma: no cover
    from mlmicro.predict.batch import Predictor

__all__ = ["PREDICT_OUTCOME", "predict_block", "predict_block_on_worker", "predicted_blocks"]

#: How a failed prediction run on a cluster ends, in error messages.
PREDICT_OUTCOME = "prediction stopped and no output was written"


def _summary(applied: Applied) -> Applied:
    """Return what the run's tallies need of a block, without its large per-taxon arrays."""
    n = len(applied.sample_ids)
    return dataclasses.replace(
        applied,
        abundance=np.empty((n, 0)),
        features=np.empty((0, 0)),
        contributions=None,
        raw_probabilities=None,
    )


def predict_block(predictor: Predictor, block: pd.DataFrame) -> tuple[pd.DataFrame, Applied]:
    """Predict one block (a task): its output rows and what the run's tallies need."""
    out, applied = predictor.predict(block)
    return out, _summary(applied)


def predict_block_on_worker(
    predictor: Predictor, block: pd.DataFrame
) -> tuple[pd.DataFrame, Applied]:
    """Predict one block on a Dask worker, with the allocator tuned for the block.

    Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_`` set, which
    pins glibc's mmap threshold at 128 KiB: every large temporary of a block
    then comes as fresh pages the kernel must zero (1.6x the time of a
    3,000-sample block, measured). The allocator is told to reuse freed
    buffers for the length of the block
    (:func:`~mlmicro.predict.memory.reuse_freed_blocks`) and set back after it.
    """
    with reuse_freed_blocks():
        return predict_block(predictor, block)


def predicted_blocks(
    runner: Runner, predictor: Predictor, blocks: Iterable[pd.DataFrame]
) -> Generator[tuple[pd.DataFrame, Applied], None, None]:
    """Yield ``(output rows, summary)`` for each block, in block order, computed on ``runner``.

    Blocks are read from ``blocks`` only as results are handed back (about
    two per Dask worker in flight), so memory stays bounded.
    """
    task = predict_block if isinstance(runner, ThreadRunner) else predict_block_on_worker
    return runner.stream(task, blocks, shared=(predictor,), description="predict")
