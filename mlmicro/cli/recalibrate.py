"""``mlmicro recalibrate``: refit a model's calibration and threshold for a new site."""

from __future__ import annotations

from pathlib import Path

import typer

from mlmicro.cli._app import app, handle_errors
from mlmicro.cli._common import FORMAT_HELP, check_output
from mlmicro.exceptions import OutputExistsError
from mlmicro.io import read_metadata, read_table
from mlmicro.io.outputs import same_file
from mlmicro.model.bundle import bundle_path, card_path, check_save_path
from mlmicro.model.model import load_model
from mlmicro.model.parallel import check_scheduler
from mlmicro.predict.recalibrate import recalibrate as recalibrate_model


@app.command()
@handle_errors
def recalibrate(
    model: Path = typer.Argument(..., help="Model bundle (.mlmodel) saved by mlmicro train."),
    table: Path = typer.Argument(..., help="Taxa table of the new site's labelled samples."),
    metadata: Path = typer.Option(..., "--metadata", help="Sample metadata with known labels."),
    label: str | None = typer.Option(
        None, "--label", help="Label column of --metadata (default: the model's training label)."
    ),
    positive: list[str] | None = typer.Option(
        None, "--positive", help="Label value(s) meaning the model's positive class (repeatable)."
    ),
    negative: list[str] | None = typer.Option(
        None, "--negative", help="Label value(s) meaning the model's negative class (repeatable)."
    ),
    group: str | None = typer.Option(
        None, "--group", help="Subject column: --holdout keeps whole subjects aside."
    ),
    holdout: float | None = typer.Option(
        None,
        "--holdout",
        help="Share of samples (subjects, with --group) kept aside to report calibration and "
        "balanced accuracy before and after.",
    ),
    refit_threshold: bool = typer.Option(
        True,
        "--refit-threshold/--keep-threshold",
        help="Choose a new threshold (Youden's J) on the recalibrated probabilities.",
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the held-out split."),
    sample_id_column: str | None = typer.Option(
        None, "--sample-id-column", help="Metadata column holding the sample IDs (default: first)."
    ),
    input_format: str = typer.Option("auto", "--format", help=FORMAT_HELP),
    taxonomy: Path | None = typer.Option(
        None, "--taxonomy", help="Taxonomy (.qza or TSV) for feature IDs of a .qza/BIOM table."
    ),
    output: Path = typer.Option(
        ...,
        "--output",
        "-o",
        help="The recalibrated model bundle (.mlmodel).",
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing output bundle."),
    scheduler: str | None = typer.Option(
        None,
        "--scheduler",
        help="Apply the model to the site's samples in blocks on Dask: local:N or a scheduler "
        "address (tcp://host:8786); the result is the same. Default: $MLMICRO_SCHEDULER, "
        'else here. Needs pip install "mlmicro[dask]".',
    ),
) -> None:
    """Refit calibration (intercept and slope) and threshold on a new site, pipeline frozen.

    The recalibrated model is saved to --output; its card records what it was
    recalibrated on. The original model is never modified.
    """
    bundle = check_save_path(output)
    source = bundle_path(model)
    if same_file(bundle, source) or same_file(card_path(bundle), card_path(source)):
        raise OutputExistsError(
            f"--output {output} is the input model; write the recalibrated model to a new path."
        )
    check_output(
        bundle,
        force=force,
        inputs=[model, table, metadata, taxonomy],
        companions=[card_path(bundle)],
    )
    cluster = check_scheduler(scheduler)  # before any work: a bad address or no dask
    fitted = load_model(model)
    data = read_table(table, format=input_format, taxonomy=taxonomy)
    meta = read_metadata(metadata, sample_id_column=sample_id_column)
    result = recalibrate_model(
        fitted,
        data,
        meta,
        label=label,
        positive=positive or None,
        negative=negative or None,
        group=group,
        holdout=holdout,
        refit_threshold=refit_threshold,
        seed=seed,
        source=str(table),
        scheduler=cluster,
    )
    path = result.model.save(bundle)
    typer.echo(result.format())
    typer.echo(f"\nsaved {path} and {card_path(path)}")
