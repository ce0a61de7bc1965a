"""How much of a model a cohort carries: the coverage report of ``mlmicro predict``.

``importance_share``, the share of the model's total taxon importance carried
by the model taxa found in the cohort, is the number checked against
``min_coverage`` (default :data:`DEFAULT_MIN_COVERAGE`, 0.5). A taxon's
importance is its mean |SHAP| over the cross-validation folds (XGBoost models),
else the final classifier's feature importance (random forest) or mean |coef|
(logistic); equal weights when neither names taxa (ILR balances). Missing
taxa the model hardly uses cost little; missing its main drivers refuses the
cohort. The report also gives the plain share of model taxa found and the
share of each sample's abundance (at the model's rank) that maps onto them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from mlmicro.alignment import Alignment, no_taxa_in_common
from mlmicro.exceptions import ConfigError, CoverageError
from mlmicro.model.model import Model
from mlmicro.taxonomy import display_names

__all__ = [
    "DEFAULT_MIN_COVERAGE",
    "AbundanceTally",
    "CoverageReport",
    "check_coverage",
    "coverage_report",
    "feature_coverage",
    "taxon_importance",
]

#: Smallest share of the model's taxon importance a cohort must carry.
DEFAULT_MIN_COVERAGE = 0.5
SHOWN_MISSING = 10


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

    def format(self, top: int = SHOWN_MISSING) -> str:
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


def feature_coverage(model: Model, alignment: Alignment, min_coverage: float) -> CoverageReport:
    """Return the coverage report of an alignment (before any sample is predicted)."""
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


def check_coverage(report: CoverageReport, alignment: Alignment, where: str) -> None:
    """Refuse a cohort that shares no taxon with the model or carries too little of it."""
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


class AbundanceTally:
    """Running mean and minimum of the per-sample abundance share."""

    def __init__(self) -> None:
        self.n = 0
        self.total = 0.0
        self.lowest = float("inf")
        self.empty = 0

    def add(self, shares: np.ndarray, empty: int) -> None:
        """Count one block's abundance shares and its samples left unpredicted."""
        if len(shares):
            self.n += len(shares)
            self.total += float(shares.sum())
            self.lowest = min(self.lowest, float(shares.min()))
        self.empty += empty

    def finish(self, report: CoverageReport) -> CoverageReport:
        """Return ``report`` with the per-sample figures filled in."""
        return replace(
            report,
            n_samples=self.n,
            abundance_share_mean=self.total / self.n if self.n else None,
            abundance_share_min=self.lowest if self.n else None,
            n_without_model_taxa=self.empty,
        )


def coverage_report(
    model: Model,
    table: pd.DataFrame,
    *,
    min_coverage: float = DEFAULT_MIN_COVERAGE,
) -> CoverageReport:
    """Report how much of a model a cohort carries, without predicting.

    Parameters
    ----------
    model : Model
    table : pandas.DataFrame
        Samples x taxa in any lineage style, at or below the model's rank.
    min_coverage : float
        Threshold recorded in the report (nothing is refused here; see
        :attr:`CoverageReport.passed`).

    Returns
    -------
    CoverageReport
    """
    applied = model.apply(table)
    alignment = model.pipeline[0].align(
        list(table.columns), table.to_numpy(dtype=np.float64).sum(axis=0)
    )
    report = feature_coverage(model, alignment, min_coverage)
    tally = AbundanceTally()
    tally.add(applied.abundance_share, applied.n_unpredicted)
    return tally.finish(report)
