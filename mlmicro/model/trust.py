"""What a model's probabilities can be trusted for: calibration, operating point, domain.

:class:`Trust` is the fitted state applied after the classifier, in the one
application path (:class:`mlmicro.model.apply.PipelineRunner`): raw classifier
probability -> calibrated probability (:mod:`mlmicro.model.calibration`) ->
label by the operating point's threshold (:mod:`mlmicro.model.threshold`) ->
applicability-domain score (:mod:`mlmicro.model.domain`). All of it is plain
numbers (:meth:`Trust.to_dict`), saved without pickling.

:func:`fit_trust` fits it from cross-validation alone: the calibrator and the
threshold on out-of-fold probabilities (the mean over repeats of each
sample's), the domain reference on the training cohort. What they are worth
is measured without reusing the same predictions
(:class:`TrustReport`, kept in the model card):

* calibration of the raw out-of-fold probabilities, and of calibrated ones
  *cross-fitted* (the calibrator fitted on four fifths of the samples, split
  by subject, applied to the other fifth);
* sensitivity, specificity and balanced accuracy of the threshold, cross-fitted
  the same way (the rates at the stored threshold, measured on the
  predictions it was chosen on, are optimistic and labelled so);
* the share of held-out samples in domain, with the domain reference fitted
  inside each fold of the first CV repeat.

Multiclass models: no calibration and no threshold (the most probable class
is predicted); the domain check works for any task.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from mlmicro.io.frames import frame_values
from mlmicro.model.calibration import (
    CalibrationReport,
    Calibrator,
    fit_calibrator,
    measure_calibration,
)
from mlmicro.model.domain import DomainModel, DomainScores, fit_domain
from mlmicro.model.threshold import OperatingPoint, choose_threshold, rates_at

__all__ = [
    "DEFAULT_CALIBRATION",
    "Trust",
    "TrustReport",
    "domain_in_cv",
    "fit_trust",
    "oof_positive",
    "rank_view",
]

#: Calibration of ``mlmicro train`` when none is asked for (see benchmarks/calibration.py).
DEFAULT_CALIBRATION = "sigmoid"
_CROSSFIT_FOLDS = 5


@dataclass(frozen=True)
class Trust:
    """Fitted state applied after the classifier.

    Attributes
    ----------
    classes : tuple of str
        The model's classes, in probability-column order.
    positive_class : str or None
        Binary models: the class that is calibrated and thresholded.
    calibrator : Calibrator or None
    operating_point : OperatingPoint or None
    domain : DomainModel or None
    """

    classes: tuple[str, ...]
    positive_class: str | None = None
    calibrator: Calibrator | None = None
    operating_point: OperatingPoint | None = None
    domain: DomainModel | None = None

    @property
    def positive_index(self) -> int | None:
        """Column of the positive class (binary models)."""
        if self.positive_class is None or len(self.classes) != 2:
            return None
        return self.classes.index(self.positive_class)

    @property
    def threshold(self) -> float | None:
        """The decision threshold on the calibrated probability (``None``: most probable class)."""
        return None if self.operating_point is None else self.operating_point.threshold

    def calibrate(self, proba: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities (rows of ``NaN`` stay ``NaN``)."""
        k = self.positive_index
        if self.calibrator is None or k is None or self.calibrator.method == "none":
            return proba
        out = np.array(proba, dtype=np.float64, copy=True)
        out[:, k] = self.calibrator.apply(proba[:, k])
        out[:, 1 - k] = 1.0 - out[:, k]
        return out

    def labels(self, proba: np.ndarray) -> np.ndarray:
        """Predicted class per row of calibrated probabilities (``None`` for ``NaN`` rows)."""
        return predicted_labels(proba, self.classes, self.positive_index, self.threshold)

    def score_domain(self, abundance: np.ndarray, share: np.ndarray) -> DomainScores | None:
        """Domain scores of rank-level rows (``None`` without a domain reference)."""
        return None if self.domain is None else self.domain.score(abundance, share)

    def with_threshold(self, threshold: float) -> Trust:
        """Return a copy deciding at ``threshold`` (given by hand)."""
        point = self.operating_point or OperatingPoint(threshold=0.5, rule="fixed")
        return replace(self, operating_point=point.with_threshold(threshold))

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready plain values."""
        return {
            "classes": list(self.classes),
            "positive_class": self.positive_class,
            "calibrator": None if self.calibrator is None else self.calibrator.to_dict(),
            "operating_point": None
            if self.operating_point is None
            else self.operating_point.to_dict(),
            "domain": None if self.domain is None else self.domain.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Trust:
        """Build the state from :meth:`to_dict` output."""
        return cls(
            classes=tuple(str(c) for c in data["classes"]),
            positive_class=data.get("positive_class"),
            calibrator=None
            if data.get("calibrator") is None
            else Calibrator.from_dict(data["calibrator"]),
            operating_point=None
            if data.get("operating_point") is None
            else OperatingPoint.from_dict(data["operating_point"]),
            domain=None if data.get("domain") is None else DomainModel.from_dict(data["domain"]),
        )


def predicted_labels(
    proba: np.ndarray,
    classes: Sequence[str],
    positive_index: int | None,
    threshold: float | None,
) -> np.ndarray:
    """Class per row: by ``threshold`` on the positive column, else the most probable."""
    labels = np.full(len(proba), None, dtype=object)
    done = ~np.isnan(proba).any(axis=1)
    names = np.asarray(list(classes), dtype=object)
    if positive_index is not None and threshold is not None:
        positive = proba[done, positive_index] >= threshold
        labels[done] = np.where(positive, names[positive_index], names[1 - positive_index])
    else:
        labels[done] = names[np.argmax(proba[done], axis=1)]
    return labels


@dataclass
class TrustReport:
    """What calibration, threshold and domain check are worth, measured in CV.

    Attributes
    ----------
    calibration : str
        The stored calibrator's method (``none`` for multiclass models).
    cv_raw : CalibrationReport or None
        Calibration of the classifier's out-of-fold probabilities.
    cv_calibrated : CalibrationReport or None
        Calibration after the calibrator, cross-fitted.
    operating_point : OperatingPoint or None
        The stored threshold, with its rates on the out-of-fold predictions it
        was chosen on.
    crossfit : dict
        ``sensitivity``, ``specificity``, ``balanced_accuracy`` of calibrator
        and threshold fitted on other subjects' out-of-fold predictions.
    domain : dict
        The domain reference (:meth:`DomainModel.summary`) and
        ``cv_in_domain``: the share of held-out samples in domain (reference
        fitted inside each fold of the first repeat), ``cv_n``.
    recalibrations : list of dict
        Each recalibration for a new site (``mlmicro recalibrate``).
    notes : list of str
    """

    calibration: str = "none"
    cv_raw: CalibrationReport | None = None
    cv_calibrated: CalibrationReport | None = None
    operating_point: OperatingPoint | None = None
    crossfit: dict[str, float] = field(default_factory=dict)
    domain: dict[str, Any] = field(default_factory=dict)
    recalibrations: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready plain values."""
        return {
            "calibration": self.calibration,
            "cv_raw": None if self.cv_raw is None else self.cv_raw.to_dict(),
            "cv_calibrated": None if self.cv_calibrated is None else self.cv_calibrated.to_dict(),
            "operating_point": None
            if self.operating_point is None
            else self.operating_point.to_dict(),
            "crossfit": dict(self.crossfit),
            "domain": dict(self.domain),
            "recalibrations": [dict(r) for r in self.recalibrations],
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrustReport:
        """Build a report from :meth:`to_dict` output."""

        def report(key: str) -> CalibrationReport | None:
            value = data.get(key)
            return None if value is None else CalibrationReport.from_dict(value)

        point = data.get("operating_point")
        return cls(
            calibration=str(data.get("calibration", "none")),
            cv_raw=report("cv_raw"),
            cv_calibrated=report("cv_calibrated"),
            operating_point=None if point is None else OperatingPoint.from_dict(point),
            crossfit={str(k): float(v) for k, v in (data.get("crossfit") or {}).items()},
            domain=dict(data.get("domain") or {}),
            recalibrations=[dict(r) for r in data.get("recalibrations") or []],
            notes=[str(n) for n in data.get("notes") or []],
        )

    def format(self) -> list[str]:
        """Plain-text lines for the training summary."""
        lines = []
        if self.cv_raw is not None:
            lines.append(f"out-of-fold {self.cv_raw.format()}")
        if self.cv_calibrated is not None:
            lines.append(
                f"after {self.calibration} calibration (cross-fitted): "
                f"{self.cv_calibrated.format()}"
            )
        point = self.operating_point
        if point is not None:
            cf = self.crossfit
            lines.append(
                f"threshold {point.threshold:.3f} ({point.describe()}): sensitivity "
                f"{cf.get('sensitivity', float('nan')):.3f}, specificity "
                f"{cf.get('specificity', float('nan')):.3f}, balanced accuracy "
                f"{cf.get('balanced_accuracy', float('nan')):.3f} (cross-fitted)"
            )
        if self.domain:
            rate = self.domain.get("cv_in_domain")
            shown = f"{rate:.1%}" if rate is not None else "n/a"
            lines.append(
                f"applicability domain: {self.domain['metric']} distance to "
                f"{self.domain['k']} nearest training samples; {shown} of held-out samples "
                f"in domain (cutoff: {self.domain['quantile']:.0%} of training samples)"
            )
        lines.extend(self.notes)
        return lines


def oof_positive(oof: pd.DataFrame, positive_class: str) -> pd.DataFrame:
    """Mean out-of-fold probability of the positive class per sample, over repeats.

    Returns a frame indexed by ``sample_id`` with ``p`` and ``y`` (0/1), in
    first-appearance order.
    """
    column = f"probability_{positive_class}"
    grouped = oof.groupby("sample_id", sort=False)
    frame = pd.DataFrame(
        {
            "p": grouped[column].mean(),
            "y": (grouped["y_true"].first() == positive_class).astype(int),
        }
    )
    return frame


def rank_view(rank_step: Any, table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Return a table at a fitted rank step's taxa, and each sample's share on them."""
    values = frame_values(table)
    alignment = rank_step.align(list(table.columns), values.sum(axis=0))
    abundance = alignment.apply(values)
    return abundance, alignment.abundance_share(values, abundance)


def _crossfit(
    p: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray | None,
    method: str,
    targets: dict[str, float | None],
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Calibrated probabilities and labels, each part fitted on the other parts only."""
    folds = max(2, min(_CROSSFIT_FOLDS, int(np.bincount(y).min())))
    if groups is not None:
        splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    else:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    calibrated = np.full(len(p), np.nan)
    called = np.zeros(len(p), dtype=bool)
    for fit_rows, held in splitter.split(p.reshape(-1, 1), y, groups):
        if len(np.unique(y[fit_rows])) < 2:
            continue
        calibrator = fit_calibrator(p[fit_rows], y[fit_rows], method)
        point = choose_threshold(calibrator.apply(p[fit_rows]), y[fit_rows], **targets)
        calibrated[held] = calibrator.apply(p[held])
        called[held] = calibrated[held] >= point.threshold
    return calibrated, called


def domain_in_cv(
    rank_step: Any,
    table: pd.DataFrame,
    oof: pd.DataFrame,
    groups: pd.Series | None,
    metric: str,
) -> tuple[float, int]:
    """Share of held-out samples in domain, the reference fitted in each fold of repeat 0.

    ``rank_step`` may be fitted or not: a clone of it is fitted in each fold. Returns
    the share and the number of held-out samples scored.
    """
    first = oof[oof["repeat"] == oof["repeat"].min()]
    ids = table.index.astype(str)
    inside = total = 0
    for _, fold in first.groupby("fold", sort=True):
        test = ids.isin(fold["sample_id"].astype(str))
        train_table = table.loc[~test]
        step = clone(rank_step).fit(train_table)
        abundance, share = rank_view(step, train_table)
        train_groups = None if groups is None else groups.loc[~test].to_numpy()
        domain = fit_domain(abundance, share, groups=train_groups, metric=metric)
        scores = domain.score(*rank_view(step, table.loc[test]))
        inside += int(scores.in_domain.sum())
        total += int(test.sum())
    return (inside / total if total else float("nan")), total


def fit_trust(
    *,
    oof: pd.DataFrame,
    classes: Sequence[str],
    positive_class: str | None,
    rank_step: Any,
    table: pd.DataFrame,
    groups: pd.Series | None = None,
    calibration: str = DEFAULT_CALIBRATION,
    target_sensitivity: float | None = None,
    target_specificity: float | None = None,
    domain_metric: str = "braycurtis",
    seed: int = 0,
    cv_domain: tuple[float, int] | None = None,
) -> tuple[Trust, TrustReport]:
    """Fit calibrator, threshold and domain reference from CV; measure what they are worth.

    Parameters
    ----------
    oof : pandas.DataFrame
        :attr:`mlmicro.model.training.CVResult.oof`.
    classes, positive_class
        The task's classes and positive class (``None``: multiclass).
    rank_step : RankCollapser
        The saved pipeline's fitted first step (the domain's taxa).
    table : pandas.DataFrame
        The training table (rows as in training); its rank step is refitted
        inside each CV fold for the held-out domain rate.
    groups : pandas.Series, optional
        Subject per sample.
    calibration : {"none", "sigmoid", "isotonic"}
    target_sensitivity, target_specificity : float, optional
        Choose the threshold by a target instead of Youden's J.
    domain_metric : {"aitchison", "braycurtis"}
    seed : int
        Seed of the cross-fitting split.
    cv_domain : (float, int), optional
        :func:`domain_in_cv` of these arguments, when already computed (``train``
        runs it while the final model fits).

    Returns
    -------
    (Trust, TrustReport)
    """
    classes = tuple(str(c) for c in classes)
    abundance, share = rank_view(rank_step, table)
    group_values = None if groups is None else groups.loc[table.index].to_numpy()
    domain = fit_domain(abundance, share, groups=group_values, metric=domain_metric)
    rate, n = cv_domain or domain_in_cv(rank_step, table, oof, groups, domain_metric)
    report = TrustReport(domain={**domain.summary(), "cv_in_domain": rate, "cv_n": n})
    binary = positive_class is not None and len(classes) == 2
    if not binary:
        if calibration != "none" or target_sensitivity or target_specificity:
            report.notes.append(
                "multiclass model: no calibration and no threshold (the most probable class "
                "is predicted)"
            )
        return Trust(classes=classes, domain=domain), report
    per_sample = oof_positive(oof, positive_class)
    p, y = per_sample["p"].to_numpy(), per_sample["y"].to_numpy()
    sample_groups = None
    if groups is not None:
        sample_groups = groups.set_axis(groups.index.astype(str)).loc[per_sample.index].to_numpy()
    info = {"source": "out-of-fold predictions (mean over repeats)", "n_samples": int(len(p))}
    calibrator = fit_calibrator(p, y, calibration, fitted_on=info)
    targets = {"target_sensitivity": target_sensitivity, "target_specificity": target_specificity}
    point = choose_threshold(calibrator.apply(p), y, **targets)
    crossed, called = _crossfit(p, y, sample_groups, calibration, targets, seed)
    sensitivity, specificity = rates_at(called.astype(float), y, 0.5)
    report.calibration = calibration
    report.cv_raw = measure_calibration(p, y)
    report.cv_calibrated = None if calibration == "none" else measure_calibration(crossed, y)
    report.operating_point = point
    report.crossfit = {
        "sensitivity": sensitivity,
        "specificity": specificity,
        "balanced_accuracy": (sensitivity + specificity) / 2,
    }
    trust = Trust(
        classes=classes,
        positive_class=positive_class,
        calibrator=calibrator,
        operating_point=point,
        domain=domain,
    )
    return trust, report
