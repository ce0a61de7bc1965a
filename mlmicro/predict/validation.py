"""External validation: scores of a model's predictions against a cohort's known labels."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlmicro.model.metrics import score
from mlmicro.model.model import Model

__all__ = ["LabelTally", "PredictionWarning", "Validation", "cohort_labels"]

_VALIDATION_METRICS = {
    "roc_auc": "AUROC",
    "average_precision": "AUPRC",
    "balanced_accuracy": "balanced accuracy",
}


class PredictionWarning(UserWarning):
    """Something about a cohort the predictions' reader should know."""


def cohort_labels(
    model: Model,
    metadata: pd.DataFrame,
    label: str | None = None,
    *,
    positive: Sequence[str] | None = None,
    negative: Sequence[str] | None = None,
    where: str = "the sample metadata",
) -> pd.Series:
    """Return the true class of each labelled sample, in the model's class names.

    The model's :class:`~mlmicro.model.labels.Task` maps the values, exactly
    as at training; see :meth:`~mlmicro.model.labels.Task.labels`.

    Examples
    --------
    >>> cohort_labels(model, metadata, "Var", positive=["CD"], negative=["no"])  # doctest: +SKIP
    """
    return model.task.labels(metadata, label, positive=positive, negative=negative, where=where)


@dataclass(frozen=True)
class Validation:
    """How well a model's predictions match a cohort's known labels (external validation).

    Attributes
    ----------
    label : str
        The metadata column the labels come from.
    n_samples : int
        Labelled samples that were predicted and scored.
    class_counts : dict
        Scored samples per true class.
    metrics : dict
        :func:`mlmicro.model.metrics.score` of the scored samples (AUROC is
        ``NaN`` when a class is absent).
    n_unscored : int
        Labelled samples not scored: absent from the table or not predicted.
    """

    label: str
    n_samples: int
    class_counts: dict[str, int]
    metrics: dict[str, float]
    n_unscored: int = 0

    def format(self) -> str:
        """Return the plain-text lines printed by ``mlmicro predict``."""
        counts = ", ".join(f"{k} {v}" for k, v in self.class_counts.items())
        lines = [
            f"external validation on {self.label!r}: {self.n_samples} labelled samples "
            f"({counts})"
            + (f"; {self.n_unscored} labelled samples not scored" if self.n_unscored else "")
        ]
        missing = [c for c, n in self.class_counts.items() if n == 0]
        for key, name in _VALIDATION_METRICS.items():
            value = self.metrics[key]
            shown = f"{value:.3f}" if np.isfinite(value) else f"n/a (no {', '.join(missing)})"
            lines.append(f"  {name:<18} {shown}")
        return "\n".join(lines)


class LabelTally:
    """Collects the predicted probabilities of labelled samples, block by block."""

    def __init__(self, labels: pd.Series | None, classes: list[str]) -> None:
        self.labels = labels
        self.ids: list[np.ndarray] = []
        self.proba: list[np.ndarray] = []
        self.predicted: list[np.ndarray] = []
        self.columns = [f"probability_{c}" for c in classes]

    def add(self, out: pd.DataFrame) -> None:
        """Keep the rows of one output block whose samples have a label."""
        if self.labels is None:
            return
        predicted = out["predicted_label"].notna().to_numpy()
        mask = out["sample_id"].isin(self.labels.index).to_numpy() & predicted
        if mask.any():
            self.ids.append(out["sample_id"].to_numpy()[mask])
            self.proba.append(out[self.columns].to_numpy(dtype=np.float64)[mask])
            self.predicted.append(out["predicted_label"].to_numpy(dtype=object)[mask])

    def finish(self, model: Model) -> Validation | None:
        """Score the kept rows; ``None`` without labels."""
        if self.labels is None:
            return None
        ids = np.concatenate(self.ids) if self.ids else np.empty(0, dtype=object)
        if len(ids) == 0:
            warnings.warn(
                f"No predicted sample has a usable label in column {self.labels.name!r}; "
                "check that the metadata's sample IDs match the table's (--sample-id-column) "
                "and that its values are the model's classes.",
                PredictionWarning,
                stacklevel=3,
            )
            return None
        proba = np.concatenate(self.proba)
        y = self.labels.loc[ids].to_numpy()
        predicted = np.concatenate(self.predicted)
        metrics = score(y, proba, model.classes, model.positive_class, predicted=predicted)
        counts = pd.Series(y).value_counts()
        return Validation(
            label=str(self.labels.name),
            n_samples=len(ids),
            class_counts={c: int(counts.get(c, 0)) for c in model.classes},
            metrics=metrics,
            n_unscored=len(self.labels) - len(ids),
        )
