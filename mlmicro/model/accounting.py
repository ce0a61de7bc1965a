"""What training left out, counted: samples, classes and features (``ModelCard.dropped``).

Every sample, class and feature that does not reach the classifier is counted
here and named by a few examples, so the CLI and the model card can say
exactly what was dropped and why:

* ``samples_without_metadata`` / ``metadata_without_table``: sample IDs on
  only one side of the table-metadata join;
* ``missing_label``: samples whose label is empty;
* ``in_no_class``: samples whose label value is in neither ``--positive`` nor
  ``--negative`` (with the count per value: the classes left out);
* ``empty_samples``: samples with no reads at all;
* ``features_without_lineage``: features that carry no lineage (e.g. feature
  IDs absent from the taxonomy), which cannot be placed at the model's rank.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from mlmicro.taxonomy import is_lineage

__all__ = ["count_dropped", "format_dropped", "join_counts"]

_EXAMPLES = 5


def _ids(values: Sequence[object]) -> dict[str, Any]:
    ids = [str(v) for v in values]
    return {"n": len(ids), "examples": ids[:_EXAMPLES]}


def join_counts(table: pd.DataFrame, metadata: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Count the samples on only one side of a table-metadata join."""
    table_ids = table.index.astype(str)
    meta_ids = metadata.index.astype(str)
    return {
        "samples_without_metadata": _ids(table_ids[~table_ids.isin(meta_ids)]),
        "metadata_without_table": _ids(meta_ids[~meta_ids.isin(table_ids)]),
    }


def count_dropped(
    *,
    joined: dict[str, dict[str, Any]],
    metadata: pd.DataFrame,
    label: str,
    labelled: pd.Index,
    kept: pd.Index,
    labels: pd.Series,
    empty: Sequence[str],
    table: pd.DataFrame,
    rank: str | None,
) -> dict[str, Any]:
    """Count what training left out (the model card's ``dropped``).

    Parameters
    ----------
    joined : dict
        :func:`join_counts` of the table and metadata as given.
    metadata : pandas.DataFrame
        Metadata of the joined samples.
    label : str
        The label column.
    labelled : pandas.Index
        Samples with a non-empty label.
    kept : pandas.Index
        Samples in a class (before empty samples were left out).
    labels : pandas.Series
        Label value (text) per labelled sample.
    empty : sequence of str
        Samples left out for having no reads.
    table : pandas.DataFrame
        The joined training table (columns: canonical lineages or feature IDs).
    rank : str or None
        The model's rank (features without lineage are only dropped at a rank).

    Returns
    -------
    dict
        ``samples`` (total samples of the joined table not trained on),
        ``sample_ids`` (up to 20), and one ``{"n", "examples", ...}`` entry per
        reason (see the module notes).
    """
    ids = metadata.index.astype(str)
    missing = ids[~ids.isin(labelled.astype(str))]
    no_class = labelled.astype(str)[~labelled.astype(str).isin(kept.astype(str))]
    per_value = labels.loc[labels.index.astype(str).isin(no_class)].value_counts()
    no_lineage = [str(c) for c in table.columns if rank is not None and not is_lineage(str(c))]
    values = table[no_lineage].to_numpy(dtype=np.float64) if no_lineage else np.zeros((0, 0))
    total = float(table.to_numpy(dtype=np.float64).sum()) if len(table) else 0.0
    dropped_ids = [*missing.tolist(), *no_class.tolist(), *[str(s) for s in empty]]
    return {
        "samples": len(dropped_ids),
        "sample_ids": dropped_ids[:20],
        **joined,
        "missing_label": {**_ids(missing), "column": label},
        "in_no_class": {
            **_ids(no_class),
            "values": {str(k): int(v) for k, v in per_value.items()},
        },
        "empty_samples": _ids(empty),
        "features_without_lineage": {
            **_ids(no_lineage),
            "abundance_share": float(values.sum() / total) if total > 0 else 0.0,
        },
    }


def format_dropped(dropped: dict[str, Any]) -> list[str]:
    """Return the lines saying what training left out (empty when nothing was).

    Examples
    --------
    >>> format_dropped({"missing_label": {"n": 2, "examples": ["a", "b"], "column": "dx"}})
    ["left out: 2 sample(s) with no value in 'dx' (e.g. a, b)"]
    """

    def examples(entry: dict[str, Any]) -> str:
        shown = ", ".join(entry.get("examples") or [])
        return f" (e.g. {shown})" if shown else ""

    lines = []
    entry = dropped.get("samples_without_metadata") or {}
    if entry.get("n"):
        lines.append(f"{entry['n']} table sample(s) with no metadata row{examples(entry)}")
    entry = dropped.get("metadata_without_table") or {}
    if entry.get("n"):
        lines.append(f"{entry['n']} metadata row(s) with no table sample{examples(entry)}")
    entry = dropped.get("missing_label") or {}
    if entry.get("n"):
        lines.append(
            f"{entry['n']} sample(s) with no value in {entry.get('column')!r}{examples(entry)}"
        )
    entry = dropped.get("in_no_class") or {}
    if entry.get("n"):
        values = ", ".join(f"{k} {v}" for k, v in (entry.get("values") or {}).items())
        lines.append(f"{entry['n']} sample(s) in no class ({values})")
    entry = dropped.get("empty_samples") or {}
    if entry.get("n"):
        lines.append(f"{entry['n']} sample(s) with no reads{examples(entry)}")
    entry = dropped.get("features_without_lineage") or {}
    if entry.get("n"):
        lines.append(
            f"{entry['n']} feature(s) without lineage, not placed at the model's rank "
            f"({entry.get('abundance_share', 0.0):.3%} of the abundance){examples(entry)}"
        )
    return [f"left out: {line}" for line in lines]
