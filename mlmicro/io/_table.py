"""The one shape every reader returns, and the one way it becomes a table.

A reader produces a :class:`RawTable` (samples x raw features, plus any
lineage the file carries per feature). :func:`finish_table` then validates it,
names each feature by its canonical lineage (from an explicit taxonomy, the
file's own taxonomy, or the raw label), sums features that end up with the
same name, and builds the samples x features ``DataFrame``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from mlmicro.exceptions import TaxonomyError
from mlmicro.io._validate import (
    check_labels,
    check_nonzero_samples,
    check_not_empty,
    check_unique,
    check_values,
)
from mlmicro.taxonomy import canonical_lineage

__all__ = ["RawTable", "finish_table", "SAMPLE_INDEX_NAME"]

#: Name of the index of every table and metadata frame mlmicro reads.
SAMPLE_INDEX_NAME = "sample_id"


@dataclass
class RawTable:
    """A table as read from a file, before features are named by lineage.

    Attributes
    ----------
    values : numpy.ndarray
        float64 array, samples x features.
    samples : list of str
        Sample IDs, one per row of ``values``.
    features : list of str
        Raw feature labels (OTU / ASV IDs or lineage strings), one per column.
    lineages : list of str or None, optional
        A lineage string per feature from the file itself (BIOM observation
        metadata, a ``taxonomy`` column), ``None`` where it has none.
    where : str
        The file, for messages.
    """

    values: np.ndarray
    samples: list[str]
    features: list[str]
    where: str
    lineages: list[str | None] | None = None


def finish_table(
    raw: RawTable,
    taxonomy: Mapping[str, str] | None = None,
    *,
    allow_empty_samples: bool = True,
) -> pd.DataFrame:
    """Validate a raw table and return it as a samples x lineages ``DataFrame``.

    Parameters
    ----------
    raw : RawTable
        What the reader found.
    taxonomy : mapping of str to str, optional
        Feature ID -> lineage, overriding the file's own lineages; features it
        does not list keep the file's lineage or their ID.
    allow_empty_samples : bool
        Keep samples with no abundance at all (the default; find them with
        :func:`mlmicro.io.empty_samples`). ``False`` refuses them.

    Returns
    -------
    pandas.DataFrame
        float64 values, index ``sample_id`` (str), columns canonical lineages
        (or raw IDs), features with the same canonical lineage summed.

    Raises
    ------
    InvalidTableError
        On an empty table, over-long names, duplicate samples or features,
        negative / missing / infinite / too large values, or (when not
        allowed) samples with no abundance.
    TaxonomyError
        If ``taxonomy`` names none of the table's features.
    """
    where = raw.where
    values = np.asarray(raw.values, dtype=np.float64)
    check_not_empty(len(raw.samples), len(raw.features), where)
    check_labels(raw.samples, where)
    check_labels(raw.features, where)
    check_unique(raw.samples, "sample ID", where)
    check_unique(raw.features, "taxon", where)
    check_values(values, raw.samples, raw.features, where)
    names = feature_names(raw, taxonomy)
    values, columns = sum_same_names(values, names)
    if not allow_empty_samples:
        check_nonzero_samples(values, raw.samples, where)
    return pd.DataFrame(
        values,
        index=pd.Index(raw.samples, dtype="str", name=SAMPLE_INDEX_NAME),
        columns=pd.Index(columns, dtype="str"),
        copy=False,
    )


def feature_names(raw: RawTable, taxonomy: Mapping[str, str] | None) -> list[str]:
    lineages: Sequence[str | None] = raw.lineages or [None] * len(raw.features)
    if taxonomy is not None:
        found = [taxonomy.get(feature) for feature in raw.features]
        if not any(lineage is not None for lineage in found):
            raise TaxonomyError(
                f"None of the {len(raw.features)} features of {raw.where} "
                f"(e.g. {raw.features[0]!r}) is listed in the taxonomy; "
                "give the taxonomy made for this table."
            )
        lineages = [t if t is not None else own for t, own in zip(found, lineages, strict=True)]
    return [
        canonical_lineage(lineage if lineage else feature)
        for feature, lineage in zip(raw.features, lineages, strict=True)
    ]


def sum_same_names(values: np.ndarray, names: list[str]) -> tuple[np.ndarray, list[str]]:
    codes, uniques = pd.factorize(pd.Index(names, dtype=object))
    if len(uniques) == len(names):
        return values, names
    indicator = sp.csr_matrix(
        (np.ones(len(names)), (np.arange(len(names)), codes)),
        shape=(len(names), len(uniques)),
    )
    summed = np.ascontiguousarray((indicator.T @ values.T).T, dtype=np.float64)
    return summed, [str(u) for u in uniques]
