"""Mitochondria and chloroplast features: host and plant DNA, not gut microbes.

16S primers also amplify the ribosomal genes of mitochondria (host cells,
abundant in biopsies) and chloroplasts (plants in the diet). Greengenes files
them under bacteria as ``f__mitochondria`` (order Rickettsiales) and
``c__Chloroplast`` (phylum Cyanobacteria); SILVA as ``f__Mitochondria`` and
``o__Chloroplast``. Their share says more about the sample type and the diet
than about the disease, so they are usually removed before modelling.
"""

from __future__ import annotations

import re

import pandas as pd

__all__ = ["ORGANELLES", "is_organelle", "drop_organelles"]

#: Taxon names (any rank, any case) that mark an organelle lineage.
ORGANELLES = frozenset({"mitochondria", "chloroplast"})

_SEPARATORS = re.compile(r"[|;]")
#: A rank prefix: ``f__``, ``D_4__`` (SILVA in QIIME 1), ``d__`` ...
_RANK_PREFIX = re.compile(r"^(?:[A-Za-z]{1,2}|D_\d+)__")


def is_organelle(lineage: str) -> bool:
    """Whether a lineage has a mitochondria or chloroplast rank.

    Parameters
    ----------
    lineage : str
        A canonical (``|``) or raw (``;``) lineage, or a feature ID.

    Returns
    -------
    bool
        ``True`` if one of its ranks is named ``mitochondria`` or
        ``chloroplast`` (any case, any rank prefix).

    Examples
    --------
    >>> is_organelle("k__Bacteria|p__Cyanobacteria|c__Chloroplast|o__Streptophyta")
    True
    >>> is_organelle("k__Bacteria; p__Proteobacteria; o__Rickettsiales; f__mitochondria")
    True
    >>> is_organelle("k__Bacteria|p__Cyanobacteria|c__Oscillatoriophycideae")
    False
    """
    for token in _SEPARATORS.split(lineage):
        name = _RANK_PREFIX.sub("", token.strip())
        if name.lower() in ORGANELLES:
            return True
    return False


def drop_organelles(table: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Remove the mitochondria and chloroplast features of a table.

    Parameters
    ----------
    table : pandas.DataFrame
        Samples x features, as from :func:`mlmicro.io.read_table` (columns
        are lineages; features known only by an ID cannot be recognised and
        are kept).

    Returns
    -------
    table : pandas.DataFrame
        The table without those columns (a new frame; the input is not
        changed). Samples are kept even if they become empty.
    n_dropped : int
        How many columns were removed.

    Examples
    --------
    >>> table = pd.DataFrame(
    ...     [[5.0, 1.0]], columns=["k__Bacteria|p__Firmicutes", "k__Bacteria|f__mitochondria"]
    ... )
    >>> kept, n = drop_organelles(table)
    >>> kept.columns.tolist(), n
    (['k__Bacteria|p__Firmicutes'], 1)
    """
    organelle = [is_organelle(str(column)) for column in table.columns]
    n_dropped = sum(organelle)
    if not n_dropped:
        return table.copy(), 0
    keep = [not flag for flag in organelle]
    return table.loc[:, keep].copy(), n_dropped
