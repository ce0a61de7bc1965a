"""Seconds for one fit of each forest-like candidate of the defaults sweep, one thread.

Explains the CPU column of ``sweep_defaults.py``: scikit-learn's random forest has a
fixed cost per tree, so it is slow on small cohorts; XGBoost's histogram method builds
a histogram of every taxon at every node, so a forest of unbounded trees grown by it is
slow once cohorts pass about 150 samples, whatever the share of taxa each tree may use.
Each fit is on the whole cohort at the sweep's rank; the median of ``--repeats`` fits is
printed. Run from the repository root::

    python benchmarks/bench_forest_fit.py --cohorts psoriasis zeller-siamcat t2d nielsen
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.ensemble import RandomForestClassifier

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cohorts  # noqa: E402
import sweep_defaults  # noqa: E402


def _candidates(p: int) -> dict[str, Callable]:
    share = np.sqrt(p) / p
    return {
        "RF-500 (scikit-learn)": lambda x, y, s: RandomForestClassifier(
            500, n_jobs=1, random_state=s
        ).fit(x, y),
        "XGBoost-grown forest": sweep_defaults.CANDIDATES["xrf-linear"],
        "XGBoost-grown forest, 20% of taxa per tree": lambda x, y, s: sweep_defaults._xgb_forest(
            x,
            y,
            s,
            min_child_weight=1e-6,
            reg_lambda=0.0,
            base_score=0.5,
            colsample_bytree=0.2,
            colsample_bynode=min(1.0, share / 0.2),
        ),  # fmt: skip
        "boosted forest (default)": sweep_defaults.CANDIDATES["bf-balanced"],
        "boosted forest, 64 bins": sweep_defaults.CANDIDATES["bfb-bin64"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cohorts", nargs="*", default=["psoriasis", "zeller-siamcat", "t2d"])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for cohort in cohorts.select(args.cohorts):
        x, y, _ = sweep_defaults.features(cohort, sweep_defaults.default_rank(cohort))
        times = {}
        for name, fit in _candidates(x.shape[1]).items():
            seconds = []
            for seed in range(args.repeats):
                start = time.perf_counter()
                fit(x, y, seed)
                seconds.append(time.perf_counter() - start)
            times[name] = float(np.median(seconds))
        rows.append((cohort.name, x.shape, times))
        print(f"{cohort.name}: {x.shape[0]} samples x {x.shape[1]} taxa", flush=True)
    names = list(rows[0][2])
    print("\n| cohort | samples | taxa | " + " | ".join(names) + " |")
    print("|---|---|---|" + "---|" * len(names))
    for name, shape, times in rows:
        cells = " | ".join(f"{times[n]:.2f} s" for n in names)
        print(f"| {name} | {shape[0]} | {shape[1]} | {cells} |")


if __name__ == "__main__":
    main()
