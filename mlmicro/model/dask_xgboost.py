"""The final fit with XGBoost's Dask interface, for tables too large for one worker.

``final_fit="dask"`` (``mlmicro train --scheduler ADDRESS --final-fit dask``)
trains the saved model with :class:`xgboost.dask.DaskXGBClassifier`: the
preprocessing steps (rank collapse, closure, prevalence filter, transform)
are fitted here as usual, the transformed feature matrix is split into one
row block per worker and scattered, and XGBoost trains one booster across the
workers (each holds only its block, and they exchange gradient histograms).
The booster is then loaded into an ordinary :class:`xgboost.XGBClassifier`,
so the saved bundle is the same kind of pipeline as a locally trained one and
predicts and explains without Dask.

Distributed training sketches feature quantiles per block, so the booster is
close to, not bit-identical with, the one a single machine would grow. The
cross-validation (which measures the model) is unaffected: it runs the usual
single-machine fits, on the cluster.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from xgboost import XGBClassifier

from mlmicro.config import TrainConfig
from mlmicro.exceptions import ClusterError, ConfigError
from mlmicro.model.estimators import balanced_sample_weight
from mlmicro.model.parallel import DaskRunner, Runner, import_distributed
from mlmicro.model.pipeline import build_pipeline

__all__ = ["FINAL_FITS", "check_final_fit", "fit_final_dask"]

#: Where the final model can be fitted.
FINAL_FITS: tuple[str, ...] = ("local", "dask")


def check_final_fit(final_fit: str, config: TrainConfig, runner: Runner) -> None:
    """Check a ``final_fit`` choice before any work is done.

    Raises
    ------
    ConfigError
        If the choice is unknown, or ``"dask"`` is asked for without a Dask
        scheduler, for a classifier other than XGBoost or for one with a
        random forest in its booster (``xgboost.forest_trees``).
    """
    if final_fit not in FINAL_FITS:
        raise ConfigError(f"--final-fit must be one of {', '.join(FINAL_FITS)}; got {final_fit!r}.")
    if final_fit == "local":
        return
    if config.model != "xgboost":
        raise ConfigError(
            f"--final-fit dask trains with XGBoost's Dask interface; the model is "
            f"{config.model!r}. Use --model xgboost or --final-fit local."
        )
    if config.xgboost.get("forest_trees", 0):
        raise ConfigError(
            "--final-fit dask trains the boosted forest alone, without the random forest that "
            "xgboost.forest_trees adds; set xgboost.forest_trees = 0 or use --final-fit local."
        )
    if not isinstance(runner, DaskRunner):
        raise ConfigError(
            "--final-fit dask needs a Dask cluster; pass --scheduler (e.g. local:4 or "
            "tcp://host:8786) or set MLMICRO_SCHEDULER."
        )


def _blocks(client: Any, values: np.ndarray, rows: list[np.ndarray]) -> Any:
    import dask.array as da

    futures = client.scatter([values[r] for r in rows])
    parts = [
        da.from_delayed(f, shape=(len(r), *values.shape[1:]), dtype=values.dtype)
        for f, r in zip(futures, rows, strict=True)
    ]
    return da.concatenate(parts)


def fit_final_dask(
    table: pd.DataFrame,
    y_codes: np.ndarray,
    *,
    config: TrainConfig,
    runner: DaskRunner,
    params: dict[str, Any] | None = None,
    threads: int | None = None,
) -> Pipeline:
    """Fit the configured XGBoost pipeline on all samples across a Dask cluster.

    Parameters
    ----------
    table : pandas.DataFrame
        Samples x taxa.
    y_codes : ndarray
        Class index per sample.
    config : TrainConfig
        An ``xgboost`` configuration.
    runner : DaskRunner
        The cluster to train on.
    params : dict, optional
        Tuned pipeline parameters (``classifier__...``) to apply first.
    threads : int or None
        Threads of the saved classifier when it predicts (``None``: all cores).

    Returns
    -------
    sklearn.pipeline.Pipeline
        Fitted preprocessing steps and a plain :class:`xgboost.XGBClassifier`.
    """
    distributed = import_distributed("--final-fit dask")
    from xgboost.core import XGBoostError
    from xgboost.dask import DaskXGBClassifier

    client = runner.client
    pipeline = build_pipeline(config, threads=threads)
    if params:
        pipeline.set_params(**params)
    preprocessing = Pipeline(pipeline.steps[:-1])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*prevalen.*", category=UserWarning)
        features = np.asarray(preprocessing.fit_transform(table, y_codes), dtype=np.float32)
    n_workers = max(1, len(client.scheduler_info()["workers"]))
    rows = [r for r in np.array_split(np.arange(len(y_codes)), n_workers) if len(r)]
    local_params = pipeline[-1].get_params()
    try:
        with client.as_current():
            model = DaskXGBClassifier(**{**local_params, "n_jobs": None})
            model.client = client
            model.fit(
                _blocks(client, features, rows),
                _blocks(client, y_codes, rows),
                sample_weight=_blocks(client, balanced_sample_weight(y_codes), rows),
            )
            booster = model.get_booster()
    except (
        distributed.scheduler.KilledWorker,
        distributed.CancelledError,
        XGBoostError,
        TimeoutError,
        OSError,
    ) as exc:
        reason = " ".join(str(exc).split()[:30]) or type(exc).__name__
        raise ClusterError(
            f"The distributed final fit (--final-fit dask) failed ({reason}); training stopped "
            "and nothing was saved. Check the Dask workers, or use --final-fit local."
        ) from None
    classifier = XGBClassifier(**local_params)
    classifier.load_model(bytearray(booster.save_raw("json")))
    return Pipeline([*preprocessing.steps, ("classifier", classifier)])
