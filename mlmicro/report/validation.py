"""The external-validation page: how a saved model did on a new cohort with known labels.

:func:`write_validation_report` writes, into one folder:

``validation.html``
    One self-contained page: the cohort's counts (scored, left out because
    they are the model's own training samples, not scored), the ROC curve
    with the AUROC's bootstrap 95% CI, AUROC / AUPRC / balanced accuracy /
    MCC / Brier score, and the confusion matrix at the labels the
    predictions carry (binary models: the model's decision threshold, or
    the one given to ``mlmicro predict --threshold``).
``validation_scores.tsv``
    The scored samples: true class, predicted label and probabilities (the
    numbers behind the curve and the matrix).

Nothing here predicts: the numbers come from a
:class:`~mlmicro.predict.validation.Validation` as it is.
"""

from __future__ import annotations

import datetime as _dt
import html
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mlmicro.io import atomic_write
from mlmicro.model.metrics import METRICS, format_interval, format_value, metric_label
from mlmicro.report.classwise import confusion_html
from mlmicro.report.figure_output import embed, figure_files
from mlmicro.report.page import CSS, PAGE, SCRIPT, section

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from mlmicro.model.model import Model
    from mlmicro.predict.validation import Validation

__all__ = ["VALIDATION_FILE", "roc_figure", "render_validation", "write_validation_report"]

#: Name of the page inside the report folder.
VALIDATION_FILE = "validation.html"
#: The table behind the page's figure and matrix.
SCORES_FILE = "validation_scores.tsv"


def _e(value: object) -> str:
    return html.escape(str(value))


def _resampled(validation: Validation, model: Model) -> str:
    """Return what the AUROC bootstrap resamples, in words."""
    if validation.n_subjects is not None:
        return (
            f"whole subjects are resampled: {validation.n_subjects} subjects of column "
            f"{validation.subject_column!r}, as repeated samples of one subject are not "
            "independent"
        )
    if model.task.group is not None:
        return (
            f"samples are resampled: the metadata lack the model's subject column "
            f"{model.task.group!r}, so repeated samples of one subject would narrow the interval"
        )
    return "samples are resampled (the model was not trained by subject)"


def roc_figure(validation: Validation, model: Model, interval: list[float | None]) -> Figure:
    """ROC curve of the scored samples (one curve per class, one-vs-rest, for multiclass)."""
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_auc_score, roc_curve

    scored = validation.scored
    fig, ax = plt.subplots(figsize=(5.2, 5.0))
    targets = [model.positive_class] if model.positive_class else list(model.classes)
    for target in targets:
        truth = (scored["y_true"].astype(str) == target).to_numpy()
        if truth.all() or not truth.any():
            continue
        score = scored[f"probability_{target}"].to_numpy(dtype=np.float64)
        fpr, tpr, _ = roc_curve(truth, score)
        auc = roc_auc_score(truth, score)
        ax.plot(fpr, tpr, lw=2, label=f"{target} (AUROC {auc:.3f})")
    ax.plot([0, 1], [0, 1], ls=":", color="#888", lw=1)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("false positive rate (1 - specificity)", fontsize=11)
    ax.set_ylabel("true positive rate (sensitivity)", fontsize=11)
    name = metric_label("roc_auc", multiclass=model.positive_class is None)
    ax.set_title(
        f"{name} {format_value(validation.metrics['roc_auc'])}, 95% CI {format_interval(interval)}",
        fontsize=11,
        loc="left",
    )
    ax.tick_params(labelsize=10)
    ax.legend(loc="lower right", fontsize=10, frameon=False)
    fig.tight_layout()
    plt.close(fig)
    return fig


def render_validation(
    validation: Validation,
    model: Model,
    *,
    interval: list[float | None],
    model_name: str,
    cohort: str,
    threshold: float | None = None,
) -> str:
    """Return the external-validation page as one self-contained HTML page."""
    external = validation.source == "external"
    counts = ", ".join(f"{_e(k)} {v}" for k, v in validation.class_counts.items())
    facts = [
        ("model", _e(model_name)),
        ("cohort", _e(cohort)),
        ("label column", _e(validation.label)),
        ("scored samples", f"{validation.n_samples} ({counts})"),
        ("left out: the model's training samples", str(validation.n_in_training)),
        ("labelled but not scored (absent or not predicted)", str(validation.n_unscored)),
    ]
    facts_html = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts)
    multiclass = model.positive_class is None
    rows = "".join(
        f"<tr><th>{metric_label(m, multiclass)}</th><td>{format_value(validation.metrics[m])}"
        f"</td></tr>"
        for m in METRICS
    )
    metrics_html = (
        f"<table class='compact'><tbody>{rows}</tbody></table><p class='caption'>AUROC 95% CI "
        f"{format_interval(interval)}: stratified bootstrap of the scored samples (1000 "
        f"resamples within each true class; {_e(_resampled(validation, model))}).</p>"
    )
    warning = (
        ""
        if external
        else "<p class='warn'>Every labelled sample is one of the model's own training "
        "samples: these are their cross-validation out-of-fold scores, not an external "
        "validation.</p>"
    )
    sections = [
        section(
            "summary",
            "Cohort and scores",
            f"""{warning}<div class="two"><table class="facts">{facts_html}</table>
<div>{metrics_html}</div></div>""",
        )
    ]
    if validation.scored is not None and validation.n_samples > 1:
        image = embed(roc_figure(validation, model, interval), "ROC curve", name="roc")
        sections.append(
            section(
                "roc",
                "ROC curve",
                f"""<figure>{image}<figcaption>Scored samples' predicted probability of the
class against their true class; dotted: a classifier without skill. Table: {SCORES_FILE}.
</figcaption></figure>""",
            )
        )
    confusion = validation.confusion(model.classes)
    if confusion is not None:
        stored = model.trust.threshold if model.trust is not None else None
        used = stored if threshold is None else threshold
        whose = "the model's decision threshold" if threshold is None else "the given threshold"
        decided = (
            "the most probable class"
            if used is None or multiclass
            else f"the labels written to the predictions ({whose} {used:.3f} on the calibrated "
            f"probability of {_e(model.positive_class)})"
        )
        sections.append(
            section(
                "confusion",
                "Confusion matrix",
                f"""{confusion_html(model.classes, confusion)}<p class="caption">True class by
row, predicted label by column, at {decided}.</p>""",
            )
        )
    nav = "".join(f'<a href="#{s.anchor}">{_e(s.title)}</a>' for s in sections)
    title = "External validation" if external else "No external validation"
    created = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    return PAGE.format(
        title=_e(f"{title}: {model_name} on {cohort}"),
        subtitle=_e(
            f"{validation.n_samples} scored samples · label {validation.label} · {created}"
        ),
        nav=nav,
        body="\n".join(s.html for s in sections),
        css=CSS,
        script=SCRIPT,
    )


def write_validation_report(
    validation: Validation,
    model: Model,
    folder: str | Path,
    *,
    cohort: str = "the cohort",
    figure_format: str | None = None,
    threshold: float | None = None,
) -> dict[str, Path]:
    """Write ``validation.html`` and the scored samples' table into ``folder``.

    Parameters
    ----------
    validation : Validation
        From :func:`mlmicro.predict.predict_file` or
        :func:`mlmicro.predict.predict_table` with metadata.
    model : Model
        The model that predicted.
    folder : str or pathlib.Path
        Created when missing; its report files are replaced.
    cohort : str
        The cohort's name (its file), for the page.
    figure_format : {"png", "svg", "pdf"}, optional
        Also write the figures as files in ``figures/``.
    threshold : float, optional
        The threshold the predictions were decided at, when not the model's.

    Returns
    -------
    dict
        The files written, by role (``report``, ``scores``, ``figure:<name>``).

    Examples
    --------
    >>> run = predict_file(model, "cohort.tsv", "p.tsv", metadata="meta.tsv")  # doctest: +SKIP
    >>> write_validation_report(run.validation, model, "reports/external")  # doctest: +SKIP
    """
    folder = Path(folder)
    interval = validation.auroc_interval(model.classes, model.positive_class)
    files: dict[str, Path] = {}
    if validation.scored is not None:
        with atomic_write(folder / SCORES_FILE, mode="w") as handle:
            validation.scored.to_csv(handle, sep="\t", index=False, lineterminator="\n")
        files["scores"] = folder / SCORES_FILE
    with figure_files(folder / "figures", figure_format) as drawn:
        page = render_validation(
            validation,
            model,
            interval=interval,
            model_name=model.card.name or "model",
            cohort=cohort,
            threshold=threshold,
        )
    for path in drawn.written if drawn is not None else []:
        files[f"figure:{path.stem}"] = path
    with atomic_write(folder / VALIDATION_FILE, mode="w") as handle:
        handle.write(page)
    files["report"] = folder / VALIDATION_FILE
    return files
