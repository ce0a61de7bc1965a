"""Whole-table transformation: the preprocessing steps, assembled once.

:func:`preprocessing_steps` lists the steps every model pipeline starts with,
and :func:`transform_table` applies them to one table (``mlmicro transform``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import pandas as pd
from sklearn.pipeline import Pipeline

from mlmicro.choices import DEFAULT_ZEROS, TRANSFORMS, TransformName, ZerosName
from mlmicro.exceptions import TransformError
from mlmicro.io import empty_samples, warn_empty_samples
from mlmicro.transforms.composition import ALR, CLR, ILR, Closure
from mlmicro.transforms.filters import PrevalenceFilter
from mlmicro.transforms.rank import RankCollapser
from mlmicro.transforms.zeros import LogTransform, ZeroReplacement

__all__ = ["METHODS", "TRANSFORM_STEPS", "preprocessing_steps", "transform_table"]

Method = TransformName
#: Transform names accepted by :func:`transform_table` and model configs.
METHODS: tuple[str, ...] = tuple(TRANSFORMS)
#: The transform step of each method (``relative`` has none).
TRANSFORM_STEPS: Mapping[str, type | None] = MappingProxyType(
    {"relative": None, "log": LogTransform, "clr": CLR, "alr": ALR, "ilr": ILR}
)
_ZERO_REPLACED = frozenset({"clr", "alr", "ilr"})  # LogTransform brings its own pseudocount


def preprocessing_steps(
    method: Method,
    *,
    rank: str | None,
    zeros: ZerosName,
    min_prevalence: float,
    min_abundance: float,
) -> list[tuple[str, object]]:
    """Return the ``(name, transformer)`` steps from raw table to features.

    ``rank`` (collapse and align) -> ``closure`` -> ``filter`` -> ``zeros``
    (log-ratio methods) -> ``transform`` (all methods but ``relative``).
    """
    if method not in TRANSFORM_STEPS:
        raise TransformError(f"Unknown method {method!r}; use one of: {', '.join(METHODS)}.")
    steps: list[tuple[str, object]] = [
        ("rank", RankCollapser(rank=rank)),
        ("closure", Closure()),
        ("filter", PrevalenceFilter(min_prevalence=min_prevalence, min_abundance=min_abundance)),
    ]
    step = TRANSFORM_STEPS[method]
    if method in _ZERO_REPLACED:
        steps.append(("zeros", ZeroReplacement(method=zeros)))
    if step is not None:
        steps.append(("transform", step()))
    return steps


def transform_table(
    table: pd.DataFrame,
    method: Method = "clr",
    *,
    rank: str | None = None,
    zeros: ZerosName = DEFAULT_ZEROS,
    min_prevalence: float = 0.0,
    min_abundance: float = 0.0,
    drop_empty: bool = True,
) -> pd.DataFrame:
    """Collapse, filter and transform a taxa table.

    Parameters
    ----------
    table : pandas.DataFrame
        Samples x taxa (canonical lineage columns), non-negative.
    method : {"relative", "log", "clr", "alr", "ilr"}
        The transform.
    rank : str, optional
        Collapse to this rank first (no double counting of MetaPhlAn rows).
    zeros : {"pseudocount", "multiplicative"}
        Zero replacement before ``log``-ratio methods.
    min_prevalence, min_abundance : float
        Keep taxa present in at least this share of samples, and with at least
        this mean relative abundance.
    drop_empty : bool
        Leave out samples with no reads or abundance at all, with a warning
        naming them (no proportion or log-ratio exists for them); ``False``
        refuses such a table.

    Returns
    -------
    pandas.DataFrame
        Samples x features (without the samples left out as empty). Every
        step is fitted on this table; to apply frozen steps to new data, use
        the model pipeline instead.

    Warns
    -----
    EmptySamplesWarning
        If samples without any reads were left out.

    Examples
    --------
    >>> t = pd.DataFrame({"k__B|g__A": [1.0, 3.0], "k__B|g__C": [1.0, 1.0]}, index=["s1", "s2"])
    >>> transform_table(t, "clr").round(3)
        k__B|g__A  k__B|g__C
    s1      0.000      0.000
    s2      0.549     -0.549
    """
    empty = empty_samples(table) if drop_empty else []
    if empty:
        warn_empty_samples(empty, "the transformed table")
        table = table.loc[~table.index.astype(str).isin(empty)]
    pipeline = Pipeline(
        preprocessing_steps(
            method,
            rank=rank,
            zeros=zeros,
            min_prevalence=min_prevalence,
            min_abundance=min_abundance,
        )
    )
    pipeline.set_output(transform="pandas")  # sample IDs reach every step's error messages
    values = pipeline.fit_transform(table)
    names = [str(n) for n in pipeline.get_feature_names_out()]
    return pd.DataFrame(values, index=table.index.copy(), columns=pd.Index(names, dtype=object))
