"""Size and load time: the data-only model archive against a joblib pickle.

For each classifier, the pipeline is fitted on the embedded simulated cohort
(257 samples x 248 strains) with mlmicro's default configuration for that
classifier (species rank, relative abundances, the classifier's default
hyperparameters: XGBoost 50 rounds x 10 trees, a 500-tree random forest, L1
logistic regression), then saved twice:

* ``archive``: :func:`mlmicro.model.persist.dump_pipeline` +
  :func:`mlmicro.model.archive.write_archive` (zip, deflate);
* ``joblib``: ``joblib.dump(pipeline, path, compress=3)``, what the joblib
  bundle does for its pipeline.

Only the fitted pipeline is saved in both (no model card, CV results or
training table). Load time is the median of ``--repeats`` loads in this
process: ``load_pipeline(read_archive(path))`` (every check included) and
``joblib.load(path)``. Both loaded pipelines are checked to predict exactly
what the fitted one does.

Run on demand (not a test)::

    python benchmarks/bench_bundle.py
    python benchmarks/bench_bundle.py --models xgboost --repeats 9
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import joblib
import numpy as np

from mlmicro.config import TrainConfig
from mlmicro.datasets import load_default_cohort
from mlmicro.model.archive import read_archive, write_archive
from mlmicro.model.persist import dump_pipeline, load_pipeline
from mlmicro.model.training import fit_final

MODELS = ("xgboost", "random-forest", "logistic-l1")


def median_seconds(load, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        load()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    cohort = load_default_cohort()
    table = cohort.table
    labels = cohort.metadata.loc[table.index, "diagnosis"]
    classes = ["control", "CD"]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name in args.models:
            config = TrainConfig(model=name, jobs=1)
            pipeline = fit_final(table, labels, classes=classes, config=config)
            expected = pipeline.predict_proba(table)
            archive = Path(folder) / f"{name}.zip"
            pickled = Path(folder) / f"{name}.joblib"
            start = time.perf_counter()
            write_archive(archive, dump_pipeline(pipeline))
            save_archive = time.perf_counter() - start
            start = time.perf_counter()
            joblib.dump(pipeline, pickled, compress=3)
            save_joblib = time.perf_counter() - start
            for loaded in (load_pipeline(read_archive(archive)), joblib.load(pickled)):
                if not np.array_equal(loaded.predict_proba(table), expected):
                    raise SystemExit(f"{name}: a loaded pipeline predicts differently")
            rows.append(
                (
                    name,
                    archive.stat().st_size / 1024,
                    pickled.stat().st_size / 1024,
                    save_archive,
                    save_joblib,
                    median_seconds(lambda a=archive: load_pipeline(read_archive(a)), args.repeats),
                    median_seconds(lambda p=pickled: joblib.load(p), args.repeats),
                )
            )
    print(
        "| model | archive KiB | joblib KiB | size ratio | archive save s | joblib save s "
        "| archive load s | joblib load s | load ratio |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, size_a, size_j, save_a, save_j, load_a, load_j in rows:
        print(
            f"| {name} | {size_a:.0f} | {size_j:.0f} | {size_a / size_j:.2f} | {save_a:.3f} "
            f"| {save_j:.3f} | {load_a:.3f} | {load_j:.3f} | {load_a / load_j:.2f} |"
        )


if __name__ == "__main__":
    main()
