"""Recognise a model's own training samples, and give their out-of-fold probabilities.

A model predicting a sample it was trained on is not a prediction: the final
fit has seen that sample's label, so its probability is in-sample and any
score of it is inflated (AUROC 1.000 on the training samples is typical). A
bundle therefore keeps its training samples' IDs and a content digest of each
one's row at the model's rank (:func:`row_digests`); :class:`TrainingLookup`
finds them in any cohort the model is applied to, by content (a renamed
sample is still found; a different sample that reuses an ID is not), and
holds their out-of-fold probability from cross-validation (mean over
repeats), the honest estimate of what the model predicts for them.

:class:`mlmicro.model.apply.PipelineRunner` uses it, so every consumer
(``Model.predict_proba``, ``mlmicro predict``, external validation,
``mlmicro explain``) sees the same replacement.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = [
    "ATTRIBUTION_SOURCES",
    "PROBABILITY_SOURCES",
    "TrainingLookup",
    "attribution_sources",
    "in_sample_attribution_message",
    "row_digests",
]

#: Values of the ``probability_source`` column: the final model's own
#: probability, or the out-of-fold CV probability of a training sample.
PROBABILITY_SOURCES = ("model", "out-of-fold")
#: Values of the ``shap_source`` column: SHAP values of a sample the final
#: model was not trained on, or of one of its own training samples.
ATTRIBUTION_SOURCES = ("out-of-sample", "in-sample")

_DECIMALS = 12


def row_digests(abundance: np.ndarray) -> np.ndarray:
    """SHA-256 (hex) of each row's composition; ``None`` for rows without abundance.

    Rows are closed to relative abundance and rounded to 12 decimals first,
    so the same sample read as counts or as percentages, or summed in
    another order, has the same digest.

    Examples
    --------
    >>> d = row_digests(np.array([[1.0, 3.0], [25.0, 75.0], [0.0, 0.0]]))
    >>> bool(d[0] == d[1]), d[2] is None
    (True, True)
    """
    values = np.asarray(abundance, dtype=np.float64)
    totals = values.sum(axis=1)
    out = np.full(len(values), None, dtype=object)
    for i in np.flatnonzero(totals > 0):
        row = np.round(values[i] / totals[i], _DECIMALS) + 0.0  # +0.0: no negative zeros
        out[i] = hashlib.sha256(np.ascontiguousarray(row).tobytes()).hexdigest()
    return out


def attribution_sources(in_training: np.ndarray | None, predicted: np.ndarray) -> np.ndarray:
    """Return what each sample's SHAP values explain: ``"in-sample"`` or ``"out-of-sample"``.

    SHAP values always explain the final model, the one saved in the bundle.
    For the model's own training samples that model saw their labels, so
    their attributions are in-sample, whatever probability is reported for
    them (the out-of-fold one by default): the CV fold models that predicted
    them out of fold are not kept in the bundle, and their fold-specific
    filters and transforms give each a different feature set, so there is no
    out-of-fold attribution to show instead. ``None`` for samples not
    predicted.

    Examples
    --------
    >>> attribution_sources(np.array([True, False, False]), np.array([True, True, False]))
    array(['in-sample', 'out-of-sample', None], dtype=object)
    """
    predicted = np.asarray(predicted, dtype=bool)
    inside = np.zeros(len(predicted), dtype=bool) if in_training is None else in_training
    out = np.where(inside & predicted, ATTRIBUTION_SOURCES[1], ATTRIBUTION_SOURCES[0])
    out = out.astype(object)
    out[~predicted] = None
    return out


def in_sample_attribution_message(n: int) -> str:
    """Return one sentence: ``n`` samples' SHAP values are in-sample (:func:`attribution_sources`).

    Examples
    --------
    >>> in_sample_attribution_message(3)[:40]
    'The SHAP values of these 3 training samp'
    """
    return (
        f"The SHAP values of these {n} training samples explain the final model's in-sample "
        "margin, which saw their labels (shap_source = in-sample); the CV fold models are not "
        "kept, so no out-of-fold attribution exists for them."
    )


def _cheap_keys(values: np.ndarray) -> np.ndarray:
    """Return a vectorised key per row (taxa present, largest share) that equal rows share."""
    totals = values.sum(axis=1)
    safe = np.where(totals > 0, totals, 1.0)
    largest = np.round(values.max(axis=1, initial=0.0) / safe, 6)
    return np.count_nonzero(values, axis=1) + largest  # count in the integer part


@dataclass(frozen=True)
class TrainingLookup:
    """A model's training samples: IDs, content digests and out-of-fold probabilities.

    Attributes
    ----------
    sample_ids : tuple of str
        Training sample IDs.
    digests : tuple of str or None
        :func:`row_digests` of each training sample at the model's rank.
    out_of_fold : numpy.ndarray of shape (n_training, n_classes) or None
        Mean out-of-fold probability of each training sample over the CV
        repeats (``NaN`` rows for samples CV never predicted); ``None`` when
        the model has no CV results.
    repeats : int
        CV repeats averaged.
    """

    sample_ids: tuple[str, ...]
    digests: tuple[str | None, ...]
    out_of_fold: np.ndarray | None
    repeats: int = 0
    keys: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.float64))

    @classmethod
    def build(
        cls,
        sample_ids: Sequence[str],
        digests: Sequence[str | None],
        oof: pd.DataFrame | None,
        classes: Sequence[str],
        abundance: np.ndarray,
    ) -> TrainingLookup:
        """Build the lookup from training IDs, digests and CV out-of-fold predictions."""
        ids = [str(s) for s in sample_ids]
        mean = None
        repeats = 0
        if oof is not None and len(oof):
            columns = [f"probability_{c}" for c in classes]
            grouped = oof.assign(sample_id=oof["sample_id"].astype(str)).groupby("sample_id")
            mean = grouped[columns].mean().reindex(ids).to_numpy(dtype=np.float64)
            repeats = int(oof["repeat"].nunique()) if "repeat" in oof else 1
        keys = np.unique(_cheap_keys(np.asarray(abundance, dtype=np.float64)))
        return cls(tuple(ids), tuple(digests), mean, repeats, keys)

    def match(self, sample_ids: Sequence[str], abundance: np.ndarray) -> np.ndarray:
        """Position in the training set of each sample (-1: not a training sample).

        A sample is a training sample when its composition at the model's rank
        is a training sample's; among identical training rows, the one with the
        same ID is preferred.
        """
        by_digest: dict[str, list[int]] = {}
        for i, digest in enumerate(self.digests):
            if digest is not None:
                by_digest.setdefault(digest, []).append(i)
        values = np.asarray(abundance, dtype=np.float64)
        out = np.full(len(values), -1, dtype=np.int64)
        # hash only the rows whose cheap key (taxa present, largest share) a training row has
        candidates = np.flatnonzero(np.isin(_cheap_keys(values), self.keys))
        ids = [str(s) for s in sample_ids]
        for j, digest in zip(candidates, row_digests(values[candidates]), strict=True):
            hits = by_digest.get(digest) if digest is not None else None
            if hits:
                same = [i for i in hits if self.sample_ids[i] == ids[j]]
                out[j] = same[0] if same else hits[0]
        return out

    def out_of_fold_rows(self, positions: np.ndarray, n_classes: int) -> np.ndarray:
        """Out-of-fold probabilities at ``positions`` (``NaN`` where -1 or not predicted)."""
        out = np.full((len(positions), n_classes), np.nan)
        if self.out_of_fold is not None:
            hit = positions >= 0
            out[hit] = self.out_of_fold[positions[hit]]
        return out
