"""What a cohort's predictions can be trusted for: domain counts, threshold, predictive values.

:class:`DomainTally` counts, block by block, how many samples lie inside the
model's applicability domain (:mod:`mlmicro.model.domain`) and warns once at
the end when many do not. :class:`TrustSummary` is the short text
``mlmicro predict`` prints: the calibration, the threshold the labels were
decided by, the domain counts and, at a given prevalence, the positive and
negative predictive values implied by the threshold's sensitivity and
specificity.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from mlmicro.exceptions import ConfigError
from mlmicro.model.apply import Applied
from mlmicro.model.model import Model
from mlmicro.model.threshold import ppv_npv, rates_at
from mlmicro.model.trust import Trust, oof_positive
from mlmicro.predict.validation import PredictionWarning

__all__ = [
    "DOMAIN_WARNING_SHARE",
    "DomainTally",
    "OutOfDomainWarning",
    "TrustSummary",
    "model_trust",
    "operating_rates",
]


class OutOfDomainWarning(PredictionWarning):
    """Many samples of a cohort lie outside the model's applicability domain."""


#: Warn when more than this share of a cohort's scored samples is out of domain.
DOMAIN_WARNING_SHARE = 0.2


def model_trust(model: Model, threshold: float | None = None) -> Trust | None:
    """Return the model's trust state, deciding at ``threshold`` when one is given.

    Raises
    ------
    ConfigError
        If ``threshold`` is outside [0, 1] or the model is not binary.
    """
    trust = model.trust
    if threshold is None:
        return trust
    if not 0.0 <= threshold <= 1.0:
        raise ConfigError(f"--threshold must lie in [0, 1], not {threshold}.")
    if model.positive_class is None or len(model.classes) != 2:
        raise ConfigError(
            "--threshold needs a binary model; a multiclass model predicts its most probable class."
        )
    if trust is None:
        trust = Trust(classes=tuple(model.classes), positive_class=model.positive_class)
    return trust.with_threshold(threshold)


def operating_rates(model: Model, trust: Trust | None) -> tuple[float, float, str] | None:
    """Sensitivity and specificity at the threshold in use, and what they were measured on.

    ``None`` for models without a threshold or without the predictions to
    measure them on.
    """
    if trust is None or trust.operating_point is None:
        return None
    point = trust.operating_point
    report = model.card.trust
    if point.rule != "fixed":
        if report is not None and report.recalibrations:
            last = report.recalibrations[-1]
            where = f"the {last['n_fit']} recalibration samples"
            return point.sensitivity, point.specificity, where
        if report is not None and report.crossfit:
            return (
                report.crossfit["sensitivity"],
                report.crossfit["specificity"],
                "cross-fitted out-of-fold predictions",
            )
    if model.cv is None or model.positive_class is None:
        return None
    per_sample = oof_positive(model.cv.oof, model.positive_class)
    p = per_sample["p"].to_numpy()
    if trust.calibrator is not None:
        p = trust.calibrator.apply(p)
    sensitivity, specificity = rates_at(p, per_sample["y"].to_numpy(), point.threshold)
    return sensitivity, specificity, "the training cohort's out-of-fold predictions"


class DomainTally:
    """Counts samples in and out of the applicability domain, block by block."""

    def __init__(self) -> None:
        self.scored = 0
        self.inside = 0

    def add(self, applied: Applied) -> None:
        """Count one block."""
        if applied.domain is None:
            return
        finite = np.isfinite(applied.domain.distance)
        self.scored += int(finite.sum())
        self.inside += int(applied.domain.in_domain.sum())

    @property
    def outside(self) -> int:
        """Scored samples out of domain."""
        return self.scored - self.inside

    def warn(self, where: str) -> None:
        """Warn when more than :data:`DOMAIN_WARNING_SHARE` of the cohort is out of domain."""
        if self.scored and self.outside / self.scored > DOMAIN_WARNING_SHARE:
            warnings.warn(
                f"{self.outside} of {self.scored} samples ({self.outside / self.scored:.0%}) of "
                f"{where} lie outside the model's applicability domain (in_domain false): they "
                "are unlike every training sample, so their probabilities are extrapolations. "
                "Recalibrate on labelled samples of this site (mlmicro recalibrate) or use a "
                "model trained on samples like these.",
                OutOfDomainWarning,
                stacklevel=3,
            )


@dataclass(frozen=True)
class TrustSummary:
    """The calibration, threshold, domain and predictive values of one prediction run."""

    calibration: str
    threshold: float | None
    threshold_rule: str | None
    rates: tuple[float, float, str] | None
    n_scored: int
    n_in_domain: int
    prevalence: float | None = None

    @classmethod
    def of(
        cls,
        model: Model,
        trust: Trust | None,
        tally: DomainTally,
        prevalence: float | None = None,
    ) -> TrustSummary:
        """Summarise a run of ``model`` (with ``trust`` in use) over a cohort."""
        if prevalence is not None:
            ppv_npv(0.5, 0.5, prevalence)  # checks the range
        calibrator = None if trust is None else trust.calibrator
        point = None if trust is None else trust.operating_point
        return cls(
            calibration="none" if calibrator is None else calibrator.method,
            threshold=None if point is None else point.threshold,
            threshold_rule=None if point is None else point.describe(),
            rates=operating_rates(model, trust),
            n_scored=tally.scored,
            n_in_domain=tally.inside,
            prevalence=prevalence,
        )

    @property
    def predictive_values(self) -> tuple[float, float] | None:
        """PPV and NPV at :attr:`prevalence` (``None`` without one or without rates)."""
        if self.prevalence is None or self.rates is None:
            return None
        return ppv_npv(self.rates[0], self.rates[1], self.prevalence)

    def format(self) -> str:
        """Plain-text lines for ``mlmicro predict``'s standard error."""
        lines = []
        if self.threshold is not None:
            line = (
                f"labels: positive when the {self.calibration}-calibrated probability is >= "
                f"{self.threshold:.3f} ({self.threshold_rule})"
            )
            if self.calibration == "none":
                line = (
                    f"labels: positive when the probability is >= {self.threshold:.3f} "
                    f"({self.threshold_rule})"
                )
            lines.append(line)
            if self.rates is not None:
                sens, spec, source = self.rates
                lines.append(f"  sensitivity {sens:.3f}, specificity {spec:.3f} (on {source})")
        else:
            lines.append("labels: the most probable class")
        values = self.predictive_values
        if values is not None:
            lines.append(
                f"  at prevalence {self.prevalence:.1%}: PPV {values[0]:.3f}, NPV {values[1]:.3f}"
            )
        elif self.prevalence is not None:
            lines.append("  PPV/NPV: n/a (the model has no measured sensitivity and specificity)")
        if self.n_scored:
            outside = self.n_scored - self.n_in_domain
            lines.append(
                f"applicability domain: {self.n_in_domain} of {self.n_scored} samples in domain, "
                f"{outside} out ({outside / self.n_scored:.1%})"
            )
        return "\n".join(lines)
