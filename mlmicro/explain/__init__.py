"""SHAP explanations of a trained model, keyed by taxon; nothing here fits anything.

* :func:`explain` -- exact TreeSHAP values of a model over a cohort, computed on
  the model's one application path (:mod:`mlmicro.model.apply`);
* :class:`Explanation` -- those values mapped back to taxa, with directions,
  prevalence and abundance per class and cross-validation stability.
"""

from mlmicro.explain.compute import explain, labels_from_metadata
from mlmicro.explain.explanation import DIRECTION_THRESHOLD, Explanation

__all__ = ["DIRECTION_THRESHOLD", "Explanation", "explain", "labels_from_metadata"]
