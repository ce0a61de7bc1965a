"""The one path from a taxa table to a model's predictions.

Every consumer -- :meth:`mlmicro.Model.predict_proba`, each block of
``mlmicro predict``, ``--top-strains``, :func:`mlmicro.explain.explain` and
external validation -- applies a model through :class:`PipelineRunner`:

1. the fitted pipeline's first step (:class:`~mlmicro.transforms.RankCollapser`)
   aligns the cohort's columns onto the model's taxa
   (:meth:`~mlmicro.transforms.RankCollapser.align`), once per table even
   when the table is read in blocks;
2. samples with no abundance on any model taxon are not predicted (their
   probabilities are ``NaN``), never passed on to fail a later step;
3. every other step of the frozen pipeline runs unchanged, then the
   classifier; exact TreeSHAP contributions, when asked for, are computed on
   the very features the classifier saw;
4. samples that are the model's own training samples (recognised by content,
   :mod:`mlmicro.model.insample`) get their out-of-fold CV probability instead
   of the final model's in-sample one, and :attr:`Applied.probability_source`
   says which each sample has;
5. with the model's :class:`~mlmicro.model.trust.Trust` state: the
   probability is calibrated, the label is decided by the operating point's
   threshold and each sample gets an applicability-domain score
   (:mod:`mlmicro.model.trust`).

So ``pipeline.predict_proba(table)`` and :attr:`Applied.raw_probabilities`
are the same for every predicted sample that is not a training sample;
nothing is refitted.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from mlmicro.alignment import Alignment
from mlmicro.exceptions import ConfigError
from mlmicro.io.frames import frame_values
from mlmicro.model.contributions import feature_contributions, is_xgboost
from mlmicro.model.domain import DomainScores
from mlmicro.model.insample import PROBABILITY_SOURCES, TrainingLookup, attribution_sources
from mlmicro.model.trust import Trust, predicted_labels

__all__ = ["Applied", "PipelineRunner", "apply_pipeline"]


@dataclass(frozen=True)
class Applied:
    """A model applied to one table (or one block of a table).

    Attributes
    ----------
    sample_ids : pandas.Index
        The table's sample IDs, as text, in table order.
    abundance : numpy.ndarray of shape (n_samples, n_taxa)
        The table at the model's rank, aligned onto its taxa (the first
        pipeline step's output; absent taxa are 0).
    abundance_share : numpy.ndarray of shape (n_samples,)
        Share of each sample's abundance (at the model's rank) that falls on
        model taxa.
    predicted : numpy.ndarray of bool, shape (n_samples,)
        Samples with abundance on at least one model taxon; only these are
        predicted.
    features : numpy.ndarray of shape (n_predicted, n_features_used)
        The classifier's input for the predicted samples.
    feature_names : list of str
        Names of :attr:`features` columns (the pipeline's names before the
        classifier).
    probabilities : numpy.ndarray of shape (n_samples, n_classes)
        Class probabilities, calibrated when the model has a calibrator;
        ``NaN`` rows for samples not predicted.
    contributions : numpy.ndarray or None
        Exact TreeSHAP values for the predicted samples, when asked for:
        ``(n_predicted, n_features_used)`` (binary, log-odds of the second
        class) or ``(n_predicted, n_classes, n_features_used)``.
    base : numpy.ndarray or None
        The expected margin the contributions start from.
    raw_probabilities : numpy.ndarray or None
        The classifier's own probabilities (before calibration).
    labels : numpy.ndarray of object or None
        Predicted class per sample (by the threshold for binary models with an
        operating point, else the most probable); ``None`` where not predicted.
    domain : DomainScores or None
        Applicability-domain scores, when the model has a domain reference.
    in_training : numpy.ndarray of bool or None
        Samples that are the model's own training samples (``None``: the
        model keeps no training samples to compare with).
    probability_source : numpy.ndarray of object or None
        Per sample, what :attr:`probabilities` holds: ``"model"`` (the final
        model's prediction), ``"out-of-fold"`` (a training sample's mean
        out-of-fold CV probability) or ``None`` (not predicted).
    out_of_fold : numpy.ndarray or None
        Out-of-fold CV probabilities of the training samples (``NaN`` rows
        for other samples), whichever probability :attr:`probabilities` holds.
    """

    sample_ids: pd.Index
    abundance: np.ndarray
    abundance_share: np.ndarray
    predicted: np.ndarray
    features: np.ndarray
    feature_names: list[str]
    probabilities: np.ndarray
    contributions: np.ndarray | None = None
    base: np.ndarray | None = None
    raw_probabilities: np.ndarray | None = None
    labels: np.ndarray | None = None
    domain: DomainScores | None = None
    in_training: np.ndarray | None = None
    probability_source: np.ndarray | None = None
    out_of_fold: np.ndarray | None = None
    repeats: int = 0

    @property
    def n_unpredicted(self) -> int:
        """Samples with no abundance on model taxa (not predicted)."""
        return int((~self.predicted).sum())

    @property
    def n_in_training(self) -> int:
        """Predicted samples that are the model's own training samples."""
        if self.in_training is None:
            return 0
        return int((self.in_training & self.predicted).sum())

    @property
    def shap_source(self) -> np.ndarray:
        """Per sample, what its SHAP values explain (see :mod:`mlmicro.model.insample`).

        ``"in-sample"`` for the model's own training samples, ``"out-of-sample"``
        for the others, ``None`` where not predicted.
        """
        return attribution_sources(self.in_training, self.predicted)

    def training_message(self, n: int | None = None, total: int | None = None) -> str:
        """One sentence counting the training samples among the predicted ones."""
        n = self.n_in_training if n is None else n
        total = int(self.predicted.sum()) if total is None else total
        replaced = (
            self.probability_source is not None and (self.probability_source == "out-of-fold").any()
        )
        what = (
            f"their probabilities are out-of-fold CV probabilities (mean over "
            f"{self.repeats} repeat(s); probability_source = out-of-fold), not in-sample ones"
            if replaced
            else "their probabilities are the final model's in-sample ones "
            "(probability_source = model)"
        )
        return (
            f"{n} of {total} predicted samples are this model's own training samples "
            f"(matched by content at the model's rank); {what}."
        )


class PipelineRunner:
    """Applies a fitted mlmicro pipeline to cohorts, frozen.

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        A fitted pipeline whose first step is a ``RankCollapser`` and whose
        last step is a classifier.
    threads : int, optional
        Threads of the classifier (and of TreeSHAP). The classifier is copied
        when given, so the caller's pipeline is left as it was.
    trust : Trust, optional
        Calibrator, operating point and domain reference applied after the
        classifier (:attr:`mlmicro.Model.trust`).
    classes : sequence of str, optional
        Class names in probability-column order, for :attr:`Applied.labels`
        (default: the trust state's; without either, no labels).
    training : TrainingLookup, optional
        The model's training samples (:attr:`mlmicro.Model.training_lookup`):
        recognised in any table and given their out-of-fold probability.
    training_probability : {"out-of-fold", "model"}
        What a training sample's probability is (default: out-of-fold).

    Examples
    --------
    >>> runner = PipelineRunner(model.pipeline)  # doctest: +SKIP
    >>> applied = runner.run(table)  # doctest: +SKIP
    >>> applied.probabilities[applied.predicted]  # doctest: +SKIP
    """

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        threads: int | None = None,
        trust: Trust | None = None,
        classes: Sequence[str] | None = None,
        training: TrainingLookup | None = None,
        training_probability: str = "out-of-fold",
    ) -> None:
        if training_probability not in PROBABILITY_SOURCES:
            raise ConfigError(
                f"training_probability must be one of {', '.join(PROBABILITY_SOURCES)}, not "
                f"{training_probability!r}."
            )
        self.training = training
        self.training_probability = training_probability
        self.pipeline = pipeline
        self.trust = trust
        if classes is None and trust is not None:
            classes = trust.classes
        self.classes = None if classes is None else [str(c) for c in classes]
        self.rank_step = pipeline[0]
        classifier = pipeline[-1]
        if threads is not None:
            classifier = copy.deepcopy(classifier)
            if is_xgboost(pipeline):
                classifier.set_params(n_jobs=threads)
                classifier.get_booster().set_param({"nthread": threads})
            elif "n_jobs" in classifier.get_params():
                classifier.set_params(n_jobs=threads)
        self.classifier = classifier
        self.threads = threads
        self.middle = pipeline[1:-1] if len(pipeline) > 2 else None
        self.feature_names = [str(f) for f in pipeline[:-1].get_feature_names_out()]
        self.taxa = [str(t) for t in self.rank_step.taxa_]

    def align(self, columns: Sequence[str], totals: Sequence[float] | None = None) -> Alignment:
        """Align a table's columns onto the model's taxa (the pipeline's first step)."""
        return self.rank_step.align(list(columns), totals)

    def run(
        self,
        table: pd.DataFrame,
        *,
        alignment: Alignment | None = None,
        contributions: bool = False,
        where: str = "the table",
    ) -> Applied:
        """Apply the pipeline to ``table``.

        Parameters
        ----------
        table : pandas.DataFrame
            Samples x taxa, in any lineage style, at or below the model's rank.
        alignment : Alignment, optional
            :meth:`align` of the whole table's columns, when ``table`` is one
            block of a larger table; by default computed from ``table``.
        contributions : bool
            Also compute exact TreeSHAP contributions (XGBoost models).
        where : str
            Where the table came from (a file), for error messages.

        Returns
        -------
        Applied
        """
        values = frame_values(table, where)
        if alignment is None:
            alignment = self.align(list(table.columns), values.sum(axis=0))
        abundance = alignment.apply(values)
        mapped = abundance.sum(axis=1)
        shares = alignment.abundance_share(values, mapped)
        del values
        predicted = mapped > 0
        n_classes = len(self.classifier.classes_)
        proba = np.full((len(table), n_classes), np.nan)
        inputs = abundance if predicted.all() else abundance[predicted]
        if predicted.any():
            features = self.middle.transform(inputs) if self.middle is not None else inputs
            features = np.asarray(features, dtype=np.float64)
            proba[predicted] = self.classifier.predict_proba(features)
        else:
            features = np.empty((0, len(self.feature_names)))
        values_shap = base = None
        if contributions and len(features):
            frame = pd.DataFrame(features, columns=self.feature_names)
            values_shap, base, _ = feature_contributions(
                Pipeline([("classifier", self.classifier)]),
                frame,
                features=frame,
                threads=self.threads,
            )
        sample_ids = pd.Index(table.index.astype(str), dtype=object, name="sample_id")
        in_training = source = out_of_fold = None
        if self.training is not None:
            position = self.training.match(sample_ids, abundance)
            in_training = (position >= 0) & predicted
            out_of_fold = self.training.out_of_fold_rows(
                np.where(in_training, position, -1), n_classes
            )
            replace = in_training & ~np.isnan(out_of_fold).any(axis=1)
            if self.training_probability == "out-of-fold" and replace.any():
                proba[replace] = out_of_fold[replace]
            else:
                replace[:] = False
            source = np.where(replace, "out-of-fold", "model").astype(object)
            source[~predicted] = None
        raw = proba
        domain = None
        if self.trust is not None:
            proba = self.trust.calibrate(raw)
            labels = self.trust.labels(proba)
            domain = self.trust.score_domain(abundance, shares)
        elif self.classes is not None:
            labels = predicted_labels(proba, self.classes, None, None)
        else:
            labels = None
        return Applied(
            sample_ids=sample_ids,
            abundance=abundance,
            abundance_share=shares,
            predicted=predicted,
            features=features,
            feature_names=self.feature_names,
            probabilities=proba,
            contributions=values_shap,
            base=base,
            raw_probabilities=raw,
            labels=labels,
            domain=domain,
            in_training=in_training,
            probability_source=source,
            out_of_fold=out_of_fold,
            repeats=self.training.repeats if self.training is not None else 0,
        )


def apply_pipeline(
    pipeline: Pipeline,
    table: pd.DataFrame,
    *,
    contributions: bool = False,
    threads: int | None = None,
    where: str = "the table",
    trust: Trust | None = None,
    classes: Sequence[str] | None = None,
) -> Applied:
    """Apply a fitted pipeline to a whole table; see :class:`PipelineRunner`."""
    return PipelineRunner(pipeline, threads=threads, trust=trust, classes=classes).run(
        table, contributions=contributions, where=where
    )
