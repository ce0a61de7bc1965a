"""Train on MetaHIT IBD (MetAML), explain, and print the top 15 species.

    python benchmarks/explain_metahit.py [--data ../shared/datasets] [--report DIR]

MetAML's "IBD" task: the 110 ``metahit`` samples, ulcerative colitis and
Crohn's disease (25) against healthy controls (``n``, 85), MetaPhlAn 2 species
relative abundances, grouped by subject, mlmicro's default XGBoost and CV
(10 folds x 5 repeats). Prints each species' mean |SHAP| (log-odds of IBD),
the class it pushes toward when abundant, its prevalence per class and the
share of CV fold models that ranked it in their top 15. ``--report`` also
writes the HTML report there.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import mlmicro  # noqa: E402
from mlmicro.datasets import shared_datasets_dir  # noqa: E402
from mlmicro.io import read_metaml  # noqa: E402

IBD = ["ibd_ulcerative_colitis", "ibd_crohn_disease"]
TOP = 15


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=None, help="shared datasets folder")
    parser.add_argument("--report", type=Path, default=None, help="write report.html here")
    parser.add_argument("--jobs", type=int, default=-1)
    args = parser.parse_args()
    root = args.data or shared_datasets_dir()

    start = time.perf_counter()
    table, metadata = read_metaml(root / "metaml" / "abundance.txt.bz2")
    keep = metadata["dataset_name"] == "metahit"
    table, metadata = table.loc[keep], metadata.loc[keep]
    model = mlmicro.train(
        table,
        metadata,
        label="disease",
        positive=IBD,
        negative=["n"],
        group="subjectID",
        rank="species",
        jobs=args.jobs,
    )
    explanation = model.explain()
    seconds = time.perf_counter() - start
    positive = model.positive_class
    negative = next(c for c in model.classes if c != positive)
    auc = model.card["cv_metrics"]["roc_auc"]
    counts = model.card["task"]["class_counts"]
    print(
        f"MetaHIT IBD: {counts}, {len(model.features_used)} species used; CV AUROC "
        f"{auc['mean']:.3f} (95% CI {auc['ci95'][0]:.3f}-{auc['ci95'][1]:.3f}); {seconds:.0f} s"
    )
    top = explanation.top(TOP)
    print(
        f"\n| # | species | mean abs SHAP | more of it -> | prevalence {positive} | "
        f"prevalence {negative} | mean % {positive} | mean % {negative} | CV top-{TOP} share |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for row in top.to_dict(orient="records"):
        print(
            f"| {row['rank']} | {row['name']} | {row['mean_abs_shap']:.3f} | {row['direction']} | "
            f"{row[f'prevalence_{positive}']:.0%} | {row[f'prevalence_{negative}']:.0%} | "
            f"{100 * row[f'mean_abundance_{positive}']:.2f} | "
            f"{100 * row[f'mean_abundance_{negative}']:.2f} | {row['cv_top_k_share']:.0%} |"
        )
    if args.report:
        from mlmicro.report import write_report

        files = write_report(explanation, model, args.report, top=20, aggregate="genus")
        print(f"\nwrote {files['report']}")


if __name__ == "__main__":
    main()
