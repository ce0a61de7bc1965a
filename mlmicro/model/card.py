"""The model card: what a model is, how it was trained and how well it did, as typed data.

A :class:`ModelCard` travels with every model (``Model.card``) and is written
as JSON beside a saved bundle, readable without loading the model. Every
consumer (the CLI, reports, prediction) reads its attributes, never string
keys of a dict; :meth:`ModelCard.to_dict` / :meth:`ModelCard.from_dict` are the
only places that know the JSON layout, versioned by :data:`CARD_SCHEMA_VERSION`.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from mlmicro.exceptions import ModelBundleError
from mlmicro.model.classwise import ClassBreakdown
from mlmicro.model.confounders import ColumnScreen
from mlmicro.model.covariates import CovariateBaseline
from mlmicro.model.labels import Task
from mlmicro.model.trust import TrustReport

__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_VERSION",
    "CARD_SCHEMA_VERSION",
    "ModelCard",
    "library_versions",
]

#: The ``format`` field of every mlmicro model card.
BUNDLE_FORMAT = "mlmicro-model"
#: Version of the bundle file layout (1: joblib pickle; 2: data-only archive).
BUNDLE_VERSION = 2
#: Version of the card's JSON schema (fields and their meaning). 3: ``cv_metrics.<m>.ci95`` is
#: a bootstrap interval (``cv.interval`` says how), ``std`` the CV spread (``None`` with one
#: repeat); ``dropped`` counts every reason; ``cv.tuning`` keeps the tuned parameters. The
#: optional ``classwise`` (per-class AUROC, confusion matrix) is absent from older v3 cards.
CARD_SCHEMA_VERSION = 3


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries a bundle depends on."""
    out = {"python": platform.python_version()}
    for name in ("mlmicro", "scikit-learn", "xgboost", "numpy", "pandas", "scipy", "shap"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:  # pragma: no cover - all are dependencies
            out[name] = "not installed"
    return out


@dataclass
class ModelCard:
    """What a model is and how it was made.

    Attributes
    ----------
    task : Task
        Label column, classes and which values form them.
    n_samples : int
        Training samples.
    rank : str or None
        The rank the model works at.
    features : list of str
        The model's input schema (canonical lineages at ``rank``).
    features_used : list of str
        The classifier's features after filtering and transformation.
    config : dict
        The resolved training configuration (:meth:`TrainConfig.to_dict`).
    cv : dict
        Cross-validation scheme: ``scheme``, ``folds``, ``repeats``,
        ``per_repeat``, ``per_study``, ``permutation``, ``interval`` (how
        ``ci95`` was computed) and ``tuning`` (the grid and the parameters
        chosen per outer fold and for the final fit; ``None`` without tuning).
    cv_metrics : dict
        Per metric: ``mean`` over repeats, ``std`` (the CV spread: sd across
        repeats, ``None`` with one repeat) and ``ci95`` (bootstrap 95% CI over
        the out-of-fold predictions; ``[None, None]`` where undefined).
    training_table : dict
        Source, fingerprint and shape of the training table.
    versions : dict
        Library versions the model was made with.
    created : str
        ISO time stamp.
    dropped : dict
        What training left out, counted (:func:`mlmicro.model.accounting.count_dropped`):
        ``samples``, ``samples_without_metadata``, ``metadata_without_table``,
        ``missing_label``, ``in_no_class``, ``empty_samples``,
        ``features_without_lineage``.
        What training left out, counted: ``samples`` (no label or in no class).
    confounders : list of ColumnScreen
        Every metadata column screened against the label
        (:func:`mlmicro.model.confounders.screen_confounders`).
    covariates : CovariateBaseline or None
        The covariate baseline, when covariates were given
        (:func:`mlmicro.model.covariates.covariate_baseline`).
    name : str or None
        The bundle's name (set when saved).
    bundle : dict or None
        The saved file, its archive format and the id of the key that signed it
        (set when saved).
        The saved file and its SHA-256 (set when saved).
    trust : TrustReport or None
        Calibration, operating point and applicability domain measured in CV,
        and any recalibration for a new site.
    rank_choice : dict or None
        How the rank was chosen when the configuration said ``auto``
        (``{"rank", "auto", "reason"}``; see :mod:`mlmicro.model.autorank`).
    classwise : ClassBreakdown or None
        Per-class AUROC (multiclass, one-vs-rest) and the out-of-fold
        confusion matrix (:func:`mlmicro.model.classwise.class_breakdown`);
        ``None`` in cards written before it was added.
    """

    task: Task
    n_samples: int
    rank: str | None
    features: list[str]
    features_used: list[str]
    config: dict[str, Any]
    cv: dict[str, Any] = field(default_factory=dict)
    cv_metrics: dict[str, Any] = field(default_factory=dict)
    training_table: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=library_versions)
    created: str = ""
    dropped: dict[str, Any] = field(default_factory=dict)
    confounders: list[ColumnScreen] = field(default_factory=list)
    covariates: CovariateBaseline | None = None
    name: str | None = None
    bundle: dict[str, Any] | None = None
    trust: TrustReport | None = None
    rank_choice: dict[str, Any] | None = None
    classwise: ClassBreakdown | None = None

    @property
    def classes(self) -> list[str]:
        """Class names in model order."""
        return list(self.task.classes)

    @property
    def positive_class(self) -> str | None:
        """The class binary metrics score."""
        return self.task.positive_class

    @property
    def model_type(self) -> str:
        """The classifier (``xgboost``, ``random-forest``, ...)."""
        return str(self.config.get("model", "?"))

    def metric(self, name: str) -> Mapping[str, Any]:
        """Return the CV summary of one metric (empty when not computed)."""
        return self.cv_metrics.get(name) or {}

    def with_bundle(self, *, name: str, file: str, sha256: str) -> ModelCard:
        """Return a copy naming the saved bundle file and its digest."""
        return replace(self, name=name, bundle={"file": file, "sha256": sha256})

    def to_dict(self) -> dict[str, Any]:
        """Return the card as JSON-ready plain values."""
        return {
            "format": BUNDLE_FORMAT,
            "format_version": BUNDLE_VERSION,
            "schema_version": CARD_SCHEMA_VERSION,
            "name": self.name,
            "created": self.created,
            "task": self.task.to_dict(),
            "classes": self.classes,
            "positive_class": self.positive_class,
            "n_samples": self.n_samples,
            "rank": self.rank,
            "rank_choice": self.rank_choice,
            "features": list(self.features),
            "n_features": len(self.features),
            "features_used": list(self.features_used),
            "config": self.config,
            "cv": self.cv,
            "cv_metrics": self.cv_metrics,
            "dropped": self.dropped,
            "confounders": [c.to_dict() for c in self.confounders],
            "covariates": None if self.covariates is None else self.covariates.to_dict(),
            "training_table": self.training_table,
            "versions": self.versions,
            "bundle": self.bundle,
            "trust": None if self.trust is None else self.trust.to_dict(),
            "classwise": None if self.classwise is None else self.classwise.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "the model card") -> ModelCard:
        """Build a card from :meth:`to_dict` output.

        Raises
        ------
        ModelBundleError
            If ``data`` is not an mlmicro card of a schema this version reads.
        """
        if not isinstance(data, Mapping) or data.get("format") != BUNDLE_FORMAT:
            raise ModelBundleError(
                f"{where} is not an mlmicro model card; pass a file made by mlmicro train."
            )
        schema = data.get("schema_version")
        if schema != CARD_SCHEMA_VERSION:
            raise ModelBundleError(
                f"{where} uses card schema {schema}, this mlmicro reads schema "
                f"{CARD_SCHEMA_VERSION}; retrain the model with this version."
            )
        try:
            return cls(
                task=Task.from_dict(data["task"]),
                n_samples=int(data["n_samples"]),
                rank=data.get("rank"),
                rank_choice=data.get("rank_choice"),
                features=[str(f) for f in data["features"]],
                features_used=[str(f) for f in data["features_used"]],
                config=dict(data["config"]),
                cv=dict(data.get("cv") or {}),
                cv_metrics=dict(data.get("cv_metrics") or {}),
                training_table=dict(data.get("training_table") or {}),
                versions={str(k): str(v) for k, v in (data.get("versions") or {}).items()},
                created=str(data.get("created") or ""),
                dropped=dict(data.get("dropped") or {}),
                confounders=[ColumnScreen.from_dict(c) for c in data["confounders"]],
                covariates=None
                if data["covariates"] is None
                else CovariateBaseline.from_dict(data["covariates"]),
                name=data.get("name"),
                bundle=data.get("bundle"),
                trust=None if data.get("trust") is None else TrustReport.from_dict(data["trust"]),
                classwise=None
                if data.get("classwise") is None
                else ClassBreakdown.from_dict(data["classwise"]),
            )
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise ModelBundleError(
                f"{where} is missing or has a malformed field ({type(exc).__name__}: {exc}); "
                "retrain the model."
            ) from None
