"""The rank a model is trained at when none is given (``rank = "auto"``).

The rank follows from what kind of table it is, never from the labels, so the
choice leaks nothing into cross-validation:

* **no lineages** (mOTU cluster names, OTU or ASV IDs without a taxonomy):
  the features as named (rank ``none``);
* **species-level genome bins** (MetaPhlAn 4's ``t__SGB`` rows): **SGB**
  (rank ``strain``);
* **any other table with lineages** (MetaPhlAn profiles, 16S / amplicon taxa
  tables, BIOM and QIIME 2 tables): **species**, where features without a
  named species are kept under their genus (``s__unclassified``).

Species rather than genus for 16S tables was measured, not assumed: on the
eight visible 16S cohorts the boosted forest scored 0.0045 AUROC higher at
species than at genus on average (higher or level on 5 of 8, Jangi MS the worst
at -0.016), and at species it was at or above a random forest on all of the
table's rows on all eight (``benchmarks/sweep_defaults.py``, see
``benchmarks/README.md``).

``--rank`` (or ``rank`` in a config) overrides the choice; the choice and its
reason are printed by ``mlmicro train`` and stored in the model card.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlmicro.taxonomy import is_hierarchical, is_lineage, split_lineage

__all__ = ["AUTO_RANK", "RankChoice", "choose_rank"]

#: The configuration value that asks for the rank to be chosen from the table.
AUTO_RANK = "auto"


@dataclass(frozen=True)
class RankChoice:
    """The rank chosen for a table, and why.

    Attributes
    ----------
    rank : str or None
        The rank (``None``: the features as named).
    reason : str
        One line a user can read, e.g. ``"whole-number read counts with
        lineages (a 16S table): genus"``.
    """

    rank: str | None
    reason: str

    def to_dict(self) -> dict[str, str | None]:
        """Return the choice as plain values for the model card."""
        return {"rank": self.rank, "auto": True, "reason": self.reason}


def choose_rank(table: pd.DataFrame) -> RankChoice:
    """Choose the rank to model ``table`` at from what kind of table it is.

    Parameters
    ----------
    table : pandas.DataFrame
        Samples x features, columns as from :func:`mlmicro.io.read_table`.

    Returns
    -------
    RankChoice

    Examples
    --------
    >>> counts = pd.DataFrame({"k__B|p__F|c__C|o__O|f__L|g__Roseburia": [12, 0],
    ...                        "k__B|p__F|c__C|o__O|f__L|g__Blautia": [3, 40]})
    >>> choose_rank(counts).rank
    'species'
    >>> choose_rank(counts.rename(columns=lambda c: c + "|s__R_sp|t__SGB4940")).rank
    'strain'
    >>> choose_rank(pd.DataFrame({"Otu00001": [1, 2], "Otu00002": [3, 4]})).rank is None
    True
    """
    columns = [str(c) for c in table.columns]
    lineages = [c for c in columns if is_lineage(c)]
    if not lineages:
        return RankChoice(None, "features carry no lineage: the features as named")
    if any(split_lineage(c)[-1].lower().startswith("t__sgb") for c in lineages):
        return RankChoice("strain", "species-level genome bins (t__SGB rows): SGB")
    if is_hierarchical(columns, table.sum(axis=0).to_numpy(dtype=np.float64)):
        return RankChoice("species", "a MetaPhlAn-style profile (a row per rank): species")
    return RankChoice("species", "a taxa table with lineages: species")
