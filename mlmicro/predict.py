"""Batch prediction for new cohorts: align, check coverage, predict, explain.

A saved model is applied **frozen** to a new cohort: nothing is refitted.
The cohort's taxa are matched to the model's features across naming styles
and ranks (:mod:`mlmicro.alignment`); a coverage report says how much of the
model the cohort carries, and prediction is refused below ``min_coverage``.

* :func:`predict_table` -- a ``DataFrame`` in, a :class:`PredictionResult` out
  (the notebook path; ``Model.predict_proba`` gives the same probabilities).
* :func:`predict_file` -- a table file in, a predictions file out, read and
  predicted in blocks of samples so memory stays bounded whatever the size
  (``mlmicro predict``); the output appears only when every block succeeded.
* :func:`coverage_report` -- only the coverage of a table.

Coverage
--------
``importance_share``, the share of the model's total taxon importance carried
by the model taxa found in the cohort, is the number checked against
``min_coverage`` (default :data:`DEFAULT_MIN_COVERAGE`, 0.5). A taxon's
importance is its mean |SHAP| over the cross-validation folds (XGBoost models),
else the final classifier's feature importance (random forest) or mean |coef|
(logistic); equal weights when neither names taxa (ILR balances). Missing
taxa the model hardly uses cost little; missing its main drivers refuses the
cohort. The report also gives the plain share of model taxa found and the
share of each sample's abundance (at the model's rank) that maps onto them.

Output
------
One row per sample: ``sample_id``, ``predicted_label`` and
``probability_<class>`` for each class of the model card. With
``top_strains=K``: ``top1_taxon``, ``top1_shap`` ... ``topK_taxon``,
``topK_shap``, the K taxa with the largest exact TreeSHAP values for that
sample (by magnitude), named for reading (:func:`mlmicro.taxonomy.display_name`).
SHAP values are in log-odds: positive pushes toward the positive class
(binary models) or toward the predicted class (multiclass models). A sample
whose abundance lies entirely in taxa the model does not know gets no
prediction (empty label, ``NaN`` probabilities) and is counted in the report.
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import ctypes.util
import gzip
import io
import os
import platform
import sys
import time
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from tqdm.auto import tqdm

from mlmicro.alignment import Alignment, align_columns, check_table, no_taxa_in_common
from mlmicro.exceptions import (
    ConfigError,
    CoverageError,
    InvalidTableError,
    MetadataError,
    ModelBundleError,
    OutputExistsError,
)
from mlmicro.io import atomic_write, read_metadata
from mlmicro.io.chunks import auto_chunk_size, read_table_chunks
from mlmicro.io.feature_taxonomy import TaxonomyLike
from mlmicro.io.writers import _extension
from mlmicro.model.bundle import load_model
from mlmicro.model.contributions import feature_contributions, supports_contributions
from mlmicro.model.labels import label_values
from mlmicro.model.metrics import score
from mlmicro.model.model import Model
from mlmicro.taxonomy import display_names

__all__ = [
    "DEFAULT_MIN_COVERAGE",
    "CoverageReport",
    "Validation",
    "PredictionResult",
    "PredictionRun",
    "PredictionWarning",
    "taxon_importance",
    "coverage_report",
    "cohort_labels",
    "predict_table",
    "predict_file",
]

#: Smallest share of the model's taxon importance a cohort must carry.
DEFAULT_MIN_COVERAGE = 0.5
_SHOWN_MISSING = 10
_VALIDATION_METRICS = {
    "roc_auc": "AUROC",
    "average_precision": "AUPRC",
    "balanced_accuracy": "balanced accuracy",
}


class PredictionWarning(UserWarning):
    """Something about a cohort the predictions' reader should know."""


# --------------------------------------------------------------------------- model
def _as_model(model: Model | str | os.PathLike[str]) -> Model:
    if isinstance(model, Model):
        return model
    path = Path(model)
    if path.suffix.lower() not in (".joblib", ".json", "") and path.is_file():
        raise ModelBundleError(
            f"{path} is not a model bundle: pass the .joblib file that mlmicro train saved "
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
        kind = type(model.pipeline[-1]).__name__
        raise ConfigError(
            f"--top-strains needs an XGBoost model (exact TreeSHAP), but this model's "
            f"classifier is {kind}; retrain with --model xgboost or leave out --top-strains."
        )


def taxon_importance(model: Model) -> tuple[pd.Series, str]:
    """Return the importance of each model taxon, and where it comes from.

    Parameters
    ----------
    model : Model

    Returns
    -------
    importance : pandas.Series
        Non-negative, indexed by :attr:`Model.features`; taxa the classifier
        never sees (filtered out) are 0.
    basis : str
        ``"mean |SHAP| over CV folds"``, ``"classifier importance"`` or
        ``"equal weights"`` (when no importance names taxa).
    """
    features = model.features
    folds = getattr(model.cv, "fold_importance", None)
    raw: pd.Series | None = None
    basis = "mean |SHAP| over CV folds"
    if folds is not None and not folds.empty:
        raw = folds.mean(axis=0)
    else:
        classifier = model.pipeline[-1]
        estimator = classifier[-1] if isinstance(classifier, Pipeline) else classifier
        basis = "classifier importance"
        if hasattr(estimator, "feature_importances_"):
            raw = pd.Series(np.asarray(estimator.feature_importances_), index=model.features_used)
        elif hasattr(estimator, "coef_"):
            coef = np.abs(np.atleast_2d(estimator.coef_)).mean(axis=0)
            raw = pd.Series(coef, index=model.features_used)
    importance = (
        pd.Series(0.0, index=features)
        if raw is None
        else raw.reindex(features).fillna(0.0).clip(lower=0.0).astype(float)
    )
    if not importance.sum() > 0:
        importance, basis = pd.Series(1.0, index=features), "equal weights"
    importance.index = pd.Index(features, dtype=object, name="taxon")
    return importance, basis


# ------------------------------------------------------------------------ coverage
@dataclass(frozen=True)
class CoverageReport:
    """How much of a model a cohort carries.

    Attributes
    ----------
    n_features : int
        Model taxa (its features at its rank).
    n_found : int
        Model taxa the cohort has a column for.
    feature_share : float
        ``n_found / n_features``.
    importance_share : float
        Share of the model's total taxon importance carried by the taxa found
        (checked against ``min_coverage``).
    importance_basis : str
        Where the importance comes from (see :func:`taxon_importance`).
    min_coverage : float
        The threshold applied to ``importance_share``.
    table_taxa : int
        The cohort's taxa at the model's rank.
    unknown_taxa : int
        Of those, taxa the model does not know (dropped).
    renamed : int
        Model taxa found only through a partial name that had to be completed
        (a species or bare name) or through their deepest names (other upper
        ranks), not by their full lineage.
    missing : pandas.DataFrame
        Model taxa the cohort lacks, most important first: ``taxon``
        (lineage), ``name`` (display name), ``importance``.
    rank : str or None
        The model's rank.
    n_samples : int or None
        Samples predicted (``None`` before any were).
    abundance_share_mean, abundance_share_min : float or None
        Mean and lowest, over samples, of the share of a sample's abundance
        (at the model's rank) that falls on model taxa.
    n_without_model_taxa : int
        Samples with no abundance on any model taxon (left unpredicted).
    """

    n_features: int
    n_found: int
    feature_share: float
    importance_share: float
    importance_basis: str
    min_coverage: float
    table_taxa: int
    unknown_taxa: int
    renamed: int
    missing: pd.DataFrame = field(repr=False)
    rank: str | None = None
    n_samples: int | None = None
    abundance_share_mean: float | None = None
    abundance_share_min: float | None = None
    n_without_model_taxa: int = 0

    @property
    def passed(self) -> bool:
        """Whether ``importance_share`` reaches ``min_coverage``."""
        return self.importance_share >= self.min_coverage

    def _missing_names(self, n: int = 3) -> str:
        shown = self.missing["name"].head(n).tolist()
        return ", ".join(shown) if shown else "none"

    def format(self, top: int = _SHOWN_MISSING) -> str:
        """Return the plain-text report printed by ``mlmicro predict``."""
        rank = self.rank or "deepest"
        lines = [
            f"coverage: {self.n_found} of {self.n_features} model taxa ({rank} rank) found "
            f"({self.feature_share:.1%}), carrying {self.importance_share:.1%} of the model's "
            f"importance ({self.importance_basis}; minimum {self.min_coverage:.0%})",
            f"  cohort taxa at {rank} rank: {self.table_taxa}; {self.n_found} are model taxa "
            f"({self.renamed} of them matched across naming styles), {self.unknown_taxa} "
            "unknown to the model (dropped)",
        ]
        if self.abundance_share_mean is not None:
            lines.append(
                f"  abundance on model taxa: {self.abundance_share_mean:.1%} of each sample's "
                f"on average (lowest {self.abundance_share_min:.1%})"
            )
        if self.n_without_model_taxa:
            lines.append(
                f"  {self.n_without_model_taxa} sample(s) carry no model taxon and were not "
                "predicted (empty label)"
            )
        if len(self.missing):
            lines.append(f"  most important missing taxa (of {len(self.missing)}):")
            for row in self.missing.head(top).itertuples(index=False):
                lines.append(f"    {row.importance:10.4g}  {row.name}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as plain values (JSON-ready); ``missing`` as records."""
        out = {k: v for k, v in self.__dict__.items() if k != "missing"}
        out["missing"] = self.missing.to_dict(orient="records")
        out["passed"] = self.passed
        return out


def _feature_coverage(model: Model, alignment: Alignment, min_coverage: float) -> CoverageReport:
    if not 0.0 <= min_coverage <= 1.0:
        raise ConfigError(f"min_coverage must be between 0 and 1, not {min_coverage}.")
    importance, basis = taxon_importance(model)
    found = alignment.found
    weights = importance.to_numpy()
    lacking = importance[~found].sort_values(ascending=False, kind="stable")
    missing = pd.DataFrame(
        {
            "taxon": lacking.index.astype(str),
            "name": display_names(list(lacking.index.astype(str))),
            "importance": lacking.to_numpy(),
        }
    )
    return CoverageReport(
        n_features=len(found),
        n_found=int(found.sum()),
        feature_share=float(found.mean()) if len(found) else 0.0,
        importance_share=float(weights[found].sum() / weights.sum()),
        importance_basis=basis,
        min_coverage=float(min_coverage),
        table_taxa=alignment.table_taxa,
        unknown_taxa=alignment.n_unknown,
        renamed=alignment.renamed,
        missing=missing,
        rank=model.rank,
    )


def _check_coverage(report: CoverageReport, alignment: Alignment, where: str) -> None:
    if report.n_found == 0:
        raise CoverageError(no_taxa_in_common(alignment, where))
    if not report.passed:
        raise CoverageError(
            f"{where} carries {report.n_found} of the model's {report.n_features} taxa, "
            f"{report.importance_share:.0%} of its importance, below the minimum coverage of "
            f"{report.min_coverage:.0%} (most important missing: {report._missing_names()}); "
            "check that the table is at or below the model's rank and of the same kind of "
            "data, or pass --min-coverage 0 to predict anyway."
        )


class _AbundanceTally:
    """Running mean and minimum of the per-sample abundance share."""

    def __init__(self) -> None:
        self.n = 0
        self.total = 0.0
        self.lowest = float("inf")
        self.empty = 0

    def add(self, shares: np.ndarray, empty: int) -> None:
        if len(shares):
            self.n += len(shares)
            self.total += float(shares.sum())
            self.lowest = min(self.lowest, float(shares.min()))
        self.empty += empty

    def finish(self, report: CoverageReport) -> CoverageReport:
        return replace(
            report,
            n_samples=self.n,
            abundance_share_mean=self.total / self.n if self.n else None,
            abundance_share_min=self.lowest if self.n else None,
            n_without_model_taxa=self.empty,
        )


def coverage_report(
    model: Model | str | os.PathLike[str],
    table: pd.DataFrame,
    *,
    min_coverage: float = DEFAULT_MIN_COVERAGE,
) -> CoverageReport:
    """Report how much of a model a cohort carries, without predicting.

    Parameters
    ----------
    model : Model or path
        A model, or the path of a saved bundle.
    table : pandas.DataFrame
        Samples x taxa in any lineage style, at or below the model's rank.
    min_coverage : float
        Threshold recorded in the report (nothing is refused here; see
        :attr:`CoverageReport.passed`).

    Returns
    -------
    CoverageReport
    """
    model = _as_model(model)
    values = check_table(table)
    alignment = align_columns(
        table.columns, model.features, rank=model.rank, totals=values.sum(axis=0)
    )
    report = _feature_coverage(model, alignment, min_coverage)
    tally = _AbundanceTally()
    aligned = alignment.apply(values)
    shares = alignment.abundance_share(values, aligned)
    tally.add(shares, int((aligned.sum(axis=1) <= 0).sum()))
    return tally.finish(report)


# ----------------------------------------------------------------------- labels
def cohort_labels(
    model: Model,
    metadata: pd.DataFrame,
    label: str | None = None,
    *,
    positive: Sequence[str] | None = None,
    negative: Sequence[str] | None = None,
) -> pd.Series:
    """Return the true class of each labelled sample, in the model's class names.

    Values are mapped as in training (the model card's ``task``): with
    ``positive_values``, those values form the positive class and
    ``negative_values`` (or, if none were given, every other value) the
    negative one; values in neither are left out. A multiclass model keeps
    values that are one of its classes. Another cohort may spell its labels
    differently (``no`` for ``Control``): ``positive`` / ``negative`` then
    name its values for the model's two classes.

    Parameters
    ----------
    model : Model
    metadata : pandas.DataFrame
        Sample metadata indexed by sample ID.
    label : str, optional
        The label column; default the one the model was trained on.
    positive, negative : sequence of str, optional
        The cohort's values for the model's positive and negative class
        (binary models; default the model card's).

    Returns
    -------
    pandas.Series
        Class per labelled sample, indexed by sample ID.

    Raises
    ------
    MetadataError
        If the column is missing, or ``positive`` is given for a multiclass model.

    Examples
    --------
    >>> cohort_labels(model, metadata, "Var", positive=["CD"], negative=["no"])  # doctest: +SKIP
    """
    task = model.card.get("task", {})
    label = label or task.get("label")
    values = label_values(metadata, label)
    binary = model.positive_class is not None and len(model.classes) == 2
    if (positive or negative) and not binary:
        raise MetadataError(
            "--positive/--negative map labels onto a binary model's classes, but this model "
            f"has {len(model.classes)} classes ({', '.join(model.classes)}); leave them out."
        )
    if negative and not positive:
        raise MetadataError("--negative needs --positive too; name the positive class values.")
    if positive:
        positive, negative = [str(v) for v in positive], [str(v) for v in negative or []]
    else:
        positive = [str(v) for v in task.get("positive_values") or []]
        negative = [str(v) for v in task.get("negative_values") or []]
    if positive and binary:
        negative_class = next(c for c in model.classes if c != model.positive_class)
        if negative:
            values = values[values.isin(positive + negative)]
        y = values.where(~values.isin(positive), model.positive_class)
        y = y.where(values.isin(positive), negative_class)
    else:
        y = values[values.isin(model.classes)]
    y.name = label
    y.index = pd.Index(y.index.astype(str), name="sample_id")
    return y.astype(object)


@dataclass(frozen=True)
class Validation:
    """How well a model's predictions match a cohort's known labels (external validation).

    Attributes
    ----------
    label : str
        The metadata column the labels come from.
    n_samples : int
        Labelled samples that were predicted and scored.
    class_counts : dict
        Scored samples per true class.
    metrics : dict
        :func:`mlmicro.model.metrics.score` of the scored samples (AUROC is
        ``NaN`` when a class is absent).
    n_unscored : int
        Labelled samples not scored: absent from the table or not predicted.
    """

    label: str
    n_samples: int
    class_counts: dict[str, int]
    metrics: dict[str, float]
    n_unscored: int = 0

    def format(self) -> str:
        """Return the plain-text lines printed by ``mlmicro predict``."""
        counts = ", ".join(f"{k} {v}" for k, v in self.class_counts.items())
        lines = [
            f"external validation on {self.label!r}: {self.n_samples} labelled samples "
            f"({counts})"
            + (f"; {self.n_unscored} labelled samples not scored" if self.n_unscored else "")
        ]
        missing = [c for c, n in self.class_counts.items() if n == 0]
        for key, name in _VALIDATION_METRICS.items():
            value = self.metrics[key]
            shown = f"{value:.3f}" if np.isfinite(value) else f"n/a (no {', '.join(missing)})"
            lines.append(f"  {name:<18} {shown}")
        return "\n".join(lines)


class _LabelTally:
    def __init__(self, labels: pd.Series | None, classes: list[str]) -> None:
        self.labels = labels
        self.ids: list[np.ndarray] = []
        self.proba: list[np.ndarray] = []
        self.columns = [f"probability_{c}" for c in classes]

    def add(self, out: pd.DataFrame) -> None:
        if self.labels is None:
            return
        predicted = out["predicted_label"].notna().to_numpy()
        mask = out["sample_id"].isin(self.labels.index).to_numpy() & predicted
        if mask.any():
            self.ids.append(out["sample_id"].to_numpy()[mask])
            self.proba.append(out[self.columns].to_numpy(dtype=np.float64)[mask])

    def finish(self, model: Model) -> Validation | None:
        if self.labels is None:
            return None
        ids = np.concatenate(self.ids) if self.ids else np.empty(0, dtype=object)
        if len(ids) == 0:
            warnings.warn(
                f"No predicted sample has a usable label in column {self.labels.name!r}; "
                "check that the metadata's sample IDs match the table's (--sample-id-column) "
                "and that its values are the model's classes.",
                PredictionWarning,
                stacklevel=3,
            )
            return None
        proba = np.concatenate(self.proba)
        y = self.labels.loc[ids].to_numpy()
        metrics = score(y, proba, model.classes, model.positive_class)
        counts = pd.Series(y).value_counts()
        return Validation(
            label=str(self.labels.name),
            n_samples=len(ids),
            class_counts={c: int(counts.get(c, 0)) for c in model.classes},
            metrics=metrics,
            n_unscored=len(self.labels) - len(ids),
        )


# -------------------------------------------------------------------- predicting
class _Predictor:
    """Applies a model's frozen pipeline to blocks of samples already aligned."""

    def __init__(self, model: Model, alignment: Alignment, *, top_strains: int, jobs: int) -> None:
        self.alignment = alignment
        # the classifier is copied so that setting its threads leaves the model as it was
        classifier = copy.deepcopy(model.pipeline[-1])
        self.classifier = Pipeline([("classifier", classifier)])
        if supports_contributions(self.classifier):
            classifier.set_params(n_jobs=jobs)
            classifier.get_booster().set_param({"nthread": jobs})
        elif "n_jobs" in classifier.get_params():
            classifier.set_params(n_jobs=jobs)
        # every step after the rank collapse (which the alignment replaces), frozen
        self.steps = model.pipeline[1:-1] if len(model.pipeline) > 2 else None
        self.classes = list(model.classes)
        self.top = top_strains
        self.names = np.asarray(display_names(model.features_used), dtype=object)
        self.columns = (
            ["sample_id", "predicted_label"]
            + [f"probability_{c}" for c in self.classes]
            + [f"top{i}_{part}" for i in range(1, top_strains + 1) for part in ("taxon", "shap")]
        )

    def predict(self, block: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, int]:
        """Predict one block; return its output rows, abundance shares, empty samples."""
        values = block.to_numpy(dtype=np.float64)
        aligned = self.alignment.apply(values)
        mapped = aligned.sum(axis=1)
        shares = self.alignment.abundance_share(values, mapped)
        ok = mapped > 0
        n = len(block)
        proba = np.full((n, len(self.classes)), np.nan)
        labels = np.full(n, None, dtype=object)
        top_names = np.full((n, self.top), None, dtype=object)
        top_values = np.full((n, self.top), np.nan)
        if ok.any():
            inputs = aligned if ok.all() else aligned[ok]
            features = self.steps.transform(inputs) if self.steps is not None else inputs
            del inputs, aligned  # free the block's copies before the classifier runs
            proba[ok] = self.classifier.predict_proba(features)
            predicted = np.argmax(proba[ok], axis=1)
            labels[ok] = np.asarray(self.classes, dtype=object)[predicted]
            if self.top:
                names, shap = self._top(features, predicted)
                top_names[ok], top_values[ok] = names, shap
        out: dict[str, Any] = {
            "sample_id": np.asarray(block.index.astype(str), dtype=object),
            "predicted_label": labels,
        }
        for j, name in enumerate(self.classes):
            out[f"probability_{name}"] = proba[:, j]
        for i in range(self.top):
            out[f"top{i + 1}_taxon"] = top_names[:, i]
            out[f"top{i + 1}_shap"] = top_values[:, i]
        return pd.DataFrame(out, columns=self.columns), shares, int((~ok).sum())

    def _top(self, features: np.ndarray, predicted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        frame = pd.DataFrame(features, columns=range(features.shape[1]))
        values, _, _ = feature_contributions(self.classifier, frame, features=frame)
        if values.ndim == 3:  # multiclass: toward the predicted class
            values = values[np.arange(len(values)), predicted, :]
        k = min(self.top, values.shape[1])
        magnitude = np.abs(values)
        if k < values.shape[1]:
            picked = np.argpartition(-magnitude, k - 1, axis=1)[:, :k]
        else:
            picked = np.broadcast_to(np.arange(k), (len(values), k)).copy()
        order = np.argsort(-np.take_along_axis(magnitude, picked, axis=1), axis=1, kind="stable")
        picked = np.take_along_axis(picked, order, axis=1)
        shap = np.take_along_axis(values, picked, axis=1)
        names = self.names[picked]
        names[shap == 0] = None
        shap = np.where(shap == 0, np.nan, shap)
        pad = self.top - k
        if pad:
            names = np.hstack([names, np.full((len(values), pad), None, dtype=object)])
            shap = np.hstack([shap, np.full((len(values), pad), np.nan)])
        return names, shap


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc mallopt parameters
_GLIBC_DEFAULT_THRESHOLD = 128 * 1024


def _glibc() -> ctypes.CDLL | None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:  # pragma: no cover - glibc without a loadable libc
        return None


@contextlib.contextmanager
def _reuse_freed_blocks() -> Iterator[None]:
    """Let glibc reuse freed block-sized buffers during a prediction run.

    Each block passes through several temporaries of ~80 MB (aligned,
    closed, filtered). glibc serves allocations that large with fresh pages,
    which the kernel zeroes on first touch -- as costly as the arithmetic
    itself. Raising the mmap and trim thresholds for the run keeps freed
    buffers in the heap for the next block; afterwards the defaults are set
    again and the memory is returned to the system. Elsewhere a no-op.
    """
    libc = _glibc()
    if libc is None:
        yield
        return
    libc.mallopt(_M_MMAP_THRESHOLD, 1 << 30)
    libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30)
    try:
        yield
    finally:
        libc.mallopt(_M_MMAP_THRESHOLD, _GLIBC_DEFAULT_THRESHOLD)
        libc.mallopt(_M_TRIM_THRESHOLD, _GLIBC_DEFAULT_THRESHOLD)
        libc.malloc_trim(0)


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
    """

    predictions: pd.DataFrame
    coverage: CoverageReport
    validation: Validation | None = None


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
    """

    output: Path
    n_samples: int
    class_counts: dict[str, int]
    coverage: CoverageReport
    validation: Validation | None
    seconds: float

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
) -> pd.Series | None:
    if metadata is None:
        if label is not None or positive or negative:
            raise MetadataError(
                "--label, --positive and --negative need --metadata, the file holding the labels."
            )
        return None
    if not isinstance(metadata, pd.DataFrame):
        metadata = read_metadata(metadata, sample_id_column=sample_id_column)
    return cohort_labels(model, metadata, label, positive=positive, negative=negative)


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
) -> PredictionResult:
    """Predict a cohort held in memory.

    Parameters
    ----------
    model : Model or path
        A model, or a saved bundle (digest-checked; see :func:`mlmicro.load_model`).
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
    >>> result = predict_table(load_model("models/cd.joblib"), table)  # doctest: +SKIP
    >>> print(result.coverage.format())  # doctest: +SKIP
    >>> result.predictions["probability_CD"]  # doctest: +SKIP
    """
    model = _as_model(model)
    _check_top_strains(model, top_strains)
    values = check_table(table)
    if not table.index.is_unique:
        sample = table.index[table.index.duplicated()][0]
        raise InvalidTableError(
            f"The sample ID {sample!r} appears more than once in the table; give each sample "
            "a unique ID."
        )
    labels = _labels_from(model, metadata, label, positive=positive, negative=negative)
    alignment = align_columns(
        table.columns, model.features, rank=model.rank, totals=values.sum(axis=0)
    )
    report = _feature_coverage(model, alignment, min_coverage)
    _check_coverage(report, alignment, "the table")
    predictor = _Predictor(model, alignment, top_strains=top_strains, jobs=_threads(jobs))
    abundance, scored = _AbundanceTally(), _LabelTally(labels, model.classes)
    parts = []
    step = auto_chunk_size(table.shape[1])
    with _reuse_freed_blocks():
        for start in range(0, len(table), step):
            out, shares, empty = predictor.predict(table.iloc[start : start + step])
            abundance.add(shares, empty)
            scored.add(out)
            parts.append(out)
    predictions = pd.concat(parts, ignore_index=True).set_index("sample_id")
    predictions.index = pd.Index(predictions.index, dtype="str", name="sample_id")
    return PredictionResult(
        predictions=predictions,
        coverage=abundance.finish(report),
        validation=scored.finish(model),
    )


# ------------------------------------------------------------------------ output
class _Writer:
    """Writes output blocks to an open file: TSV / CSV (optionally gzip) or Parquet."""

    def __init__(self, path: Path, target: Path, columns: Sequence[str]) -> None:
        extension, compress = _extension(target)
        self.parquet = extension == ".parquet"
        self.first = True
        self.sep = "," if extension == ".csv" else "\t"
        if self.parquet:
            import pyarrow as pa
            import pyarrow.parquet as pq

            fields = [
                pa.field(
                    c,
                    pa.float64()
                    if c.startswith("probability_") or c.endswith("_shap")
                    else pa.string(),
                )
                for c in columns
            ]
            self.schema = pa.schema(fields)
            self.handle: Any = pq.ParquetWriter(path, self.schema)
        elif compress:
            self._file = open(path, "wb")
            compressed = gzip.GzipFile(filename="", mode="wb", fileobj=self._file, mtime=0)
            self.handle = io.TextIOWrapper(compressed, encoding="utf-8", newline="")
        else:
            self.handle = open(path, "w", encoding="utf-8", newline="")

    def write(self, frame: pd.DataFrame) -> None:
        if self.parquet:
            import pyarrow as pa

            self.handle.write_table(
                pa.Table.from_pandas(frame, schema=self.schema, preserve_index=False)
            )
        else:
            frame.to_csv(
                self.handle, sep=self.sep, index=False, header=self.first, lineterminator="\n"
            )
        self.first = False

    def close(self) -> None:
        self.handle.close()
        if getattr(self, "_file", None) is not None:
            self._file.close()


def _check_output_path(output: str | os.PathLike[str], *, force: bool) -> Path:
    """Check that predictions can be written to ``output`` before any work is done."""
    path = Path(output)
    _extension(path)
    if path.exists() and not force:
        raise OutputExistsError(
            f"Output file {path} already exists; pass --force to overwrite it or choose "
            "another path."
        )
    if path.is_dir():
        raise OutputExistsError(f"Output path {path} is a folder; give a file name.")
    return path


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
    output = _check_output_path(output, force=force)
    model = _as_model(model)
    _check_top_strains(model, top_strains)
    threads = _threads(jobs)
    labels = _labels_from(model, metadata, label, sample_id_column, positive, negative)
    chunks = read_table_chunks(
        table, chunk_size=chunk_size, format=format, orientation=orientation, taxonomy=taxonomy
    )
    blocks = iter(chunks)
    first = next(blocks)
    whole = chunks.table if chunks.table is not None else first
    alignment = align_columns(
        chunks.columns,
        model.features,
        rank=model.rank,
        totals=whole.sum(axis=0).to_numpy(dtype=np.float64),
    )
    report = _feature_coverage(model, alignment, min_coverage)
    _check_coverage(report, alignment, str(table))
    if on_coverage is not None:
        on_coverage(report)
    predictor = _Predictor(model, alignment, top_strains=top_strains, jobs=threads)
    abundance, scored = _AbundanceTally(), _LabelTally(labels, model.classes)
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
    with bar, _reuse_freed_blocks(), atomic_write(output, mode=None) as temporary:
        writer = _Writer(temporary, output, predictor.columns)
        try:
            for block in stream:
                out, shares, empty = predictor.predict(block)
                writer.write(out)
                abundance.add(shares, empty)
                scored.add(out)
                for name, count in out["predicted_label"].value_counts().items():
                    counts[str(name)] += int(count)
                n_samples += len(out)
                bar.update(len(out))
        finally:
            writer.close()
    return PredictionRun(
        output=output,
        n_samples=n_samples,
        class_counts=counts,
        coverage=abundance.finish(report),
        validation=scored.finish(model),
        seconds=time.perf_counter() - started,
    )
