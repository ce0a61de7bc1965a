"""``mlmicro explain``: SHAP explanations of a model and the HTML report."""

from __future__ import annotations

from pathlib import Path

import typer

from mlmicro.cli._app import app, handle_errors
from mlmicro.cli._common import (
    FIGURE_FORMAT_HELP,
    FORMAT_HELP,
    MODEL_HELP,
    WHERE_HELP,
    FigureFormat,
    check_output,
    describe_provenance,
    selected_samples,
)
from mlmicro.exceptions import ModelBundleError, OutputExistsError
from mlmicro.model.parallel import check_scheduler

#: Where reports go when --output-dir is not given: reports/<model stem>/.
DEFAULT_REPORT_ROOT = Path("reports")


def _split(values: list[str] | None) -> list[str]:
    """Sample IDs from repeated and comma-separated --samples values."""
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


@app.command()
@handle_errors
def explain(
    model: Path = typer.Argument(..., help=MODEL_HELP),
    table: Path | None = typer.Argument(
        None, help="Cohort to explain; leave out to explain the model's training cohort."
    ),
    metadata: Path | None = typer.Option(
        None, "--metadata", help="Sample metadata of TABLE (with the model's label column)."
    ),
    output_dir: Path | None = typer.Option(
        None,
        "--output-dir",
        "-o",
        help="Folder for report.html and the tables (default: reports/<model name>/).",
    ),
    top: int = typer.Option(
        20, "--top", min=1, help="Taxa shown in the plots; K of the CV top-K share."
    ),
    aggregate: str | None = typer.Option(
        None, "--aggregate", help="Also sum SHAP values to this rank (genus, family, ...)."
    ),
    samples: list[str] | None = typer.Option(
        None,
        "--samples",
        help="Sample(s) to draw a waterfall for (repeat the option or separate IDs by commas).",
    ),
    threads: int | None = typer.Option(
        None, "--jobs", "--threads", min=1, help="Threads for XGBoost (default: all cores)."
    ),
    sample_id_column: str | None = typer.Option(
        None, "--sample-id-column", help="Metadata column holding the sample IDs (default: first)."
    ),
    input_format: str = typer.Option("auto", "--format", help=FORMAT_HELP),
    taxonomy: Path | None = typer.Option(
        None, "--taxonomy", help="Taxonomy (.qza or TSV) for feature IDs of a .qza/BIOM table."
    ),
    force: bool = typer.Option(False, "--force", help="Replace an existing report in the folder."),
    where: str | None = typer.Option(None, "--where", help=WHERE_HELP),
    scheduler: str | None = typer.Option(
        None,
        "--scheduler",
        help="Compute the SHAP values on Dask, in blocks of samples: local:N or a scheduler "
        "address (tcp://host:8786); the values are the same. Default: $MLMICRO_SCHEDULER, "
        'else here. Needs pip install "mlmicro[dask]".',
    ),
    chunk_size: int | None = typer.Option(
        None,
        "--chunk-size",
        min=1,
        help="Samples per block with --scheduler (default: about four blocks per worker).",
    ),
    figure_format: FigureFormat | None = typer.Option(
        None, "--figure-format", help=FIGURE_FORMAT_HELP
    ),
) -> None:
    """Explain a model's predictions with exact TreeSHAP and write an HTML report."""
    import matplotlib

    matplotlib.use("Agg")  # figures go into files; no display needed

    from mlmicro.explain import explain as explain_model
    from mlmicro.io import read_metadata, read_table
    from mlmicro.model.model import load_model
    from mlmicro.report import REPORT_FILE, write_report

    folder = output_dir or DEFAULT_REPORT_ROOT / model.with_suffix("").name
    check_output(folder, kind="folder", option="--output-dir")
    for written in (folder / REPORT_FILE, folder / "shap_summary.tsv"):
        check_output(written, force=True, inputs=[model, table, metadata, taxonomy])
    if figure_format is not None:
        check_output(folder / "figures", kind="folder", option="--output-dir")
    if (folder / REPORT_FILE).exists() and not force:
        raise OutputExistsError(
            f"{folder / REPORT_FILE} already exists; pass --force to replace it or choose "
            "another --output-dir."
        )
    cluster = check_scheduler(scheduler)
    fitted = load_model(model)
    data = None if table is None else read_table(table, format=input_format, taxonomy=taxonomy)
    meta = None if metadata is None else read_metadata(metadata, sample_id_column=sample_id_column)
    selection = selected_samples(where, metadata, sample_id_column)
    if selection is not None:
        if data is None and fitted.training is None:
            raise ModelBundleError("This model keeps no training cohort; give TABLE to explain.")
        source = fitted.training.table() if data is None else data
        data = source.loc[source.index.astype(str).isin(selection.kept)]
        typer.echo(f"{selection.format()}; explaining {len(data)}", err=True)
    explanation = explain_model(
        fitted,
        data,
        metadata=meta,
        threads=threads,
        where=str(table) if table else "the table",
        scheduler=cluster,
        block_size=chunk_size,
    )
    files = write_report(
        explanation,
        fitted,
        folder,
        top=top,
        samples=_split(samples),
        aggregate=aggregate,
        figure_format=None if figure_format is None else figure_format.value,
    )
    typer.echo(_format_top(explanation, min(top, 15)))
    drawn = [role for role in files if role.startswith("figure:")]
    tables = len(files) - 1 - len(drawn)
    also = f" and {len(drawn)} {figure_format} figures in {folder / 'figures'}" if drawn else ""
    typer.echo(f"\nwrote {files['report']} and {tables} tables in {folder}{also}")
    typer.echo(describe_provenance(model, fitted.provenance), err=True)


def _format_top(explanation, k: int) -> str:
    """Plain-text table of the top taxa, per class view."""
    lines = []
    for view in explanation.views():
        table = view.top(k)
        header = f"top {k} of {len(view.features)} features ({view.outputs[0]} margin)"
        columns = f"{'#':>3}  {'taxon':<42}{'mean|SHAP|':>11}  {'more of it →':<14}{'CV top-K':>9}"
        lines += [header, columns]
        for row in table.to_dict(orient="records"):
            share = row["cv_top_k_share"]
            share_text = "–" if share != share else f"{share:.0%}"  # NaN for ILR balances
            name = row["name"] if len(row["name"]) <= 41 else row["name"][:40] + "…"
            lines.append(
                f"{row['rank']:>3}  {name:<42}{row['mean_abs_shap']:>11.3f}  "
                f"{row['direction']:<14}{share_text:>9}"
            )
        lines.append("")
    return "\n".join(lines).rstrip()
