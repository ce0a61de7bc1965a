"""Report sections on what a model's probabilities can be trusted for.

Calibration (a reliability plot of the out-of-fold probabilities, raw and
calibrated cross-fitted, with slope, intercept and Brier score), the decision
threshold with its cross-fitted rates, the applicability domain and any
recalibration for a new site. Numbers come from the model card's
:class:`~mlmicro.model.trust.TrustReport`.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import numpy as np

from mlmicro.report.figure_output import embed

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from mlmicro.model.calibration import CalibrationReport
    from mlmicro.model.model import Model

__all__ = ["calibration_figure", "trust_sections"]


def _e(value: object) -> str:
    return html.escape(str(value))


def _n(value: object, fmt: str = "{:.3f}") -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    return fmt.format(value)


def calibration_figure(
    curves: dict[str, CalibrationReport], positive_class: str | None = None
) -> Figure:
    """Reliability plot: mean predicted probability against observed share, per curve.

    Examples
    --------
    >>> from mlmicro.model.calibration import measure_calibration
    >>> report = measure_calibration(np.array([0.2, 0.4, 0.6, 0.8]), np.array([0, 0, 1, 1]))
    >>> fig = calibration_figure({"out-of-fold": report}, "CD")
    >>> len(fig.axes)
    1
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    ax.plot([0, 1], [0, 1], ls=":", color="grey", lw=1, label="perfect calibration")
    for (name, report), marker in zip(curves.items(), ("o", "s", "^"), strict=False):
        x = [row["mean_predicted"] for row in report.curve]
        y = [row["observed"] for row in report.curve]
        ax.plot(x, y, marker=marker, lw=1.5, label=f"{name} (slope {report.slope:.2f})")
    target = positive_class or "positive class"
    ax.set_xlabel(f"predicted probability of {target}")
    ax.set_ylabel(f"observed share of {target}")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def _calibration_body(model: Model) -> str:
    report = model.card.trust
    if report is None or report.cv_raw is None:
        note = "; ".join(report.notes) if report is not None and report.notes else ""
        return (
            "<p class='muted'>No calibration: "
            + _e(note or "the model has no out-of-fold predictions of a binary task.")
            + "</p>"
        )
    curves = {"out-of-fold, raw": report.cv_raw}
    if report.cv_calibrated is not None:
        curves[f"{report.calibration}, cross-fitted"] = report.cv_calibrated
    rows = "".join(
        f"<tr><td>{_e(name)}</td><td>{_n(r.slope, '{:.2f}')}</td>"
        f"<td>{_n(r.intercept, '{:+.2f}')}</td><td>{_n(r.brier)}</td><td>{r.n}</td></tr>"
        for name, r in curves.items()
    )
    image = embed(calibration_figure(curves, model.positive_class), "calibration curve")
    return f"""
<figure>{image}<figcaption>Reliability of the out-of-fold probabilities (quantile bins; each
sample's mean over CV repeats). The stored calibrator ({_e(report.calibration)}) was fitted on
all of them; its curve here is cross-fitted: fitted on four fifths of the subjects, shown on
the other fifth.</figcaption></figure>
<table><thead><tr><th>probabilities</th><th>slope (ideal 1)</th>
<th>intercept (ideal 0)</th><th>Brier score</th><th>samples</th></tr></thead>
<tbody>{rows}</tbody></table>
<p class="caption">Slope: logistic regression of the outcome on the log-odds of the
probability (below 1: too extreme). Intercept: calibration-in-the-large, the same regression
with the slope fixed at 1 (below 0: too high on average).</p>"""


def _threshold_body(model: Model) -> str:
    report = model.card.trust
    point = None if report is None else report.operating_point
    if point is None:
        return "<p class='muted'>No threshold: the most probable class is predicted.</p>"
    cf = report.crossfit
    return f"""
<table><tbody>
<tr><th>threshold</th><td>{point.threshold:.3f} on the calibrated probability of
{_e(model.positive_class)}</td></tr>
<tr><th>chosen by</th><td>{_e(point.describe())}, on {point.n} out-of-fold predictions</td></tr>
<tr><th>sensitivity / specificity there</th><td>{_n(point.sensitivity)} /
{_n(point.specificity)} (optimistic: measured where it was chosen)</td></tr>
<tr><th>cross-fitted sensitivity / specificity</th><td>{_n(cf.get("sensitivity"))} /
{_n(cf.get("specificity"))}; balanced accuracy {_n(cf.get("balanced_accuracy"))}</td></tr>
</tbody></table>
<p class="caption">Cross-fitted: calibrator and threshold chosen on four fifths of the
subjects' out-of-fold predictions, applied to the other fifth. mlmicro predict --threshold
overrides the threshold; --prevalence gives PPV and NPV at a clinic's prevalence.</p>"""


def _domain_body(model: Model) -> str:
    report = model.card.trust
    domain = {} if report is None else report.domain
    if not domain:
        return "<p class='muted'>No applicability-domain reference in this bundle.</p>"
    rate = domain.get("cv_in_domain")
    body = f"""
<p>A sample is in domain when the mean {_e(domain["metric"])} distance to its
{domain["k"]} nearest training samples is at most the {domain["quantile"]:.0%} percentile of
the same distance among training samples (each to training samples of other subjects):
{_n(domain["cutoff"])}. Profiles are shares of each sample's abundance at the model's rank,
with the abundance on taxa the model does not know as one more part.</p>
<p>Held out in CV (reference fitted inside each fold of the first repeat):
<strong>{_n(rate, "{:.1%}")}</strong> of {domain.get("cv_n", 0)} training samples in domain.
Reference: {domain["n_reference"]} training samples.</p>"""
    if report.recalibrations:
        items = "".join(
            f"<li>{_e(r['created'])}: {_e(r['table'])}, {r['n_fit']} samples; intercept "
            f"{r['intercept']:+.3f}, slope {r['slope']:.3f}, threshold {r['threshold']:.3f}"
            + (
                f"; held-out balanced accuracy {r['holdout_before']['balanced_accuracy']:.3f} "
                f"before, {r['holdout_after']['balanced_accuracy']:.3f} after "
                f"({r['n_holdout']} samples)"
                if r.get("holdout_after")
                else ""
            )
            + "</li>"
            for r in report.recalibrations
        )
        body += f"<h3>Recalibrated for a new site</h3><ul>{items}</ul>"
    return body


def trust_sections(model: Model) -> list[tuple[str, str, str]]:
    """Return ``(anchor, title, html body)`` of the calibration, threshold and domain sections."""
    return [
        ("calibration", "Calibration", _calibration_body(model)),
        ("threshold", "Decision threshold", _threshold_body(model)),
        ("domain", "Applicability domain", _domain_body(model)),
    ]
