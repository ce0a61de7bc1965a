"""Applying a model to a table in blocks of samples, on a runner (a Dask cluster).

The blocks go through the one application path
(:meth:`mlmicro.model.apply.PipelineRunner.run`), each with the alignment of
the *whole* table's columns, exactly as one call on the whole table does; the
pieces are put back together in table order (:func:`concat_applied`). Every
step after the alignment works sample by sample, so the result is the same,
value for value, as :meth:`PipelineRunner.run` on the whole table.

The :class:`BlockJob` (the fitted pipeline, its trust state and training
lookup, the alignment) is what every block needs: a runner sends it to each
worker once (:meth:`mlmicro.model.parallel.DaskRunner.stream` shares it),
and only the blocks travel with the tasks.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from mlmicro.alignment import Alignment
from mlmicro.io.chunks import auto_chunk_size
from mlmicro.io.frames import frame_values
from mlmicro.model.apply import Applied, PipelineRunner
from mlmicro.model.domain import DomainScores
from mlmicro.model.parallel import Runner

__all__ = [
    "MIN_BLOCK",
    "BlockJob",
    "run_block",
    "block_size_for",
    "table_blocks",
    "concat_applied",
    "apply_in_blocks",
]

#: Fewest samples per block chosen by default (smaller blocks cost more in
#: scheduling than they save).
MIN_BLOCK = 50
#: Blocks per worker chosen by default, so that no worker idles at the end.
BLOCKS_PER_WORKER = 4


@dataclass(frozen=True)
class BlockJob:
    """Everything a block needs besides its samples; sent to each worker once.

    Attributes
    ----------
    runner : PipelineRunner
        The model's application path.
    alignment : Alignment
        The whole table's columns aligned onto the model's taxa.
    contributions : bool
        Also compute exact SHAP contributions.
    where : str
        Where the table came from, for error messages.
    """

    runner: PipelineRunner
    alignment: Alignment
    contributions: bool = False
    where: str = "the table"


def run_block(job: BlockJob, block: pd.DataFrame) -> Applied:
    """Apply the model to one block of samples (a task; runs on a worker)."""
    return job.runner.run(
        block, alignment=job.alignment, contributions=job.contributions, where=job.where
    )


def block_size_for(n_samples: int, n_columns: int, workers: int) -> int:
    """Return the samples per block: about four blocks per worker, within memory bounds.

    Never more than :func:`mlmicro.io.chunks.auto_chunk_size` (about 10
    million values a block), never fewer than :data:`MIN_BLOCK` samples.

    Examples
    --------
    >>> block_size_for(257, 248, workers=2)
    50
    >>> block_size_for(1_000_000, 1_000, workers=2)
    10000
    """
    even = math.ceil(n_samples / (BLOCKS_PER_WORKER * max(workers, 1)))
    return max(1, min(auto_chunk_size(n_columns), max(MIN_BLOCK, even)))


def table_blocks(table: pd.DataFrame, size: int) -> Iterator[pd.DataFrame]:
    """Yield consecutive blocks of ``size`` samples (rows) of ``table``."""
    for start in range(0, len(table), size):
        yield table.iloc[start : start + size]


def _concat(values: Sequence[np.ndarray | None]) -> np.ndarray | None:
    if all(v is None for v in values):
        return None
    return np.concatenate([np.asarray(v) for v in values if v is not None], axis=0)


def concat_applied(parts: Sequence[Applied]) -> Applied:
    """Put the :class:`Applied` of consecutive blocks back together, in order.

    Parameters
    ----------
    parts : sequence of Applied
        One per block, in table order (at least one).

    Returns
    -------
    Applied
        As :meth:`PipelineRunner.run` on the blocks' rows at once.
    """
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    joined = {}
    for field in fields(Applied):
        name = field.name
        values = [getattr(part, name) for part in parts]
        if name == "sample_ids":
            joined[name] = pd.Index(
                np.concatenate([v.to_numpy(dtype=object) for v in values]),
                dtype=object,
                name=first.sample_ids.name,
            )
        elif name == "abundance":  # column-major, as the alignment makes it
            joined[name] = np.asfortranarray(np.concatenate(values, axis=0))
        elif name == "domain":
            joined[name] = None if first.domain is None else _concat_domain(values)
        elif name in ("feature_names", "base", "repeats"):
            joined[name] = getattr(first, name)
        else:
            joined[name] = _concat(values)
    return Applied(**joined)


def _concat_domain(scores: Sequence[DomainScores]) -> DomainScores:
    return DomainScores(
        distance=np.concatenate([s.distance for s in scores]),
        percentile=np.concatenate([s.percentile for s in scores]),
        in_domain=np.concatenate([s.in_domain for s in scores]),
    )


def apply_in_blocks(
    pipeline_runner: PipelineRunner,
    table: pd.DataFrame,
    runner: Runner,
    *,
    contributions: bool = False,
    where: str = "the table",
    block_size: int | None = None,
) -> Applied:
    """Apply a model to ``table`` block by block on ``runner``.

    Parameters
    ----------
    pipeline_runner : PipelineRunner
        The model's application path (:meth:`mlmicro.Model.runner`).
    table : pandas.DataFrame
        Samples x taxa.
    runner : Runner
        Where the blocks run (:func:`mlmicro.model.parallel.open_runner`).
    contributions : bool
        Also compute exact SHAP contributions.
    where : str
        Where the table came from, for error messages.
    block_size : int, optional
        Samples per block (default: :func:`block_size_for`).

    Returns
    -------
    Applied
        The same as ``pipeline_runner.run(table, contributions=contributions)``.

    Examples
    --------
    >>> with open_runner("local:2") as runner:  # doctest: +SKIP
    ...     applied = apply_in_blocks(model.runner(threads=1), table, runner)
    """
    values = frame_values(table, where)
    alignment = pipeline_runner.align(list(table.columns), values.sum(axis=0))
    del values
    if len(table) == 0:
        return pipeline_runner.run(table, alignment=alignment, contributions=contributions)
    workers = getattr(runner, "n_workers", 1)
    size = block_size or block_size_for(len(table), table.shape[1], workers)
    job = BlockJob(pipeline_runner, alignment, contributions, where)
    parts = list(runner.stream(run_block, table_blocks(table, size), shared=(job,)))
    return concat_applied(parts)
