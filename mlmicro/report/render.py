"""The explanation report: one self-contained HTML file and the tables behind it.

:func:`write_report` reads an :class:`~mlmicro.explain.Explanation` and the
model's card and cross-validation results and writes, into one folder:

``report.html``
    One file, no network: the model card, cross-validated ROC and
    precision-recall curves, SHAP bar, beeswarm and dependence plots, a
    sortable strain table and per-sample waterfalls (PNG images embedded as
    base64; CSS and a small sort script inline).
``shap_summary.tsv``
    Per taxon: rank, name, lineage, mean |SHAP|, direction, prevalence and
    mean relative abundance per class, CV top-K share (the bar plot's and the
    strain table's numbers).
``shap_values.parquet``
    Samples x taxa SHAP values (the beeswarm's and dependence plots' y);
    ``feature_values.parquet`` holds their x / colour (relative abundance).
    TSV files instead when no parquet engine is installed.
``cv_curves.tsv``
    The ROC and precision-recall curves of every CV repeat.
``sample_contributions.tsv``
    The waterfalls' numbers, for the samples asked for.
``shap_summary_<rank>.tsv``, ``shap_values_<rank>.parquet``
    The same, aggregated to a higher rank, when asked for.
``explanation.json``
    What was explained, base values, notes and the list of files.

Every file is written to a temporary name and renamed into place. Nothing
here fits or predicts: the numbers come from the explanation and the model
bundle as they are.
"""

from __future__ import annotations

import datetime as _dt
import html
import importlib.util
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mlmicro import figures
from mlmicro.io import atomic_write, write_table
from mlmicro.model.card import library_versions
from mlmicro.model.curves import cv_curve_table
from mlmicro.model.metrics import (
    METRIC_LABELS,
    format_interval,
    format_permutation,
    format_value,
    metric_label,
)
from mlmicro.report.classwise import classwise_section
from mlmicro.report.figure_output import embed as _img
from mlmicro.report.figure_output import figure_files
from mlmicro.report.page import CSS, PAGE, SCRIPT, Section, section, shap_units
from mlmicro.report.screening import association_table, confounder_html
from mlmicro.report.trust import trust_sections

if TYPE_CHECKING:  # pragma: no cover
    from mlmicro.explain import Explanation
    from mlmicro.model.model import Model

__all__ = ["write_report", "write_tables", "render_html", "REPORT_FILE"]

#: Name of the HTML report inside the output folder.
REPORT_FILE = "report.html"
#: Rows of the strain table shown in the HTML (the TSV has every feature).
TABLE_ROWS = 100
#: Dependence plots drawn per class view.
DEPENDENCE_PLOTS = 6


# ---------------------------------------------------------------------- tables
def _parquet_or_tsv(path: Path) -> Path:
    has_engine = any(importlib.util.find_spec(m) for m in ("pyarrow", "fastparquet"))
    return path if has_engine else path.with_suffix(".tsv")


def _write_tsv(frame: pd.DataFrame, path: Path) -> Path:
    with atomic_write(path, mode="w") as handle:
        frame.to_csv(handle, sep="\t", index=False, lineterminator="\n", float_format="%.6g")
    return path


def _write_samples(frame: pd.DataFrame, path: Path) -> Path:
    if isinstance(frame.index, pd.MultiIndex):  # multiclass: one row per sample and class
        frame = frame.reset_index(level="class")
    return write_table(frame, _parquet_or_tsv(path))


def write_tables(
    explanation: Explanation,
    output_dir: str | Path,
    *,
    top: int = 20,
    samples: Sequence[str] = (),
    aggregate: str | None = None,
    oof_curves: pd.DataFrame | None = None,
) -> dict[str, Path]:
    """Write the tables behind every figure of the report; return them by role.

    Parameters
    ----------
    explanation : Explanation
    output_dir : str or pathlib.Path
        Folder to write into (created when missing).
    top : int
        K of the summary's ``cv_top_k_share``.
    samples : sequence of str
        Samples whose contributions (the waterfalls' numbers) are written.
    aggregate : str, optional
        Also write the summary and values aggregated to this rank.
    oof_curves : pandas.DataFrame, optional
        From :func:`mlmicro.model.curves.cv_curve_table`.
    """
    folder = Path(output_dir)
    files = {
        "summary": _write_tsv(explanation.summary(top_k=top), folder / "shap_summary.tsv"),
        "values": _write_samples(explanation.values, folder / "shap_values.parquet"),
        "feature_values": write_table(
            explanation.data, _parquet_or_tsv(folder / "feature_values.parquet")
        ),
    }
    if oof_curves is not None and not oof_curves.empty:
        files["cv_curves"] = _write_tsv(oof_curves, folder / "cv_curves.tsv")
    if samples:
        files["samples"] = _write_tsv(
            pd.concat([_sample_table(explanation, s) for s in samples], ignore_index=True),
            folder / "sample_contributions.tsv",
        )
    if aggregate:
        grouped = explanation.aggregate(aggregate)
        files["aggregate_summary"] = _write_tsv(
            grouped.summary(top_k=top), folder / f"shap_summary_{grouped.rank}.tsv"
        )
        files["aggregate_values"] = _write_samples(
            grouped.values, folder / f"shap_values_{grouped.rank}.parquet"
        )
    return files


def _predicted_view(explanation: Explanation, sample: str) -> Explanation:
    """Return the view a sample's waterfall shows: the class the model predicts for it."""
    if not explanation.is_multiclass:
        return explanation
    proba = explanation.probability.iloc[explanation.row_of(sample)]
    return explanation.for_class(explanation.classes[int(np.argmax(proba.to_numpy()))])


def _sample_table(explanation: Explanation, sample: str) -> pd.DataFrame:
    view = _predicted_view(explanation, sample)
    table = view.contributions(sample)
    table.insert(2, "base_value", view.base_value)
    row = view.row_of(sample)
    table.insert(3, "probability", view.probability.iloc[row][f"probability_{view.outputs[0]}"])
    source = view.probability_source
    table.insert(4, "probability_source", "model" if source is None else source[row])
    # "in-sample": a training sample, whose SHAP values add up to the in-sample margin
    shap_source = view.shap_source
    table.insert(5, "shap_source", "out-of-sample" if shap_source is None else shap_source[row])
    return table


# ---------------------------------------------------------------------- report
def write_report(
    explanation: Explanation,
    model: Model,
    output_dir: str | Path,
    *,
    top: int = 20,
    samples: Sequence[str] = (),
    aggregate: str | None = None,
    title: str | None = None,
    figure_format: str | None = None,
) -> dict[str, Path]:
    """Write ``report.html`` and the tables behind it into ``output_dir``.

    Parameters
    ----------
    explanation : Explanation
        From :func:`mlmicro.explain.explain`.
    model : Model
        The model explained (its card and cross-validation results are read).
    output_dir : str or pathlib.Path
        Folder to write into; created when missing. Existing report files in
        it are replaced.
    top : int
        Taxa shown in the plots, and K of the CV top-K share.
    samples : sequence of str
        Samples to draw a waterfall for.
    aggregate : str, optional
        Also show and write the explanation summed to this rank (``genus``).
    title : str, optional
        Report title (default: from the model's name).
    figure_format : {"png", "svg", "pdf"}, optional
        Also write every figure as a file in ``figures/`` in this format, for
        papers (the page embeds SVG with ``"svg"``, PNG otherwise); default:
        figures only embedded in the page, as PNG.

    Returns
    -------
    dict
        The files written, by role (``report``, ``summary``, ``values``, ...).

    Examples
    --------
    >>> write_report(model.explain(), model, "reports/cd", samples=["S0001"])  # doctest: +SKIP
    """
    samples = [str(s) for s in samples]
    for sample in samples:  # fail before writing anything
        explanation.row_of(sample)
    grouped = explanation.aggregate(aggregate) if aggregate else None
    curves = None
    if model.cv is not None and not model.cv.oof.empty:
        curves = cv_curve_table(model.cv.oof, model.classes, model.positive_class)
    folder = Path(output_dir)
    files = write_tables(
        explanation, folder, top=top, samples=samples, aggregate=aggregate, oof_curves=curves
    )
    with figure_files(folder / "figures", figure_format) as drawn:
        page = render_html(
            explanation,
            model,
            top=top,
            samples=samples,
            grouped=grouped,
            curves=curves,
            files=[p.name for p in files.values()] + (["figures/"] if figure_format else []),
            title=title,
        )
    for path in drawn.written if drawn is not None else []:
        files[f"figure:{path.stem}"] = path
    with atomic_write(folder / REPORT_FILE, mode="w") as handle:
        handle.write(page)
    files["report"] = folder / REPORT_FILE
    files["json"] = _write_json(explanation, model, folder, files)
    return files


def _write_json(
    explanation: Explanation, model: Model, folder: Path, files: dict[str, Path]
) -> Path:
    base = explanation.base_value
    record = {
        "model": model.card.name,
        "cohort": explanation.cohort,
        "n_samples": len(explanation.sample_ids),
        "classes": explanation.classes,
        "explained_outputs": explanation.outputs,
        "units": shap_units(explanation, "softmax margin"),
        "base_value": base if isinstance(base, float) else base.to_dict(),
        "feature_kind": explanation.feature_kind,
        "rank": explanation.rank,
        "notes": explanation.notes,
        "files": {role: path.name for role, path in files.items()},
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    path = folder / "explanation.json"
    with atomic_write(path, mode="w") as handle:
        handle.write(json.dumps(record, indent=2) + "\n")
    return path


# ------------------------------------------------------------------------ HTML
def _e(value: object) -> str:
    return html.escape(str(value))


def _breakable(text: str) -> str:
    """Escape ``text`` and let long class names (``a_b+c_d``) wrap after ``+`` and ``_``."""
    return _e(text).replace("+", "+<wbr>").replace("_", "_<wbr>")


def _lineage_html(lineage: str) -> str:
    return "|<wbr>".join(_e(part) for part in str(lineage).split("|"))


def _fmt(value: object, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    if isinstance(value, (int, np.integer)):
        return str(value)
    return f"{float(value):.{digits}f}"


def _percent(value: float) -> str:
    if not np.isfinite(value):
        return "–"
    if value == 0:
        return "0"
    return f"{100 * value:.2f}" if value >= 1e-4 else "<0.01"


def render_html(
    explanation: Explanation,
    model: Model,
    *,
    top: int = 20,
    samples: Sequence[str] = (),
    grouped: Explanation | None = None,
    curves: pd.DataFrame | None = None,
    files: Sequence[str] = (),
    title: str | None = None,
) -> str:
    """Return the report as one self-contained HTML page."""
    task = (
        " vs ".join(reversed(model.classes))
        if len(model.classes) == 2
        else " / ".join(model.classes)
    )
    heading = title or f"{task}: what drives the model's predictions"
    sections = [
        _glance_section(explanation),
        _card_section(model, explanation),
        _cv_section(model, curves),
        *filter(None, [classwise_section(model)]),
        *(section(*part) for part in trust_sections(model)),
        section("confounders", "Confounders and covariates", confounder_html(model)),
    ]
    for view in explanation.views():
        sections.append(_taxa_section(view, top=top, multiclass=explanation.is_multiclass))
    if grouped is not None:
        sections.append(_aggregate_section(grouped, top=top))
    if samples:
        sections.append(_samples_section(explanation, samples))
    sections.append(_method_section(explanation, files))
    nav = "".join(f'<a href="#{s.anchor}">{_e(s.title)}</a>' for s in sections)
    return PAGE.format(
        title=_e(heading),
        subtitle=_e(_subtitle(model, explanation)),
        nav=nav,
        body="\n".join(s.html for s in sections),
        css=CSS,
        script=SCRIPT,
    )


def _subtitle(model: Model, explanation: Explanation) -> str:
    card = model.card
    auc = card.metric("roc_auc")
    parts = [
        f"model {card.name or '(unsaved)'}",
        f"{len(explanation.sample_ids)} samples ({explanation.cohort})",
        f"{len(explanation.features)} {_words(explanation)} at {model.rank or 'deepest'} rank",
        card.model_type,
    ]
    if auc.get("mean") is not None:
        parts.append(f"CV AUROC {auc['mean']:.3f} (95% CI {format_interval(auc['ci95'])})")
    return " · ".join(parts)


def _words(explanation: Explanation) -> str:
    return {"taxon": "taxa", "log-ratio": "log-ratios", "balance": "ILR balances"}[
        explanation.feature_kind
    ]


def _direction_html(direction: str, target: str) -> str:
    if direction == "unclear":
        return '<span class="pill neutral">unclear</span>'
    css = "toward" if direction == target else "away"
    text = _breakable(direction).replace(" ", "&nbsp;")
    return f'<span class="pill {css}">→&nbsp;{text}</span>'


# --------------------------------------------------------------------- sections
def _glance_section(explanation: Explanation) -> Section:
    blocks = []
    for view in explanation.views():
        summary = view.top(10)
        target = view.outputs[0]
        toward = summary[summary["direction"] == target]
        away = summary[(summary["direction"] != target) & (summary["direction"] != "unclear")]
        other = "not " + target
        if len(view.classes) == 2:
            other = next(c for c in view.classes if c != target)
        what = "more of it" if view.feature_kind == "taxon" else "a higher value"

        def items(frame: pd.DataFrame) -> str:
            if frame.empty:
                return "<li class='muted'>none among the top 10</li>"
            return "".join(
                f"<li><b>{_e(r.name)}</b> <span class='muted'>(#{r.rank}, mean |SHAP| "
                f"{r.mean_abs_shap:.3f})</span></li>"
                for r in frame.itertuples()
            )

        head = f"<h3>Class {_e(target)}</h3>" if explanation.is_multiclass else ""
        what = _e(what.capitalize())
        blocks.append(
            f"""{head}<div class="two">
<div class="glance toward"><h4>{what} → {_e(target)}</h4><ol>{items(toward)}</ol></div>
<div class="glance away"><h4>{what} → {_e(other)}</h4><ol>{items(away)}</ol></div>
</div>"""
        )
    kind_note = ""
    if explanation.feature_kind != "taxon":
        kind_note = "".join(f'<p class="warn">{_e(n)}</p>' for n in explanation.notes[1:2])
    return section(
        "glance",
        "At a glance",
        f"""
<p>The ten taxa with the largest mean |SHAP value|, split by the class each one pushes the
prediction toward when it is abundant (the sign of the Spearman correlation between its
value and its SHAP value across samples).</p>{kind_note}
{"".join(blocks)}""",
    )


def _card_section(model: Model, explanation: Explanation) -> Section:
    card = model.card
    task = card.task
    cv = card.cv
    config = card.config
    prep = config.get("preprocessing", {})
    counts = ", ".join(f"{_e(k)} {v}" for k, v in task.class_counts.items())
    rows = [
        ("task", f"{_e(task.label)}: {' vs '.join(map(_e, model.classes))}"),
        ("positive class", _e(model.positive_class or "– (multiclass)")),
        ("training samples", f"{card.n_samples} ({counts})"),
        ("subjects grouped by", _e(task.group or "– (none)")),
        (
            "features",
            f"{len(card.features)} taxa at {_e(card.rank or 'deepest')} rank; "
            f"{len(card.features_used)} used after the prevalence filter "
            f"(≥ {prep.get('min_prevalence', '?')})",
        ),
        ("transform", _e(prep.get("transform", "?"))),
        ("classifier", _e(config.get("model", "?"))),
        (
            "cross-validation",
            f"{_e(cv.get('scheme', '?'))}, {cv.get('folds', '?')} folds × "
            f"{cv.get('repeats', '?')} repeats",
        ),
        ("explained cohort", f"{_e(explanation.cohort)}, {len(explanation.sample_ids)} samples"),
        ("model created", _e(card.created or "?")),
    ]
    permutation = cv.get("permutation")
    if permutation:
        rows.append(
            (
                "label permutation",
                _e(format_permutation(permutation)),
            )
        )
    facts = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    metrics = []
    for key in METRIC_LABELS:
        label = metric_label(key, multiclass=model.positive_class is None)
        m = card.metric(key)
        if m.get("mean") is None:
            continue
        metrics.append(
            f"<tr><th>{label}</th><td>{m['mean']:.3f}</td><td>{format_value(m['std'])}</td>"
            f"<td>{format_interval(m['ci95'])}</td></tr>"
        )
    interval = (card.cv.get("interval") or {}).get("description") or "none"
    metric_table = (
        "<table class='compact'><thead><tr><th>metric</th><th>mean</th><th>CV spread (sd)</th>"
        f"<th>95% CI</th></tr></thead><tbody>{''.join(metrics)}</tbody></table>"
        "<p class='caption'>Mean over CV repeats (each repeat scores its out-of-fold "
        "predictions). CV spread: standard deviation across repeats, how much the fold "
        f"assignment moves the metric. 95% CI: {html.escape(interval)}.</p>"
        if metrics
        else "<p class='muted'>No cross-validation results in this bundle.</p>"
    )
    return section(
        "card",
        "Model card",
        f"""<div class="two">
<table class="facts">{facts}</table><div>{metric_table}</div></div>""",
    )


def _cv_section(model: Model, curves: pd.DataFrame | None) -> Section:
    if curves is None or curves.empty:
        return section(
            "cv",
            "Cross-validated performance",
            "<p class='muted'>No out-of-fold predictions in this bundle.</p>",
        )
    y_true = model.cv.oof.groupby("sample_id")["y_true"].first()
    prevalence = (y_true.value_counts() / len(y_true)).to_dict()
    image = _img(figures.cv_curves(curves, prevalence=prevalence), "CV ROC and PR curves")
    repeats = curves["repeat"].nunique()
    return section(
        "cv",
        "Cross-validated performance",
        f"""
<figure>{image}<figcaption>Out-of-fold predictions of each of the {repeats} CV repeats (thin
lines), their mean (thick line) and range (shaded). The dotted line in the precision-recall
panel is the class's share of samples (a classifier without skill). Table: cv_curves.tsv.
</figcaption></figure>""",
    )


def _taxa_section(view: Explanation, *, top: int, multiclass: bool) -> Section:
    target = view.outputs[0]
    anchor = f"taxa-{_slug(target)}" if multiclass else "taxa"
    heading = "Taxa that drive predictions" + (f" of {target}" if multiclass else "")
    summary = view.summary(top_k=top)
    out = view.outputs[0]
    bar = _img(view.plot_bar(top), f"mean |SHAP| of the top {top}", name=f"shap_bar_{out}")
    bee = _img(view.plot_beeswarm(top), f"SHAP values of the top {top}", name=f"beeswarm_{out}")
    keys = view.ranked_keys(DEPENDENCE_PLOTS)
    dependence = _img(
        figures.dependence_grid(view, keys), "dependence plots", name=f"dependence_{out}"
    )
    units = shap_units(view, "margin")
    return section(
        anchor,
        heading,
        f"""
<div class="two">
<figure>{bar}<figcaption>Mean |SHAP value| ({units} of {_e(target)}) of the {top} most important
{_e(_words(view))}. {_e(figures.bar_legend(view))}. Table: shap_summary.tsv.</figcaption></figure>
<figure>{bee}<figcaption>One dot per sample: its SHAP value for the taxon (right = toward
{_e(target)}), coloured by the {_e(figures.value_label(view))}. The last row sums all other
{_e(_words(view))}. Table: shap_values + feature_values.</figcaption></figure>
</div>
<h3>Strain table</h3>
{_strain_table(summary, view, top)}
<h3>Association tests beside SHAP</h3>
{association_table(view, summary)}
<h3>Dependence of the top {len(keys)}</h3>
<figure class="wide">{dependence}<figcaption>SHAP value against the
{_e(figures.value_label(view))} (symmetric log scale; 0 = absent), one dot per sample.
</figcaption></figure>""",
    )


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in str(text)).strip("-").lower() or "class"


def _strain_table(summary: pd.DataFrame, view: Explanation, top: int) -> str:
    target = view.outputs[0]
    prevalence = [c for c in summary.columns if c.startswith("prevalence_")]
    abundance = [c for c in summary.columns if c.startswith("mean_abundance_")]
    per_class = [c for c in prevalence if c != "prevalence_all"]
    if per_class:  # labels known: show the classes, leave "all" to the TSV
        prevalence = per_class
        abundance = [c for c in abundance if c != "mean_abundance_all"]
    head = ["#", "taxon", "mean |SHAP|", "direction"]
    head += [f"present in {c.removeprefix('prevalence_')}" for c in prevalence]
    head += [f"mean % in {c.removeprefix('mean_abundance_')}" for c in abundance]
    head += [f"CV top-{top} share"]
    header = "".join(f"<th title='click to sort'>{_breakable(h)}</th>" for h in head)
    rows = []
    shown = summary.head(TABLE_ROWS)
    for record in shown.to_dict(orient="records"):
        cells = [
            f"<td data-v='{record['rank']}'>{record['rank']}</td>",
            f"<td data-v='{_e(record['name'])}'><span class='taxon'>{_e(record['name'])}</span>"
            f"<span class='lineage'>{_lineage_html(record['lineage'])}</span>"
            f"<span class='feature'>{_e(record['feature'])}</span></td>",
            f"<td data-v='{record['mean_abs_shap']:.6g}'>{record['mean_abs_shap']:.3f}</td>",
            f"<td data-v='{_e(record['direction'])}'>"
            f"{_direction_html(record['direction'], target)}"
            f"<span class='rho'>ρ = {_fmt(record['direction_correlation'], 2)}</span></td>",
        ]
        for column in prevalence:
            v = record[column]
            cells.append(f"<td data-v='{v:.6g}'>{_fmt(100 * v, 0)}%</td>")
        for column in abundance:
            v = record[column]
            cells.append(f"<td data-v='{v:.6g}'>{_percent(v)}</td>")
        share = record["cv_top_k_share"]
        if np.isfinite(share):
            cells.append(
                f"<td data-v='{share:.6g}'><span class='bar'>"
                f"<span style='width:{100 * share:.0f}%'></span></span>{100 * share:.0f}%</td>"
            )
        else:
            cells.append("<td data-v='-1'>–</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    more = ""
    if len(view.classes) > 2:
        more = " (Fold models rank taxa by mean |SHAP| over all classes.)"
    if len(summary) > len(shown):
        more += f" The {len(summary) - len(shown)} less important features are in the TSV table."
    return f"""<div class="scroll"><table class="sortable strains"><thead><tr>{header}</tr></thead>
<tbody>{"".join(rows)}</tbody></table></div>
<p class="caption">Click a column to sort. Direction: the class the taxon pushes toward when it
is abundant (ρ: Spearman correlation of its value with its SHAP value; unclear when |ρ| &lt; 0.1).
Present in: share of samples of each true class with the taxon; mean %: its mean relative
abundance. CV top-{top} share: the share of cross-validation fold models in which it was among
the {top} most important.{more}</p>"""


def _aggregate_section(grouped: Explanation, *, top: int) -> Section:
    parts = []
    rank = grouped.rank or "rank"
    for view in grouped.views():
        target = view.outputs[0]
        head = f"<h3>Class {_e(target)}</h3>" if grouped.is_multiclass else ""
        bar = _img(view.plot_bar(top), f"mean |SHAP| per {rank}")
        bee = _img(view.plot_beeswarm(top), f"SHAP values per {rank}")
        parts.append(
            f"""{head}<div class="two"><figure>{bar}<figcaption>Mean |sum of SHAP values| per
{_e(rank)}. {_e(figures.bar_legend(view))}. Table: shap_summary_{_e(rank)}.tsv.</figcaption>
</figure><figure>{bee}<figcaption>One dot per sample: the summed SHAP value of the {_e(rank)},
coloured by its relative abundance. Table: shap_values_{_e(rank)}.</figcaption></figure></div>
<h3>{_e(rank.capitalize())} table</h3>
{_strain_table(view.summary(top_k=top), view, top)}"""
        )
    return section(
        "aggregate",
        f"Aggregated to {rank}",
        f"""
<p>{_e(grouped.notes[-1])} Ranked by the mean absolute value of that sum.</p>
{"".join(parts)}""",
    )


def _samples_section(explanation: Explanation, samples: Sequence[str]) -> Section:
    figures_html = []
    for sample in samples:
        view = _predicted_view(explanation, sample)
        image = _img(view.plot_waterfall(sample), f"waterfall of sample {sample}")
        figures_html.append(f"<figure class='waterfall'>{image}</figure>")
    units = shap_units(explanation, "margin of the predicted class")
    return section(
        "samples",
        "Single samples",
        f"""
<p>How each sample's prediction is built: starting from the model's average output
E[f(X)] ({units}), each bar adds one taxon's SHAP value, ending at the sample's f(x). Red pushes
toward the class shown, blue away from it. Table: sample_contributions.tsv.</p>
{"".join(figures_html)}""",
    )


def _method_section(explanation: Explanation, files: Sequence[str]) -> Section:
    notes = "".join(f"<li>{_e(n)}</li>" for n in explanation.notes)
    listed = "".join(f"<li><code>{_e(f)}</code></li>" for f in files)
    __version__ = library_versions()["mlmicro"]

    return section(
        "method",
        "How this was computed",
        f"""
<ul>{notes}
<li>Engine: exact SHAP values, computed as the first note says; plots by the shap library.
Per sample, the SHAP values plus the base value add up to the model's output.</li>
<li>SHAP values describe what this model learned from its training data, not causes: a taxon
can rank high because it travels with the real driver.</li></ul>
<p>Files beside this report:</p><ul class="files">{listed}</ul>
<p class="muted">mlmicro {_e(__version__)}</p>""",
    )
