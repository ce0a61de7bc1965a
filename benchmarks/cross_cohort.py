"""Cross-cohort validation: train on one real cohort, predict another the model never saw.

Tasks (16S, genus level, every cohort through one shared pipeline):

a. MLRepo Gevers (RISK paediatric Crohn's): train on rectum biopsies
   (``task-rectum.txt``, CD vs no), predict ileum biopsies (``task-ileum.txt``).
   Ileum and rectum biopsies often come from the same children, so the ileum
   AUROC is also given for the subjects (``HOST_SUBJECT_ID``) the model never
   saw at all.
b. ibdmeta CS-PRISM stool (CD+UC vs Control; CS-PRISM biopsies have no
   controls), predicting HMP2 biopsies (CD+UC vs Control) and MucosalIBD ileum
   biopsies (CD vs Control). Grouped by ``Subject accession``, joined on
   ``Sample accession (16S)``.
c. The same CS-PRISM model (Greengenes names) on the Gevers ileum table
   (RefSeq-based names, another closed-reference pipeline): taxa are matched
   across the two taxonomies by :mod:`mlmicro.alignment`.

Each model is trained with :func:`mlmicro.train` (grouped CV on the training
cohort), saved, and applied to the other cohort with
:func:`mlmicro.predict.predict_file` -- exactly what ``mlmicro predict``
does. Run on demand; it prints a Markdown table::

    python benchmarks/cross_cohort.py                 # 16s-genus preset, 10 folds x 5 repeats
    python benchmarks/cross_cohort.py --config fast   # quick look
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

import mlmicro
from mlmicro.datasets import shared_datasets_dir
from mlmicro.io import UnmatchedSamplesWarning
from mlmicro.predict import predict_file

IBD_ID = "Sample accession (16S)"
IBD_TABLE = "ibdmeta/{}/all_samples_taxonomy_closed_reference.tsv"
IBD_META = "ibdmeta/{}/metadata_recoded.txt"


@dataclass
class Cohort:
    """A table file and the labelled samples of it that a task uses."""

    name: str
    table: Path
    metadata: pd.DataFrame  # indexed by sample ID, with the label (and group) column
    label: str
    group: str | None = None


def gevers(root: Path, site: str) -> Cohort:
    """Gevers biopsies of one site: labels from the MLRepo task file, subjects from the mapping."""
    labels = mlmicro.read_metadata(root / f"mlrepo/gevers/task-{site}.txt")
    mapping = mlmicro.read_metadata(root / "mlrepo/gevers/mapping-orig.txt")
    meta = labels.join(mapping[["HOST_SUBJECT_ID"]], how="left")
    return Cohort(
        f"Gevers {site}",
        root / "mlrepo/gevers/refseq/taxatable.txt",
        meta,
        label="Var",
        group="HOST_SUBJECT_ID",
    )


def ibdmeta(root: Path, cohort: str, sample_type: str, diseases: list[str]) -> Cohort:
    """An ibdmeta cohort's samples of one type and diseases (joined on the 16S accession)."""
    meta = mlmicro.read_metadata(root / IBD_META.format(cohort), sample_id_column=IBD_ID)
    keep = (meta["Sample type"] == sample_type) & meta["Disease"].isin(diseases)
    return Cohort(
        f"{cohort} {sample_type.lower()}",
        root / IBD_TABLE.format(cohort),
        meta[keep],
        label="Disease",
        group="Subject accession",
    )


def train_on(cohort: Cohort, positive, negative, config: str, jobs: int) -> mlmicro.Model:
    table = mlmicro.read_table(cohort.table)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnmatchedSamplesWarning)  # the other samples
        return mlmicro.train(
            table,
            cohort.metadata,
            label=cohort.label,
            positive=positive,
            negative=negative,
            group=cohort.group,
            config=config,
            rank="genus",
            jobs=jobs,
        )


def trained(cohort: Cohort, model: mlmicro.Model) -> str:
    counts = model.card["task"]["class_counts"]
    return f"{cohort.name} ({' / '.join(f'{k} {v}' for k, v in counts.items())})"


def evaluate(model_path: Path, model: mlmicro.Model, test: Cohort, folder: Path, **extra) -> dict:
    out = folder / f"{test.name.replace(' ', '_')}.tsv"
    run = predict_file(
        model_path, test.table, out, metadata=test.metadata, label=test.label, force=True, **extra
    )
    cv = model.card["cv_metrics"]["roc_auc"]
    validation = run.validation
    return {
        "train": None,
        "test": test.name,
        "n_test": validation.n_samples,
        "test_classes": " / ".join(f"{k} {v}" for k, v in validation.class_counts.items()),
        "cv_auroc": f"{cv['mean']:.3f} [{cv['ci95'][0]:.3f}, {cv['ci95'][1]:.3f}]",
        "taxa_found": f"{run.coverage.n_found}/{run.coverage.n_features}",
        "importance": run.coverage.importance_share,
        "abundance": run.coverage.abundance_share_mean,
        "auroc": validation.metrics["roc_auc"],
        "auprc": validation.metrics["average_precision"],
        "balanced_accuracy": validation.metrics["balanced_accuracy"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="16s-genus", help="training preset or TOML file")
    parser.add_argument("--jobs", type=int, default=-1, help="CV folds in parallel")
    parser.add_argument("--datasets", type=Path, default=None, help="../shared/datasets")
    args = parser.parse_args(argv)
    root = args.datasets or shared_datasets_dir()
    if not root.is_dir():  # run from elsewhere than the project root
        root = Path(__file__).resolve().parents[2] / "shared" / "datasets"
    rows = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="cross_cohort_") as scratch:
        folder = Path(scratch)

        # (a) Gevers rectum -> ileum
        rectum, ileum = gevers(root, "rectum"), gevers(root, "ileum")
        model = train_on(rectum, ["CD"], ["no"], args.config, args.jobs)
        path = model.save(folder / "gevers_rectum.mlmodel")
        train_text = trained(rectum, model)
        row = evaluate(path, model, ileum, folder)
        rows.append(row | {"train": train_text, "test": "Gevers ileum (all)"})
        seen = set(rectum.metadata["HOST_SUBJECT_ID"].dropna())
        unseen = ileum.metadata[~ileum.metadata["HOST_SUBJECT_ID"].isin(seen)]
        n_overlap = len(ileum.metadata) - len(unseen)
        fresh = Cohort("Gevers ileum (new subjects)", ileum.table, unseen, ileum.label)
        row = evaluate(path, model, fresh, folder)
        rows.append(
            row
            | {
                "train": train_text,
                "test": f"Gevers ileum, {n_overlap} samples of rectum-training subjects removed",
            }
        )

        # (b) CS-PRISM stool -> HMP2 and MucosalIBD biopsies
        prism = ibdmeta(root, "CS-PRISM", "Stool", ["CD", "UC", "Control"])
        model = train_on(prism, ["CD", "UC"], ["Control"], args.config, args.jobs)
        path = model.save(folder / "csprism_stool.mlmodel")
        train_text = trained(prism, model)
        for test in (
            ibdmeta(root, "HMP2", "Biopsy", ["CD", "UC", "Control"]),
            ibdmeta(root, "MucosalIBD", "Biopsy", ["CD", "Control"]),
        ):
            rows.append(evaluate(path, model, test, folder) | {"train": train_text})

        # (c) across reference taxonomies: the Greengenes CS-PRISM model on the RefSeq-named
        # Gevers ileum table, whose labels read CD / no instead of CD / Control
        row = evaluate(path, model, ileum, folder, positive=["CD"], negative=["no"])
        rows.append(row | {"train": train_text, "test": "Gevers ileum (RefSeq names)"})
    print(table(rows))
    print(f"\n({args.config} preset, {time.perf_counter() - started:.0f} s)")
    return 0


def table(rows: list[dict]) -> str:
    head = [
        "trained on",
        "CV AUROC [95% CI]",
        "predicted",
        "test samples",
        "model taxa found",
        "importance carried",
        "external AUROC",
        "AUPRC",
        "balanced accuracy",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [
            r["train"],
            r["cv_auroc"],
            r["test"],
            f"{r['n_test']} ({r['test_classes']})",
            r["taxa_found"],
            f"{r['importance']:.0%}",
            f"{r['auroc']:.3f}",
            f"{r['auprc']:.3f}",
            f"{r['balanced_accuracy']:.3f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
