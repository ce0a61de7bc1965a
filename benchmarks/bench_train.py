"""Training benchmark: mlmicro's defaults vs the MetAML random forest, same folds.

For each cohort this runs, side by side in one process:

1. ``mlmicro.train`` with the default configuration (the product);
2. a 500-tree random forest on relative abundances (the MetAML protocol:
   ``RandomForestClassifier(n_estimators=500, max_features="sqrt")``, no
   filtering, no class weights), on exactly the folds mlmicro used (read back
   from its out-of-fold predictions);
3. the published figure, where there is one;
4. the wall time of (1) (cross-validation and the final refit) and of (2).

AUROC is the mean over repeats of the AUROC of each repeat's out-of-fold
predictions. Run from the repository root::

    python benchmarks/bench_train.py                 # every cohort, 10 folds x 5 repeats
    python benchmarks/bench_train.py --repeats 2 --cohorts metahit psoriasis

Real cohorts are read from ``$MLMICRO_SHARED_DATASETS`` (default
``../shared/datasets``).
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score

import mlmicro
from mlmicro.io import read_metadata, read_metaml, read_table
from mlmicro.taxonomy import collapse_to_rank

SHARED = Path(os.environ.get("MLMICRO_SHARED_DATASETS", "../shared/datasets"))


@dataclass
class Task:
    """One benchmark cohort: how to load it and how to train on it."""

    name: str
    load: Callable[[], tuple[pd.DataFrame, pd.DataFrame]]
    label: str
    positive: list[str]
    negative: list[str]
    rank: str
    config: str
    group: str | None = None
    published: float | None = None
    note: str = ""


_METAML_CACHE: dict[str, tuple[pd.DataFrame, pd.DataFrame]] = {}


def _metaml(dataset: str, country: str | None = None):
    def load():
        if "all" not in _METAML_CACHE:
            _METAML_CACHE["all"] = read_metaml(SHARED / "metaml" / "abundance.txt.bz2")
        table, meta = _METAML_CACHE["all"]
        meta = meta[meta["dataset_name"] == dataset]
        if country:
            meta = meta[meta["country"] == country]
        sub = table.loc[meta.index]
        return sub.loc[:, sub.sum() > 0], meta

    return load


def _mlrepo(study: str, tasks: list[str]):
    def load():
        table = read_table(SHARED / "mlrepo" / study / "refseq" / "taxatable.txt")
        meta = pd.concat([read_metadata(SHARED / "mlrepo" / study / t) for t in tasks])
        meta = meta[~meta.index.duplicated()]
        return table.loc[table.index.intersection(meta.index)], meta

    return load


IBD = ["ibd_ulcerative_colitis", "ibd_crohn_disease"]
TASKS = [
    Task(
        "metahit",
        _metaml("metahit"),
        "disease",
        IBD,
        ["n"],
        "species",
        "default",
        published=0.890,
        note="MetAML IBD",
    ),
    Task(
        "nielsen",
        _metaml("Neilsen_genome_assembly"),
        "disease",
        IBD,
        ["n", "n_relative"],
        "species",
        "default",
        group="subjectID",
        note="all Danish samples are controls",
    ),
    Task(
        "nielsen-spain",
        _metaml("Neilsen_genome_assembly", "spain"),
        "disease",
        IBD,
        ["n", "n_relative"],
        "species",
        "default",
        group="subjectID",
        note="Spanish samples only",
    ),
    Task(
        "psoriasis",
        _metaml("Psoriasis_2014"),
        "disease",
        ["y"],
        ["n"],
        "species",
        "default",
        group="subjectID",
        note="skin, 21 subjects",
    ),
    Task(
        "cirrhosis",
        _metaml("Quin_gut_liver_cirrhosis"),
        "disease",
        ["cirrhosis"],
        ["n"],
        "species",
        "default",
        published=0.945,
    ),
    Task(
        "colorectal",
        _metaml("Zeller_fecal_colorectal_cancer"),
        "disease",
        ["cancer"],
        ["n"],
        "species",
        "default",
        published=0.873,
    ),
    Task("wt2d", _metaml("WT2D"), "disease", ["t2d"], ["n"], "species", "default", published=0.762),
    Task(
        "gevers-ileum",
        _mlrepo("gevers", ["task-ileum.txt"]),
        "Var",
        ["CD"],
        ["no"],
        "genus",
        "16s-genus",
        published=0.71,
        note="16S; published: Duvallet's own selection",
    ),
    Task(
        "gevers-rectum",
        _mlrepo("gevers", ["task-rectum.txt"]),
        "Var",
        ["CD"],
        ["no"],
        "genus",
        "16s-genus",
        published=0.71,
        note="16S; published: Duvallet's own selection",
    ),
    Task(
        "morgan-ibd",
        _mlrepo("sokol", ["task-healthy-cd.txt", "task-healthy-uc.txt"]),
        "Var",
        ["Crohn's disease", "Ulcerative Colitis"],
        ["Healthy"],
        "genus",
        "16s-genus",
        published=0.81,
        note="16S; published: Duvallet's own selection",
    ),
]


def _relative(table: pd.DataFrame) -> np.ndarray:
    values = table.to_numpy(dtype=float)
    totals = values.sum(axis=1, keepdims=True)
    totals[totals == 0] = 1.0
    return values / totals


def run_task(task: Task, repeats: int, folds: int, jobs: int) -> dict[str, object]:
    table, meta = task.load()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = mlmicro.train(
            table,
            meta,
            label=task.label,
            positive=task.positive,
            negative=task.negative,
            group=task.group,
            config=task.config,
            rank=task.rank,
            jobs=jobs,
            **{"cv.repeats": repeats, "cv.folds": folds},
        )
    mlmicro_time = time.perf_counter() - start
    aucs = model.cv_results["roc_auc"]

    # the random forest baseline on exactly mlmicro's folds
    oof = model.oof_predictions
    samples = list(dict.fromkeys(oof["sample_id"]))
    rel = pd.DataFrame(_relative(collapse_to_rank(table.loc[samples], task.rank)), index=samples)
    truth = oof.drop_duplicates("sample_id").set_index("sample_id")["y_true"].loc[samples]
    y = (truth == model.positive_class).to_numpy().astype(int)
    position = {s: i for i, s in enumerate(samples)}
    start = time.perf_counter()
    rf_aucs = []
    for _, rep in oof.groupby("repeat"):
        proba = np.zeros(len(samples))
        for _, fold in rep.groupby("fold"):
            test = np.array([position[s] for s in fold["sample_id"]])
            train = np.setdiff1d(np.arange(len(samples)), test)
            rf = RandomForestClassifier(
                n_estimators=500, max_features="sqrt", n_jobs=-1, random_state=0
            )
            rf.fit(rel.iloc[train], y[train])
            proba[test] = rf.predict_proba(rel.iloc[test])[:, 1]
        rf_aucs.append(roc_auc_score(y, proba))
    rf_time = time.perf_counter() - start
    return {
        "cohort": task.name,
        "samples": len(samples),
        "taxa": len(model.features),
        "cv": f"{model.cv.scheme.replace('stratified ', '')} {model.cv.folds}x{model.cv.repeats}",
        "mlmicro_auroc": float(aucs.mean()),
        "mlmicro_sd": float(aucs.std(ddof=1)) if len(aucs) > 1 else 0.0,
        "rf_auroc": float(np.mean(rf_aucs)),
        "rf_sd": float(np.std(rf_aucs, ddof=1)) if len(rf_aucs) > 1 else 0.0,
        "published": task.published,
        "mlmicro_s": mlmicro_time,
        "rf_s": rf_time,
        "note": task.note,
    }


def format_table(rows: list[dict[str, object]]) -> str:
    header = (
        "| cohort | samples | taxa | CV | mlmicro AUROC | RF-500 AUROC | published | "
        "mlmicro s | RF s | time ratio | note |"
    )
    lines = [header, "|" + "---|" * 11]
    for r in rows:
        pub = f"{r['published']:.3f}" if r["published"] is not None else "-"
        lines.append(
            f"| {r['cohort']} | {r['samples']} | {r['taxa']} | {r['cv']} | "
            f"{r['mlmicro_auroc']:.3f} ± {r['mlmicro_sd']:.3f} | "
            f"{r['rf_auroc']:.3f} ± {r['rf_sd']:.3f} "
            f"| {pub} | {r['mlmicro_s']:.1f} | {r['rf_s']:.1f} | {r['mlmicro_s'] / r['rf_s']:.2f} "
            f"| {r['note']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=1, help="mlmicro --jobs (default 1)")
    parser.add_argument(
        "--cohorts", nargs="*", help="subset of: " + ", ".join(t.name for t in TASKS)
    )
    args = parser.parse_args()
    rows = []
    for task in TASKS:
        if args.cohorts and task.name not in args.cohorts:
            continue
        row = run_task(task, args.repeats, args.folds, args.jobs)
        rows.append(row)
        print(
            f"{row['cohort']:<14} mlmicro {row['mlmicro_auroc']:.3f} ({row['mlmicro_s']:.1f} s)  "
            f"RF {row['rf_auroc']:.3f} ({row['rf_s']:.1f} s)",
            flush=True,
        )
    print()
    print(format_table(rows))


if __name__ == "__main__":
    main()
