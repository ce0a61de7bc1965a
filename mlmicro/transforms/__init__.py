"""Compositional transforms of samples x taxa tables, as scikit-learn transformers.

Every transformer takes a non-negative samples x taxa table (a DataFrame
with lineage columns, or an array), learns whatever it needs in ``fit`` and
reuses it unchanged in ``transform``, keeps feature names
(``get_feature_names_out``) and supports ``set_output(transform="pandas")``.

A typical model pipeline::

    RankCollapser(rank="species") -> PrevalenceFilter() -> ZeroReplacement() -> CLR()

The numeric kernels live in :mod:`mlmicro.transforms._functional`.
"""

from mlmicro.transforms.composition import ALR, CLR, ILR, Closure
from mlmicro.transforms.filters import PrevalenceFilter
from mlmicro.transforms.rank import RankCollapser
from mlmicro.transforms.zeros import LogTransform, ZeroReplacement

__all__ = [
    "ALR",
    "CLR",
    "ILR",
    "Closure",
    "LogTransform",
    "PrevalenceFilter",
    "RankCollapser",
    "ZeroReplacement",
]
