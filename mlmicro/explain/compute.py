"""SHAP explanations of a trained model, keyed by taxon; nothing here fits anything.

:func:`explain` computes exact TreeSHAP values of a model's XGBoost classifier
with XGBoost's native ``pred_contribs`` (see
:mod:`mlmicro.model.contributions`), over the training cohort kept in the
model bundle or over a new cohort run through the model's own frozen pipeline.
The result, an :class:`Explanation`, maps the values back to taxa and adds what
a reader needs to judge them: the direction of each taxon's effect, its
prevalence and abundance per class, and how often the cross-validation fold
models ranked it among their top taxa.

Values are in the classifier's margin: the log-odds of the positive class for
a binary model (positive = pushes toward it), one margin per class for a
multiclass model.

What is explained depends on the model's transform. With ``relative``,
``log`` or ``clr`` each classifier feature is one taxon. With ``alr`` each
feature is the log-ratio of a taxon to the reference taxon, and with ``ilr``
each feature is a balance between groups of taxa; the explanation says so in
:attr:`Explanation.feature_kind`, in its :attr:`Explanation.notes` and in the
``feature`` column of :meth:`Explanation.summary`.
"""

from __future__ import annotations

import os
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mlmicro.exceptions import CoverageError, ModelBundleError
from mlmicro.explain.explanation import Explanation, FeatureKind, feature_table
from mlmicro.model.apply_blocks import apply_in_blocks
from mlmicro.model.contributions import contribution_method, supports_contributions
from mlmicro.model.insample import in_sample_attribution_message
from mlmicro.model.model import InSampleWarning
from mlmicro.model.parallel import check_scheduler, open_runner
from mlmicro.taxonomy import display_names
from mlmicro.transforms.composition import ALR, CLR, ILR
from mlmicro.transforms.zeros import LogTransform

if TYPE_CHECKING:  # pragma: no cover
    from mlmicro.model.model import Model

__all__ = ["EXPLAIN_OUTCOME", "explain", "labels_from_metadata"]

#: How a failed explanation on a Dask cluster ends, in error messages.
EXPLAIN_OUTCOME = "explain stopped and no report was written"


# --------------------------------------------------------------------- explain
def explain(
    model: Model,
    table: pd.DataFrame | None = None,
    *,
    metadata: pd.DataFrame | None = None,
    threads: int | None = None,
    where: str = "the table",
    scheduler: Any = None,
    block_size: int | None = None,
) -> Explanation:
    """Exact SHAP values of a model's predictions, mapped back to taxa.

    Parameters
    ----------
    model : Model
        A trained model whose classifier is XGBoost.
    table : pandas.DataFrame, optional
        Samples x taxa of a cohort to explain, in any lineage style and at or
        below the model's rank; it goes through the model's own fitted
        pipeline (collapsed, aligned, transformed; nothing is refitted).
        Default: the training cohort kept in the model bundle.
    metadata : pandas.DataFrame, optional
        Sample metadata of ``table`` holding the model's label column; gives
        the per-class abundance columns of the summary. The training cohort's
        labels are used when ``table`` is not given.
    threads : int, optional
        Threads for XGBoost (default: every core this process may use; one
        per task on a Dask cluster).
    where : str
        Where ``table`` came from (a file), for messages.
    scheduler : str, distributed.Client or None
        Compute the SHAP values on a Dask cluster, in blocks of samples:
        ``"local:N"`` or a scheduler address (see
        :func:`mlmicro.model.parallel.open_runner`; default
        ``$MLMICRO_SCHEDULER``, else here). The values are the same as here.
    block_size : int, optional
        Samples per block on a cluster (default: about four blocks per worker,
        :func:`mlmicro.model.apply_blocks.block_size_for`).

    Returns
    -------
    Explanation

    Raises
    ------
    ModelBundleError
        If the classifier is not XGBoost, or no table is given and the model
        kept no training cohort.
    CoverageError
        If the table shares no taxon with the model.

    Examples
    --------
    >>> import mlmicro
    >>> model = mlmicro.load_model("models/model.mlmodel")  # doctest: +SKIP
    >>> exp = model.explain()  # doctest: +SKIP
    >>> exp.top(10)[["name", "mean_abs_shap", "direction", "cv_top_k_share"]]  # doctest: +SKIP
    """
    pipeline = model.pipeline
    if not supports_contributions(pipeline):
        raise ModelBundleError(
            f"Explanations need an XGBoost, random-forest or logistic model, but this model's "
            f"classifier is a {type(pipeline[-1]).__name__}; retrain it with one of those."
        )
    method = contribution_method(pipeline)
    if table is None:
        if model.training is None:
            raise ModelBundleError(
                "This model bundle keeps no training cohort, so there is nothing to explain by "
                "default; pass the table of a cohort to explain."
            )
        table, labels, cohort = model.training.table(), model.training.labels(), "training cohort"
        subjects = model.training.subject_ids()
    else:
        labels = None if metadata is None else labels_from_metadata(model, metadata)
        subjects = model.task.subjects(metadata)
        cohort = "given cohort"
    # the one application path: the same probabilities and SHAP values as mlmicro predict
    scheduler = check_scheduler(scheduler)
    if scheduler is None:
        applied = model.apply(
            table, contributions=True, threads=threads or _available_cores(), where=where
        )
    else:
        with open_runner(scheduler, outcome=EXPLAIN_OUTCOME) as runner:
            applied = apply_in_blocks(
                model.runner(threads=threads or 1),
                table,
                runner,
                contributions=True,
                where=where,
                block_size=block_size,
            )
    notes = [_coverage(applied.abundance, model)] if cohort == "given cohort" else []
    if applied.n_in_training:
        # the same words as mlmicro predict --top-strains (mlmicro.model.insample)
        message = (
            f"{applied.training_message()} {in_sample_attribution_message(applied.n_in_training)}"
        )
        notes.append(message)
        if cohort == "given cohort":
            warnings.warn(message, InSampleWarning, stacklevel=2)
    ids = applied.sample_ids[applied.predicted]
    if applied.n_unpredicted:
        left = applied.sample_ids[~applied.predicted]
        shown = ", ".join(repr(s) for s in left[:5]) + (", ..." if len(left) > 5 else "")
        notes.append(
            f"{len(left)} sample(s) carry no abundance on any model taxon and are not "
            f"explained: {shown}."
        )
    rank_values = applied.abundance[applied.predicted]
    totals = rank_values.sum(axis=1, keepdims=True)
    cohort_abundance = pd.DataFrame(
        rank_values / totals, index=ids, columns=pd.Index(model.features, dtype=object)
    )
    features_in = pd.DataFrame(applied.features, index=ids, columns=applied.feature_names)
    values, base = applied.contributions, applied.base
    if values.ndim == 2:
        values = values[:, None, :]
    if labels is not None:
        labels = labels.reindex(ids)
    if subjects is not None:
        subjects = subjects.reindex(ids)
        if labels is not None:
            n_units = subjects[labels.notna()].nunique()
            notes.append(
                f"Association tests count each subject once per class ({n_units} subjects, "
                f"column {model.task.group or 'subject'!r}): repeated samples of one subject "
                "are not independent."
            )
    binary = len(model.classes) == 2
    outputs = [model.classes[1]] if binary else list(model.classes)
    kind, features, data, abundance, kind_notes = _describe_features(
        pipeline, features_in, cohort_abundance
    )
    if method.unit == "probability":
        margin = f"probability of {outputs[0]}" if binary else "probability of each class"
    else:
        margin = f"log-odds of {outputs[0]}" if binary else "per-class margin (softmax logits)"
    notes = [
        f"SHAP values are {method.name} contributions to the {margin} of the {cohort} "
        f"({len(ids)} samples); positive values push toward "
        f"{outputs[0] if binary else 'the class shown'}.",
        *kind_notes,
        *notes,
    ]
    return Explanation(
        values,
        base,
        features=features,
        data=data,
        abundance=abundance,
        cohort_abundance=cohort_abundance,
        classes=model.classes,
        outputs=outputs,
        feature_kind=kind,
        labels=labels,
        fold_importance=None if model.cv is None else model.cv.fold_importance,
        rank=model.rank,
        cohort=cohort,
        notes=notes,
        probabilities=applied.probabilities[applied.predicted],
        unit=method.unit,
        probability_source=None
        if applied.probability_source is None
        else applied.probability_source[applied.predicted],
        shap_source=applied.shap_source[applied.predicted],
        subjects=subjects,
    )


def labels_from_metadata(model: Model, metadata: pd.DataFrame) -> pd.Series:
    """Class label per sample, from the model's label column of new sample metadata.

    The model's :class:`~mlmicro.model.labels.Task` maps the values exactly as
    at training and external validation; samples without a usable label are
    left out.

    Raises
    ------
    MetadataError
        If the metadata lack the model's label column, or hold label values
        the model does not know.
    """
    return model.task.labels(metadata).rename("label")


# --------------------------------------------------------------------- helpers
def _available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def _coverage(rank_values: np.ndarray, model: Model) -> str:
    present = (rank_values > 0).any(axis=0)
    used = set(model.features_used)
    used_present = sum(
        1 for taxon, seen in zip(model.features, present, strict=True) if seen and taxon in used
    )
    if not present.any():
        raise CoverageError(
            f"The table shares no taxon with the model ({len(model.features)} taxa at "
            f"{model.rank or 'deepest'} rank); check that it is a profile of the same kind "
            "(lineage style, rank) as the training table."
        )
    share = used_present / max(len(used), 1)
    if share < 0.5:
        warnings.warn(
            f"Only {used_present} of the model's {len(used)} taxa occur in the table "
            f"({share:.0%}); missing taxa count as absent, so the explanation may mislead.",
            UserWarning,
            stacklevel=3,
        )
    return (
        f"{used_present} of the {len(used)} taxa the classifier uses occur in the given cohort; "
        "missing taxa count as absent."
    )


def _describe_features(
    pipeline, features_in: pd.DataFrame, cohort_abundance: pd.DataFrame
) -> tuple[FeatureKind, pd.DataFrame, pd.DataFrame, pd.DataFrame | None, list[str]]:
    """Describe each classifier feature: its name, lineage, plotted value and abundance."""
    transform = pipeline.named_steps.get("transform")
    keys = [str(c) for c in features_in.columns]
    if isinstance(transform, (ALR, ILR)):  # the taxa the log-ratios are made of
        before = [name for name, _ in pipeline.steps].index("transform")
        taxa = [str(t) for t in pipeline[:before].get_feature_names_out()]
    data = features_in.copy()
    data.index = cohort_abundance.index
    data.columns = pd.Index(keys, dtype=object)
    if isinstance(transform, ALR):
        reference = taxa[transform.reference_index_]
        ref_name = display_names(taxa)[transform.reference_index_]
        features = feature_table(keys, keys, f"log-ratio to {ref_name}")
        features["name"] = [f"{n} / {ref_name}" for n in features["name"]]
        note = (
            f"This model uses the ALR transform: each feature is the log-ratio of a taxon to "
            f"the reference taxon {ref_name} ({reference}). The SHAP values explain these "
            "log-ratios, not the taxa on their own; the reference has no value of its own."
        )
        return "log-ratio", features, data, cohort_abundance[keys], [note]
    if isinstance(transform, ILR):
        readable = display_names(taxa)
        names, lineages, words = [], [], []
        for j, row in enumerate(np.asarray(transform.basis_)):
            upper = np.flatnonzero(row > 1e-12)
            lower = np.flatnonzero(row < -1e-12)
            denominator = readable[lower[0]] if len(lower) == 1 else f"{len(lower)} taxa"
            names.append(f"ilr{j}: {len(upper)} taxa vs {denominator}")
            lineages.append(taxa[lower[0]] if len(lower) == 1 else "")
            words.append(
                f"balance: log of the geometric mean of {len(upper)} taxa over {denominator}"
            )
        features = pd.DataFrame(
            {"name": names, "lineage": lineages, "feature": words},
            index=pd.Index(keys, dtype=object, name="key"),
        )
        note = (
            "This model uses the ILR transform: its features are balances (log-ratios between "
            "groups of taxa), not taxa. The SHAP values explain these balances; each is named "
            "by the taxon it sets against the taxa listed before it. Abundance and "
            "cross-validation stability are left out, as balances differ between fold models."
        )
        return "balance", features, data, None, [note]
    words = {CLR: "centred log-ratio (clr)", LogTransform: "log relative abundance"}
    feature = words.get(type(transform), "relative abundance")
    abundance = cohort_abundance[keys]
    notes = []
    if isinstance(transform, CLR):
        notes.append(
            "The classifier sees centred log-ratios (each taxon relative to the geometric "
            "mean of the sample); plots show relative abundance."
        )
    return "taxon", feature_table(keys, keys, feature), abundance, abundance, notes
