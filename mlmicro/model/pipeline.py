"""Assemble the scikit-learn pipeline a model is made of.

Every data-dependent step lives inside the pipeline, so cross-validation refits
all of them in each fold and a saved model applies them frozen to new cohorts::

    rank        RankCollapser      collapse to the configured rank, align taxa
    closure     Closure            relative abundance of each sample
    filter      PrevalenceFilter   prevalence / abundance filter
    zeros       ZeroReplacement    (log-ratio transforms only)
    transform   CLR | ALR | ILR | LogTransform   (none for "relative")
    classifier  XGBoost | random forest | L1 logistic regression
"""

from __future__ import annotations

from sklearn.pipeline import Pipeline

from mlmicro.config import TrainConfig
from mlmicro.exceptions import ConfigError
from mlmicro.model.autorank import AUTO_RANK
from mlmicro.model.estimators import make_classifier
from mlmicro.transforms.table import preprocessing_steps

__all__ = ["build_pipeline", "classifier_params"]


def classifier_params(config: TrainConfig) -> dict:
    """Return the user's hyperparameters for the configured classifier."""
    return {
        "xgboost": config.xgboost,
        "random-forest": config.random_forest,
        "logistic-l1": config.logistic_l1,
    }[config.model]


def build_pipeline(config: TrainConfig, *, threads: int | None = None) -> Pipeline:
    """Return the unfitted pipeline described by ``config``.

    Parameters
    ----------
    config : TrainConfig
        Rank, preprocessing and classifier settings.
    threads : int or None
        Threads the classifier may use (``None``: all cores).

    Returns
    -------
    sklearn.pipeline.Pipeline
        Takes a samples x taxa DataFrame (canonical lineage columns, any rank)
        and ends in a classifier with ``predict_proba``.
    """
    if config.rank == AUTO_RANK:
        raise ConfigError(
            "rank 'auto' is chosen from the training table by mlmicro.train; pass a rank "
            "(e.g. rank='species', or 'none') to build a pipeline directly."
        )
    prep = config.preprocessing
    steps = preprocessing_steps(
        prep.transform,
        rank=config.rank,
        zeros=prep.zeros,
        min_prevalence=prep.min_prevalence,
        min_abundance=prep.min_abundance,
    )
    classifier = make_classifier(
        config.model, classifier_params(config), seed=config.seed, threads=threads
    )
    return Pipeline([*steps, ("classifier", classifier)])
