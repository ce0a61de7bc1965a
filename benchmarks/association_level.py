"""False-positive rate of the per-taxon association tests under labels permuted between subjects.

The embedded cohort at its default rank (SGB rows); each permutation gives whole
subjects a random class (as many case subjects as the real labels have), so no
taxon differs between the classes. Printed: the share of taxa with p < 0.05,
counting each sample, and counting each subject once (as ``explain`` does when
the model was trained with ``--group``). Run from the repository root::

    python benchmarks/association_level.py [--permutations 20]
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from mlmicro.datasets import load_default_cohort
from mlmicro.explain.association import taxon_associations
from mlmicro.taxonomy import collapse_to_rank


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--permutations", type=int, default=20)
    args = parser.parse_args()
    cohort = load_default_cohort()
    table = collapse_to_rank(cohort.table, "strain")
    table = table.loc[:, (table > 0).any()]
    meta = cohort.metadata.loc[table.index]
    subjects = meta["subject_id"].astype(str)
    n_cases = int((meta.groupby("subject_id")["diagnosis"].first() == "CD").sum())
    rng = np.random.default_rng(0)
    rates: dict[str, list[float]] = {"each sample": [], "each subject once": []}
    for _ in range(args.permutations):
        cases = set(rng.choice(subjects.unique(), n_cases, replace=False))
        labels = pd.Series(np.where(subjects.isin(cases), "CD", "control"), index=table.index)
        for name, groups in (("each sample", None), ("each subject once", subjects)):
            tests = taxon_associations(table, labels, "CD", ["control", "CD"], groups=groups)
            rates[name].append(float((tests["assoc_p_value"] < 0.05).mean()))
    print(
        f"embedded cohort: {len(table)} samples of {subjects.nunique()} subjects, "
        f"{table.shape[1]} taxa, {args.permutations} permutations between subjects"
    )
    print("| counting | share of taxa with p < 0.05 (mean) | min | max |")
    print("|---|---|---|---|")
    for name, values in rates.items():
        print(f"| {name} | {np.mean(values):.3f} | {min(values):.3f} | {max(values):.3f} |")


if __name__ == "__main__":
    main()
