"""Applicability domain: how far a sample lies from the cohort a model was trained on.

A model's probabilities mean something only for samples like the ones it saw.
:class:`DomainModel` keeps the training cohort's profiles (at the model's
rank, on the model's taxa, plus one part for the abundance that falls on no
model taxon) and scores a new sample by the mean distance to its ``k``
nearest training samples, as a percentile of the same distance among the
training samples themselves (each to its nearest training samples of *other*
subjects, so that a held-out subject is compared like with like). A sample
beyond :attr:`DomainModel.cutoff` (the 95th percentile by default) is out of
domain.

Distances:

* ``braycurtis`` (default): Bray-Curtis dissimilarity of the relative
  abundances;
* ``aitchison``: Euclidean distance of centred log-ratios of the relative
  abundances (zeros replaced by half the smallest non-zero share in
  training). Faster on large references (one matrix product), but sparse
  profiles of other body sites, mostly zeros on model taxa, look alike after
  zero replacement: on the MetAML psoriasis skin model it left 90% of
  vaginal and 15% of oral samples in domain, where Bray-Curtis left 1% and
  0-3% (``benchmarks/calibration.py``).

Profiles are shares of each sample's abundance at the model's rank, so a
sample whose abundance lies mostly on taxa the model does not know is far from
every training sample whatever the feature coverage says.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> train = rng.dirichlet(np.ones(6) * 5, size=60)
>>> domain = fit_domain(train, np.ones(60))
>>> far = np.array([[0.0, 0.0, 0.0, 0.0, 0.0, 1.0]])
>>> domain.score(far, np.ones(1)).in_domain.tolist()
[False]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.spatial.distance import cdist

from mlmicro.exceptions import ConfigError

__all__ = ["DOMAIN_METRICS", "DomainModel", "DomainScores", "fit_domain", "profiles"]

#: Distances the domain check knows.
DOMAIN_METRICS: tuple[str, ...] = ("aitchison", "braycurtis")
#: Training samples kept as the reference, at most (a seeded random subset beyond).
MAX_REFERENCE = 2000
_BLOCK_VALUES = 4_000_000


def profiles(abundance: np.ndarray, share: np.ndarray) -> np.ndarray:
    """Relative profiles on model taxa plus one ``other`` part (rows sum to 1).

    Parameters
    ----------
    abundance : ndarray of shape (n_samples, n_taxa)
        Abundance on the model's taxa (:attr:`mlmicro.model.apply.Applied.abundance`).
    share : ndarray of shape (n_samples,)
        Share of each sample's abundance on model taxa
        (:attr:`~mlmicro.model.apply.Applied.abundance_share`). Rows with no
        abundance on model taxa come back as ``NaN``.
    """
    abundance = np.asarray(abundance, dtype=np.float64)
    mapped = abundance.sum(axis=1)
    ok = mapped > 0
    out = np.full((len(abundance), abundance.shape[1] + 1), np.nan)
    out[ok, :-1] = abundance[ok] / mapped[ok, None] * np.asarray(share, dtype=np.float64)[ok, None]
    out[ok, -1] = np.clip(1.0 - np.asarray(share, dtype=np.float64)[ok], 0.0, 1.0)
    return out


@dataclass(frozen=True)
class DomainScores:
    """Domain scores of a set of samples.

    Attributes
    ----------
    distance : ndarray
        Mean distance to the ``k`` nearest training samples (``NaN``: not scored).
    percentile : ndarray
        ``distance`` as a percentile (0-100) of training samples' own distances.
    in_domain : ndarray of bool
        ``distance <= cutoff`` (false where not scored).
    """

    distance: np.ndarray
    percentile: np.ndarray
    in_domain: np.ndarray


@dataclass(frozen=True)
class DomainModel:
    """The fitted reference of the applicability-domain check (plain arrays).

    Attributes
    ----------
    metric : {"aitchison", "braycurtis"}
    k : int
        Nearest training samples averaged over.
    reference : ndarray of shape (n_reference, n_taxa + 1)
        Training profiles in the metric's coordinates (CLR for Aitchison).
    reference_distances : ndarray
        Sorted mean distances of training samples to their nearest training
        samples of other subjects.
    pseudocount : float
        Zero replacement of the Aitchison coordinates.
    quantile : float
        Share of training distances at or below :attr:`cutoff` (0.95).
    """

    metric: str
    k: int
    reference: np.ndarray
    reference_distances: np.ndarray
    pseudocount: float = 0.0
    quantile: float = 0.95
    n_training: int = 0
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def cutoff(self) -> float:
        """The largest in-domain distance."""
        return float(np.quantile(self.reference_distances, self.quantile))

    def coordinates(self, rows: np.ndarray) -> np.ndarray:
        """Map :func:`profiles` rows to the metric's coordinates."""
        return _coordinates(rows, self.metric, self.pseudocount)

    def distances(self, abundance: np.ndarray, share: np.ndarray) -> np.ndarray:
        """Mean distance of each sample to its ``k`` nearest reference samples."""
        coords = self.coordinates(profiles(abundance, share))
        out = np.full(len(coords), np.nan)
        ok = np.isfinite(coords).all(axis=1)
        if ok.any():
            full = _pairwise(coords[ok], self.reference, self.metric)
            k = min(self.k, full.shape[1])
            out[ok] = np.sort(np.partition(full, k - 1, axis=1)[:, :k], axis=1).mean(axis=1)
        return out

    def score(self, abundance: np.ndarray, share: np.ndarray) -> DomainScores:
        """Score samples (rows of :attr:`~mlmicro.model.apply.Applied.abundance`)."""
        distance = self.distances(abundance, share)
        ranked = np.searchsorted(self.reference_distances, distance, side="right")
        percentile = np.where(
            np.isfinite(distance), 100.0 * ranked / len(self.reference_distances), np.nan
        )
        with np.errstate(invalid="ignore"):
            in_domain = np.isfinite(distance) & (distance <= self.cutoff)
        return DomainScores(distance=distance, percentile=percentile, in_domain=in_domain)

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready plain values (arrays as nested lists)."""
        return {
            "metric": self.metric,
            "k": self.k,
            "reference": self.reference.tolist(),
            "reference_distances": self.reference_distances.tolist(),
            "pseudocount": self.pseudocount,
            "quantile": self.quantile,
            "n_training": self.n_training,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DomainModel:
        """Build a domain model from :meth:`to_dict` output."""
        return cls(
            metric=str(data["metric"]),
            k=int(data["k"]),
            reference=np.asarray(data["reference"], dtype=np.float64),
            reference_distances=np.asarray(data["reference_distances"], dtype=np.float64),
            pseudocount=float(data.get("pseudocount", 0.0)),
            quantile=float(data.get("quantile", 0.95)),
            n_training=int(data.get("n_training", 0)),
            extra=dict(data.get("extra") or {}),
        )

    def summary(self) -> dict[str, Any]:
        """Return what the model card records: metric, k, cutoff and reference size."""
        return {
            "metric": self.metric,
            "k": self.k,
            "quantile": self.quantile,
            "cutoff": self.cutoff,
            "n_reference": int(len(self.reference)),
            "n_training": self.n_training,
        }


def _coordinates(rows: np.ndarray, metric: str, pseudocount: float) -> np.ndarray:
    if metric == "braycurtis":
        return rows
    logged = np.log(rows + pseudocount)
    return logged - logged.mean(axis=1, keepdims=True)


def _pairwise(a: np.ndarray, b: np.ndarray, metric: str) -> np.ndarray:
    """Distances between rows of ``a`` and rows of ``b``, in blocks of bounded memory."""
    if metric == "aitchison":
        squared = (a**2).sum(axis=1)[:, None] + (b**2).sum(axis=1)[None, :] - 2.0 * (a @ b.T)
        return np.sqrt(np.maximum(squared, 0.0))
    # Bray-Curtis: sum |u - v| / sum (u + v), which is 1 - sum min(u, v) as both rows sum to 1
    out = np.empty((len(a), len(b)))
    step = max(1, _BLOCK_VALUES // max(1, b.shape[0]))
    for start in range(0, len(a), step):
        out[start : start + step] = cdist(a[start : start + step], b, metric="braycurtis")
    return out


def fit_domain(
    abundance: np.ndarray,
    share: np.ndarray,
    *,
    groups: np.ndarray | None = None,
    metric: str = "braycurtis",
    k: int = 5,
    quantile: float = 0.95,
    seed: int = 0,
) -> DomainModel:
    """Fit the domain reference on the training cohort.

    Parameters
    ----------
    abundance, share : ndarray
        The training cohort at the model's rank and the share of each sample's
        abundance on model taxa (as :func:`profiles` takes them).
    groups : ndarray, optional
        Subject per sample: a sample's reference distance skips its own
        subject's samples.
    metric : {"aitchison", "braycurtis"}
    k : int
        Nearest training samples averaged over.
    quantile : float
        Share of training distances that count as in domain.
    seed : int
        Seed of the subset kept when the cohort has more than
        :data:`MAX_REFERENCE` samples.

    Raises
    ------
    ConfigError
        For an unknown metric or too few training samples.
    """
    if metric not in DOMAIN_METRICS:
        raise ConfigError(
            f"Unknown domain distance {metric!r}; choose one of {', '.join(DOMAIN_METRICS)}."
        )
    rows = profiles(abundance, share)
    ok = np.isfinite(rows).all(axis=1)
    rows = rows[ok]
    groups = None if groups is None else np.asarray(groups, dtype=object)[ok]
    if len(rows) < 3:
        raise ConfigError("The domain check needs at least 3 training samples with abundance.")
    if len(rows) > MAX_REFERENCE:
        keep = np.sort(np.random.default_rng(seed).choice(len(rows), MAX_REFERENCE, replace=False))
        rows = rows[keep]
        groups = None if groups is None else groups[keep]
    positive = rows[rows > 0]
    pseudocount = float(positive.min() / 2) if metric == "aitchison" and positive.size else 0.0
    coords = _coordinates(rows, metric, pseudocount)
    full = _pairwise(coords, coords, metric)
    np.fill_diagonal(full, np.inf)
    if groups is not None:
        same = groups[:, None] == groups[None, :]
        if (~same).any(axis=1).all():
            full[same] = np.inf
    k = max(1, min(k, len(rows) - 1))
    finite = np.isfinite(full).sum(axis=1)
    kk = np.minimum(k, finite)
    nearest = np.sort(full, axis=1)
    reference_distances = np.array([nearest[i, : kk[i]].mean() for i in range(len(rows))])
    return DomainModel(
        metric=metric,
        k=k,
        reference=coords,
        reference_distances=np.sort(reference_distances),
        pseudocount=pseudocount,
        quantile=quantile,
        n_training=int(ok.sum()),
    )
