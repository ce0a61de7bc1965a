"""``mlmicro predict``: apply a saved model to a new cohort, in blocks of samples."""

from __future__ import annotations

import shutil
import sys
import tempfile
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
from mlmicro.exceptions import MetadataError
from mlmicro.model.bundle import read_card
from mlmicro.model.parallel import check_scheduler
from mlmicro.predict import DEFAULT_MIN_COVERAGE, CoverageReport, as_model, predict_file


def _say(text: str) -> None:
    typer.echo(text, err=True)


@app.command()
@handle_errors
def predict(
    model: Path = typer.Argument(..., help=MODEL_HELP),
    table: Path = typer.Argument(
        ..., help="Taxa table of the new cohort (TSV/CSV, MetaPhlAn, QIIME, BIOM, .qza, Parquet)."
    ),
    output: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        help="Predictions file: .tsv, .csv (optionally .gz) or .parquet. "
        "Default: TSV on standard output.",
    ),
    metadata: Path | None = typer.Option(
        None, "--metadata", help="Sample metadata with known labels: report AUROC, AUPRC, ..."
    ),
    label: str | None = typer.Option(
        None, "--label", help="Label column of --metadata (default: the model's training label)."
    ),
    sample_id_column: str | None = typer.Option(
        None, "--sample-id-column", help="Metadata column holding the sample IDs (default: first)."
    ),
    positive: list[str] | None = typer.Option(
        None,
        "--positive",
        help="Label value(s) of --metadata meaning the model's positive class, when spelled "
        "unlike in training (repeatable; default: the model card's).",
    ),
    negative: list[str] | None = typer.Option(
        None, "--negative", help="Label value(s) meaning the model's negative class (repeatable)."
    ),
    top_strains: int = typer.Option(
        0,
        "--top-strains",
        min=0,
        help="Add the K taxa that push each sample's prediction most, with signed SHAP "
        "(log-odds toward the positive class; XGBoost models).",
    ),
    min_coverage: float = typer.Option(
        DEFAULT_MIN_COVERAGE,
        "--min-coverage",
        min=0.0,
        max=1.0,
        help="Refuse a cohort carrying less than this share of the model's taxon importance "
        "(0: never refuse).",
    ),
    threshold: float | None = typer.Option(
        None,
        "--threshold",
        min=0.0,
        max=1.0,
        help="Call a sample positive when its calibrated probability reaches this "
        "(binary models; default: the threshold stored with the model).",
    ),
    prevalence: float | None = typer.Option(
        None,
        "--prevalence",
        help="Print PPV and NPV at this prevalence of the positive class (e.g. 0.05), from "
        "the threshold's sensitivity and specificity.",
    ),
    chunk_size: int | None = typer.Option(
        None,
        "--chunk-size",
        min=1,
        help="Samples read and predicted at a time (default: about 10 million values, "
        "e.g. 10,000 samples of 1,000 taxa).",
    ),
    jobs: int = typer.Option(
        1,
        "--jobs",
        "-j",
        help="Threads for the classifier and TreeSHAP (-1: all cores); speeds up --top-strains.",
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing output file."),
    input_format: str = typer.Option("auto", "--format", help=FORMAT_HELP),
    taxonomy: Path | None = typer.Option(
        None, "--taxonomy", help="Taxonomy (.qza or TSV) for feature IDs of a .qza/BIOM table."
    ),
    training_probability: str = typer.Option(
        "out-of-fold",
        "--training-probability",
        help="Probability given to the model's own training samples (recognised by content): "
        "out-of-fold (their CV out-of-fold probability) or model (the in-sample one).",
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
    where: str | None = typer.Option(None, "--where", help=WHERE_HELP),
    scheduler: str | None = typer.Option(
        None,
        "--scheduler",
        help="Predict the blocks on Dask: local:N (a local cluster of N workers) or a "
        "scheduler address (tcp://host:8786); the output is the same, in input order. "
        'Default: $MLMICRO_SCHEDULER, else here. Needs pip install "mlmicro[dask]".',
    ),
    report: Path | None = typer.Option(
        None,
        "--report",
        help="Folder for an external-validation page (validation.html: ROC with its "
        "bootstrap CI, confusion matrix at the model's threshold, samples left out as "
        "training samples); needs --metadata.",
    ),
    figure_format: FigureFormat | None = typer.Option(
        None, "--figure-format", help=FIGURE_FORMAT_HELP + " With --report."
    ),
) -> None:
    """Predict each sample of a new cohort with a saved model (nothing is refitted).

    Taxa are matched to the model's across naming styles and ranks; a coverage
    report is printed on standard error, and the cohort is refused when it
    carries too little of the model (--min-coverage). Binary labels are decided
    by the model's threshold (--threshold overrides); each sample gets an
    applicability-domain score and an in_domain flag. Without --output the
    predictions are written to standard output as TSV once all are done; every
    message goes to standard error.
    """

    def show_coverage(report: CoverageReport) -> None:
        _say(report.format())
        task = read_card(model).task
        positive = task.positive_class or "- (multiclass)"
        _say(f"  model classes: {' vs '.join(task.classes)}; positive class: {positive}")

    if output is not None:  # before anything is read: never an input, --force or not
        check_output(output, force=force, inputs=[model, table, metadata, taxonomy])
    cluster = check_scheduler(scheduler)
    if report is not None:
        import matplotlib

        matplotlib.use("Agg")  # the page's figures go into files; no display needed
        from mlmicro.report.validation import VALIDATION_FILE, write_validation_report

        if metadata is None:
            raise MetadataError(
                "--report writes an external-validation page from known labels; give "
                "--metadata (and --label) too."
            )
        check_output(report, kind="folder", option="--report")
        for written in (report / VALIDATION_FILE, report / "validation_scores.tsv"):
            check_output(written, force=force, inputs=[model, table, metadata, taxonomy, output])
    selection = selected_samples(where, metadata, sample_id_column)
    if selection is not None:
        _say(selection.format())

    fitted = as_model(model)
    _say(describe_provenance(model, fitted.provenance))
    with tempfile.TemporaryDirectory(prefix="mlmicro-predict-") as scratch:
        target = output if output is not None else Path(scratch) / "predictions.tsv"
        run = predict_file(
            fitted,
            table,
            target,
            metadata=metadata,
            label=label,
            sample_id_column=sample_id_column,
            positive=positive or None,
            negative=negative or None,
            top_strains=top_strains,
            min_coverage=min_coverage,
            chunk_size=chunk_size,
            jobs=jobs,
            force=force,
            format=input_format,
            taxonomy=taxonomy,
            progress=progress,
            on_coverage=show_coverage,
            reuse_memory=True,  # the command owns its process
            samples=None if selection is None else selection.kept,
            threshold=threshold,
            prevalence=prevalence,
            training_probability=training_probability,
            scheduler=cluster,
        )
        coverage = run.coverage
        if coverage.abundance_share_mean is not None:
            _say(
                f"  abundance on model taxa: {coverage.abundance_share_mean:.1%} of each "
                f"sample's on average (lowest {coverage.abundance_share_min:.1%})"
            )
        if coverage.n_without_model_taxa:
            _say(
                f"warning: {coverage.n_without_model_taxa} sample(s) carry no model taxon and "
                "were not predicted (empty predicted_label; status 'no reads' or "
                "'no model taxa')"
            )
        _say(run.format())
        if run.trust is not None:
            _say(run.trust.format())
        if run.validation is not None:
            _say(run.validation.format())
        if report is not None:
            if run.validation is None:
                raise MetadataError(
                    f"--report {report}: no predicted sample has a usable label, so there is "
                    "nothing to validate; check --metadata, --label and --sample-id-column."
                )
            files = write_validation_report(
                run.validation,
                fitted,
                report,
                cohort=str(table),
                figure_format=None if figure_format is None else figure_format.value,
                threshold=threshold,
            )
            _say(f"wrote {files['report']}")
        if output is None:
            stdout = sys.stdout.buffer if hasattr(sys.stdout, "buffer") else None
            with open(target, "rb") as handle:
                if stdout is not None:
                    sys.stdout.flush()
                    shutil.copyfileobj(handle, stdout)
                    stdout.flush()
                else:  # pragma: no cover - text-only streams
                    typer.echo(handle.read().decode("utf-8"), nl=False)
        else:
            _say(f"wrote {output}")
