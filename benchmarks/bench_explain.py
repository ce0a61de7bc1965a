"""Time exact TreeSHAP: mlmicro's native path against shap.TreeExplainer, same model.

    python benchmarks/bench_explain.py                 # 10^4 and 10^5 samples
    python benchmarks/bench_explain.py --sizes 2000 20000 --shap-limit 5000

A model is trained once (default XGBoost settings, species rank) on a simulated
cohort of 300 subjects; cohorts of each size are simulated with another seed and
explained with

* native: ``mlmicro.model.contributions.feature_contributions`` (XGBoost's
  ``pred_contribs``) with every core, as ``mlmicro explain`` runs it;
* shap: ``shap.TreeExplainer(model.pipeline[-1]).shap_values(X)`` on the same
  classifier input, explainer construction included, with the booster's
  threads as saved (``jobs=1`` training gives one thread) and with every core.

Above ``--shap-limit`` rows shap is timed on the first ``--shap-limit`` rows and
extrapolated linearly; the table says so. Values are compared on the rows both
computed. ``end-to-end`` is ``model.explain(table)`` (pipeline transform, SHAP,
mapping to taxa) for the whole cohort.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings

import numpy as np

import mlmicro
from mlmicro.datasets import simulate_cohort
from mlmicro.model.contributions import feature_contributions, transform_features

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import shap


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def _booster_threads(model) -> str:
    config = json.loads(model.pipeline[-1].get_booster().save_config())
    return config["learner"]["generic_param"]["nthread"]


def _shap(model, features, threads: int | None):
    booster = model.pipeline[-1].get_booster()
    saved = _booster_threads(model)
    if threads is not None:
        booster.set_param({"nthread": threads})
    try:
        start = time.perf_counter()
        values = shap.TreeExplainer(model.pipeline[-1]).shap_values(features)
        return time.perf_counter() - start, values
    finally:
        booster.set_param({"nthread": saved})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--shap-limit", type=int, default=20_000)
    parser.add_argument("--jobs", type=int, default=1, help="training jobs (booster threads)")
    args = parser.parse_args()

    train = simulate_cohort(n_subjects=300, seed=0)
    model = mlmicro.train(
        train.table,
        train.metadata,
        label="diagnosis",
        positive=["CD"],
        negative=["control"],
        group="subject_id",
        jobs=args.jobs,
        **{"cv.folds": 3, "cv.repeats": 1},
    )
    cores = _cores()
    clf = model.pipeline[-1]
    trees = clf.n_estimators * clf.get_params()["num_parallel_tree"]
    print(
        f"model: {trees} trees (max_depth {clf.max_depth}), {len(model.features_used)} features; "
        f"booster threads as saved: {_booster_threads(model)} (0 = all); machine: {cores} cores, "
        f"{platform.processor() or platform.machine()}"
    )
    print(
        f"{'samples':>8} | {'native':>8} | {'shap (saved threads)':>21} | {'speed-up':>8} | "
        f"{'shap (all cores)':>17} | {'speed-up':>8} | {'max |diff|':>10} | {'end-to-end':>10}"
    )
    for size in args.sizes:
        cohort = simulate_cohort(n_subjects=size, repeat_fraction=0.0, seed=1)
        table = cohort.table
        features = transform_features(model.pipeline, table)
        start = time.perf_counter()
        native, _, _ = feature_contributions(
            model.pipeline, table, features=features, threads=cores
        )
        native_s = time.perf_counter() - start
        rows = min(size, args.shap_limit)
        scale = size / rows
        saved_s, values = _shap(model, features.iloc[:rows], None)
        all_s, _ = _shap(model, features.iloc[:rows], cores)
        diff = float(np.abs(values - native[:rows]).max())
        start = time.perf_counter()
        model.explain(table, threads=cores)
        end_to_end = time.perf_counter() - start
        mark = "*" if scale > 1 else " "
        print(
            f"{size:>8} | {native_s:>7.1f}s | {saved_s * scale:>19.1f}s{mark} | "
            f"{saved_s * scale / native_s:>7.1f}x | {all_s * scale:>15.1f}s{mark} | "
            f"{all_s * scale / native_s:>7.1f}x | {diff:>10.1e} | {end_to_end:>9.1f}s"
        )
    if any(s > args.shap_limit for s in args.sizes):
        print(f"* shap timed on the first {args.shap_limit} rows and scaled linearly")


if __name__ == "__main__":
    main()
