"""``mlmicro.train``: cross-validate, refit on all samples, return a Model."""

from __future__ import annotations

import datetime as _dt
import hashlib
import warnings
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlmicro.config import TrainConfig, load_config
from mlmicro.exceptions import MetadataError
from mlmicro.io import empty_samples, join_metadata, read_metadata, read_table
from mlmicro.model.card import ModelCard
from mlmicro.model.confounders import screen_confounders
from mlmicro.model.covariates import check_covariates, covariate_baseline
from mlmicro.model.dask_xgboost import check_final_fit
from mlmicro.model.device import with_device
from mlmicro.model.labels import make_target
from mlmicro.model.model import Model, TrainingData
from mlmicro.model.parallel import open_runner
from mlmicro.model.training import cross_validate, fit_final
from mlmicro.taxonomy import canonicalize_columns

__all__ = ["train", "table_fingerprint", "DEFAULT_TASK", "EmptySamplesWarning"]


class EmptySamplesWarning(UserWarning):
    """Samples without any reads were left out."""


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
    progress: bool = False,
    scheduler: Any = None,
    device: str | None = None,
    final_fit: str = "local",
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
    config : TrainConfig, preset name, path or None
        Base configuration (``default`` when ``None``).
    progress : bool
        Show progress bars.
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
    resolved = with_device(_resolve_config(config, overrides), device)
    table = canonicalize_columns(table)
    table, metadata = join_metadata(table, metadata)
    target = make_target(metadata, label, positive=positive, negative=negative)
    table = table.loc[target.y.index]
    empty = empty_samples(table)
    if empty:  # real tables have them; no model can learn from a sample without reads
        shown = ", ".join(repr(s) for s in empty[:5]) + (", ..." if len(empty) > 5 else "")
        warnings.warn(
            f"{len(empty)} sample(s) have no reads or abundance at all and are left out of "
            f"training: {shown}.",
            EmptySamplesWarning,
            stacklevel=2,
        )
        keep = ~table.index.astype(str).isin(empty)
        table = table.loc[keep]
        target = replace(target, y=target.y.loc[table.index], dropped=[*target.dropped, *empty])
    kept_meta = metadata.loc[target.y.index]
    groups = _column(kept_meta, group, "--group")
    studies = _column(kept_meta, study, "--study")
    if covariates:
        check_covariates(kept_meta, covariates, label=label)
    # every metadata column against the label; warns about the ones that alone separate classes
    screen = screen_confounders(
        kept_meta, target.y, classes=target.classes, label=label, group=group
    )

    with open_runner(scheduler, jobs=resolved.jobs) as runner:
        check_final_fit(final_fit, resolved, runner)
        cv = cross_validate(
            table,
            target.y,
            classes=target.classes,
            positive_class=target.positive_class,
            config=resolved,
            groups=groups,
            studies=studies,
            metadata=kept_meta,
            progress=progress,
            runner=runner,
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
                classes=target.classes,
                positive_class=target.positive_class,
                config=resolved,
                groups=groups,
                runner=runner,
                progress=progress,
            )
        pipeline = fit_final(
            table,
            target.y,
            classes=target.classes,
            config=resolved,
            groups=groups,
            runner=runner,
            final_fit=final_fit,
        )
    rank_table = pd.DataFrame(
        pipeline.named_steps["rank"].transform(table),
        index=table.index,
        columns=pipeline.named_steps["rank"].taxa_,
    )
    features = [str(t) for t in pipeline.named_steps["rank"].taxa_]
    task = replace(target.task, group=group, study=study)
    card = ModelCard(
        task=task,
        n_samples=int(len(table)),
        rank=resolved.rank,
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
            else {k: cv.permutation[k] for k in ("n", "p_value")},
        },
        cv_metrics=cv.summary,
        training_table={
            "source": source.get("table"),
            "metadata": source.get("metadata"),
            "fingerprint_sha256": table_fingerprint(table),
            "n_samples": int(len(table)),
            "n_taxa": int(table.shape[1]),
        },
        created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        dropped={
            "samples": len(target.dropped),
            "sample_ids": target.dropped[:20],
            "empty_samples": len(empty),
        },
        confounders=screen.columns,
        covariates=baseline,
    )
    return Model(
        pipeline,
        card=card,
        cv=cv,
        training=TrainingData(rank_table, target.y),
    )
