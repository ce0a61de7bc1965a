"""Report sections for the checks beside SHAP: confounders, covariates, association tests."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from mlmicro.explain import Explanation
    from mlmicro.model.model import Model

__all__ = ["association_table", "confounder_html", "ASSOCIATION_ROWS"]

#: Taxa listed in the association table of each class view.
ASSOCIATION_ROWS = 20


def _e(value: object) -> str:
    return html.escape(str(value))


def _num(value: object, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    return f"{float(value):.{digits}f}"


def _q(value: object) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    return f"{float(value):.2g}"


def confounder_html(model: Model) -> str:
    """Return the confounder screen and covariate baseline of a model card as HTML."""
    card = model.card
    parts = []
    flagged = [c for c in card.confounders if c.separates]
    if flagged:
        named = "; ".join(f"{_e(c.column)} ({_e(c.why())})" for c in flagged)
        parts.append(
            f"<p class='warn'>{len(flagged)} metadata column(s) on their own separate the classes: "
            f"{named}. The model may have learned these instead of the disease; cross-validate "
            "across them (--study) or select samples so that each is balanced.</p>"
        )
    tested = [c for c in card.confounders if c.status == "tested"]
    rows = "".join(
        f"<tr><td>{_e(c.column)}</td><td>{_e(c.test)}</td><td>{c.n_samples}</td>"
        f"<td>{c.n_missing}</td><td>{_q(c.q_value)}</td><td>{_num(c.auroc, 2)}</td>"
        f"<td>{'yes' if c.separates else ''}</td></tr>"
        for c in tested
    )
    skipped = "; ".join(
        f"{_e(c.column)} ({_e(c.reason)})" for c in card.confounders if c.status == "skipped"
    )
    if tested:
        parts.append(
            "<div class='scroll'><table class='compact'><thead><tr><th>column</th><th>test</th>"
            "<th>samples</th><th>missing</th><th>q (BH)</th><th>AUROC alone</th>"
            f"<th>separates</th></tr></thead><tbody>{rows}</tbody></table></div>"
            "<p class='caption'>Every metadata column against the label: Fisher's exact or "
            "chi-squared test (categorical), Wilcoxon rank-sum or Kruskal-Wallis (numeric), "
            "Benjamini-Hochberg q-values. AUROC alone: the column as the only predictor, "
            "in-sample (not validated). Skipped: " + (skipped or "none") + ".</p>"
        )
    else:
        parts.append("<p class='muted'>No metadata column was screened.</p>")
    baseline = card.covariates
    if baseline is not None:
        added = baseline.added_roc_auc
        lo, hi = added["ci95"]
        interval = "–" if lo is None else f"{lo:+.3f} to {hi:+.3f}"
        parts.append(
            "<h3>Covariate baseline</h3><table class='compact'><tbody>"
            "<tr><th>microbiome only</th>"
            f"<td>{_num(baseline.microbiome_only.get('mean'))}</td></tr>"
            f"<tr><th>covariates only ({_e(', '.join(baseline.columns))})</th>"
            f"<td>{_num(baseline.covariates_only.get('mean'))}</td></tr>"
            "<tr><th>microbiome + covariates</th>"
            f"<td>{_num(baseline.combined.get('mean'))}</td></tr>"
            f"<tr><th>added by the microbiome</th><td>{added['mean']:+.3f} (95% CI {interval})"
            "</td></tr></tbody></table>"
            f"<p class='caption'>CV AUROC on the same folds. {_e(' '.join(baseline.notes))}</p>"
        )
    return "".join(parts)


def _units(view: Explanation) -> str:
    if view.subjects is not None:
        return (
            "each subject counted once per class (its samples' mean), as repeated samples of "
            "one subject are not independent"
        )
    return (
        "each sample counted as independent (the model was not trained by subject), so "
        "repeated samples of one subject would make p-values too small"
    )


def association_table(view: Explanation, summary: pd.DataFrame) -> str:
    """Return one class view's per-taxon association tests beside its SHAP ranking (HTML)."""
    if "assoc_q_value" not in summary.columns:
        return (
            "<p class='muted'>No association tests: the explained cohort has no labels, or the "
            "features are ILR balances.</p>"
        )
    target = view.outputs[0]
    rows = []
    for r in summary.head(ASSOCIATION_ROWS).to_dict(orient="records"):
        agrees = r["agrees_with_shap"]
        mark = "–" if agrees is None or agrees != agrees else ("yes" if agrees else "NO")
        rows.append(
            f"<tr><td>{r['rank']}</td><td>{_e(r['name'])}</td><td>{_e(r['direction'])}</td>"
            f"<td>{_e(r['assoc_direction'])}</td><td>{_q(r['assoc_q_value'])}</td>"
            f"<td>{_num(r['generalised_fold_change'], 2)}</td>"
            f"<td>{_num(r['prevalence_shift'], 2)}</td><td>{mark}</td></tr>"
        )
    return (
        "<div class='scroll'><table class='compact'><thead><tr><th>#</th><th>taxon</th>"
        "<th>SHAP direction</th><th>more abundant in</th><th>q (BH)</th><th>gFC</th>"
        "<th>prevalence shift</th><th>agrees</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
        f"<p class='caption'>{_e(target)} against the rest, on the {_e(view.cohort)}: Wilcoxon "
        "rank-sum test on robust CLR values (centred on the taxa present in each sample, absent "
        f"taxa tied), Benjamini-Hochberg FDR over all features; {_e(_units(view))}; gFC: "
        "generalised fold change (log10, SIAMCAT); prevalence shift: "
        f"share of {_e(target)} samples with the taxon minus that of the rest. Agrees: the "
        "taxon is more abundant in the class its SHAP direction names. A test says the taxon "
        "differs; SHAP says the model uses it. Every row is in shap_summary.tsv.</p>"
    )
