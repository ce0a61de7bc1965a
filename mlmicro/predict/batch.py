"""Batch prediction for new cohorts: align, check coverage, predict, explain.

A saved model is applied **frozen** to a new cohort: nothing is refitted.
Every block goes through the model's one application path
(:class:`mlmicro.model.apply.PipelineRunner`), the same one
:meth:`mlmicro.Model.predict_proba` and :func:`mlmicro.explain.explain` use;
a coverage report (:mod:`mlmicro.predict.coverage`) says how much of the model
the cohort carries, and prediction is refused below ``min_coverage``.

* :func:`predict_table` -- a ``DataFrame`` in, a :class:`PredictionResult` out
  (the notebook path; ``Model.predict_proba`` gives the same probabilities).
* :func:`predict_file` -- a table file in, a predictions file out, read and
  predicted in blocks of samples so memory stays bounded whatever the size
  (``mlmicro predict``); the output appears only when every block succeeded.

Output
------
One row per sample: ``sample_id``, ``predicted_label`` and
``probability_<class>`` for each class of the model card (calibrated when the
model has a calibrator; the label of a binary model is decided by its
threshold, see :mod:`mlmicro.model.trust`), ``probability_source``: ``model``,
or ``out-of-fold`` for the model's own training samples (recognised by
content; :mod:`mlmicro.model.insample`), whose probability is their
out-of-fold CV probability, not an in-sample one; ``status``: ``ok``, or why
the sample has no prediction (``no reads``: no abundance at all; ``no model
taxa``: abundance only in taxa the model does not know); then ``domain_score`` (the
sample's distance to the training cohort as a percentile of training samples'
own, :mod:`mlmicro.model.domain`) and ``in_domain``. With
``top_strains=K``: ``top1_taxon``, ``top1_shap`` ... ``topK_taxon``,
``topK_shap``, the K taxa with the largest exact TreeSHAP values for that
sample (by magnitude), named for reading (:func:`mlmicro.taxonomy.display_name`),
after ``shap_source``: ``in-sample`` for the model's own training samples, whose
SHAP values explain the final model that saw their labels (with a warning that
counts them), ``out-of-sample`` for the others.
SHAP values are in the classifier's log-odds (before calibration): positive
pushes toward the positive class
(binary models) or toward the predicted class (multiclass models). A sample
whose abundance lies entirely in taxa the model does not know gets no
prediction (empty label, ``NaN`` probabilities) and is counted in the report.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import zipfile
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from mlmicro.alignment import Alignment
from mlmicro.exceptions import ConfigError, InvalidTableError, MetadataError, ModelBundleError
from mlmicro.io import atomic_write, read_metadata
from mlmicro.io.blocks import BlockWriter, check_output_path
from mlmicro.io.chunks import auto_chunk_size, read_table_chunks
from mlmicro.io.feature_taxonomy import TaxonomyLike
from mlmicro.io.frames import frame_values
from mlmicro.model.apply import Applied, PipelineRunner
from mlmicro.model.contributions import supports_contributions
from mlmicro.model.model import Model, load_model
from mlmicro.model.parallel import check_scheduler, open_runner
from mlmicro.model.trust import Trust
from mlmicro.predict.coverage import (
    DEFAULT_MIN_COVERAGE,
    AbundanceTally,
    CoverageReport,
    check_coverage,
    feature_coverage,
)
from mlmicro.predict.distribute import PREDICT_OUTCOME, predicted_blocks
from mlmicro.predict.memory import reuse_freed_blocks
from mlmicro.predict.trust import DomainTally, TrustSummary, model_trust
from mlmicro.predict.validation import LabelTally, TrainingTally, Validation, cohort_labels
from mlmicro.taxonomy import display_names

__all__ = [
    "PredictionResult",
    "PredictionRun",
    "Predictor",
    "as_model",
    "predict_table",
    "predict_file",
    "top_contributions",
]


# --------------------------------------------------------------------------- model
def as_model(model: Model | str | os.PathLike[str]) -> Model:
    """Return ``model``, or load it from a bundle path (see :func:`mlmicro.load_model`).

    Raises
    ------
    ModelBundleError
        If the path is a file that is not a bundle by its name or its contents (MODEL and
        TABLE swapped), or the bundle cannot be loaded.
    """
    if isinstance(model, Model):
        return model
    path = Path(model)
    suffix = path.suffix.lower()
    # a bundle is a zip archive whatever its name; a QIIME 2 artifact is one too, but a table
    if (
        suffix not in (".mlmodel", ".joblib", ".json", "")
        and path.is_file()
        and (suffix == ".qza" or not zipfile.is_zipfile(path))
    ):
        raise ModelBundleError(
            f"{path} is not a model bundle: pass the .mlmodel file that mlmicro train saved "
            "(MODEL comes before TABLE)."
        )
    return load_model(path)


def _threads(jobs: int) -> int:
    if jobs == -1:
        return os.cpu_count() or 1
    if jobs < 1:
        raise ConfigError(f"jobs must be a positive number of threads or -1 (all), not {jobs}.")
    return jobs


def _check_top_strains(model: Model, top_strains: int) -> None:
    if top_strains < 0:
        raise ConfigError(f"top_strains must be 0 or more, not {top_strains}.")
    if top_strains and not supports_contributions(model.pipeline):
        raise ConfigError(
            f"--top-strains needs an XGBoost, random-forest or logistic model (exact SHAP), but "
            f"this model's classifier is {model.card.model_type}; retrain with one of those or "
            "leave out --top-strains."
        )


# -------------------------------------------------------------------- predicting
def top_contributions(
    contributions: np.ndarray, predicted: np.ndarray, names: np.ndarray, top: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return the ``top`` largest SHAP values per sample (by magnitude) and their taxa.

    Parameters
    ----------
    contributions : ndarray
        :attr:`mlmicro.model.apply.Applied.contributions`.
    predicted : ndarray of int
        Predicted class index per sample (multiclass: values toward it).
    names : ndarray of str
        Display name of each classifier feature.
    top : int
        How many to keep; fewer features leave ``None`` / ``NaN`` padding.
    """
    values = contributions
    if values.ndim == 3:  # multiclass: toward the predicted class
        values = values[np.arange(len(values)), predicted, :]
    k = min(top, values.shape[1])
    magnitude = np.abs(values)
    if k < values.shape[1]:
        picked = np.argpartition(-magnitude, k - 1, axis=1)[:, :k]
    else:
        picked = np.broadcast_to(np.arange(k), (len(values), k)).copy()
    order = np.argsort(-np.take_along_axis(magnitude, picked, axis=1), axis=1, kind="stable")
    picked = np.take_along_axis(picked, order, axis=1)
    shap = np.take_along_axis(values, picked, axis=1)
    chosen = names[picked]
    chosen[shap == 0] = None
    shap = np.where(shap == 0, np.nan, shap)
    pad = top - k
    if pad:
        chosen = np.hstack([chosen, np.full((len(values), pad), None, dtype=object)])
        shap = np.hstack([shap, np.full((len(values), pad), np.nan)])
    return chosen, shap


#: The ``status`` column of the predictions: why a sample has, or has no, prediction.
STATUS_OK, STATUS_NO_READS, STATUS_NO_MODEL_TAXA = "ok", "no reads", "no model taxa"


def sample_status(block: pd.DataFrame, predicted: np.ndarray) -> np.ndarray:
    """``ok`` for predicted samples; else ``no reads`` (an all-zero sample) or ``no model taxa``.

    Examples
    --------
    >>> block = pd.DataFrame({"a": [1.0, 0.0, 0.0], "b": [0.0, 0.0, 2.0]})
    >>> sample_status(block, np.array([True, False, False])).tolist()
    ['ok', 'no reads', 'no model taxa']
    """
    totals = np.asarray(block.sum(axis=1, numeric_only=True), dtype=np.float64)
    status = np.where(totals > 0, STATUS_NO_MODEL_TAXA, STATUS_NO_READS).astype(object)
    status[np.asarray(predicted, dtype=bool)] = STATUS_OK
    return status


class Predictor:
    """Predicts blocks of one table through the model's one application path."""

    def __init__(
        self,
        model: Model,
        alignment: Alignment,
        *,
        top_strains: int,
        jobs: int,
        where: str = "the table",
        trust: Trust | None = None,
        training_probability: str = "out-of-fold",
    ) -> None:
        self.runner = PipelineRunner(
            model.pipeline,
            threads=jobs,
            trust=trust,
            classes=model.classes,
            training=model.training_lookup,
            training_probability=training_probability,
        )
        self.domain = trust is not None and trust.domain is not None
        self.alignment = alignment
        self.where = where
        self.classes = list(model.classes)
        self.top = min(top_strains, len(self.runner.feature_names))  # never more than there are
        self.names = np.asarray(display_names(self.runner.feature_names), dtype=object)
        self.columns = (
            ["sample_id", "predicted_label"]
            + [f"probability_{c}" for c in self.classes]
            + ["probability_source", "status"]
            + (["domain_score", "in_domain"] if self.domain else [])
            + (["shap_source"] if self.top else [])
            + [f"top{i}_{part}" for i in range(1, self.top + 1) for part in ("taxon", "shap")]
        )

    def predict(self, block: pd.DataFrame) -> tuple[pd.DataFrame, Applied]:
        """Predict one block; return its output rows and what the model made of it."""
        applied = self.runner.run(
            block, alignment=self.alignment, contributions=bool(self.top), where=self.where
        )
        ok = applied.predicted
        n = len(block)
        proba = applied.probabilities
        labels = applied.labels
        names = {c: i for i, c in enumerate(self.classes)}
        predicted = np.array([names[c] for c in labels[ok]], dtype=np.int64)
        out: dict[str, Any] = {
            "sample_id": applied.sample_ids.to_numpy(),
            "predicted_label": labels,
        }
        for j, name in enumerate(self.classes):
            out[f"probability_{name}"] = proba[:, j]
        source = applied.probability_source
        if source is None:
            source = np.where(ok, "model", None).astype(object)
        out["probability_source"] = source
        out["status"] = sample_status(block, ok)
        if self.domain:
            out["domain_score"] = applied.domain.percentile
            out["in_domain"] = applied.domain.in_domain
        if self.top:
            out["shap_source"] = applied.shap_source  # "in-sample" for training samples
            top_names = np.full((n, self.top), None, dtype=object)
            top_values = np.full((n, self.top), np.nan)
            if ok.any():
                top_names[ok], top_values[ok] = top_contributions(
                    applied.contributions, predicted, self.names, self.top
                )
            for i in range(self.top):
                out[f"top{i + 1}_taxon"] = top_names[:, i]
                out[f"top{i + 1}_shap"] = top_values[:, i]
        return pd.DataFrame(out, columns=self.columns), applied


@dataclass(frozen=True)
class PredictionResult:
    """Predictions for a cohort held in memory (:func:`predict_table`).

    Attributes
    ----------
    predictions : pandas.DataFrame
        Indexed by ``sample_id``: ``predicted_label``, ``probability_<class>``
        and, with ``top_strains``, ``topN_taxon`` / ``topN_shap``.
    coverage : CoverageReport
    validation : Validation or None
        Scores against known labels, when metadata was given.
    trust : TrustSummary or None
        Calibration, threshold, domain counts and predictive values.
    n_in_training : int
        Predicted samples that are the model's own training samples (their
        ``probability_source`` is ``out-of-fold`` by default).
    """

    predictions: pd.DataFrame
    coverage: CoverageReport
    validation: Validation | None = None
    trust: TrustSummary | None = None
    n_in_training: int = 0


@dataclass(frozen=True)
class PredictionRun:
    """What :func:`predict_file` did.

    Attributes
    ----------
    output : pathlib.Path
        The predictions file.
    n_samples : int
        Samples written.
    class_counts : dict
        Samples per predicted class.
    coverage : CoverageReport
    validation : Validation or None
    seconds : float
        Wall time.
    trust : TrustSummary or None
        Calibration, threshold, domain counts and predictive values.
    n_in_training : int
        Predicted samples that are the model's own training samples.
    """

    output: Path
    n_samples: int
    class_counts: dict[str, int]
    coverage: CoverageReport
    validation: Validation | None
    seconds: float
    trust: TrustSummary | None = None
    n_in_training: int = 0

    def format(self) -> str:
        """One line: how many samples were predicted as what."""
        counts = ", ".join(f"{k} {v}" for k, v in self.class_counts.items())
        return f"predicted {self.n_samples} samples ({counts}) in {self.seconds:.1f} s"


def _labels_from(
    model: Model,
    metadata: pd.DataFrame | str | os.PathLike[str] | None,
    label: str | None,
    sample_id_column: str | None = None,
    positive: Sequence[str] | None = None,
    negative: Sequence[str] | None = None,
) -> LabelTally:
    """Return a tally of the labels (and subjects) that external validation scores against."""
    if metadata is None:
        if label is not None or positive or negative:
            raise MetadataError(
                "--label, --positive and --negative need --metadata, the file holding the labels."
            )
        return LabelTally(None, model.classes)
    if not isinstance(metadata, pd.DataFrame):
        metadata = read_metadata(metadata, sample_id_column=sample_id_column)
    labels = cohort_labels(model, metadata, label, positive=positive, negative=negative)
    subjects = model.task.subjects(metadata)
    return LabelTally(labels, model.classes, subjects, model.task.group)


def predict_table(
    model: Model | str | os.PathLike[str],
    table: pd.DataFrame,
    *,
    metadata: pd.DataFrame | str | os.PathLike[str] | None = None,
    label: str | None = None,
    positive: Sequence[str] | None = None,
    negative: Sequence[str] | None = None,
    top_strains: int = 0,
    min_coverage: float = DEFAULT_MIN_COVERAGE,
    jobs: int = 1,
    threshold: float | None = None,
    prevalence: float | None = None,
    training_probability: str = "out-of-fold",
) -> PredictionResult:
    """Predict a cohort held in memory.

    Parameters
    ----------
    model : Model or path
        A model, or a saved bundle (see :func:`mlmicro.load_model`).
    table : pandas.DataFrame
        Samples x taxa, in any lineage style and at or below the model's rank
        (see :mod:`mlmicro.alignment`).
    metadata : DataFrame or path, optional
        Sample metadata with known labels, for external validation.
    label : str, optional
        Its label column; default the column the model was trained on.
    positive, negative : sequence of str, optional
        The cohort's label values for the model's positive and negative class,
        when they are spelled differently from training (see :func:`cohort_labels`).
    top_strains : int
        Add the ``top_strains`` taxa with the largest SHAP values per sample
        (XGBoost models only).
    min_coverage : float
        Refuse the cohort when it carries less than this share of the model's
        taxon importance (see the module notes); 0 never refuses.
    jobs : int
        Classifier threads (-1: all cores).
    threshold : float, optional
        Decide binary labels at this (calibrated) probability instead of the
        model's stored threshold.
    prevalence : float, optional
        Give PPV and NPV at this prevalence (:attr:`PredictionResult.trust`).
    training_probability : {"out-of-fold", "model"}
        What the model's own training samples (recognised by content) get:
        their out-of-fold CV probability (default) or the final model's
        in-sample one. Either way an :class:`InSampleWarning` counts them, the
        ``probability_source`` column says which, and external validation
        scores only the other samples.

    Returns
    -------
    PredictionResult

    Raises
    ------
    CoverageError
        If the table shares no taxon with the model, or too little of it.
    ConfigError
        If ``top_strains`` is asked of a model that is not XGBoost.

    Examples
    --------
    >>> result = predict_table(load_model("models/cd.mlmodel"), table)  # doctest: +SKIP
    >>> print(result.coverage.format())  # doctest: +SKIP
    >>> result.predictions["probability_CD"]  # doctest: +SKIP
    """
    model = as_model(model)
    _check_top_strains(model, top_strains)
    values = frame_values(table)
    if not table.index.is_unique:
        sample = table.index[table.index.duplicated()][0]
        raise InvalidTableError(
            f"The sample ID {sample!r} appears more than once in the table; give each sample "
            "a unique ID."
        )
    scored = _labels_from(model, metadata, label, positive=positive, negative=negative)
    alignment = model.pipeline[0].align(list(table.columns), values.sum(axis=0))
    report = feature_coverage(model, alignment, min_coverage)
    check_coverage(report, alignment, "the table")
    trust = model_trust(model, threshold)
    predictor = Predictor(
        model,
        alignment,
        top_strains=top_strains,
        jobs=_threads(jobs),
        trust=trust,
        training_probability=training_probability,
    )
    abundance, domain = AbundanceTally(), DomainTally()
    tally = TrainingTally()
    parts = []
    step = auto_chunk_size(table.shape[1])
    for start in range(0, len(table), step):
        out, applied = predictor.predict(table.iloc[start : start + step])
        abundance.add(applied.abundance_share, applied.n_unpredicted)
        scored.add(out, applied)
        domain.add(applied)
        tally.add(applied)
        parts.append(out)
    predictions = pd.concat(parts, ignore_index=True).set_index("sample_id")
    predictions.index = pd.Index(predictions.index, dtype="str", name="sample_id")
    domain.warn("the table")
    tally.warn(attributions=bool(predictor.top))
    return PredictionResult(
        predictions=predictions,
        coverage=abundance.finish(report),
        validation=scored.finish(model),
        trust=TrustSummary.of(model, trust, domain, prevalence),
        n_in_training=tally.n,
    )


# ------------------------------------------------------------------------ output
def predict_file(
    model: Model | str | os.PathLike[str],
    table: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    metadata: pd.DataFrame | str | os.PathLike[str] | None = None,
    label: str | None = None,
    sample_id_column: str | None = None,
    positive: Sequence[str] | None = None,
    negative: Sequence[str] | None = None,
    top_strains: int = 0,
    min_coverage: float = DEFAULT_MIN_COVERAGE,
    chunk_size: int | None = None,
    jobs: int = 1,
    force: bool = False,
    format: str = "auto",
    orientation: str = "auto",
    taxonomy: TaxonomyLike | None = None,
    progress: bool = False,
    on_coverage: Any = None,
    reuse_memory: bool = False,
    samples: Collection[str] | None = None,
    threshold: float | None = None,
    prevalence: float | None = None,
    training_probability: str = "out-of-fold",
    scheduler: Any = None,
) -> PredictionRun:
    """Predict a table file block by block and write the predictions file.

    The table is read ``chunk_size`` samples at a time
    (:func:`mlmicro.io.chunks.read_table_chunks`: streamed for samples-as-rows
    TSV / CSV / Parquet, read whole otherwise), each block is aligned,
    predicted and appended to a temporary file beside ``output``, which is
    renamed to ``output`` only when every block succeeded.

    Parameters
    ----------
    model : Model or path
    table : path
        Any table :func:`mlmicro.read_table` reads.
    output : path
        ``.tsv``, ``.csv`` (optionally ``.gz``) or ``.parquet``.
    metadata, label, sample_id_column, positive, negative
        Known labels for external validation (see :func:`predict_table`).
    top_strains, min_coverage
        See :func:`predict_table`.
    chunk_size : int, optional
        Samples per block; memory grows with it, not with the cohort. Default:
        about 10 million values per block (10,000 samples of 1,000 taxa), see
        :func:`mlmicro.io.chunks.auto_chunk_size`.
    jobs : int
        Threads of the classifier and of TreeSHAP (-1: all cores). TreeSHAP
        (``top_strains``) scales with them; plain prediction is bound by
        parsing the table, which stays on one core.
    force : bool
        Overwrite an existing ``output``.
    format, orientation, taxonomy
        As for :func:`mlmicro.read_table`.
    progress : bool
        Show a progress bar on standard error (when it is a terminal).
    on_coverage : callable, optional
        Called with the :class:`CoverageReport` once coverage passed, before
        predicting (the CLI prints it there).
    samples : collection of str, optional
        Predict only these sample IDs (e.g. a ``--where`` selection); the
        others are skipped as they are read.
    reuse_memory : bool
        Let the C allocator keep freed block buffers for the next block
        (:func:`mlmicro.predict.memory.reuse_freed_blocks`; process-wide while
        the run lasts, so off unless the caller owns the process).
    threshold, prevalence : float, optional
    training_probability : {"out-of-fold", "model"}
        See :func:`predict_table`.
    scheduler : str, distributed.Client or None
        Predict the blocks on a Dask cluster: ``"local:N"`` or a scheduler
        address (see :func:`mlmicro.model.parallel.open_runner`; default
        ``$MLMICRO_SCHEDULER``, else here). The model is sent to each worker
        once; the file is still read here and written here, in input order,
        the same byte for byte as without a cluster.

    Returns
    -------
    PredictionRun

    Raises
    ------
    OutputExistsError
        If ``output`` exists and ``force`` is false (checked first).
    CoverageError, ConfigError, InvalidTableError, ModelBundleError, ...
        As :func:`predict_table` and :func:`mlmicro.read_table`; no output is
        left behind.
    """
    started = time.perf_counter()
    keep = None if samples is None else set(map(str, samples))
    output = check_output_path(output, force=force, inputs=[table, metadata, model, taxonomy])
    scheduler = check_scheduler(scheduler)
    model = as_model(model)
    _check_top_strains(model, top_strains)
    trust = model_trust(model, threshold)
    if prevalence is not None:
        TrustSummary.of(model, trust, DomainTally(), prevalence)  # refuse a bad one first
    threads = _threads(jobs)
    scored = _labels_from(model, metadata, label, sample_id_column, positive, negative)
    chunks = read_table_chunks(
        table, chunk_size=chunk_size, format=format, orientation=orientation, taxonomy=taxonomy
    )
    blocks = iter(chunks)
    first = next(blocks)
    whole = chunks.table if chunks.table is not None else first
    alignment = model.pipeline[0].align(
        list(chunks.columns), whole.sum(axis=0).to_numpy(dtype=np.float64)
    )
    report = feature_coverage(model, alignment, min_coverage)
    check_coverage(report, alignment, str(table))
    if on_coverage is not None:
        on_coverage(report)
    predictor = Predictor(
        model,
        alignment,
        top_strains=top_strains,
        jobs=threads,
        where=str(table),
        trust=trust,
        training_probability=training_probability,
    )
    abundance, domain = AbundanceTally(), DomainTally()
    tally = TrainingTally()
    counts = dict.fromkeys(model.classes, 0)
    stream: Iterable[pd.DataFrame] = chain([first], blocks)
    bar = tqdm(
        total=chunks.n_samples,
        unit=" samples",
        desc="predicting",
        disable=None if progress else True,  # None: only on a terminal
        file=sys.stderr,
        leave=False,
    )
    n_samples = 0
    memory = reuse_freed_blocks() if reuse_memory else contextlib.nullcontext()
    if keep is not None:
        stream = (b[b.index.astype(str).isin(keep)] for b in stream)
        stream = (b for b in stream if not b.empty)
    with (
        open_runner(scheduler, outcome=PREDICT_OUTCOME) as runner,
        bar,
        memory,
        atomic_write(output, mode=None, overwrite=force) as temporary,
    ):
        writer = BlockWriter(temporary, output, predictor.columns)
        results = predicted_blocks(runner, predictor, stream)
        try:
            for out, applied in results:
                writer.write(out)
                abundance.add(applied.abundance_share, applied.n_unpredicted)
                scored.add(out, applied)
                domain.add(applied)
                tally.add(applied)
                for name, count in out["predicted_label"].value_counts().items():
                    counts[str(name)] += int(count)
                n_samples += len(out)
                bar.update(len(out))
        finally:
            results.close()  # stop the blocks still in flight
            writer.close()
    domain.warn(str(table))
    tally.warn(attributions=bool(predictor.top))
    return PredictionRun(
        output=output,
        n_samples=n_samples,
        class_counts=counts,
        coverage=abundance.finish(report),
        validation=scored.finish(model),
        seconds=time.perf_counter() - started,
        trust=TrustSummary.of(model, trust, domain, prevalence),
        n_in_training=tally.n,
    )
