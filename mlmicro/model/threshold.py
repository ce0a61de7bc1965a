"""The operating point of a binary model: the probability above which a sample is called positive.

:func:`choose_threshold` picks it from out-of-fold predictions: by Youden's J
(sensitivity + specificity - 1, the default) or as the highest threshold that
reaches a target sensitivity (or the lowest that reaches a target
specificity). :func:`ppv_npv` turns sensitivity and specificity into
predictive values at a clinic's prevalence.

Examples
--------
>>> import numpy as np
>>> p = np.array([0.1, 0.2, 0.35, 0.4, 0.6, 0.8, 0.9])
>>> y = np.array([0, 0, 0, 1, 0, 1, 1])
>>> point = choose_threshold(p, y)
>>> point.threshold, point.sensitivity, round(point.specificity, 2)
(0.4, 1.0, 0.75)
>>> [round(v, 3) for v in ppv_npv(0.9, 0.8, 0.1)]
[0.333, 0.986]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from mlmicro.exceptions import ConfigError

__all__ = ["OperatingPoint", "choose_threshold", "ppv_npv", "rates_at"]

_RULES = ("youden", "sensitivity", "specificity", "fixed")


@dataclass(frozen=True)
class OperatingPoint:
    """A decision threshold on the (calibrated) probability of the positive class.

    Attributes
    ----------
    threshold : float
        Samples with probability ``>= threshold`` are called positive.
    rule : {"youden", "sensitivity", "specificity", "fixed"}
        How it was chosen.
    target : float or None
        The target sensitivity / specificity, for those rules.
    sensitivity, specificity : float
        On the predictions it was chosen on (optimistic there, because chosen
        there; the model card also gives cross-fitted estimates).
    n : int
        Samples it was chosen on.
    """

    threshold: float
    rule: str = "youden"
    target: float | None = None
    sensitivity: float = float("nan")
    specificity: float = float("nan")
    n: int = 0

    def with_threshold(self, threshold: float) -> OperatingPoint:
        """Return a copy at a threshold given by hand (its rates unknown)."""
        return replace(
            self,
            threshold=float(threshold),
            rule="fixed",
            target=None,
            sensitivity=float("nan"),
            specificity=float("nan"),
            n=0,
        )

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready plain values."""
        return {
            "threshold": self.threshold,
            "rule": self.rule,
            "target": self.target,
            "sensitivity": self.sensitivity,
            "specificity": self.specificity,
            "n": self.n,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OperatingPoint:
        """Build an operating point from :meth:`to_dict` output."""
        target = data.get("target")
        return cls(
            threshold=float(data["threshold"]),
            rule=str(data.get("rule", "youden")),
            target=None if target is None else float(target),
            sensitivity=float(data.get("sensitivity", float("nan"))),
            specificity=float(data.get("specificity", float("nan"))),
            n=int(data.get("n", 0)),
        )

    def describe(self) -> str:
        """How the threshold was chosen, in words."""
        if self.rule == "youden":
            return "Youden's J: largest sensitivity + specificity"
        if self.rule == "sensitivity":
            return f"target sensitivity {self.target:.2f}"
        if self.rule == "specificity":
            return f"target specificity {self.target:.2f}"
        return "given by hand"


def rates_at(p: np.ndarray, y: np.ndarray, threshold: float) -> tuple[float, float]:
    """Sensitivity and specificity of calling ``p >= threshold`` positive (``y`` is 0/1)."""
    p = np.asarray(p, dtype=np.float64)
    y = np.asarray(y).astype(bool)
    called = p >= threshold
    sensitivity = float(called[y].mean()) if y.any() else float("nan")
    specificity = float((~called[~y]).mean()) if (~y).any() else float("nan")
    return sensitivity, specificity


def choose_threshold(
    p: np.ndarray,
    y: np.ndarray,
    *,
    target_sensitivity: float | None = None,
    target_specificity: float | None = None,
) -> OperatingPoint:
    """Choose a threshold on probabilities ``p`` of the positive class (``y`` is 0/1).

    Candidates are the observed probabilities (and a threshold above all of
    them). Youden's J is maximised by default; on ties, the threshold closest
    to the middle of the tied range is taken.

    Parameters
    ----------
    p, y : ndarray
        Out-of-fold probabilities and outcomes; ``NaN`` probabilities are left out.
    target_sensitivity : float, optional
        Take the highest threshold whose sensitivity is at least this.
    target_specificity : float, optional
        Take the lowest threshold whose specificity is at least this.

    Raises
    ------
    ConfigError
        If both targets are given, a target is outside (0, 1], or a class is
        missing from ``y``.
    """
    if target_sensitivity is not None and target_specificity is not None:
        raise ConfigError(
            "Give --target-sensitivity or --target-specificity, not both: one threshold "
            "cannot be chosen by two targets."
        )
    for name, value in (("sensitivity", target_sensitivity), ("specificity", target_specificity)):
        if value is not None and not 0 < value <= 1:
            raise ConfigError(f"The target {name} must lie in (0, 1], not {value}.")
    p = np.asarray(p, dtype=np.float64)
    y = np.asarray(y).astype(bool)
    keep = np.isfinite(p)
    p, y = p[keep], y[keep]
    if not y.any() or y.all():
        raise ConfigError(
            "A threshold needs samples of both classes; the predictions given hold only one."
        )
    candidates = np.unique(p)
    candidates = np.append(candidates, np.nextafter(candidates[-1], np.inf))
    order = np.argsort(p)
    sorted_p, sorted_y = p[order], y[order]
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    below = np.searchsorted(sorted_p, candidates, side="left")  # samples with p < threshold
    pos_below = np.concatenate([[0], np.cumsum(sorted_y)])[below]
    neg_below = below - pos_below
    sensitivity = (n_pos - pos_below) / n_pos
    specificity = neg_below / n_neg
    if target_sensitivity is not None:
        rule, target = "sensitivity", target_sensitivity
        pick = int(np.flatnonzero(sensitivity >= target_sensitivity - 1e-12).max())
    elif target_specificity is not None:
        rule, target = "specificity", target_specificity
        pick = int(np.flatnonzero(specificity >= target_specificity - 1e-12).min())
    else:
        rule, target = "youden", None
        j = sensitivity + specificity
        best = np.flatnonzero(j >= j.max() - 1e-12)
        pick = int(best[len(best) // 2])
    return OperatingPoint(
        threshold=float(candidates[pick]),
        rule=rule,
        target=target,
        sensitivity=float(sensitivity[pick]),
        specificity=float(specificity[pick]),
        n=int(len(p)),
    )


def ppv_npv(sensitivity: float, specificity: float, prevalence: float) -> tuple[float, float]:
    """Positive and negative predictive value at a prevalence (Bayes' rule).

    Raises
    ------
    ConfigError
        If ``prevalence`` is not in (0, 1).
    """
    if not 0 < prevalence < 1:
        raise ConfigError(
            f"The prevalence must lie strictly between 0 and 1 (e.g. 0.05), not {prevalence}."
        )
    tp = sensitivity * prevalence
    fp = (1 - specificity) * (1 - prevalence)
    tn = specificity * (1 - prevalence)
    fn = (1 - sensitivity) * prevalence
    ppv = tp / (tp + fp) if tp + fp > 0 else float("nan")
    npv = tn / (tn + fn) if tn + fn > 0 else float("nan")
    return float(ppv), float(npv)
