"""External validation: scores of a model's predictions against a cohort's known labels."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mlmicro.model.apply import Applied
from mlmicro.model.bootstrap import bootstrap_weights, percentile_interval, weighted_metrics
from mlmicro.model.classwise import confusion_counts
from mlmicro.model.insample import in_sample_attribution_message
from mlmicro.model.labels import subject_units
from mlmicro.model.metrics import METRICS, score
from mlmicro.model.model import InSampleWarning, Model

__all__ = ["LabelTally", "PredictionWarning", "TrainingTally", "Validation", "cohort_labels"]

_ALL_METRICS = METRICS

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

    Only samples the model was not trained on are scored externally. When
    every labelled sample was a training sample there is no external score:
    :attr:`source` is ``"out-of-fold"`` and :attr:`metrics` score those
    samples' out-of-fold CV probabilities instead, said as such.

    Attributes
    ----------
    label : str
        The metadata column the labels come from.
    n_samples : int
        Labelled samples that were scored.
    class_counts : dict
        Scored samples per true class.
    metrics : dict
        :func:`mlmicro.model.metrics.score` of the scored samples (AUROC is
        ``NaN`` when a class is absent or nothing could be scored).
    n_unscored : int
        Labelled samples not scored: absent from the table or not predicted.
    n_in_training : int
        Labelled samples left out of the external score because they are the
        model's own training samples.
    source : {"external", "out-of-fold"}
        What :attr:`metrics` score: predictions of samples the model never
        saw, or (every labelled sample being a training sample) their
        out-of-fold CV probabilities.
    scored : pandas.DataFrame or None
        The scored samples: ``sample_id``, ``y_true``, ``predicted_label``
        (external validation only), ``subject`` (when the metadata hold the
        model's subject column) and ``probability_<class>``.
    subject_column : str or None
        The metadata column the subjects came from (the model's ``--group``);
        ``None`` when the samples count on their own.
    """

    label: str
    n_samples: int
    class_counts: dict[str, int]
    metrics: dict[str, float]
    n_unscored: int = 0
    n_in_training: int = 0
    source: str = "external"
    scored: pd.DataFrame | None = field(default=None, compare=False, repr=False)
    subject_column: str | None = None

    @property
    def n_subjects(self) -> int | None:
        """Scored subjects (samples without a subject count as one each); ``None``: no subjects."""
        if self.subject_column is None or self.scored is None:
            return None
        return len(np.unique(self._units()))

    def _units(self) -> np.ndarray:
        assert self.scored is not None
        ids = pd.Index(self.scored["sample_id"])
        if "subject" not in self.scored:
            return subject_units(pd.Series(dtype=object), ids)
        return subject_units(pd.Series(self.scored["subject"].to_numpy(), index=ids), ids)

    def auroc_interval(
        self, classes: Sequence[str], positive_class: str | None, *, n_resamples: int = 1000
    ) -> list[float | None]:
        """Stratified bootstrap 95% CI of the AUROC (macro one-vs-rest for multiclass models).

        Units are resampled within each true class (seed 0): whole subjects
        when the scored samples have them (:attr:`subject_column`), else
        samples. ``[None, None]`` where undefined (no scored samples, or a
        class absent).
        """
        if self.scored is None or len(self.scored) < 2:
            return [None, None]
        classes = list(classes)
        codes = np.array([classes.index(c) for c in self.scored["y_true"]])
        if len(np.unique(codes)) < 2:
            return [None, None]
        proba = self.scored[[f"probability_{c}" for c in classes]].to_numpy(dtype=np.float64)
        groups = None if self.subject_column is None else self._units()
        weights = bootstrap_weights(codes, n_resamples=n_resamples, seed=0, groups=groups)
        positive = None if positive_class is None else classes.index(positive_class)
        values = weighted_metrics(codes, proba, weights, positive)["roc_auc"]
        return percentile_interval(values)

    def confusion(self, classes: Sequence[str]) -> list[list[int]] | None:
        """Scored samples by true class (rows) and predicted label (columns); ``None`` if unknown.

        The labels are the ones written to the predictions (for binary models,
        decided by the model's threshold or ``--threshold``).
        """
        if self.scored is None or "predicted_label" not in self.scored:
            return None
        return confusion_counts(
            self.scored["y_true"].tolist(), self.scored["predicted_label"].tolist(), classes
        )

    def format(self) -> str:
        """Return the plain-text lines printed by ``mlmicro predict``."""
        counts = ", ".join(f"{k} {v}" for k, v in self.class_counts.items())
        unscored = (
            f"; {self.n_unscored} labelled samples not scored (absent or not predicted)"
            if self.n_unscored
            else ""
        )
        if self.source == "out-of-fold":
            lines = [
                f"no external validation on {self.label!r}: all {self.n_samples} labelled "
                f"samples ({counts}) are this model's training samples{unscored}; "
                "cross-validation out-of-fold scores of these samples instead (mean "
                "out-of-fold probability over repeats), not an external score:"
            ]
        else:
            left = (
                f"; {self.n_in_training} labelled training samples of the model left out"
                if self.n_in_training
                else ""
            )
            lines = [
                f"external validation on {self.label!r}: {self.n_samples} labelled samples "
                f"not used in training ({counts}){left}{unscored}"
            ]
        missing = [c for c, n in self.class_counts.items() if n == 0]
        for key, name in _VALIDATION_METRICS.items():
            value = self.metrics[key]
            why = f"no {', '.join(missing)}" if missing else "undefined"
            shown = f"{value:.3f}" if np.isfinite(value) else f"n/a ({why})"
            lines.append(f"  {name:<18} {shown}")
        return "\n".join(lines)


class LabelTally:
    """Collects the predicted probabilities of labelled samples, block by block."""

    def __init__(
        self,
        labels: pd.Series | None,
        classes: list[str],
        subjects: pd.Series | None = None,
        subject_column: str | None = None,
    ) -> None:
        self.labels = labels
        self.subjects = subjects
        self.subject_column = subject_column if subjects is not None else None
        self.ids: list[np.ndarray] = []
        self.proba: list[np.ndarray] = []
        self.predicted: list[np.ndarray] = []
        self.training_ids: list[np.ndarray] = []
        self.training_proba: list[np.ndarray] = []
        self.columns = [f"probability_{c}" for c in classes]

    def add(self, out: pd.DataFrame, applied: Applied | None = None) -> None:
        """Keep the rows of one output block whose samples have a label.

        Training samples of the model (``applied.in_training``) are kept apart,
        with their out-of-fold probabilities.
        """
        if self.labels is None:
            return
        predicted = out["predicted_label"].notna().to_numpy()
        mask = out["sample_id"].isin(self.labels.index).to_numpy() & predicted
        ids = out["sample_id"].to_numpy()
        in_training = np.zeros(len(out), dtype=bool)
        if applied is not None and applied.in_training is not None:
            in_training = applied.in_training
        external = mask & ~in_training
        if external.any():
            self.ids.append(ids[external])
            self.proba.append(out[self.columns].to_numpy(dtype=np.float64)[external])
            self.predicted.append(out["predicted_label"].to_numpy(dtype=object)[external])
        training = mask & in_training
        if training.any():
            self.training_ids.append(ids[training])
            self.training_proba.append(applied.out_of_fold[training])  # type: ignore[union-attr]

    def finish(self, model: Model) -> Validation | None:
        """Score the kept rows; ``None`` without labels."""
        if self.labels is None:
            return None
        ids = np.concatenate(self.ids) if self.ids else np.empty(0, dtype=object)
        training = (
            np.concatenate(self.training_ids) if self.training_ids else np.empty(0, dtype=object)
        )
        if len(ids) == 0 and len(training) == 0:
            warnings.warn(
                f"No predicted sample has a usable label in column {self.labels.name!r}; "
                "check that the metadata's sample IDs match the table's (--sample-id-column) "
                "and that its values are the model's classes.",
                PredictionWarning,
                stacklevel=3,
            )
            return None
        source = "external"
        if len(ids):
            proba = np.concatenate(self.proba)
        else:  # every labelled sample is a training sample: CV out-of-fold, never in-sample
            source, ids = "out-of-fold", training
            proba = np.concatenate(self.training_proba)
        y = self.labels.loc[ids].to_numpy()
        predicted = (
            np.concatenate(self.predicted) if source == "external" and self.predicted else None
        )
        scored = ~np.isnan(proba).any(axis=1)
        metrics = (
            score(
                y[scored],
                proba[scored],
                model.classes,
                model.positive_class,
                predicted=None if predicted is None else predicted[scored],
            )
            if scored.sum() > 1
            else dict.fromkeys(_ALL_METRICS, float("nan"))
        )
        counts = pd.Series(y[scored]).value_counts()
        n_training = len(training) if source == "external" else 0
        rows = pd.DataFrame(proba[scored], columns=self.columns)
        rows.insert(0, "y_true", y[scored])
        if predicted is not None:
            rows.insert(1, "predicted_label", predicted[scored])
        rows.insert(0, "sample_id", ids[scored])
        if self.subjects is not None:
            rows.insert(1, "subject", self.subjects.reindex(ids[scored]).to_numpy(dtype=object))
        return Validation(
            label=str(self.labels.name),
            n_samples=int(scored.sum()),
            class_counts={c: int(counts.get(c, 0)) for c in model.classes},
            metrics=metrics,
            n_unscored=len(self.labels) - len(ids) - n_training + int((~scored).sum()),
            n_in_training=n_training,
            source=source,
            scored=rows,
            subject_column=self.subject_column,
        )


class TrainingTally:
    """Counts the model's own training samples among predicted blocks, and warns once."""

    def __init__(self) -> None:
        self.n = 0
        self.total = 0
        self.last: Applied | None = None

    def add(self, applied: Applied) -> None:
        """Count one block."""
        self.n += applied.n_in_training
        self.total += int(applied.predicted.sum())
        self.last = applied

    def warn(self, *, attributions: bool = False) -> None:
        """Warn (:class:`InSampleWarning`) when any predicted sample was a training sample.

        With ``attributions`` (SHAP values were computed), the warning also
        says that those samples' attributions are in-sample.
        """
        if self.n and self.last is not None:
            message = self.last.training_message(self.n, self.total)
            if attributions:
                message += " " + in_sample_attribution_message(self.n)
            warnings.warn(message, InSampleWarning, stacklevel=3)
