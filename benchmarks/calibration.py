"""Calibration, threshold, applicability domain and recalibration on real cohorts.

Three measurements, each printed as a Markdown table:

1. **Which calibrator by default.** Each cohort is trained once with
   :func:`mlmicro.train` (grouped CV); the three calibrators (none, sigmoid,
   isotonic) are then fitted and evaluated *cross-fitted* on the same
   out-of-fold probabilities (fitted on four fifths of the subjects, scored on
   the other fifth; :func:`mlmicro.model.trust.fit_trust`): Brier score,
   calibration slope and intercept, and balanced accuracy at the Youden
   threshold. Cohorts: MetAML MetaHIT IBD (species), MLRepo Gevers rectum CD
   (genus), ibdmeta CS-PRISM stool IBD (genus), MetAML psoriasis skin
   (species).
2. **Recalibration for a new site.** The CS-PRISM stool model on HMP2
   biopsies: as trained, and recalibrated (intercept, slope and threshold) on
   half of the HMP2 subjects, scored on the other half (seeded split).
3. **Applicability domain.** The psoriasis skin model: share of held-out
   samples of its own cohort in domain (domain reference fitted inside each
   CV fold), and share of the other MetAML cohorts' stool samples in domain.

Run on demand from the project root::

    python benchmarks/calibration.py                 # default preset, 10 folds x 5 repeats
    python benchmarks/calibration.py --config fast   # quick look
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import pandas as pd

import mlmicro
from mlmicro.datasets import shared_datasets_dir
from mlmicro.io import UnmatchedSamplesWarning, read_metaml
from mlmicro.model.trust import fit_trust
from mlmicro.predict import OutOfDomainWarning, predict_table
from mlmicro.predict.recalibrate import recalibrate

IBD_ID = "Sample accession (16S)"


def _train(table, meta, label, positive, negative, group, config, rank, jobs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnmatchedSamplesWarning)
        return mlmicro.train(
            table,
            meta,
            label=label,
            positive=positive,
            negative=negative,
            group=group,
            config=config,
            rank=rank,
            jobs=jobs,
        )


def cohorts(root: Path):
    """Yield (name, table, metadata, label, positive, negative, group, rank)."""
    table, meta = read_metaml(root / "metaml" / "abundance.txt.bz2")
    metahit = meta[meta["dataset_name"] == "metahit"]
    yield (
        "MetaHIT IBD (species)",
        table.loc[metahit.index],
        metahit,
        "disease",
        ["ibd_ulcerative_colitis", "ibd_crohn_disease"],
        ["n"],
        "subjectID",
        "species",
    )
    labels = mlmicro.read_metadata(root / "mlrepo/gevers/task-rectum.txt")
    mapping = mlmicro.read_metadata(root / "mlrepo/gevers/mapping-orig.txt")
    gevers = labels.join(mapping[["HOST_SUBJECT_ID"]], how="left")
    yield (
        "Gevers rectum CD (genus)",
        mlmicro.read_table(root / "mlrepo/gevers/refseq/taxatable.txt"),
        gevers,
        "Var",
        ["CD"],
        ["no"],
        "HOST_SUBJECT_ID",
        "genus",
    )
    yield ("CS-PRISM stool IBD (genus)", *_prism(root), "genus")
    psoriasis = meta[meta["dataset_name"] == "Psoriasis_2014"]
    yield (
        "MetAML psoriasis skin (species)",
        table.loc[psoriasis.index],
        psoriasis,
        "disease",
        ["y"],
        ["n"],
        "subjectID",
        "species",
    )


def _ibdmeta(root: Path, cohort: str):
    base = root / "ibdmeta" / cohort
    table = mlmicro.read_table(base / "all_samples_taxonomy_closed_reference.tsv")
    meta = mlmicro.read_metadata(base / "metadata_recoded.txt", sample_id_column=IBD_ID)
    return table, meta


def _prism(root: Path):
    table, meta = _ibdmeta(root, "CS-PRISM")
    keep = (meta["Sample type"] == "Stool") & meta["Disease"].isin(["CD", "UC", "Control"])
    return table, meta[keep], "Disease", ["CD", "UC"], ["Control"], "Subject accession"


def calibration_rows(name, model, table, meta, group, seed):
    rows = []
    groups = meta.loc[model.training.sample_ids, group].astype(str) if group else None
    train_table = table.loc[model.training.sample_ids]
    for method in ("none", "sigmoid", "isotonic"):
        _, report = fit_trust(
            oof=model.cv.oof,
            classes=model.classes,
            positive_class=model.positive_class,
            rank_step=model.pipeline[0],
            table=train_table,
            groups=groups,
            calibration=method,
            seed=seed,
        )
        measured = report.cv_raw if method == "none" else report.cv_calibrated
        rows.append(
            {
                "cohort": name,
                "n": model.card.n_samples,
                "calibration": method,
                "brier": measured.brier,
                "slope": measured.slope,
                "intercept": measured.intercept,
                "balanced_accuracy": report.crossfit["balanced_accuracy"],
                "in_domain": report.domain["cv_in_domain"],
            }
        )
    return rows


def markdown(frame: pd.DataFrame) -> str:
    head = "| " + " | ".join(frame.columns) + " |"
    lines = [head, "|" + "---|" * len(frame.columns)]
    for _, row in frame.iterrows():
        cells = [f"{v:.3f}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="default", help="training preset or TOML file")
    parser.add_argument("--jobs", type=int, default=-1, help="CV folds in parallel")
    parser.add_argument("--seed", type=int, default=0, help="seed of the HMP2 half split")
    parser.add_argument("--datasets", type=Path, default=None, help="../shared/datasets")
    args = parser.parse_args(argv)
    root = args.datasets or shared_datasets_dir()
    started = time.perf_counter()
    rows, models = [], {}
    for name, table, meta, label, pos, neg, group, rank in cohorts(root):
        model = _train(table, meta, label, pos, neg, group, args.config, rank, args.jobs)
        models[name] = (model, table, meta)
        rows.extend(calibration_rows(name, model, table, meta, group, seed=0))
        print(f"trained {name} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    frame = pd.DataFrame(rows)
    print("## 1. Calibrators, cross-fitted on out-of-fold probabilities\n")
    print(markdown(frame))
    mean = frame.groupby("calibration")[["brier", "slope", "intercept", "balanced_accuracy"]]
    print("\nmean over cohorts:\n")
    print(markdown(mean.mean().reset_index()))

    # 2. CS-PRISM stool -> HMP2 biopsies, recalibrated on half of the HMP2 subjects
    prism, _, _ = models["CS-PRISM stool IBD (genus)"]
    hmp2_table, hmp2_meta = _ibdmeta(root, "HMP2")
    hmp2_meta = hmp2_meta[hmp2_meta["Disease"].isin(["CD", "UC", "Control"])]
    result = recalibrate(
        prism,
        hmp2_table,
        hmp2_meta,
        group="Subject accession",
        holdout=0.5,
        seed=args.seed,
        source="HMP2",
    )
    print("\n## 2. CS-PRISM stool model on HMP2 biopsies (held-out half of the subjects)\n")
    print(result.format())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfDomainWarning)
        whole = predict_table(prism, hmp2_table.loc[hmp2_meta.index], metadata=hmp2_meta)
    inside = whole.predictions["in_domain"].mean()
    print(
        f"\nall {len(whole.predictions)} HMP2 biopsies as trained: balanced accuracy "
        f"{whole.validation.metrics['balanced_accuracy']:.3f}, AUROC "
        f"{whole.validation.metrics['roc_auc']:.3f}, in domain {inside:.1%}"
    )

    # 3. the psoriasis skin model on the other MetAML cohorts' stool samples
    model, _, _ = models["MetAML psoriasis skin (species)"]
    table, meta = read_metaml(root / "metaml" / "abundance.txt.bz2")
    others = meta[meta["dataset_name"] != "Psoriasis_2014"]
    gut = others[others["bodysite"].isin(["stool", "mother_faeces", "infant_faeces"])]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfDomainWarning)
        scored = predict_table(model, table.loc[gut.index], min_coverage=0)
    calls = scored.predictions["predicted_label"].value_counts().to_dict()
    print("\n## 3. Psoriasis skin model: applicability domain\n")
    print(
        f"own cohort, held out in CV: {model.card.trust.domain['cv_in_domain']:.1%} in domain "
        f"({model.card.trust.domain['cv_n']} samples)"
    )
    print(
        f"other MetAML cohorts' gut samples: {1 - scored.predictions['in_domain'].mean():.1%} "
        f"out of domain ({len(gut)} samples; called {calls})"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OutOfDomainWarning)
        every = predict_table(model, table.loc[others.index], min_coverage=0).predictions
    by_site = every.join(others["bodysite"]).groupby("bodysite")["in_domain"]
    sites = pd.DataFrame({"samples": by_site.size(), "out_of_domain": 1 - by_site.mean()})
    print(f"\nevery other MetAML sample ({len(every)}), by body site:\n")
    print(markdown(sites.sort_values("samples", ascending=False).head(10).reset_index()))
    print(f"\n({args.config} preset, {time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
