"""Probability calibration: how far predicted probabilities match observed frequencies.

Two jobs, both on binary tasks:

* **Measure** (:func:`measure_calibration`): a reliability curve (quantile bins
  of the predicted probability against the observed share of positives), the
  calibration slope and intercept, and the Brier score. The slope is the
  coefficient of a logistic regression of the outcome on ``logit(p)`` (1 is
  ideal; below 1 the probabilities are too extreme); the intercept is
  *calibration-in-the-large*, the intercept of that regression with the slope
  fixed at 1 (0 is ideal; below 0 the probabilities are too high on average).
* **Correct** (:class:`Calibrator`, :func:`fit_calibrator`): a monotone map
  from the classifier's probability to a calibrated one, fitted on
  out-of-fold predictions only -- ``sigmoid`` (intercept and slope on the
  logit scale, as a logistic recalibration) or ``isotonic`` (a step function).
  Fitted state is plain numbers, so it is saved without pickling.

Examples
--------
>>> import numpy as np
>>> p = np.array([0.9, 0.8, 0.7, 0.4, 0.3, 0.95, 0.6, 0.2])
>>> y = np.array([1, 1, 0, 0, 0, 1, 1, 0])
>>> report = measure_calibration(p, y, bins=4)
>>> round(report.brier, 3)
0.124
>>> calibrator = fit_calibrator(p, y, "sigmoid")
>>> bool(np.all(np.diff(calibrator.apply(np.sort(p))) >= 0))
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.isotonic import IsotonicRegression

from mlmicro.exceptions import ConfigError

__all__ = [
    "CALIBRATION_METHODS",
    "CalibrationReport",
    "Calibrator",
    "fit_calibrator",
    "logistic_fit",
    "logit",
    "measure_calibration",
]

#: Calibration methods ``--calibration`` accepts.
CALIBRATION_METHODS: tuple[str, ...] = ("none", "sigmoid", "isotonic")
_EPS = 1e-6


def logit(p: np.ndarray) -> np.ndarray:
    """Log-odds of probabilities, clipped away from 0 and 1."""
    p = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


def _expit(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def logistic_fit(x: np.ndarray, y: np.ndarray, *, slope: bool = True) -> tuple[float, float]:
    """Unpenalised logistic regression of ``y`` on one covariate, by Newton's method.

    Parameters
    ----------
    x : ndarray
        The covariate (e.g. ``logit(p)``).
    y : ndarray of {0, 1}
        Outcomes.
    slope : bool
        Fit the slope; ``False`` fits the intercept alone, with ``x`` as an
        offset of slope 1 (calibration-in-the-large).

    Returns
    -------
    (intercept, slope)
        ``slope`` is 1.0 when not fitted. With one class only or a perfectly
        separating covariate the estimates are the last finite Newton step.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    beta = np.zeros(2 if slope else 1)
    design = np.column_stack([np.ones_like(x), x]) if slope else np.ones((len(x), 1))
    fixed = np.zeros_like(x) if slope else x
    for _ in range(100):
        eta = fixed + design @ beta
        mu = _expit(eta)
        weight = np.maximum(mu * (1 - mu), 1e-10)
        gradient = design.T @ (y - mu)
        hessian = (design * weight[:, None]).T @ design + 1e-9 * np.eye(len(beta))
        step = np.linalg.solve(hessian, gradient)
        if not np.all(np.isfinite(step)):
            break
        beta = beta + np.clip(step, -10, 10)
        if np.max(np.abs(step)) < 1e-9:
            break
    return float(beta[0]), float(beta[1]) if slope else 1.0


@dataclass(frozen=True)
class Calibrator:
    """A fitted monotone map from classifier probability to calibrated probability.

    Attributes
    ----------
    method : {"none", "sigmoid", "isotonic"}
    intercept, slope : float
        ``sigmoid``: ``p' = expit(intercept + slope * logit(p))``.
    x, y : tuple of float
        ``isotonic``: the step function's knots (interpolated linearly between
        knots, clipped outside them).
    fitted_on : dict
        What it was fitted on: ``source``, ``n_samples``, ``class_counts``.
    """

    method: str = "none"
    intercept: float = 0.0
    slope: float = 1.0
    x: tuple[float, ...] = ()
    y: tuple[float, ...] = ()
    fitted_on: Mapping[str, Any] = field(default_factory=dict)

    def apply(self, p: np.ndarray) -> np.ndarray:
        """Calibrate probabilities of the positive class (``NaN`` stays ``NaN``)."""
        p = np.asarray(p, dtype=np.float64)
        if self.method == "none":
            return p.copy()
        if self.method == "sigmoid":
            return _expit(self.intercept + self.slope * logit(p))
        return np.interp(p, np.asarray(self.x), np.asarray(self.y))

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready plain values."""
        return {
            "method": self.method,
            "intercept": self.intercept,
            "slope": self.slope,
            "x": list(self.x),
            "y": list(self.y),
            "fitted_on": dict(self.fitted_on),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibrator:
        """Build a calibrator from :meth:`to_dict` output."""
        return cls(
            method=str(data.get("method", "none")),
            intercept=float(data.get("intercept", 0.0)),
            slope=float(data.get("slope", 1.0)),
            x=tuple(float(v) for v in data.get("x") or ()),
            y=tuple(float(v) for v in data.get("y") or ()),
            fitted_on=dict(data.get("fitted_on") or {}),
        )


def fit_calibrator(
    p: np.ndarray, y: np.ndarray, method: str, *, fitted_on: Mapping[str, Any] | None = None
) -> Calibrator:
    """Fit a calibrator on (out-of-fold) probabilities ``p`` and outcomes ``y`` (0/1).

    Raises
    ------
    ConfigError
        For an unknown method.
    """
    if method not in CALIBRATION_METHODS:
        raise ConfigError(
            f"Unknown calibration method {method!r}; choose one of "
            f"{', '.join(CALIBRATION_METHODS)}."
        )
    info = dict(fitted_on or {})
    p = np.asarray(p, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if method == "none":
        return Calibrator(fitted_on=info)
    if method == "sigmoid":
        intercept, slope = logistic_fit(logit(p), y)
        return Calibrator("sigmoid", intercept=intercept, slope=slope, fitted_on=info)
    iso = IsotonicRegression(y_min=_EPS, y_max=1 - _EPS, out_of_bounds="clip").fit(p, y)
    return Calibrator(
        "isotonic",
        x=tuple(float(v) for v in iso.X_thresholds_),
        y=tuple(float(v) for v in iso.y_thresholds_),
        fitted_on=info,
    )


@dataclass(frozen=True)
class CalibrationReport:
    """How well probabilities match outcomes.

    Attributes
    ----------
    n : int
        Samples scored.
    brier : float
        Mean squared difference of probability and outcome.
    slope, intercept : float
        Calibration slope and calibration-in-the-large intercept (see the
        module notes).
    curve : list of dict
        Reliability curve, one row per quantile bin: ``mean_predicted``,
        ``observed`` (share of positives), ``n``.
    """

    n: int
    brier: float
    slope: float
    intercept: float
    curve: list[dict[str, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready plain values."""
        return {
            "n": self.n,
            "brier": self.brier,
            "slope": self.slope,
            "intercept": self.intercept,
            "curve": [dict(row) for row in self.curve],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CalibrationReport:
        """Build a report from :meth:`to_dict` output."""
        return cls(
            n=int(data["n"]),
            brier=float(data["brier"]),
            slope=float(data["slope"]),
            intercept=float(data["intercept"]),
            curve=[{k: float(v) for k, v in row.items()} for row in data.get("curve") or []],
        )

    def format(self) -> str:
        """One line: slope, intercept and Brier score."""
        return (
            f"calibration slope {self.slope:.2f} (ideal 1), intercept {self.intercept:+.2f} "
            f"(ideal 0), Brier {self.brier:.3f} (n = {self.n})"
        )


def measure_calibration(p: np.ndarray, y: np.ndarray, *, bins: int = 10) -> CalibrationReport:
    """Calibration of probabilities ``p`` of the positive class against outcomes ``y`` (0/1).

    Samples with a ``NaN`` probability are left out.
    """
    p = np.asarray(p, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    keep = np.isfinite(p)
    p, y = p[keep], y[keep]
    if len(p) == 0:
        nan = float("nan")
        return CalibrationReport(n=0, brier=nan, slope=nan, intercept=nan)
    z = logit(p)
    both = 0 < y.sum() < len(y)
    _, slope = logistic_fit(z, y) if both else (np.nan, np.nan)
    intercept, _ = logistic_fit(z, y, slope=False) if both else (np.nan, 1.0)
    edges = np.unique(np.quantile(p, np.linspace(0, 1, bins + 1)))
    which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, max(len(edges) - 2, 0))
    curve = []
    for b in np.unique(which):
        members = which == b
        curve.append(
            {
                "mean_predicted": float(p[members].mean()),
                "observed": float(y[members].mean()),
                "n": float(members.sum()),
            }
        )
    return CalibrationReport(
        n=len(p),
        brier=float(np.mean((p - y) ** 2)),
        slope=float(slope),
        intercept=float(intercept),
        curve=curve,
    )
