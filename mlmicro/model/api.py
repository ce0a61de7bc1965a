"""``mlmicro.train``: cross-validate, refit on all samples, return a Model."""

from __future__ import annotations

import datetime as _dt
import hashlib
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlmicro.config import TrainConfig, load_config
from mlmicro.exceptions import ConfigError, MetadataError
from mlmicro.io import (
    EmptySamplesWarning,
    drop_organelles,
    empty_samples,
    join_metadata,
    read_metadata,
    read_table,
    select_samples,
    warn_empty_samples,
)
from mlmicro.model.accounting import count_dropped, join_counts
from mlmicro.model.autorank import AUTO_RANK, choose_rank
from mlmicro.model.card import ModelCard
from mlmicro.model.classwise import class_breakdown
from mlmicro.model.confounders import screen_confounders
from mlmicro.model.covariates import check_covariates, covariate_baseline
from mlmicro.model.cv import check_study_classes
from mlmicro.model.dask_xgboost import check_final_fit
from mlmicro.model.device import with_device
from mlmicro.model.labels import label_values, make_target
from mlmicro.model.metrics import MULTICLASS_AVERAGING
from mlmicro.model.model import Model, TrainingData
from mlmicro.model.parallel import open_runner
from mlmicro.model.pipeline import build_pipeline
from mlmicro.model.progress import ProgressOption, resolve_progress
from mlmicro.model.training import cross_validate, fit_final, tune_final, tuning_grid
from mlmicro.model.trust import DEFAULT_CALIBRATION, domain_in_cv, fit_trust
from mlmicro.taxonomy import canonicalize_columns, collapse_to_rank, is_lineage

__all__ = ["train", "table_fingerprint", "DEFAULT_TASK", "EmptySamplesWarning", "NoLineageWarning"]


class NoLineageWarning(UserWarning):
    """The table's features carry no lineage; the model uses them as named."""


#: What ``mlmicro train`` with no table learns on the embedded cohort.
DEFAULT_TASK: dict[str, Any] = {
    "label": "diagnosis",
    "positive": ["CD"],
    "negative": ["control"],
    "group": "subject_id",
}


def table_fingerprint(table: pd.DataFrame) -> str:
    """SHA-256 of a table's sample IDs, taxa and values (order-sensitive)."""
    digest = hashlib.sha256()
    digest.update("\x1f".join(map(str, table.index)).encode())
    digest.update(b"\x1e")
    digest.update("\x1f".join(map(str, table.columns)).encode())
    digest.update(b"\x1e")
    digest.update(np.ascontiguousarray(table.to_numpy(dtype=np.float64)).tobytes())
    return digest.hexdigest()


def _column(metadata: pd.DataFrame, name: str | None, option: str) -> pd.Series | None:
    if name is None:
        return None
    if name not in metadata.columns:
        raise MetadataError(
            f"{option} column {name!r} is not in the sample metadata (columns: "
            f"{', '.join(map(str, metadata.columns[:12]))}); pass one of these."
        )
    values = metadata[name]
    if values.isna().any():
        missing = values[values.isna()].index[:3].tolist()
        raise MetadataError(
            f"{option} column {name!r} is empty for {int(values.isna().sum())} samples "
            f"(e.g. {', '.join(map(str, missing))}); fill it in or drop those samples."
        )
    return values.astype(str)


def _check_learnable(table: pd.DataFrame, config: TrainConfig) -> None:
    """Refuse, before any fit, a table from which no model can be learned at all."""
    at_rank = collapse_to_rank(table, config.rank).to_numpy()  # a check, no fitted step
    if at_rank.shape[1] < 2:
        raise ConfigError(
            f"The table has {at_rank.shape[1]} taxon at {config.rank or 'its own'} rank; a "
            "classifier needs at least two: check the table, or choose a deeper --rank."
        )
    threshold = config.preprocessing.min_prevalence
    prevalence = (at_rank > 0).mean(axis=0)
    if threshold > 0 and not (prevalence >= threshold).any():
        raise ConfigError(
            f"No taxon is present in {threshold:.0%} of the samples (the most prevalent: "
            f"{prevalence.max():.0%}), so --min-prevalence {threshold} would remove every taxon; "
            "lower it."
        )


def _label_averaging(summary: dict[str, Any], positive_class: str | None) -> dict[str, Any]:
    """Say, in a multiclass card, how AUROC and AUPRC average over classes."""
    if positive_class is not None:
        return summary
    return {
        name: {**values, "averaging": MULTICLASS_AVERAGING[name]}
        if name in MULTICLASS_AVERAGING
        else values
        for name, values in summary.items()
    }


def _resolve_config(
    config: TrainConfig | str | Path | None, overrides: dict[str, Any]
) -> TrainConfig:
    base = config if isinstance(config, TrainConfig) else load_config(config)
    return base.override(**overrides)


def train(
    table: pd.DataFrame | str | Path | None = None,
    metadata: pd.DataFrame | str | Path | None = None,
    *,
    label: str | None = None,
    positive: Sequence[str] | None = None,
    negative: Sequence[str] | None = None,
    group: str | None = None,
    study: str | None = None,
    config: TrainConfig | str | Path | None = None,
    where: str | None = None,
    keep_organelles: bool = False,
    progress: ProgressOption = "auto",
    scheduler: Any = None,
    device: str | None = None,
    final_fit: str = "local",
    calibration: str = DEFAULT_CALIBRATION,
    target_sensitivity: float | None = None,
    target_specificity: float | None = None,
    domain_metric: str = "braycurtis",
    covariates: Sequence[str] | None = None,
    **overrides: Any,
) -> Model:
    """Cross-validate a classifier and refit it on all samples.

    Parameters
    ----------
    table : DataFrame, path or None
        Samples x taxa (or a file :func:`mlmicro.read_table` reads). ``None``
        trains on the embedded simulated cohort (task: CD vs control, grouped
        by subject).
    metadata : DataFrame, path or None
        Sample metadata (or a file :func:`mlmicro.read_metadata` reads).
    label : str
        Metadata column with the class labels.
    positive, negative : sequence of str, optional
        Values forming the positive / negative class (see
        :func:`mlmicro.model.labels.make_target`).
    group : str, optional
        Subject column: no subject has samples on both sides of a split.
    study : str, optional
        Study column: leave-one-study-out CV with AUROC per held-out study.
    where : str, optional
        Train on the samples whose metadata satisfy this pandas query
        (:func:`mlmicro.io.select_samples`); the count left out is in the card.
    keep_organelles : bool
        Keep mitochondria and chloroplast features (left out by default and
        counted in the card; see :func:`mlmicro.io.drop_organelles`).
    config : TrainConfig, preset name, path or None
        Base configuration (``default`` when ``None``).
    progress : bool or "auto"
        Show progress bars over the fits (on standard error, or a widget in a
        notebook). ``"auto"`` (the default): only when someone is watching,
        i.e. standard error is a terminal or this runs in IPython / Jupyter;
        never in scripts whose output goes to a file, or in tests.
    scheduler : str, distributed.Client or None
        Where the CV, permutation, tuning and leave-one-study-out fits run:
        ``None`` local threads (or ``$MLMICRO_SCHEDULER``), ``"local:N"`` a
        Dask cluster of N worker processes started for the run, or the address
        of a running Dask scheduler (``"tcp://host:8786"``). Results are the
        same wherever the fits run (see :mod:`mlmicro.model.parallel`).
    device : {"cpu", "cuda"}, optional
        Device XGBoost trains on; ``"cuda"`` fails at once without a GPU.
    final_fit : {"local", "dask"}
        Fit the saved model here, or across the Dask workers with
        ``xgboost.dask`` (see :mod:`mlmicro.model.dask_xgboost`).
    calibration : {"sigmoid", "isotonic", "none"}
        Calibrator fitted on the out-of-fold probabilities (binary tasks; see
        :mod:`mlmicro.model.trust`). Sigmoid by default: cross-fitted on four
        public cohorts it brought calibration slope and intercept closest to
        ideal at about the same Brier score (``benchmarks/calibration.py``).
    target_sensitivity, target_specificity : float, optional
        Choose the decision threshold as the one reaching this sensitivity
        (or specificity) on the out-of-fold predictions; default Youden's J.
    domain_metric : {"aitchison", "braycurtis"}
        Distance of the applicability-domain check (:mod:`mlmicro.model.domain`);
        Bray-Curtis by default.
    covariates : sequence of str, optional
        Metadata columns (age, sex, ...) for a covariate baseline on the same
        folds: the card's ``covariates`` gives the microbiome's added AUROC
        over them (see :mod:`mlmicro.model.covariates`). The saved model
        stays microbiome-only.
    **overrides
        Configuration fields to override: ``rank``, ``model``, ``seed``,
        ``jobs`` or dotted ``"cv.folds"``-style keys; ``None`` is ignored.

    Returns
    -------
    Model
        The pipeline refitted on all samples, with CV results and model card.

    Examples
    --------
    >>> import mlmicro
    >>> model = mlmicro.train(config="fast")  # doctest: +SKIP
    >>> model.cv_results["roc_auc"].mean()  # doctest: +SKIP
    """
    source: dict[str, Any] = {}
    if table is None:
        from mlmicro.datasets import default_cohort_path, default_metadata_path

        table, source["table"] = default_cohort_path(), "embedded default cohort"
        if metadata is None:
            metadata = default_metadata_path()
        if label is None:
            label = DEFAULT_TASK["label"]
            positive = positive or DEFAULT_TASK["positive"]
            negative = negative or DEFAULT_TASK["negative"]
            group = group or DEFAULT_TASK["group"]
    if isinstance(table, (str, Path)):
        source.setdefault("table", str(table))
        table = read_table(table)
    else:
        source.setdefault("table", "DataFrame")
    if metadata is None:
        raise MetadataError("Training needs sample metadata with a label column; pass --metadata.")
    if isinstance(metadata, (str, Path)):
        source["metadata"] = str(metadata)
        metadata = read_metadata(metadata)
    if label is None:
        raise MetadataError("Name the label column with --label (e.g. --label diagnosis).")
    progress = resolve_progress(progress)
    resolved = with_device(_resolve_config(config, overrides), device)
    table = canonicalize_columns(table)
    n_organelles = 0
    if not keep_organelles:  # host and plant reads of 16S tables are no part of the microbiome
        table, n_organelles = drop_organelles(table)
    rank_choice = None
    if resolved.rank == AUTO_RANK:  # from the kind of table, never from the labels
        rank_choice = choose_rank(table)
        resolved = resolved.override(rank=rank_choice.rank or "none")
    elif resolved.rank is not None and not any(is_lineage(str(c)) for c in table.columns):
        warnings.warn(
            f"The table's {table.shape[1]} features carry no lineage (e.g. "
            f"{str(table.columns[0])!r}), so they cannot be collapsed to {resolved.rank} rank; "
            "training on them as named (rank none). Give a taxonomy (--taxonomy; Python: "
            "read_table(..., taxonomy=...)) to train at a "
            "rank, or pass --rank none to say so.",
            NoLineageWarning,
            stacklevel=2,
        )
        resolved = resolved.override(rank="none")
    selection = None
    if where is not None:  # before the join: unmatched counts speak of the selected samples
        selection = select_samples(
            metadata, where, source=str(source.get("metadata", "the metadata"))
        )
        metadata = metadata.loc[metadata.index.astype(str).isin(selection.kept)]
    joined = join_counts(table, metadata)
    table, metadata = join_metadata(table, metadata)
    target = make_target(metadata, label, positive=positive, negative=negative)
    labels = label_values(metadata, label)
    kept_ids = target.y.index
    joined_table = table
    table = table.loc[target.y.index]
    empty = empty_samples(table)
    if empty:  # real tables have them; no model can learn from a sample without reads
        warn_empty_samples(empty, "training")
        keep = ~table.index.astype(str).isin(empty)
        table = table.loc[keep]
        target = replace(target, y=target.y.loc[table.index], dropped=[*target.dropped, *empty])
    _check_learnable(table, resolved)
    kept_meta = metadata.loc[target.y.index]
    groups = _column(kept_meta, group, "--group")
    studies = _column(kept_meta, study, "--study")
    if studies is not None:
        check_study_classes(studies, target.y, column=str(study))
    if covariates:
        check_covariates(kept_meta, covariates, label=label)
    # every metadata column against the label; warns about the ones that alone separate classes
    screen = screen_confounders(
        kept_meta, target.y, classes=target.classes, label=label, group=group
    )

    with open_runner(scheduler, jobs=resolved.jobs) as runner:
        check_final_fit(final_fit, resolved, runner)
        # what every fit of this run shares: the classes, the config, the subjects, the runner
        shared: dict[str, Any] = {
            "classes": target.classes,
            "config": resolved,
            "groups": groups,
            "runner": runner,
            "progress": progress,
        }
        cv = cross_validate(
            table,
            target.y,
            positive_class=target.positive_class,
            studies=studies,
            metadata=kept_meta,
            **shared,
        )
        baseline = None
        if covariates:
            baseline = covariate_baseline(
                table,
                target.y,
                kept_meta,
                covariates,
                oof=cv.oof,
                microbiome_summary=cv.summary["roc_auc"],
                positive_class=target.positive_class,
                **shared,
            )
        final_params = tune_final(table, target.y, **shared)
        # The held-out domain check (pandas, holding the GIL) runs on a thread while the final
        # model fits (XGBoost, releasing it): both cores work on a two-core machine.
        with ThreadPoolExecutor(max_workers=1) as background:
            in_cv = background.submit(
                domain_in_cv,
                build_pipeline(resolved).named_steps["rank"],
                table,
                cv.oof,
                groups,
                domain_metric,
            )
            pipeline = fit_final(
                table, target.y, final_fit=final_fit, params=final_params, **shared
            )
            cv_domain = in_cv.result()
    rank_table = pd.DataFrame(
        pipeline.named_steps["rank"].transform(table),
        index=table.index,
        columns=pipeline.named_steps["rank"].taxa_,
    )
    trust, trust_report = fit_trust(
        oof=cv.oof,
        classes=target.classes,
        positive_class=target.positive_class,
        rank_step=pipeline.named_steps["rank"],
        table=table,
        groups=groups,
        calibration=calibration,
        target_sensitivity=target_sensitivity,
        target_specificity=target_specificity,
        domain_metric=domain_metric,
        seed=resolved.seed,
        cv_domain=cv_domain,
    )
    features = [str(t) for t in pipeline.named_steps["rank"].taxa_]
    task = replace(target.task, group=group, study=study)
    card = ModelCard(
        task=task,
        n_samples=int(len(table)),
        rank=resolved.rank,
        rank_choice=None if rank_choice is None else rank_choice.to_dict(),
        features=features,
        features_used=[str(f) for f in pipeline[:-1].get_feature_names_out()],
        config=resolved.to_dict(),
        cv={
            "scheme": cv.scheme,
            "folds": cv.folds,
            "repeats": cv.repeats,
            "per_repeat": cv.per_repeat.reset_index().to_dict(orient="records"),
            "per_study": None if cv.per_study is None else cv.per_study.to_dict(orient="records"),
            "permutation": None
            if cv.permutation is None
            else {k: cv.permutation[k] for k in ("n", "p_value", "null_mean", "null_sd")},
            "interval": cv.interval,
            "tuning": None
            if cv.tuning is None
            else {"grid": tuning_grid(resolved), "per_fold": cv.tuning, "final": final_params},
        },
        cv_metrics=_label_averaging(cv.summary, target.positive_class),
        training_table={
            "source": source.get("table"),
            "metadata": source.get("metadata"),
            "fingerprint_sha256": table_fingerprint(table),
            "n_samples": int(len(table)),
            "n_taxa": int(table.shape[1]),
        },
        created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        dropped={
            **count_dropped(
                joined=joined,
                metadata=metadata,
                label=label,
                labelled=labels.index,
                kept=kept_ids,
                labels=labels,
                empty=empty,
                table=joined_table,
                rank=resolved.rank,
            ),
            "organelle_features": n_organelles,
            "where": None if selection is None else selection.where,
            "not_selected": 0 if selection is None else selection.n_dropped,
        },
        trust=trust_report,
        classwise=class_breakdown(cv.oof, target.classes, target.positive_class, trust),
        confounders=screen.columns,
        covariates=baseline,
    )
    return Model(
        pipeline,
        card=card,
        cv=cv,
        training=TrainingData(
            rank_table, target.y, None if groups is None else groups.loc[rank_table.index]
        ),
        trust=trust,
    )
