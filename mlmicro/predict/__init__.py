"""Batch prediction for new cohorts: coverage, predictions, external validation.

* :mod:`mlmicro.predict.coverage` -- how much of a model a cohort carries;
* :mod:`mlmicro.predict.validation` -- scores against a cohort's known labels;
* :mod:`mlmicro.predict.trust` -- applicability-domain counts, threshold, PPV / NPV;
* :mod:`mlmicro.predict.batch` -- :func:`predict_table` and :func:`predict_file`.
"""

from mlmicro.predict.batch import (
    PredictionResult,
    PredictionRun,
    as_model,
    predict_file,
    predict_table,
)
from mlmicro.predict.coverage import (
    DEFAULT_MIN_COVERAGE,
    CoverageReport,
    coverage_report,
    taxon_importance,
)
from mlmicro.predict.trust import OutOfDomainWarning, TrustSummary
from mlmicro.predict.validation import PredictionWarning, Validation, cohort_labels

__all__ = [
    "DEFAULT_MIN_COVERAGE",
    "CoverageReport",
    "OutOfDomainWarning",
    "TrustSummary",
    "PredictionResult",
    "PredictionRun",
    "PredictionWarning",
    "Validation",
    "as_model",
    "cohort_labels",
    "coverage_report",
    "predict_file",
    "predict_table",
    "taxon_importance",
]
