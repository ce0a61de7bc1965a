"""Lineage parsing, rank selection and display names.

mlmicro keeps every lineage in one canonical form, whatever the style it was
read from::

    k__Bacteria|p__Firmicutes|c__Clostridia|o__Clostridiales|f__Ruminococcaceae|g__Faecalibacterium|s__Faecalibacterium_prausnitzii

* ranks are joined with ``|`` (MetaPhlAn style), with no spaces around them;
* spaces inside names become ``_`` (``s__Collinsella aerofaciens`` ->
  ``s__Collinsella_aerofaciens``);
* a Greengenes species epithet is prefixed with its genus
  (``g__Ruminococcus; s__bromii`` -> ``s__Ruminococcus_bromii``);
* ``d__`` (SILVA / GTDB domain) is written ``k__``; QIIME 1 SILVA
  ``D_0__ ... D_6__`` prefixes become ``k__ ... s__``;
* empty trailing ranks (``g__; s__``) are dropped; an empty rank with a
  named rank below it is kept as ``unclassified`` (the deeper name is never
  lost), and placeholder names (``Unassigned``, ``unidentified``) read
  ``unclassified``;
* the form is idempotent: a canonical lineage is its own canonical form.

Strings with no rank prefixes at all (OTU or ASV identifiers, sample-free
feature IDs) are not lineages and are kept unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np
import pandas as pd

from mlmicro.exceptions import TaxonomyError

__all__ = [
    "RANKS",
    "RANK_PREFIXES",
    "normalize_rank",
    "canonical_lineage",
    "canonicalize_columns",
    "split_lineage",
    "is_lineage",
    "is_placeholder",
    "rank_of",
    "depth_of",
    "truncate_lineage",
    "is_hierarchical",
    "rank_mapping",
    "collapse_to_rank",
    "display_name",
    "display_names",
    "terminal_name",
]

#: Taxonomic ranks from the top, in MetaPhlAn order.
RANKS: tuple[str, ...] = (
    "kingdom",
    "phylum",
    "class",
    "order",
    "family",
    "genus",
    "species",
    "strain",
)
#: The one-letter prefix of each rank (``g`` for ``g__Roseburia``).
RANK_PREFIXES: dict[str, str] = dict(zip(RANKS, "kpcofgst", strict=True))
_PREFIX_TO_DEPTH: dict[str, int] = {p: i + 1 for i, p in enumerate("kpcofgst")}
_PREFIX_TO_DEPTH["d"] = 1  # SILVA / GTDB domain

_RANK_ALIASES: dict[str, str] = {
    **{r: r for r in RANKS},
    **{p: r for r, p in RANK_PREFIXES.items()},
    "domain": "kingdom",
    "d": "kingdom",
    "sgb": "strain",
    "t": "strain",
    "clade": "strain",
}

_TOKEN = re.compile(r"^([a-zA-Z])__(.*)$")
_SILVA_TOKEN = re.compile(r"^D_(\d)__(.*)$")
_UNCLASSIFIED = "unclassified"
#: Rank names that stand for no classification (compared in lower case).
_PLACEHOLDERS = frozenset({"", "unclassified", "unassigned", "unidentified", "unknown"})
_WHITESPACE = re.compile(r"\s+")


def normalize_rank(rank: str) -> str:
    """Return the canonical rank name for ``rank``.

    Parameters
    ----------
    rank : str
        A rank name (``"genus"``), its prefix letter (``"g"``) or an alias
        (``"domain"``, ``"SGB"``), in any case.

    Returns
    -------
    str
        One of :data:`RANKS`.

    Raises
    ------
    TaxonomyError
        If ``rank`` is not a rank mlmicro knows.

    Examples
    --------
    >>> normalize_rank("G")
    'genus'
    """
    key = str(rank).strip().lower().rstrip("_")
    try:
        return _RANK_ALIASES[key]
    except KeyError:
        known = ", ".join(RANKS)
        raise TaxonomyError(f"Unknown rank {rank!r}; use one of: {known}.") from None


def _split_raw(text: str) -> list[str]:
    if "|" in text:
        parts = text.split("|")
    elif ";" in text:
        parts = text.split(";")
    else:
        parts = [text]
    return [p.strip().strip('"').strip() for p in parts]


def _clean_name(name: str) -> str:
    """Return a rank name with white space runs as ``_``; placeholders read ``unclassified``."""
    name = _WHITESPACE.sub("_", name.strip().strip('"').strip())
    return _UNCLASSIFIED if name.lower() in _PLACEHOLDERS else name


def is_placeholder(name: str) -> bool:
    """Return whether a rank name (without prefix) stands for no classification.

    Examples
    --------
    >>> is_placeholder("unclassified"), is_placeholder(""), is_placeholder("Roseburia")
    (True, True, False)
    """
    return _clean_name(name) == _UNCLASSIFIED or name.strip() == ""


@lru_cache(maxsize=200_000)
def canonical_lineage(text: str) -> str:
    """Return the canonical form of a lineage string.

    The form is idempotent: ``canonical_lineage(canonical_lineage(x)) ==
    canonical_lineage(x)`` for every string, so a model's own features (and
    the padded lineages of :func:`truncate_lineage`) map onto themselves.

    Parameters
    ----------
    text : str
        A lineage in MetaPhlAn (``|``), QIIME / Greengenes (``;`` or ``; ``),
        SILVA (``D_0__``) or GTDB (``d__``) style, or any other feature
        identifier.

    Returns
    -------
    str
        The canonical lineage, or ``text`` stripped of surrounding white space
        if it carries no rank prefixes.

    Notes
    -----
    Empty ranks at the end are dropped (``...; g__; s__``). An empty rank with
    a named rank below it is kept as ``unclassified``, so the deeper name is
    never lost (``o__Clostridiales; f__; g__; s__Clostridiales_bacterium_1_7``
    keeps its species). Placeholder names (``unclassified``, ``unassigned``,
    ``unidentified``, ``unknown``, any case) are written ``unclassified``.

    Examples
    --------
    >>> canonical_lineage("k__Bacteria; p__Firmicutes; g__Ruminococcus; s__bromii")
    'k__Bacteria|p__Firmicutes|g__Ruminococcus|s__Ruminococcus_bromii'
    >>> canonical_lineage("k__Bacteria; p__Bacteroidetes; c__; o__; f__")
    'k__Bacteria|p__Bacteroidetes'
    >>> canonical_lineage("k__B|o__Clostridiales|f__|g__|s__Clostridiales_bacterium_VE202_09")
    'k__B|o__Clostridiales|f__unclassified|g__unclassified|s__Clostridiales_bacterium_VE202_09'
    >>> canonical_lineage("k__B|g__Bifidobacterium|s__unclassified")
    'k__B|g__Bifidobacterium|s__unclassified'
    """
    raw = str(text).strip()
    parsed: list[tuple[str, str]] = []
    for token in _split_raw(raw):
        silva = _SILVA_TOKEN.match(token)
        if silva:
            level = int(silva.group(1))
            if level >= 8:
                return raw
            prefix, name = "kpcofgst"[level], silva.group(2)
        else:
            match = _TOKEN.match(token)
            if not match:
                if token == "" and parsed:
                    continue  # an empty field between separators: no rank at all
                return raw  # not a lineage: keep the identifier as it is
            prefix, name = match.group(1).lower(), match.group(2)
            if prefix == "d":
                prefix = "k"
            if prefix not in _PREFIX_TO_DEPTH:
                return raw
        parsed.append((prefix, "" if name.strip().strip('"').strip() == "" else _clean_name(name)))
    while parsed and parsed[-1][1] == "":
        parsed.pop()  # empty trailing ranks say nothing
    if not parsed:
        return _UNCLASSIFIED  # rank prefixes with no name at all ("k__; p__"): unassigned
    out: list[str] = []
    genus: str | None = None
    for prefix, name in parsed:
        name = name or _UNCLASSIFIED  # an inner empty rank keeps its place
        if prefix == "g":
            genus = None if name == _UNCLASSIFIED else name.strip("[]")
        elif prefix == "s" and genus and name != _UNCLASSIFIED and not _looks_binomial(name, genus):
            name = f"{genus}_{name}"
        out.append(f"{prefix}__{name}")
    return "|".join(out)


def canonicalize_columns(table: pd.DataFrame) -> pd.DataFrame:
    """Return ``table`` with canonical lineage columns, summing columns that become one.

    Tables read by :func:`mlmicro.read_table` are canonical already; this is
    for frames built by hand in a notebook (``;``-separated lineages, spaces).

    Examples
    --------
    >>> t = pd.DataFrame({"k__B; g__A": [1.0], "k__B|g__A": [2.0]})
    >>> canonicalize_columns(t)
       k__B|g__A
    0        3.0
    """
    names = [canonical_lineage(str(c)) for c in table.columns]
    if names == [str(c) for c in table.columns] and len(set(names)) == len(names):
        return table
    if len(set(names)) == len(names):
        out = table.copy()
        out.columns = pd.Index(names, dtype=object)
        return out
    summed = table.T.groupby(pd.Index(names, dtype=object), sort=False).sum().T
    summed.index = table.index
    return summed


def _looks_binomial(species: str, genus: str) -> bool:
    if species == genus or species.strip("[]").startswith(genus + "_"):
        return True
    first = species.split("_", 1)[0].strip("[]")
    if first == genus:
        return True
    # A capitalised first word is a genus name of its own
    # (e.g. "Clostridium_sp" under "g__[Clostridium]" or re-classified names).
    return bool(first) and first[0].isupper() and "_" in species


def split_lineage(lineage: str) -> list[str]:
    """Split a canonical lineage into its ``x__name`` tokens."""
    return lineage.split("|") if is_lineage(lineage) else [lineage]


def is_lineage(text: str) -> bool:
    """Return whether ``text`` (canonical) carries rank prefixes."""
    return bool(_TOKEN.match(text.split("|", 1)[0]))


def depth_of(lineage: str) -> int:
    """Return the depth of a canonical lineage (1 = kingdom ... 8 = strain); 0 if none."""
    if not is_lineage(lineage):
        return 0
    last = lineage.rsplit("|", 1)[-1]
    return _PREFIX_TO_DEPTH.get(last[0].lower(), 0)


def rank_of(lineage: str) -> str | None:
    """Return the rank of the deepest token of a canonical lineage, or ``None``.

    Examples
    --------
    >>> rank_of("k__Bacteria|p__Firmicutes|g__Roseburia")
    'genus'
    """
    depth = depth_of(lineage)
    return RANKS[depth - 1] if depth else None


@lru_cache(maxsize=200_000)
def truncate_lineage(lineage: str, rank: str) -> str:
    """Cut a canonical lineage at ``rank``, padding a shallower one.

    A lineage that stops above ``rank`` is padded with ``unclassified`` tokens
    so that its abundance is kept, not lost, when a table is collapsed.

    Examples
    --------
    >>> truncate_lineage("k__Bacteria|p__Firmicutes|f__Lachnospiraceae", "genus")
    'k__Bacteria|p__Firmicutes|f__Lachnospiraceae|g__unclassified'
    """
    target = RANKS.index(normalize_rank(rank)) + 1
    tokens = split_lineage(lineage)
    if not is_lineage(lineage):
        raise TaxonomyError(
            f"Feature {lineage!r} has no lineage, so it cannot be collapsed to rank "
            f"{RANKS[target - 1]!r}; give a taxonomy for the table or leave out the rank."
        )
    kept = [t for t in tokens if _PREFIX_TO_DEPTH.get(t[0].lower(), 99) <= target]
    depth = _PREFIX_TO_DEPTH[kept[-1][0].lower()] if kept else 0
    for level in range(depth + 1, target + 1):
        kept.append(f"{'kpcofgst'[level - 1]}__{_UNCLASSIFIED}")
    return "|".join(kept)


def is_hierarchical(lineages: Iterable[str], totals: Sequence[float] | None = None) -> bool:
    """Return whether a table lists every rank as its own row (MetaPhlAn style).

    Parameters
    ----------
    lineages : iterable of str
        Canonical lineages, one per column.
    totals : sequence of float, optional
        Each column's total over all samples. When given, a table counts as
        hierarchical only if its parent rows hold the sum of their children
        (within 5%) for most parents. Flat 16S tables also have parent-level
        rows (reads assigned no deeper), but those hold only their own reads
        and must be summed, not dropped.

    Examples
    --------
    >>> names = ["k__B", "k__B|g__A", "k__B|g__C"]
    >>> is_hierarchical(names, [10.0, 6.0, 4.0]), is_hierarchical(names, [2.0, 6.0, 4.0])
    (True, False)
    """
    names = list(lineages)
    present = set(names)
    if totals is None:
        return any("|" in n and n.rsplit("|", 1)[0] in present for n in names)
    children_total: dict[str, float] = {}
    for name, total in zip(names, totals, strict=True):
        if "|" in name:
            parent = name.rsplit("|", 1)[0]
            if parent in present:
                children_total[parent] = children_total.get(parent, 0.0) + float(total)
    if not children_total:
        return False
    own = dict(zip(names, map(float, totals), strict=True))
    checked = consistent = 0
    for parent, child_sum in children_total.items():
        parent_sum = own[parent]
        if parent_sum == 0.0 and child_sum == 0.0:
            continue
        checked += 1
        if abs(parent_sum - child_sum) <= 0.05 * max(parent_sum, child_sum):
            consistent += 1
    return checked > 0 and consistent >= 0.5 * checked


def _ancestors_with_children(names: Sequence[str]) -> set[str]:
    parents: set[str] = set()
    for name in names:
        tokens = name.split("|")
        for i in range(1, len(tokens)):
            parents.add("|".join(tokens[:i]))
    return parents


def rank_mapping(
    lineages: Sequence[str], rank: str | None, totals: Sequence[float] | None = None
) -> list[str | None]:
    """Map each column of a table to the taxon it counts toward at ``rank``.

    Parameters
    ----------
    lineages : sequence of str
        Canonical lineages, one per column.
    rank : str or None
        The rank to collapse to. ``None`` keeps the deepest rows of a
        hierarchical table and every column of a flat one.
    totals : sequence of float, optional
        Column totals, used to tell a hierarchical table from a flat one
        (see :func:`is_hierarchical`).

    Returns
    -------
    list of str or None
        For each column, its target taxon, or ``None`` when the column must be
        left out: the inner rows of a hierarchical MetaPhlAn table (so that
        nothing is counted twice) and, when ``rank`` is given, features that
        carry no lineage (unassigned reads).

    Notes
    -----
    In a hierarchical table (where a lineage's ancestors are rows too), the
    rows at exactly ``rank`` are used, and so are leaf rows that stop above
    ``rank`` (padded with ``unclassified``); every other row is left out. In a
    flat table, each column is truncated (or padded) to ``rank`` and columns
    with the same result are summed.
    """
    names = list(lineages)
    hierarchical = is_hierarchical(names, totals)
    if rank is None:
        if not hierarchical:
            return list(names)
        inner = _ancestors_with_children(names)
        return [None if n in inner else n for n in names]
    rank = normalize_rank(rank)
    target = RANKS.index(rank) + 1
    with_lineage = [is_lineage(n) for n in names]
    if names and not any(with_lineage):
        raise TaxonomyError(
            f"The table's features (e.g. {names[0]!r}) carry no lineage, so they cannot be "
            f"collapsed to rank {rank!r}; give a taxonomy for the table or leave out the rank."
        )
    if not hierarchical:
        # features with no lineage (unassigned reads) cannot be placed at a rank: left out
        return [
            truncate_lineage(n, rank) if ok else None
            for n, ok in zip(names, with_lineage, strict=True)
        ]
    inner = _ancestors_with_children(names)
    out: list[str | None] = []
    for name in names:
        depth = depth_of(name)
        if depth == 0:
            out.append(None)
        elif depth == target or (depth < target and name not in inner):
            out.append(truncate_lineage(name, rank))
        else:
            out.append(None)
    return out


def collapse_to_rank(table: pd.DataFrame, rank: str | None) -> pd.DataFrame:
    """Collapse a samples x taxa table to ``rank`` without double counting.

    Parameters
    ----------
    table : pandas.DataFrame
        Samples as rows, canonical lineages as columns.
    rank : str or None
        Target rank; see :func:`rank_mapping`.

    Returns
    -------
    pandas.DataFrame
        Samples x taxa at ``rank``, columns sorted, index unchanged.

    Raises
    ------
    TaxonomyError
        If ``rank`` is unknown, or the table's features carry no lineage.

    Examples
    --------
    >>> t = pd.DataFrame({"k__B|g__A|s__A_x": [1.0], "k__B|g__A|s__A_y": [2.0]})
    >>> collapse_to_rank(t, "genus").columns.tolist()
    ['k__B|g__A']
    """
    values = table.to_numpy(dtype=np.float64, copy=False)
    mapping = rank_mapping([str(c) for c in table.columns], rank, values.sum(axis=0))
    targets = sorted({m for m in mapping if m is not None})
    position = {name: i for i, name in enumerate(targets)}
    cols = np.array([i for i, m in enumerate(mapping) if m is not None], dtype=np.intp)
    dest = np.array([position[m] for m in mapping if m is not None], dtype=np.intp)
    out = np.zeros((values.shape[0], len(targets)), dtype=np.float64)
    if len(cols):
        np.add.at(out.T, dest, values[:, cols].T)
    return pd.DataFrame(out, index=table.index.copy(), columns=pd.Index(targets, dtype=object))


def terminal_name(lineage: str) -> str:
    """Return the deepest token of a lineage without its prefix (``Roseburia``)."""
    if not is_lineage(lineage):
        return lineage
    return lineage.rsplit("|", 1)[-1][3:]


def display_name(lineage: str) -> str:
    """Return a human-readable name for a lineage.

    Species read as binomials, strains keep their suffix, and unclassified
    taxa are named by their nearest classified ancestor.

    Examples
    --------
    >>> display_name("k__Bacteria|g__Faecalibacterium|s__Faecalibacterium_prausnitzii")
    'Faecalibacterium prausnitzii'
    >>> display_name("k__Bacteria|f__Ruminococcaceae|g__unclassified")
    'unclassified Ruminococcaceae'
    >>> display_name("k__B|s__Bacteroides_fragilis|t__SGB1855")
    'Bacteroides fragilis SGB1855'
    >>> display_name("k__B|o__Clostridiales|f__unclassified|s__Clostridiales_bacterium_1_7")
    'Clostridiales bacterium 1 7'
    """
    if not is_lineage(lineage):
        return lineage
    tokens = [(t[0].lower(), t[3:]) for t in lineage.split("|")]
    named = [(p, n) for p, n in tokens if n and n != _UNCLASSIFIED]
    if not named:
        return _UNCLASSIFIED
    if named[-1] != tokens[-1]:  # the deepest rank is a placeholder
        return f"{_UNCLASSIFIED} {_pretty(named[-1][1])}"
    prefix, name = named[-1]
    if prefix == "t":
        species = next((n for p, n in reversed(named) if p == "s"), "")
        suffix = name[len(species) + 1 :] if species and name.startswith(species + "_") else name
        if suffix == _UNCLASSIFIED:
            return f"{_pretty(species)} (unclassified strain)" if species else _pretty(name)
        return f"{_pretty(species)} {_pretty(suffix)}".strip()
    if name.endswith("_" + _UNCLASSIFIED):
        return f"{_UNCLASSIFIED} {_pretty(name[: -len(_UNCLASSIFIED) - 1])}"
    return _pretty(name)


def _pretty(name: str) -> str:
    return name.replace("_", " ").strip()


def display_names(lineages: Sequence[str]) -> list[str]:
    """Return display names for many lineages, made unique.

    Where two lineages read the same (e.g. ``unclassified Lachnospiraceae`` at
    genus and species level), the rank of the deepest token is appended.
    """
    names = [display_name(n) for n in lineages]
    counts = pd.Series(names).value_counts()
    seen: dict[str, int] = {}
    out = []
    for lineage, name in zip(lineages, names, strict=True):
        if counts[name] > 1:
            rank = rank_of(lineage) or "feature"
            candidate = f"{name} [{rank}]"
            seen[candidate] = seen.get(candidate, 0) + 1
            if seen[candidate] > 1:
                candidate = f"{candidate} #{seen[candidate]}"
            out.append(candidate)
        else:
            out.append(name)
    return out
