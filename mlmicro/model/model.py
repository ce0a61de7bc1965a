"""The trained model that notebooks and the CLI use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.pipeline import Pipeline

from mlmicro.alignment import align_table
from mlmicro.exceptions import InvalidTableError

__all__ = ["Model", "TrainingData"]


class TrainingData:
    """The training cohort kept in a bundle, at the model's rank (sparse).

    Attributes
    ----------
    matrix : scipy.sparse.csr_matrix
        Samples x taxa abundances after rank collapse, before filtering.
    sample_ids : list of str
    taxa : list of str
        Canonical lineages (the model's input schema).
    y : list of str
        Class label per sample.
    """

    def __init__(self, table: pd.DataFrame, y: pd.Series) -> None:
        self.matrix = sparse.csr_matrix(table.to_numpy(dtype=np.float64))
        self.sample_ids = [str(s) for s in table.index]
        self.taxa = [str(c) for c in table.columns]
        self.y = [str(v) for v in y]

    def table(self) -> pd.DataFrame:
        """Return the training table as a dense DataFrame."""
        return pd.DataFrame(
            self.matrix.toarray(),
            index=pd.Index(self.sample_ids, name="sample_id"),
            columns=pd.Index(self.taxa, dtype=object),
        )

    def labels(self) -> pd.Series:
        """Return the class label per training sample."""
        return pd.Series(self.y, index=pd.Index(self.sample_ids, name="sample_id"), name="label")


class Model:
    """A trained mlmicro model: a fitted pipeline with its model card.

    Build one with :func:`mlmicro.train` or :func:`mlmicro.load_model`.

    Attributes
    ----------
    pipeline : sklearn.pipeline.Pipeline
        Rank collapse, filters, transform and classifier, fitted on all
        training samples.
    classes : list of str
        Class labels in the order of probability columns.
    positive_class : str or None
        Class scored by binary metrics.
    card : dict
        The model card (also written as JSON beside a saved bundle).
    """

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        classes: list[str],
        positive_class: str | None,
        card: dict[str, Any],
        cv: Any = None,
        training: TrainingData | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.classes = list(classes)
        self.positive_class = positive_class
        self.card = card
        self.cv = cv
        self.training = training

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
    def _prepare(self, table: pd.DataFrame) -> pd.DataFrame:
        if not isinstance(table, pd.DataFrame):
            raise InvalidTableError(
                "Model input must be a pandas DataFrame with samples as rows and taxa as "
                "columns; read files with mlmicro.read_table."
            )
        # the same matching across naming styles and ranks as mlmicro.predict
        return align_table(table, self.features, rank=self.rank)

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
            One ``probability_<class>`` column per class, indexed like ``table``.
        """
        table = self._prepare(table)
        proba = self.pipeline.predict_proba(table)
        return pd.DataFrame(
            proba, index=table.index, columns=[f"probability_{c}" for c in self.classes]
        )

    def predict(self, table: pd.DataFrame) -> pd.Series:
        """Predicted class label for each sample (the most probable class)."""
        proba = self.predict_proba(table)
        labels = np.asarray(self.classes, dtype=object)[np.argmax(proba.to_numpy(), axis=1)]
        return pd.Series(labels, index=proba.index, name="predicted_label")

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
        """Metrics per CV repeat (rows) with mean, sd and 95% CI in ``card["cv_metrics"]``."""
        if self.cv is None:
            return pd.DataFrame()
        return self.cv.per_repeat.copy()

    @property
    def oof_predictions(self) -> pd.DataFrame:
        """Out-of-fold predictions of every CV repeat."""
        if self.cv is None:
            return pd.DataFrame()
        return self.cv.oof.copy()

    def save(self, path: str | Path) -> Path:
        """Save the bundle (``.joblib``) and its model card (``.json``); see :func:`save_model`."""
        from mlmicro.model.bundle import save_model

        return save_model(self, path)

    def __repr__(self) -> str:
        metrics = self.card.get("cv_metrics", {})
        auc = metrics.get("roc_auc", {})
        auc_text = ""
        if auc.get("mean") is not None:
            lo, hi = auc["ci95"]
            auc_text = f", CV AUROC {auc['mean']:.3f} (95% CI {lo:.3f}-{hi:.3f})"
        model = self.card.get("config", {}).get("model", "?")
        return (
            f"<mlmicro.Model {model}: {' vs '.join(self.classes)}; "
            f"{self.card.get('n_samples', '?')} samples, {len(self.features)} taxa at "
            f"{self.rank or 'deepest'} rank{auc_text}>"
        )
