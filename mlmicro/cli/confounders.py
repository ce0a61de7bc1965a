"""``mlmicro confounders``: which metadata columns on their own separate the classes."""

from __future__ import annotations

from pathlib import Path

import typer

from mlmicro.cli._app import app, handle_errors
from mlmicro.cli._common import FORMAT_HELP, check_output
from mlmicro.exceptions import OutputExistsError
from mlmicro.model.confounders import SEPARATION_AUROC, ColumnScreen, ConfounderScreen
from mlmicro.model.covariates import CovariateBaseline

__all__ = ["confounders", "format_covariates", "format_screen"]

#: Tested columns listed in the printed summary (the TSV has all of them).
SHOWN = 12


def _number(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _q(value: float | None) -> str:
    return "–" if value is None else f"{value:.2g}"


def format_screen(columns: list[ColumnScreen], *, shown: int = SHOWN) -> str:
    """Return the plain-text confounder screen (tested columns, then what was skipped)."""
    tested = [c for c in columns if c.status == "tested"]
    skipped = [c for c in columns if c.status == "skipped"]
    flagged = [c for c in tested if c.separates]
    lines = [
        f"confounder screen: {len(tested)} metadata columns tested against the label, "
        f"{len(skipped)} skipped; {len(flagged)} on their own separate the classes",
    ]
    if tested:
        lines.append(
            f"  {'column':<30}{'test':<20}{'samples':>8}{'q (BH)':>10}{'AUROC*':>8}  separates"
        )
    for c in tested[:shown]:
        name = c.column if len(c.column) <= 29 else c.column[:28] + "…"
        mark = "YES: " + c.why() if c.separates else ""
        lines.append(
            f"  {name:<30}{c.test or '':<20}{c.n_samples:>8}{_q(c.q_value):>10}"
            f"{_number(c.auroc, 2):>8}  {mark}"
        )
    if len(tested) > shown:
        lines.append(f"  ... {len(tested) - shown} more tested columns in the model card")
    if tested:
        lines.append(
            "  * AUROC of the column alone as a predictor, in-sample (not validated); "
            "missing values left out of each column's test"
        )
    reasons: dict[str, list[str]] = {}
    for c in skipped:
        reasons.setdefault(c.reason or "skipped", []).append(c.column)
    for reason, names in reasons.items():
        listed = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
        lines.append(f"  skipped ({reason}): {listed}")
    return "\n".join(lines)


def format_covariates(baseline: CovariateBaseline) -> str:
    """Return the plain-text covariate baseline."""
    added = baseline.added_roc_auc
    lo, hi = added["ci95"]
    interval = "–" if lo is None else f"[{lo:+.3f}, {hi:+.3f}]"
    rows = [
        ("microbiome only", baseline.microbiome_only),
        (f"covariates only ({', '.join(baseline.columns)})", baseline.covariates_only),
        ("microbiome + covariates", baseline.combined),
    ]
    lines = ["covariate baseline (same CV folds), AUROC:"]
    for name, summary in rows:
        lines.append(f"  {name:<44}{_number(summary.get('mean')):>8}")
    lines.append(
        f"  added by the microbiome: {added['mean']:+.3f}, 95% CI {interval} (paired bootstrap "
        f"over {added['unit']}, {added['n_bootstrap']} draws)"
    )
    missing = {k: v for k, v in baseline.missing.items() if v}
    if missing:
        shown = ", ".join(f"{k} {v}" for k, v in missing.items())
        lines.append(f"  missing covariate values imputed inside the folds: {shown}")
    return "\n".join(lines)


@app.command()
@handle_errors
def confounders(
    table: Path = typer.Argument(..., help="Taxa table (it decides which samples are screened)."),
    metadata: Path = typer.Option(..., "--metadata", help="Sample metadata (TSV/CSV)."),
    label: str = typer.Option(..., "--label", help="Metadata column with the class labels."),
    positive: list[str] | None = typer.Option(
        None, "--positive", help="Value(s) of the positive class (repeatable)."
    ),
    negative: list[str] | None = typer.Option(
        None, "--negative", help="Value(s) of the negative class (repeatable)."
    ),
    group: str | None = typer.Option(
        None, "--group", help="Subject column (skipped: it is not a confounder)."
    ),
    threshold: float = typer.Option(
        SEPARATION_AUROC,
        "--threshold",
        min=0.5,
        max=1.0,
        help="In-sample AUROC at which a column on its own separates the classes.",
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Also write every column's result to this TSV file."
    ),
    sample_id_column: str | None = typer.Option(
        None, "--sample-id-column", help="Metadata column holding the sample IDs (default: first)."
    ),
    input_format: str = typer.Option("auto", "--format", help=FORMAT_HELP),
    taxonomy: Path | None = typer.Option(
        None, "--taxonomy", help="Taxonomy (.qza or TSV) for feature IDs of a .qza/BIOM table."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite --output."),
) -> None:
    """Test every metadata column against the label and warn about those that alone separate it.

    Categorical columns: Fisher's exact or chi-squared test; numeric: Wilcoxon
    rank-sum or Kruskal-Wallis; Benjamini-Hochberg q-values; and each column's
    in-sample AUROC as the only predictor. Exit status 0 either way: the
    warning is on standard error.
    """
    from mlmicro.io import atomic_write, read_metadata, read_table
    from mlmicro.model.confounders import screen_cohort

    if output is not None:
        check_output(output, force=force)
        if output.resolve() in {table.resolve(), metadata.resolve()}:
            raise OutputExistsError(
                f"--output {output} is an input file; choose another path for the results."
            )
    data = read_table(table, format=input_format, taxonomy=taxonomy)
    meta = read_metadata(metadata, sample_id_column=sample_id_column)
    screen: ConfounderScreen = screen_cohort(
        data,
        meta,
        label=label,
        positive=positive or None,
        negative=negative or None,
        group=group,
        threshold=threshold,
    )
    typer.echo(format_screen(screen.columns))
    if output is not None:
        with atomic_write(output, mode="w") as handle:  # a failed run leaves no partial file
            screen.to_frame().to_csv(handle, sep="\t", index=False, lineterminator="\n")
        typer.echo(f"\nwrote {output}")
