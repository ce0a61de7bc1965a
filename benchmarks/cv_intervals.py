"""CV intervals on real cohorts: the old spread across repeats against the bootstrap CI.

For each cohort, one training run gives, side by side:

* ``t-interval across repeats``: the Student t interval of the mean AUROC over
  the CV repeats (what mlmicro reported as "95% CI" before; it measures how
  much the fold assignment moves the AUROC, not its uncertainty);
* ``bootstrap 95% CI``: the card's ``cv_metrics.roc_auc.ci95``, a stratified
  bootstrap of the out-of-fold predictions (subjects with ``group``), scored
  per repeat and averaged over repeats; and the time it took;
* the bootstrap computation alone, timed.

Run on demand (about a minute per cohort on two cores)::

    python benchmarks/cv_intervals.py [--folds 5] [--repeats 5]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from scipy import stats

import mlmicro
from mlmicro.datasets import shared_datasets_dir
from mlmicro.io import read_metaml
from mlmicro.model.bootstrap import cv_intervals


def _cohorts(shared):
    base = shared / "qiime2" / "jangi_ms"
    table = mlmicro.read_table(
        base / "filt-feature-table.qza", taxonomy=base / "hybrid-taxonomy.qza"
    )
    meta = mlmicro.read_metadata(base / "subset_metadata_MS.tsv")
    yield "Jangi MS (genus)", table, meta, {"label": "Host_disease", "config": "16s-genus"}
    gevers = shared / "mlrepo" / "gevers"
    table = mlmicro.read_table(gevers / "refseq" / "taxatable.txt")
    task = mlmicro.read_metadata(gevers / "task-rectum.txt")
    subjects = mlmicro.read_metadata(gevers / "mapping-orig.txt")["HOST_SUBJECT_ID"]
    yield (
        "Gevers rectum (genus, by subject)",
        table,
        task.join(subjects),
        {"label": "Var", "group": "HOST_SUBJECT_ID", "config": "16s-genus"},
    )
    table, meta = read_metaml(shared / "metaml" / "abundance.txt.bz2")
    meta = meta[meta["dataset_name"] == "Psoriasis_2014"]
    yield (
        "Psoriasis (species, by subject)",
        table.loc[meta.index],
        meta,
        {"label": "disease", "positive": ["y"], "negative": ["n"], "group": "subjectID"},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    rows = []
    for name, table, meta, options in _cohorts(shared_datasets_dir()):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = mlmicro.train(
                table,
                meta,
                jobs=args.jobs,
                **options,
                **{"cv.folds": args.folds, "cv.repeats": args.repeats},
            )
        per_repeat = model.cv_results["roc_auc"].to_numpy()
        mean, n = per_repeat.mean(), len(per_repeat)
        half = stats.t.ppf(0.975, n - 1) * per_repeat.std(ddof=1) / np.sqrt(n)
        lo, hi = model.card.cv_metrics["roc_auc"]["ci95"]
        started = time.perf_counter()
        cv_intervals(
            model.oof_predictions,
            model.classes,
            model.positive_class,
            sample_ids=model.training.sample_ids,
        )
        seconds = time.perf_counter() - started
        rows.append(
            f"| {name} | {model.card.n_samples} | {mean:.3f} | "
            f"[{mean - half:.3f}, {mean + half:.3f}] | [{lo:.3f}, {hi:.3f}] | {seconds:.2f} |"
        )
    print(
        f"CV {args.folds} folds x {args.repeats} repeats; bootstrap 1000 resamples\n\n"
        "| cohort | n | AUROC | t-interval across repeats | bootstrap 95% CI | "
        "bootstrap s (all 5 metrics) |\n|---|---|---|---|---|---|"
    )
    print("\n".join(rows))


if __name__ == "__main__":
    main()
