"""Training benchmark: mlmicro's default vs a plain random forest, same folds, every cohort.

For each visible cohort (``benchmarks/cohorts.py``) this runs, side by side in
one process:

1. ``mlmicro.train`` with no configuration at all (the product: rank chosen
   from the table, every default), all cores (``jobs=-1``);
2. a plain 500-tree random forest (scikit-learn defaults: ``max_features="sqrt"``,
   unweighted, every taxon, relative abundance at mlmicro's rank), on exactly
   the folds mlmicro used (read back from its out-of-fold predictions), all
   cores (``n_jobs=-1``);
3. the same forest with balanced class weights (``class_weight="balanced"``);
4. the published anchor, where there is one;
5. the wall time of (1) (cross-validation, calibration, applicability domain,
   bootstrap intervals and the final refit) and of (2) (cross-validation and
   the final refit).

AUROC is the mean over repeats of each repeat's out-of-fold AUROC (mlmicro's:
the raw classifier's, as in its model card). Run from the repository root::

    python benchmarks/bench_train.py                    # every cohort, 10 folds x 5 repeats
    python benchmarks/bench_train.py --repeats 2 --cohorts metahit psoriasis
    python benchmarks/bench_train.py --repeats 1 --config forest-blend   # the preset

Prints one line per cohort as it goes, then the table and the summary line
"mlmicro >= plain RF - 0.005 on N of M cohorts; mean difference D; time ratio T"
(T: median over cohorts of mlmicro's wall time over the forest's).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cohorts  # noqa: E402

import mlmicro  # noqa: E402
from mlmicro.taxonomy import collapse_to_rank  # noqa: E402

MARGIN = 0.005


def _relative(table: pd.DataFrame) -> np.ndarray:
    values = table.to_numpy(dtype=float)
    totals = values.sum(axis=1, keepdims=True)
    totals[totals == 0] = 1.0
    return values / totals


def _forest_cv(x: np.ndarray, y: np.ndarray, oof: pd.DataFrame, samples, weighted: bool):
    position = {s: i for i, s in enumerate(samples)}
    aucs = []
    for _, rep in oof.groupby("repeat"):
        proba = np.zeros(len(samples))
        for _, fold in rep.groupby("fold"):
            test = np.array([position[s] for s in fold["sample_id"]])
            train = np.setdiff1d(np.arange(len(samples)), test)
            rf = RandomForestClassifier(
                n_estimators=500,
                class_weight="balanced" if weighted else None,
                n_jobs=-1,
                random_state=0,
            )
            proba[test] = rf.fit(x[train], y[train]).predict_proba(x[test])[:, 1]
        aucs.append(roc_auc_score(y, proba))
    if not weighted:  # the forest's own final refit, as mlmicro's time includes its own
        RandomForestClassifier(n_estimators=500, n_jobs=-1, random_state=0).fit(x, y)
    return np.asarray(aucs)


def run_cohort(
    cohort: cohorts.Cohort, repeats: int, folds: int, config: str = "default"
) -> dict[str, object]:
    table, meta = cohorts.load(cohort)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = mlmicro.train(
            table,
            meta,
            label=cohort.label,
            positive=cohort.positive,
            negative=cohort.negative,
            group=cohort.group,
            jobs=-1,
            config=config,
            **{"cv.repeats": repeats, "cv.folds": folds},
        )
    mlmicro_time = time.perf_counter() - start
    aucs = model.cv_results["roc_auc"].to_numpy()

    oof = model.oof_predictions
    samples = list(dict.fromkeys(oof["sample_id"]))
    x = _relative(collapse_to_rank(table.loc[samples], model.card.rank))
    truth = oof.drop_duplicates("sample_id").set_index("sample_id")["y_true"].loc[samples]
    y = (truth == model.positive_class).to_numpy().astype(int)
    start = time.perf_counter()
    rf = _forest_cv(x, y, oof, samples, weighted=False)
    rf_time = time.perf_counter() - start
    balanced = _forest_cv(x, y, oof, samples, weighted=True)
    return {
        "cohort": cohort.name,
        "kind": cohort.kind,
        "samples": len(samples),
        "rank": model.card.rank or "as named",
        "taxa": len(model.features),
        "cv": f"{model.cv.scheme.replace('stratified ', '')} {model.cv.folds}x{model.cv.repeats}",
        "mlmicro": float(aucs.mean()),
        "mlmicro_sd": float(aucs.std(ddof=1)) if len(aucs) > 1 else 0.0,
        "rf": float(rf.mean()),
        "rf_sd": float(rf.std(ddof=1)) if len(rf) > 1 else 0.0,
        "rf_balanced": float(balanced.mean()),
        "published": cohort.published,
        "mlmicro_s": mlmicro_time,
        "rf_s": rf_time,
        "note": cohort.note,
    }


def _mean_sd(mean: float, sd: float, cv: str) -> str:
    """``0.912 ± 0.004`` over repeats; the mean alone with one repeat (no spread to show)."""
    return f"{mean:.3f}" if cv.endswith("x1") else f"{mean:.3f} ± {sd:.3f}"


def format_table(rows: list[dict[str, object]]) -> str:
    header = (
        "| cohort | data | samples | rank | taxa | CV | mlmicro AUROC | RF-500 AUROC | "
        "difference | balanced RF-500 | published | mlmicro s | RF s | time ratio | note |"
    )
    lines = [header, "|" + "---|" * 15]
    for r in rows:
        pub = f"{r['published']:.3f}" if r["published"] is not None else "-"
        lines.append(
            f"| {r['cohort']} | {r['kind']} | {r['samples']} | {r['rank']} | {r['taxa']} | "
            f"{r['cv']} | {_mean_sd(r['mlmicro'], r['mlmicro_sd'], r['cv'])} | "
            f"{_mean_sd(r['rf'], r['rf_sd'], r['cv'])} | {r['mlmicro'] - r['rf']:+.3f} | "
            f"{r['rf_balanced']:.3f} | {pub} | {r['mlmicro_s']:.1f} | {r['rf_s']:.1f} | "
            f"{r['mlmicro_s'] / r['rf_s']:.2f} | {r['note']} |"
        )
    return "\n".join(lines)


def summary_line(rows: list[dict[str, object]]) -> str:
    diff = np.array([r["mlmicro"] - r["rf"] for r in rows])
    ratio = np.array([r["mlmicro_s"] / r["rf_s"] for r in rows])
    worst = rows[int(np.argmin(diff))]["cohort"]
    return (
        f"mlmicro >= plain RF - {MARGIN} on {int((diff >= -MARGIN).sum())} of {len(rows)} "
        f"cohorts; mean difference {diff.mean():+.4f} (worst {diff.min():+.4f}, {worst}); "
        f"time ratio {np.median(ratio):.2f} (median; max {ratio.max():.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--cohorts", nargs="*", help="subset of: " + ", ".join(
        c.name for c in cohorts.COHORTS))  # fmt: skip
    parser.add_argument("--config", default="default", help="preset or TOML file for mlmicro")
    args = parser.parse_args()
    rows = []
    for cohort in cohorts.select(args.cohorts):
        row = run_cohort(cohort, args.repeats, args.folds, args.config)
        rows.append(row)
        print(
            f"{row['cohort']:<15} mlmicro {row['mlmicro']:.3f} ({row['mlmicro_s']:.1f} s)  "
            f"RF {row['rf']:.3f} ({row['rf_s']:.1f} s)  balanced RF {row['rf_balanced']:.3f}",
            flush=True,
        )
    print()
    print(format_table(rows))
    print()
    print(summary_line(rows))


if __name__ == "__main__":
    main()
