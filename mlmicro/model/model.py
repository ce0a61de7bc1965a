"""The trained model that notebooks and the CLI use."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.pipeline import Pipeline

from mlmicro.exceptions import ModelBundleError
from mlmicro.model.apply import Applied, PipelineRunner
from mlmicro.model.bundle import BundleContents, KeyLike, read_bundle, save_model
from mlmicro.model.card import ModelCard
from mlmicro.model.insample import TrainingLookup, row_digests
from mlmicro.model.labels import Task
from mlmicro.model.metrics import format_interval
from mlmicro.model.signing import SignatureInfo
from mlmicro.model.training_data import TrainingData
from mlmicro.model.trust import Trust, predicted_labels

__all__ = ["InSampleWarning", "Model", "TrainingData", "load_model"]


class InSampleWarning(UserWarning):
    """Some samples a model was applied to are its own training samples."""


class Model:
    """A trained mlmicro model: a fitted pipeline with its model card.

    Build one with :func:`mlmicro.train` or :func:`mlmicro.load_model`.

    Attributes
    ----------
    pipeline : sklearn.pipeline.Pipeline
        Rank collapse, filters, transform and classifier, fitted on all
        training samples.
    card : ModelCard
        The model card (also written as JSON beside a saved bundle).
    cv : CVResult or None
        Cross-validation results (out-of-fold predictions, fold importances).
    training : TrainingData or None
        The training cohort at the model's rank, for explanations.
    provenance : SignatureInfo or None
        For a loaded model: whether its bundle was signed, by which key id, and
        whether the signature was verified (``None`` for a model trained here).
    trust : Trust or None
        Calibrator, operating point and applicability-domain reference,
        applied after the classifier (see :mod:`mlmicro.model.trust`).
    """

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        card: ModelCard,
        cv: Any = None,
        training: TrainingData | None = None,
        provenance: SignatureInfo | None = None,
        trust: Trust | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.card = card
        self.cv = cv
        self.training = training
        self.provenance = provenance
        self.trust = trust

    @classmethod
    def from_bundle(cls, contents: BundleContents) -> Model:
        """Build a model from what :func:`mlmicro.model.bundle.read_bundle` read."""
        try:
            trust = None if contents.trust is None else Trust.from_dict(contents.trust)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelBundleError(
                f"The bundle's calibration and domain record is malformed ({type(exc).__name__}); "
                "refusing it."
            ) from None
        return cls(
            contents.pipeline,
            card=contents.card,
            cv=contents.cv,
            training=contents.training,
            provenance=contents.provenance,
            trust=trust,
        )

    # ------------------------------------------------------------------- task
    @property
    def task(self) -> Task:
        """Label column, classes and the values that form them."""
        return self.card.task

    @property
    def classes(self) -> list[str]:
        """Class labels in the order of probability columns."""
        return list(self.card.task.classes)

    @property
    def positive_class(self) -> str | None:
        """Class scored by binary metrics (``None`` for a multiclass model)."""
        return self.card.task.positive_class

    # ------------------------------------------------------------------ schema
    @property
    def rank(self) -> str | None:
        """Rank the model works at."""
        return self.pipeline.named_steps["rank"].rank

    @property
    def features(self) -> list[str]:
        """The model's input schema: taxa (canonical lineages) at its rank, in order."""
        return list(self.pipeline.named_steps["rank"].taxa_)

    @property
    def features_used(self) -> list[str]:
        """Features the classifier sees, after filtering and transformation."""
        return [str(f) for f in self.pipeline[:-1].get_feature_names_out()]

    # -------------------------------------------------------------- prediction
    @property
    def training_lookup(self) -> TrainingLookup | None:
        """The training samples' IDs, digests and out-of-fold probabilities (``None``: unknown).

        See :mod:`mlmicro.model.insample`.
        """
        cached = self.__dict__.get("_training_lookup")
        if cached is None and self.training is not None:
            digests = getattr(self.training, "digests", None)
            values = self.training.matrix.toarray()
            if digests is None:  # bundles saved before digests were kept
                digests = list(row_digests(values))
            cached = TrainingLookup.build(
                self.training.sample_ids,
                digests,
                None if self.cv is None else self.cv.oof,
                self.classes,
                values,
            )
            self.__dict__["_training_lookup"] = cached
        return cached

    def runner(
        self, *, threads: int | None = None, training_probability: str = "out-of-fold"
    ) -> PipelineRunner:
        """Return the model's :class:`~mlmicro.model.apply.PipelineRunner` (knows its training).

        Parameters
        ----------
        threads : int, optional
            Classifier and TreeSHAP threads.
        training_probability : {"out-of-fold", "model"}
            What a training sample's probability is: its out-of-fold CV
            probability (default) or the final model's in-sample one.
        """
        return PipelineRunner(
            self.pipeline,
            threads=threads,
            trust=self.trust,
            classes=self.classes,
            training=self.training_lookup,
            training_probability=training_probability,
        )

    def apply(
        self,
        table: pd.DataFrame,
        *,
        contributions: bool = False,
        threads: int | None = None,
        where: str = "the table",
        training_probability: str = "out-of-fold",
    ) -> Applied:
        """Apply the frozen pipeline to a cohort (the one path every consumer takes).

        Training samples (recognised by content) get their out-of-fold CV
        probability unless ``training_probability="model"``; see
        :class:`mlmicro.model.apply.PipelineRunner` and
        :mod:`mlmicro.model.insample`.
        """
        return self.runner(threads=threads, training_probability=training_probability).run(
            table, contributions=contributions, where=where
        )

    def predict_proba(self, table: pd.DataFrame) -> pd.DataFrame:
        """Class probabilities for each sample.

        Parameters
        ----------
        table : pandas.DataFrame
            Samples x taxa in any lineage style or rank at or below the model's;
            it is collapsed and aligned to :attr:`features` (missing taxa count
            as absent, unknown taxa are dropped). Nothing is refitted.

        Returns
        -------
        pandas.DataFrame
            One ``probability_<class>`` column per class, indexed like ``table``
            (calibrated when the model has a calibrator, see :attr:`trust`).
            A sample with no abundance on any model taxon is not predicted: its
            row is ``NaN`` (with a warning that names it). A training sample of
            this model gets its out-of-fold CV probability, with an
            :class:`InSampleWarning` that counts them.
        """
        applied = self.apply(table)
        if applied.n_in_training:
            warnings.warn(applied.training_message(), InSampleWarning, stacklevel=2)
        if applied.n_unpredicted:
            missing = applied.sample_ids[~applied.predicted]
            shown = ", ".join(repr(s) for s in missing[:5]) + (", ..." if len(missing) > 5 else "")
            warnings.warn(
                f"{len(missing)} sample(s) carry no abundance on any model taxon and were not "
                f"predicted (probabilities NaN): {shown}.",
                UserWarning,
                stacklevel=2,
            )
        return pd.DataFrame(
            applied.probabilities,
            index=table.index,
            columns=[f"probability_{c}" for c in self.classes],
        )

    def predict(self, table: pd.DataFrame) -> pd.Series:
        """Predicted class per sample (``None`` where not predicted).

        Binary models with an operating point call a sample positive when its
        calibrated probability reaches the threshold; other models predict the
        most probable class.
        """
        proba = self.predict_proba(table).to_numpy()
        k = None if self.trust is None else self.trust.positive_index
        threshold = None if self.trust is None else self.trust.threshold
        labels = predicted_labels(proba, self.classes, k, threshold)
        return pd.Series(labels, index=table.index, name="predicted_label")

    def explain(
        self,
        table: pd.DataFrame | None = None,
        *,
        metadata: pd.DataFrame | None = None,
        threads: int | None = None,
    ) -> Any:
        """Exact SHAP values of this model's predictions, keyed by taxon.

        ``table`` defaults to the training cohort. Returns an
        :class:`mlmicro.explain.Explanation`; see :func:`mlmicro.explain.explain`.
        """
        from mlmicro.explain import explain

        return explain(self, table, metadata=metadata, threads=threads)

    # ------------------------------------------------------------- CV results
    @property
    def cv_results(self) -> pd.DataFrame:
        """Metrics per CV repeat (rows); their summary is ``card.cv_metrics``."""
        if self.cv is None:
            return pd.DataFrame()
        return self.cv.per_repeat.copy()

    @property
    def oof_predictions(self) -> pd.DataFrame:
        """Out-of-fold predictions of every CV repeat."""
        if self.cv is None:
            return pd.DataFrame()
        return self.cv.oof.copy()

    def save(self, path: str | Path, *, key: KeyLike | None = None) -> Path:
        """Save the bundle (``.mlmodel``) and a card copy (``.json``); see :func:`save_model`.

        With a signing key (``key``, or ``MLMICRO_SIGNING_KEY`` / ``MLMICRO_SIGNING_KEY_FILE``)
        the bundle is signed.
        """
        return save_model(self, path, key=key)

    def __repr__(self) -> str:
        auc = self.card.metric("roc_auc")
        auc_text = ""
        if auc.get("mean") is not None:
            auc_text = f", CV AUROC {auc['mean']:.3f} (95% CI {format_interval(auc['ci95'])})"
        return (
            f"<mlmicro.Model {self.card.model_type}: {' vs '.join(self.classes)}; "
            f"{self.card.n_samples} samples, {len(self.features)} taxa at "
            f"{self.rank or 'deepest'} rank{auc_text}>"
        )


def load_model(path: str | Path, *, key: KeyLike | None = None) -> Model:
    """Load a model saved by :meth:`Model.save` or ``mlmicro train``.

    The bundle is read once and parsed as data; nothing in it is executed. Its
    members are checked against their SHA-256 and, with a signing key, against
    the signature (see :func:`mlmicro.model.bundle.read_bundle`).
    :attr:`Model.provenance` says whether it was signed and by which key id.

    Parameters
    ----------
    path : str or pathlib.Path
        The ``.mlmodel`` bundle (or the ``.json`` card copy beside it).
    key : bytes, str, path or None
        Signing key: raw bytes, key text or a key file; ``None`` reads
        ``MLMICRO_SIGNING_KEY`` / ``MLMICRO_SIGNING_KEY_FILE``. With a key, only
        bundles signed by it load.

    Returns
    -------
    Model

    Raises
    ------
    ModelBundleError
        If the file is missing, not a bundle, an old joblib bundle (the message
        names ``mlmicro convert``), damaged or tampered with.

    Examples
    --------
    >>> model = load_model("models/model.mlmodel")  # doctest: +SKIP
    >>> model.provenance.describe()  # doctest: +SKIP
    'signed by key 9f9f5111, verified'
    """
    return Model.from_bundle(read_bundle(path, key=key))
