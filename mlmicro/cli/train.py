"""``mlmicro train``: cross-validated training and a saved model bundle."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from mlmicro.cli._app import app, handle_errors
from mlmicro.cli._common import FORMAT_HELP
from mlmicro.cli.confounders import format_covariates, format_screen
from mlmicro.io import read_metadata, read_table
from mlmicro.model.api import train as train_model
from mlmicro.model.bundle import card_path
from mlmicro.model.metrics import METRIC_LABELS, METRICS
from mlmicro.model.model import Model


class Device(StrEnum):
    """Devices XGBoost can train on."""

    cpu = "cpu"
    cuda = "cuda"


class FinalFit(StrEnum):
    """Where the saved model is fitted."""

    local = "local"
    dask = "dask"


class ModelName(StrEnum):
    """Classifier choices."""

    xgboost = "xgboost"
    random_forest = "random-forest"
    logistic_l1 = "logistic-l1"


def format_report(model: Model) -> str:
    """Return the plain-text CV summary printed after training."""
    card = model.card
    cv = card.cv
    counts = ", ".join(f"{k} {v}" for k, v in card.task.class_counts.items())
    lines = [
        f"task: {' vs '.join(model.classes)} ({counts}); positive class: "
        f"{model.positive_class or '– (multiclass)'}",
        f"features: {len(card.features)} taxa at {card.rank or 'deepest'} rank, "
        f"{len(card.features_used)} used after filtering",
        f"cross-validation: {cv['scheme']}, {cv['folds']} folds x {cv['repeats']} repeats",
        "",
        f"{'metric':<20}{'mean':>8}{'sd':>8}   95% CI",
    ]
    for name in METRICS:
        m = card.metric(name)
        if m.get("mean") is None:
            continue
        lo, hi = m["ci95"]
        lines.append(
            f"{METRIC_LABELS[name]:<20}{m['mean']:>8.3f}{m['std']:>8.3f}   [{lo:.3f}, {hi:.3f}]"
        )
    if cv.get("per_study"):
        lines += ["", f"{'held-out study':<28}{'samples':>8}{'AUROC':>8}"]
        for row in cv["per_study"]:
            lines.append(f"{row['study']:<28}{row['n_samples']:>8}{row['roc_auc']:>8.3f}")
    if cv.get("permutation"):
        perm = cv["permutation"]
        lines += [
            "",
            f"label-permutation null: p = {perm['p_value']:.4f} ({perm['n']} permutations)",
        ]
    if card.covariates is not None:
        lines += ["", format_covariates(card.covariates)]
    if card.confounders:
        lines += ["", format_screen(card.confounders)]
    return "\n".join(lines)


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
        None, "--rank", help="Rank to model at (overrides the config)."
    ),
    config: str | None = typer.Option(
        None,
        "--config",
        help="Preset (default, shotgun-species, 16s-genus, fast, clr) or TOML file.",
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
        Path("models/model.joblib"),
        "--output",
        "-o",
        help="Model bundle path (.joblib); a .json card goes beside it.",
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Cross-validate a classifier, refit it on all samples and save the model bundle."""
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
        progress=progress,
        scheduler=scheduler,
        device=device.value if device else None,
        final_fit=final_fit.value,
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
    typer.echo(format_report(fitted))
    typer.echo(f"\nsaved {path} and {card_path(path)}")
