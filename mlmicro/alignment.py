"""Match the taxa of a new cohort to a model's features, whatever their naming style.

A model knows its features as canonical lineages at one rank
(``k__Bacteria|...|g__Faecalibacterium|s__Faecalibacterium_prausnitzii``). A
new cohort may name the same taxa differently, and this module is the one
place that decides which of its columns feed which model feature:

1. **Lineage style.** Every column is put in canonical form first
   (:func:`mlmicro.taxonomy.canonical_lineage`), so MetaPhlAn ``|`` and QIIME
   ``;`` / ``; `` separators, spaces and Greengenes species epithets all read
   alike.
2. **Partial names.** A column that is not rooted at the kingdom -- a species
   alone (``s__Faecalibacterium_prausnitzii``), a bare name (``Faecalibacterium
   prausnitzii``) or a lineage missing its upper ranks -- is completed from the
   model's own lineages by its deepest name the model knows unambiguously (a
   binomial whose species the model does not know is placed under its genus).
3. **Rank.** The columns are collapsed to the model's rank as the model's
   :class:`~mlmicro.transforms.RankCollapser` does
   (:func:`mlmicro.taxonomy.rank_mapping`): a deeper table is summed up, inner
   rows of a MetaPhlAn hierarchy are not counted twice.
4. **Matching** (:func:`match_taxa`). A collapsed taxon matches the model
   feature with the same lineage. Failing that, it matches by its deepest
   names: the same genus or species filed under other upper ranks (Greengenes
   ``f__Ruminococcaceae`` vs ``f__Oscillospiraceae``) is the same feature, if
   that is unambiguous.

Taxa the model needs but the cohort lacks count as absent; taxa the model
does not know are dropped. :func:`align_columns` returns the decision as an
:class:`Alignment`, which maps any block of rows with those columns onto the
model's features (so a file read in chunks is aligned once).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.sparse as sp

from mlmicro.exceptions import CoverageError, InvalidTableError
from mlmicro.io._validate import check_values
from mlmicro.taxonomy import (
    RANKS,
    canonical_lineage,
    depth_of,
    is_hierarchical,
    is_lineage,
    rank_mapping,
)

__all__ = [
    "Alignment",
    "align_columns",
    "align_table",
    "check_table",
    "complete_lineage",
    "match_taxa",
    "no_taxa_in_common",
]

_UNCLASSIFIED = "unclassified"

Key = tuple[str, ...]


def _norm(token: str) -> str:
    """Return a token for comparison: lower case, spaces as underscores."""
    return token.strip().replace(" ", "_").lower()


def _name_key(lineage: str) -> Key:
    """Return the deepest named part of a lineage: its last classified token and below.

    ``k__B|p__F|g__Roseburia`` -> ``("g__roseburia",)``;
    ``k__B|f__Lachnospiraceae|g__unclassified`` ->
    ``("f__lachnospiraceae", "g__unclassified")``.
    """
    tokens = lineage.split("|")
    for i in range(len(tokens) - 1, -1, -1):
        if tokens[i][3:] != _UNCLASSIFIED:
            return tuple(_norm(t) for t in tokens[i:])
    return tuple(_norm(t) for t in tokens)


def _upper(lineage: str, key: Key) -> frozenset[str]:
    tokens = lineage.split("|")
    return frozenset(_norm(t) for t in tokens[: len(tokens) - len(key)])


class _NameIndex:
    """Every named ancestor of the model's features, by rank-prefixed and bare name."""

    def __init__(self, features: Sequence[str]) -> None:
        self.by_token: dict[tuple[str, str], set[str]] = {}
        self.by_name: dict[str, set[str]] = {}
        for feature in features:
            if not is_lineage(feature):
                continue
            tokens = feature.split("|")
            for depth in range(1, len(tokens) + 1):
                token = tokens[depth - 1]
                name = _norm(token[3:])
                if name == _UNCLASSIFIED:
                    continue  # an inner placeholder: the named ranks below still count
                prefix = "|".join(tokens[:depth])
                self.by_token.setdefault((token[0].lower(), name), set()).add(prefix)
                self.by_name.setdefault(name, set()).add(prefix)

    def token(self, token: str) -> str | None:
        hits = self.by_token.get((token[0].lower(), _norm(token[3:])), set())
        return next(iter(hits)) if len(hits) == 1 else None

    def bare(self, name: str) -> str | None:
        hits = self.by_name.get(_norm(name), set())
        return next(iter(hits)) if len(hits) == 1 else None

    def genus_of(self, binomial: str) -> str | None:
        """Return the model's lineage of the genus that a binomial ``Genus_species`` names."""
        genus, _, epithet = binomial.strip().replace(" ", "_").partition("_")
        if not genus or not epithet:
            return None
        return self.token(f"g__{genus.strip('[]')}")


def complete_lineage(name: str, features: Sequence[str] | _NameIndex) -> str | None:
    """Complete a partial taxon name from a model's lineages.

    Parameters
    ----------
    name : str
        A canonical lineage not rooted at the kingdom (``s__Roseburia_hominis``,
        ``g__Roseburia|s__Roseburia_hominis``) or a bare name (``Roseburia
        hominis``, ``Roseburia_hominis``, ``Roseburia``).
    features : sequence of str
        The model's features (canonical lineages).

    Returns
    -------
    str or None
        The full lineage: the model's lineage down to the deepest name of
        ``name`` that it knows unambiguously, then the rest of ``name``.
        ``None`` when nothing in ``name`` is known to the model.

    Examples
    --------
    >>> model = ["k__B|p__F|g__Roseburia|s__Roseburia_hominis"]
    >>> complete_lineage("Roseburia hominis", model)
    'k__B|p__F|g__Roseburia|s__Roseburia_hominis'
    >>> complete_lineage("s__Roseburia_inulinivorans", ["k__B|p__F|g__Roseburia"])
    'k__B|p__F|g__Roseburia|s__Roseburia_inulinivorans'
    """
    index = features if isinstance(features, _NameIndex) else _NameIndex(features)
    if not is_lineage(name):
        found = index.bare(name)
        if found is not None:
            return found
        genus = index.genus_of(name)
        return None if genus is None else f"{genus}|s__{name.strip().replace(' ', '_')}"
    tokens = name.split("|")
    for i in range(len(tokens) - 1, -1, -1):
        found = index.token(tokens[i])
        if found is not None:
            return "|".join([found, *tokens[i + 1 :]])
    for i, token in enumerate(tokens):
        if token.startswith("s__"):
            genus = index.genus_of(token[3:])
            if genus is not None:
                return "|".join([genus, *tokens[i:]])
    return None


def match_taxa(new_taxa: Sequence[str], features: Sequence[str]) -> dict[str, str]:
    """Map taxa of a new table (canonical, at the model's rank) to model features.

    A taxon matches the feature with the same lineage. A taxon left over
    matches, by its deepest names (:func:`_name_key`: the genus or species
    name, or ``f__X|g__unclassified``), a feature not matched exactly; where
    several features (or several taxa) share those names, the pair whose
    upper ranks share the most names wins, and a tie matches nothing.

    Parameters
    ----------
    new_taxa : sequence of str
        Collapsed taxa of the new table.
    features : sequence of str
        The model's features.

    Returns
    -------
    dict
        ``{new taxon: feature}`` for each taxon the model knows; several new
        taxa never share a feature unless they share its exact lineage.

    Examples
    --------
    >>> features = ["k__B|p__Firmicutes|f__Ruminococcaceae|g__Faecalibacterium"]
    >>> match_taxa(["k__B|p__Bacillota|f__Oscillospiraceae|g__Faecalibacterium"], features)
    {'k__B|p__Bacillota|f__Oscillospiraceae|g__Faecalibacterium': 'k__B|p__Firmicutes|f__Ruminococcaceae|g__Faecalibacterium'}
    """  # noqa: E501
    known = set(features)
    matched = {taxon: taxon for taxon in new_taxa if taxon in known}
    taken = set(matched)
    by_key: dict[Key, list[str]] = {}
    for feature in features:
        if feature not in taken and is_lineage(feature):
            by_key.setdefault(_name_key(feature), []).append(feature)
    proposals: dict[str, list[tuple[int, str]]] = {}
    for taxon in new_taxa:
        if taxon in matched or not is_lineage(taxon):
            continue
        key = _name_key(taxon)
        candidates = by_key.get(key)
        if not candidates:
            continue
        upper = _upper(taxon, key)
        scored = sorted(((len(upper & _upper(f, key)), f) for f in candidates), reverse=True)
        if len(scored) > 1 and scored[0][0] == scored[1][0]:
            continue  # homonyms the upper ranks cannot tell apart
        overlap, feature = scored[0]
        proposals.setdefault(feature, []).append((overlap, taxon))
    for feature, offers in proposals.items():
        offers.sort(reverse=True)
        if len(offers) > 1 and offers[0][0] == offers[1][0]:
            continue
        matched[offers[0][1]] = feature
    return matched


@dataclass(frozen=True)
class Alignment:
    """Which columns of a table feed which model feature.

    Build it with :func:`align_columns`; apply it to any block of rows with
    the same columns with :meth:`apply`.

    Attributes
    ----------
    columns : tuple of str
        The table's columns, as given.
    features : tuple of str
        The model's features, in model order.
    lineages : tuple of str
        Each column's lineage after canonical form and completion.
    targets : tuple of str or None
        Each column's model feature, or ``None`` when the model does not know
        it (or it is not counted at the rank).
    counted : tuple of bool
        Whether a column's abundance counts toward a sample's total at the
        model's rank (inner rows of a hierarchical table do not).
    renamed : int
        Model features found only through a partial name that had to be
        completed or through their deepest names (not by the full lineage).
    table_taxa : int
        Distinct taxa of the table at the model's rank.
    """

    columns: tuple[str, ...]
    features: tuple[str, ...]
    lineages: tuple[str, ...]
    targets: tuple[str | None, ...]
    counted: tuple[bool, ...]
    renamed: int
    table_taxa: int

    @cached_property
    def _positions(self) -> tuple[np.ndarray, np.ndarray]:
        where = {feature: j for j, feature in enumerate(self.features)}
        source = [i for i, t in enumerate(self.targets) if t is not None]
        dest = [where[self.targets[i]] for i in source]
        return np.asarray(source, dtype=np.intp), np.asarray(dest, dtype=np.intp)

    @cached_property
    def _indicator(self) -> sp.csr_matrix | None:
        source, dest = self._positions
        if len(np.unique(dest)) == len(dest):
            return None  # one column per feature: a plain copy
        return sp.csr_matrix(
            (np.ones(len(source)), (dest, source)), shape=(len(self.features), len(self.columns))
        )

    @cached_property
    def found(self) -> np.ndarray:
        """Boolean mask over :attr:`features`: fed by at least one column."""
        mask = np.zeros(len(self.features), dtype=bool)
        mask[self._positions[1]] = True
        return mask

    @property
    def n_found(self) -> int:
        """Model features fed by at least one column."""
        return int(self.found.sum())

    @property
    def n_unknown(self) -> int:
        """Taxa of the table at the model's rank that the model does not know."""
        return self.table_taxa - len({t for t in self.targets if t is not None})

    def apply(self, values: np.ndarray) -> np.ndarray:
        """Map rows with :attr:`columns` onto :attr:`features` (absent taxa are 0).

        Parameters
        ----------
        values : ndarray of shape (n_samples, len(columns))

        Returns
        -------
        ndarray of shape (n_samples, len(features))
            Column-major (Fortran order), the layout whole-column steps read fastest.
        """
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 2 or values.shape[1] != len(self.columns):
            raise InvalidTableError(
                f"Expected a block with the {len(self.columns)} columns this alignment was made "
                f"for, got shape {values.shape}."
            )
        source, dest = self._positions
        indicator = self._indicator
        if indicator is not None:
            return np.asfortranarray((indicator @ values.T).T)
        if len(dest) == len(self.features):  # every feature found once: one gather
            order = np.empty(len(dest), dtype=np.intp)
            order[dest] = source
            return np.asfortranarray(values[:, order])
        out = np.zeros((values.shape[0], len(self.features)), dtype=np.float64, order="F")
        out[:, dest] = values[:, source]
        return out

    @cached_property
    def _counted_weights(self) -> np.ndarray:
        return np.asarray(self.counted, dtype=np.float64)

    def abundance_share(self, values: np.ndarray, aligned: np.ndarray) -> np.ndarray:
        """Per sample, the share of its abundance at the model's rank that the model knows.

        Parameters
        ----------
        values : ndarray of shape (n_samples, len(columns))
            The table's rows.
        aligned : ndarray
            ``apply(values)``, or its row sums (shape ``(n_samples,)``).

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        # einsum, not a BLAS product: no extra threads behind the caller's back
        totals = np.einsum("ij,j->i", np.asarray(values, dtype=np.float64), self._counted_weights)
        mapped = aligned if aligned.ndim == 1 else aligned.sum(axis=1)
        return np.divide(mapped, totals, out=np.zeros_like(mapped), where=totals > 0)

    def frame(self, table: pd.DataFrame) -> pd.DataFrame:
        """Return ``table`` (with :attr:`columns`) as a samples x :attr:`features` frame."""
        return pd.DataFrame(
            self.apply(table.to_numpy(dtype=np.float64)),
            index=table.index,
            columns=pd.Index(self.features, dtype=object),
        )


def align_columns(
    columns: Sequence[str],
    features: Sequence[str],
    *,
    rank: str | None,
    totals: Sequence[float] | None = None,
) -> Alignment:
    """Decide which columns of a table feed which model feature.

    Parameters
    ----------
    columns : sequence of str
        The table's columns: lineages in any style, partial lineages or bare
        taxon names.
    features : sequence of str
        The model's features (canonical lineages at ``rank``).
    rank : str or None
        The model's rank.
    totals : sequence of float, optional
        Each column's total over the samples, used to tell a MetaPhlAn
        hierarchy from a flat table (:func:`mlmicro.taxonomy.is_hierarchical`).

    Returns
    -------
    Alignment

    Examples
    --------
    >>> features = ["k__B|p__F|g__Roseburia", "k__B|p__F|g__Blautia"]
    >>> a = align_columns(["Roseburia hominis", "k__B;p__F;g__Blautia;s__obeum", "OTU_9"],
    ...                   features, rank="genus")
    >>> a.targets
    ('k__B|p__F|g__Roseburia', 'k__B|p__F|g__Blautia', None)
    >>> a.apply([[1.0, 2.0, 3.0]])
    array([[1., 2.]])
    """
    columns = [str(c) for c in columns]
    canonical = [canonical_lineage(c) for c in columns]
    index = _NameIndex(features)
    lineages = []
    for name in canonical:
        if name.startswith("k__"):
            lineages.append(name)
        else:
            lineages.append(complete_lineage(name, index) or name)
    has_lineage = [is_lineage(name) for name in lineages]
    if any(has_lineage):
        at_rank = rank_mapping(lineages, rank, totals)
        hierarchical = is_hierarchical(lineages, totals)
    else:  # feature names without lineage: only a model without a rank knows them, by name
        at_rank = list(lineages) if rank is None else [None] * len(lineages)
        hierarchical = False
    counted = [
        target is not None or (not hierarchical and not lineage)
        for target, lineage in zip(at_rank, has_lineage, strict=True)
    ]
    taxa = sorted({t for t in at_rank if t is not None})
    matches = match_taxa(taxa, features)
    targets = [matches.get(t) if t is not None else None for t in at_rank]
    renamed = len(
        {
            target
            for target, fixed, lineage, name in zip(
                targets, at_rank, lineages, canonical, strict=True
            )
            if target is not None and (target != fixed or lineage != name)
        }
    )
    n_taxa = len(taxa) + sum(
        1
        for t, ok, c in zip(at_rank, has_lineage, counted, strict=True)
        if c and not ok and t is None
    )
    return Alignment(
        columns=tuple(columns),
        features=tuple(str(f) for f in features),
        lineages=tuple(lineages),
        targets=tuple(targets),
        counted=tuple(counted),
        renamed=int(renamed),
        table_taxa=int(n_taxa),
    )


def check_table(table: pd.DataFrame, where: str = "the table") -> np.ndarray:
    """Return a table's values as float64, refusing non-numeric, missing or negative ones."""
    if not isinstance(table, pd.DataFrame):
        raise InvalidTableError(
            "A taxa table must be a pandas DataFrame with samples as rows and taxa as "
            f"columns, not {type(table).__name__}; read files with mlmicro.read_table."
        )
    try:
        values = table.to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise InvalidTableError(
            f"{where[0].upper()}{where[1:]} has non-numeric values; every cell must be an "
            "abundance (sample IDs belong in the index)."
        ) from err
    check_values(values, [str(s) for s in table.index], [str(c) for c in table.columns], where)
    return values


def align_table(table: pd.DataFrame, features: Sequence[str], *, rank: str | None) -> pd.DataFrame:
    """Return ``table`` as samples x ``features``, aligned by :func:`align_columns`.

    Raises
    ------
    InvalidTableError
        On non-numeric, missing, infinite or negative values.
    CoverageError
        If none of the table's taxa is one of ``features``.
    """
    values = check_table(table)
    alignment = align_columns(table.columns, features, rank=rank, totals=values.sum(axis=0))
    if alignment.n_found == 0:
        raise CoverageError(no_taxa_in_common(alignment, "the table"))
    return pd.DataFrame(
        alignment.apply(values), index=table.index, columns=pd.Index(features, dtype=object)
    )


def no_taxa_in_common(alignment: Alignment, where: str) -> str:
    """Return the one-sentence message for a table that shares no taxon with the model."""
    example_table = alignment.columns[0] if alignment.columns else "(none)"
    example_model = alignment.features[0] if alignment.features else "(none)"
    table_depth = max((depth_of(n) for n in alignment.lineages), default=0)
    model_depth = max((depth_of(f) for f in alignment.features), default=0)
    if 0 < table_depth < model_depth:
        fix = (
            f"the table stops at {RANKS[table_depth - 1]} rank, above the model's "
            f"{RANKS[model_depth - 1]} rank: give a table at {RANKS[model_depth - 1]} rank or "
            "deeper, or use a model trained at a higher rank"
        )
    else:
        fix = (
            "give a table of the same kind of data with taxon lineages (or a --taxonomy for "
            "feature IDs)"
        )
    return (
        f"None of the {len(alignment.columns)} taxa in {where} matches the model's "
        f"{len(alignment.features)} taxa (the table names taxa like {example_table!r}, the "
        f"model like {example_model!r}); {fix}."
    )
