"""``mlmicro train``: cross-validated training and a saved model bundle."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from mlmicro.choices import CLASSIFIERS
from mlmicro.cli._app import app, handle_errors
from mlmicro.cli._common import FORMAT_HELP, WHERE_HELP, check_output
from mlmicro.cli.confounders import format_covariates, format_screen
from mlmicro.exceptions import ConfigError
from mlmicro.io import atomic_write, read_metadata, read_table
from mlmicro.model.accounting import format_dropped
from mlmicro.model.api import train as train_model
from mlmicro.model.bundle import card_path, check_save_path, resolve_key
from mlmicro.model.metrics import (
    METRICS,
    format_interval,
    format_permutation,
    format_value,
    metric_label,
)
from mlmicro.model.model import Model


class Device(StrEnum):
    """Devices XGBoost can train on."""

    cpu = "cpu"
    cuda = "cuda"


class FinalFit(StrEnum):
    """Where the saved model is fitted."""

    local = "local"
    dask = "dask"


class Calibration(StrEnum):
    """Calibrators fitted on the out-of-fold probabilities."""

    none = "none"
    sigmoid = "sigmoid"
    isotonic = "isotonic"


#: Classifier choices (from :data:`mlmicro.choices.CLASSIFIERS`).
ModelName = StrEnum("ModelName", {name: name for name in CLASSIFIERS})


def _count(n: int, word: str) -> str:
    """``1 repeat``, ``5 repeats``."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def format_report(model: Model) -> str:
    """Return the plain-text CV summary printed after training."""
    card = model.card
    cv = card.cv
    counts = ", ".join(f"{k} {v}" for k, v in card.task.class_counts.items())
    lines = [
        f"task: {' vs '.join(model.classes)} ({counts}); positive class: "
        f"{model.positive_class or '– (multiclass)'}",
        f"features: {len(card.features)} taxa at {card.rank or 'deepest'} rank"
        + (f" (chosen: {card.rank_choice['reason']})" if card.rank_choice else "")
        + f", {len(card.features_used)} used after filtering",
        f"cross-validation: {cv['scheme']}, {_count(cv['folds'], 'fold')} x "
        f"{_count(cv['repeats'], 'repeat')}",
        *format_dropped(card.dropped),
        "",
    ]
    multiclass = model.positive_class is None
    width = 28 if multiclass else 20
    lines.append(f"{'metric':<{width}}{'mean':>8}{'CV spread':>11}   95% CI")
    for name in METRICS:
        m = card.metric(name)
        if m.get("mean") is None:
            continue
        lines.append(
            f"{metric_label(name, multiclass):<{width}}{m['mean']:>8.3f}"
            f"{format_value(m['std']):>11}   {format_interval(m['ci95'])}"
        )
    interval = (cv.get("interval") or {}).get("description")
    lines += [
        "mean: over CV repeats; CV spread: sd across repeats (fold assignment), "
        + ("n/a with one repeat" if cv["repeats"] == 1 else "not an uncertainty"),
        f"95% CI: {interval or 'none'}",
    ]
    if card.classwise is not None:
        lines += ["", *card.classwise.format()]
    tuning = cv.get("tuning")
    if tuning:
        grid = ", ".join(f"{k.split('__')[-1]} {v}" for k, v in tuning["grid"].items())
        lines += ["", f"tuning grid: {grid}"]
        for row in tuning["per_fold"]:
            where = row["study"] or f"repeat {row['repeat']} fold {row['fold']}"
            lines.append(f"  {where}: {_params(row['params'])}")
        lines.append(f"  final model: {_params(tuning['final'] or {})}")
    if cv.get("per_study"):
        lines += ["", f"{'held-out study':<28}{'samples':>8}{'AUROC':>8}"]
        for row in cv["per_study"]:
            lines.append(f"{row['study']:<28}{row['n_samples']:>8}{row['roc_auc']:>8.3f}")
    if cv.get("permutation"):
        lines += ["", f"label-permutation null: {format_permutation(cv['permutation'])}"]
    if card.trust is not None:
        lines += ["", *card.trust.format()]
    if card.covariates is not None:
        lines += ["", format_covariates(card.covariates)]
    if card.confounders:
        lines += ["", format_screen(card.confounders)]
    return "\n".join(lines)


def _params(params: dict) -> str:
    return ", ".join(f"{k.split('__')[-1]}={v}" for k, v in params.items())


@app.command()
@handle_errors
def train(
    table: Path | None = typer.Argument(
        None, help="Taxa table; leave out to train on the embedded simulated cohort."
    ),
    metadata: Path | None = typer.Option(None, "--metadata", help="Sample metadata (TSV/CSV)."),
    label: str | None = typer.Option(
        None, "--label", help="Metadata column with the class labels."
    ),
    positive: list[str] | None = typer.Option(
        None, "--positive", help="Value(s) of the positive class (repeatable)."
    ),
    negative: list[str] | None = typer.Option(
        None, "--negative", help="Value(s) of the negative class (repeatable)."
    ),
    group: str | None = typer.Option(
        None, "--group", help="Subject column: a subject's samples never straddle a split."
    ),
    study: str | None = typer.Option(None, "--study", help="Study column: leave-one-study-out CV."),
    rank: str | None = typer.Option(
        None,
        "--rank",
        help="Rank to model at: auto (from the table: SGB where the table has them, else "
        "species; as named without lineages), kingdom ... species, strain, or none "
        "(overrides the config).",
    ),
    config: str | None = typer.Option(
        None,
        "--config",
        help="Preset (default, shotgun-species, 16s-genus, fast, clr, forest-blend) or TOML file.",
    ),
    model: ModelName | None = typer.Option(None, "--model", help="Classifier."),
    folds: int | None = typer.Option(None, "--folds", min=2, help="CV folds (default 10)."),
    repeats: int | None = typer.Option(None, "--repeats", min=1, help="CV repeats (default 5)."),
    permutations: int | None = typer.Option(
        None, "--permutations", min=0, help="Label permutations for an AUROC p-value."
    ),
    tune: bool | None = typer.Option(
        None, "--tune/--no-tune", help="Nested hyperparameter tuning."
    ),
    jobs: int | None = typer.Option(
        None, "--jobs", "-j", help="Folds run in parallel (-1: all cores)."
    ),
    seed: int | None = typer.Option(None, "--seed", help="Random seed."),
    scheduler: str | None = typer.Option(
        None,
        "--scheduler",
        help=(
            "Run the CV, permutation and tuning fits on Dask: local:N (a local cluster of N "
            "workers) or a scheduler address (tcp://host:8786). Default: $MLMICRO_SCHEDULER, "
            'else local threads. Needs pip install "mlmicro[dask]".'
        ),
    ),
    device: Device | None = typer.Option(
        None, "--device", help="Device XGBoost trains on (cuda: an NVIDIA GPU)."
    ),
    final_fit: FinalFit = typer.Option(
        FinalFit.local,
        "--final-fit",
        help="Fit the saved model here (local) or across the Dask workers with xgboost.dask.",
    ),
    calibration: Calibration = typer.Option(
        Calibration.sigmoid,
        "--calibration",
        help="Calibrator fitted on the out-of-fold probabilities (binary tasks). sigmoid "
        "brought calibration slope and intercept closest to ideal on the public cohorts.",
    ),
    target_sensitivity: float | None = typer.Option(
        None,
        "--target-sensitivity",
        min=0.0,
        max=1.0,
        help="Choose the threshold reaching this CV sensitivity (default: Youden's J).",
    ),
    target_specificity: float | None = typer.Option(
        None,
        "--target-specificity",
        min=0.0,
        max=1.0,
        help="Choose the threshold reaching this CV specificity (default: Youden's J).",
    ),
    covariates: list[str] | None = typer.Option(
        None,
        "--covariates",
        help=(
            "Metadata columns (comma-separated or repeated, e.g. age,sex) for a covariate "
            "baseline on the same folds: the microbiome's added AUROC over them."
        ),
    ),
    sample_id_column: str | None = typer.Option(
        None, "--sample-id-column", help="Metadata column holding the sample IDs (default: first)."
    ),
    input_format: str = typer.Option("auto", "--format", help=FORMAT_HELP),
    taxonomy: Path | None = typer.Option(
        None, "--taxonomy", help="Taxonomy (.qza or TSV) for feature IDs of a .qza/BIOM table."
    ),
    output: Path = typer.Option(
        Path("models/model.mlmodel"),
        "--output",
        "-o",
        help="Model bundle path (.mlmodel, signed when MLMICRO_SIGNING_KEY or "
        "MLMICRO_SIGNING_KEY_FILE is set); a readable .json copy of the card goes beside it.",
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing model bundle."),
    where: str | None = typer.Option(None, "--where", help=WHERE_HELP),
    oof: Path | None = typer.Option(
        None,
        "--oof",
        help="Also write the out-of-fold predictions (one row per sample and CV repeat: "
        "repeat, fold, sample_id, y_true, probability_<class>) to this .tsv or .csv file.",
    ),
    keep_organelles: bool = typer.Option(
        False,
        "--keep-organelles",
        help="Keep mitochondria and chloroplast features (left out by default, and counted).",
    ),
) -> None:
    """Cross-validate a classifier, refit it on all samples and save the model bundle."""
    check_output(output, force=True)  # a folder or a path under a file is refused as given
    bundle = check_save_path(output)  # before training, not after
    resolve_key(None)  # a bad signing key is reported before training too
    check_output(  # before any work: a long run never ends in an error about its output
        bundle,
        force=force,
        inputs=[table, metadata, taxonomy, config],
        companions=[card_path(bundle)],
    )
    if oof is not None:
        check_output(oof, force=force, inputs=[table, metadata, taxonomy, config], option="--oof")
        if oof.suffix.lower() not in (".tsv", ".csv", ".txt"):
            raise ConfigError(f"--oof {oof}: end the file name in .tsv or .csv.")
    data = None if table is None else read_table(table, format=input_format, taxonomy=taxonomy)
    meta = None if metadata is None else read_metadata(metadata, sample_id_column=sample_id_column)
    fitted = train_model(
        data,
        meta,
        label=label,
        positive=positive or None,
        negative=negative or None,
        group=group,
        study=study,
        config=config,
        where=where,
        keep_organelles=keep_organelles,
        progress=progress,
        scheduler=scheduler,
        device=device.value if device else None,
        final_fit=final_fit.value,
        calibration=calibration.value,
        target_sensitivity=target_sensitivity,
        target_specificity=target_specificity,
        covariates=[c.strip() for v in covariates or [] for c in v.split(",") if c.strip()] or None,
        rank=rank,
        model=model.value if model else None,
        seed=seed,
        jobs=jobs,
        **{
            "cv.folds": folds,
            "cv.repeats": repeats,
            "cv.permutations": permutations,
            "cv.tune": tune,
        },
    )
    if table is not None:
        fitted.card.training_table["source"] = str(table)
    if metadata is not None:
        fitted.card.training_table["metadata"] = str(metadata)
    path = fitted.save(output)
    if fitted.card.dropped.get("organelle_features"):
        typer.echo(
            f"left out {fitted.card.dropped['organelle_features']} mitochondria / chloroplast "
            "features (--keep-organelles keeps them)"
        )
    if fitted.card.dropped.get("where"):
        kept = fitted.card.n_samples
        typer.echo(
            f"--where {fitted.card.dropped['where']!r}: left out "
            f"{fitted.card.dropped['not_selected']} samples; trained on {kept}"
        )
    if oof is not None:
        with atomic_write(oof, mode="w", overwrite=force) as handle:
            sep = "," if oof.suffix.lower() == ".csv" else "\t"
            fitted.oof_predictions.to_csv(handle, sep=sep, index=False, lineterminator="\n")
        typer.echo(f"wrote the out-of-fold predictions to {oof}")
    typer.echo(format_report(fitted))
    signed_by = (fitted.card.bundle or {}).get("signed_by")
    signed = f", signed with key {signed_by}" if signed_by else ", unsigned"
    typer.echo(f"\nsaved {path}{signed} (card copy: {card_path(path)})")
