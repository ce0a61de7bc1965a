"""Every visible case/control cohort in ``../shared/datasets``, as benchmark tasks.

One registry for the training benchmarks (``bench_train.py``, ``sweep_defaults.py``):
how to load each cohort in its original format, its label, classes, grouping column
and published anchor. Real cohorts are read from ``$MLMICRO_SHARED_DATASETS``
(default ``../shared/datasets``); nothing is copied.

Loaded tables are cached as pickles under ``$MLMICRO_BENCH_CACHE`` (default: the
system temporary folder), keyed by cohort, so repeated benchmark runs skip the
slow parsing of the bz2 MetaPhlAn file.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mlmicro.io import join_metadata, read_metadata, read_metaml, read_table

__all__ = ["SHARED", "Cohort", "COHORTS", "load", "select"]

SHARED = Path(os.environ.get("MLMICRO_SHARED_DATASETS", "../shared/datasets"))
CACHE = Path(os.environ.get("MLMICRO_BENCH_CACHE", tempfile.gettempdir())) / "mlmicro-bench"


@dataclass(frozen=True)
class Cohort:
    """One benchmark task: a cohort, its label and how its CV is grouped.

    Attributes
    ----------
    name : str
        Short name used on the command line and in tables.
    loader : callable
        Returns ``(table, metadata)``: samples x taxa counts or abundances
        (canonical lineage columns, or names without lineage) and metadata
        indexed by sample ID, restricted to the task's samples.
    label, positive, negative : str, list of str, list of str
        The label column and the values of each class.
    kind : {"shotgun", "16S"}
        How the table was made (the default rank depends on it).
    group : str or None
        Metadata column of the subject, where subjects give several samples.
    published : float or None
        The published AUROC anchor, where there is one.
    note : str
        One line for the benchmark table.
    """

    name: str
    loader: Callable[[], tuple[pd.DataFrame, pd.DataFrame]]
    label: str
    positive: list[str]
    negative: list[str]
    kind: str
    group: str | None = None
    published: float | None = None
    note: str = ""


def _metaml(datasets: list[str], country: str | None = None):
    def load():
        table, meta = _cached(
            "metaml-all", lambda: read_metaml(SHARED / "metaml" / "abundance.txt.bz2")
        )
        meta = meta[meta["dataset_name"].isin(datasets)]
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
        return table.loc[table.index.intersection(meta.index)], meta.loc[
            meta.index.intersection(table.index)
        ]

    return load


def _ibdmeta(cohort: str, sample_type: str | None = None):
    def load():
        folder = SHARED / "ibdmeta" / cohort
        table = read_table(folder / "all_samples_taxonomy_closed_reference.tsv")
        meta = read_metadata(
            folder / "metadata_recoded.txt", sample_id_column="Sample accession (16S)"
        )
        if sample_type:
            meta = meta[meta["Sample type"] == sample_type]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return join_metadata(table, meta)

    return load


def _jangi():
    folder = SHARED / "qiime2" / "jangi_ms"
    table = read_table(folder / "filt-feature-table.qza", taxonomy=folder / "hybrid-taxonomy.qza")
    meta = read_metadata(folder / "subset_metadata_MS.tsv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return join_metadata(table, meta)


def _siamcat():
    folder = SHARED / "siamcat"
    table = read_table(folder / "feat_crc_zeller_msb_mocat_specI.tsv")
    meta = read_metadata(folder / "meta_crc_zeller.tsv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return join_metadata(table, meta)


IBD = ["ibd_ulcerative_colitis", "ibd_crohn_disease"]
N = ["n"]
COHORTS: list[Cohort] = [
    Cohort("metahit", _metaml(["metahit"]), "disease", IBD, N, "shotgun", published=0.890,
           note="MetAML IBD"),
    Cohort("nielsen", _metaml(["Neilsen_genome_assembly"]), "disease", IBD, ["n", "n_relative"],
           "shotgun", group="subjectID", note="all Danish samples are controls"),
    Cohort("nielsen-spain", _metaml(["Neilsen_genome_assembly"], "spain"), "disease", IBD,
           ["n", "n_relative"], "shotgun", group="subjectID", note="Spanish samples only"),
    Cohort("psoriasis", _metaml(["Psoriasis_2014"]), "disease", ["y"], N, "shotgun",
           group="subjectID", note="skin, 21 subjects"),
    Cohort("cirrhosis", _metaml(["Quin_gut_liver_cirrhosis"]), "disease", ["cirrhosis"], N,
           "shotgun", published=0.945),
    Cohort("colorectal", _metaml(["Zeller_fecal_colorectal_cancer"]), "disease", ["cancer"], N,
           "shotgun", published=0.873, note="cancer vs n"),
    Cohort("wt2d", _metaml(["WT2D"]), "disease", ["t2d"], N, "shotgun", published=0.762,
           note="t2d vs n"),
    Cohort("t2d", _metaml(["t2dmeta_long", "t2dmeta_short"]), "disease", ["t2d"], N, "shotgun",
           group="subjectID", published=0.744, note="Qin 2012"),
    Cohort("obesity", _metaml(["Chatelier_gut_obesity"]), "disease", ["obesity"], ["leaness"],
           "shotgun", published=0.655),
    Cohort("zeller-siamcat", _siamcat, "label", ["CRC"], ["CTR"], "shotgun", published=0.837,
           note="mOTU names, no lineage; anchor: SIAMCAT LASSO"),
    Cohort("gevers-ileum", _mlrepo("gevers", ["task-ileum.txt"]), "Var", ["CD"], ["no"], "16S",
           published=0.71, note="anchor: Duvallet's own selection"),
    Cohort("gevers-rectum", _mlrepo("gevers", ["task-rectum.txt"]), "Var", ["CD"], ["no"], "16S",
           published=0.71, note="anchor: Duvallet's own selection"),
    Cohort("morgan-ibd", _mlrepo("sokol", ["task-healthy-cd.txt", "task-healthy-uc.txt"]), "Var",
           ["Crohn's disease", "Ulcerative Colitis"], ["Healthy"], "16S", published=0.81,
           note="CD+UC vs healthy; anchor: Duvallet's own selection"),
    Cohort("kostic", _mlrepo("kostic", ["task.txt"]), "Var", ["Tumor"], ["Healthy"], "16S",
           group="ControlVar", note="tumour vs adjacent normal, paired"),
    Cohort("cs-prism", _ibdmeta("CS-PRISM", "Stool"), "Disease", ["CD", "UC"], ["Control"], "16S",
           group="Subject accession", note="stool, CD+UC vs control"),
    Cohort("hmp2", _ibdmeta("HMP2", "Biopsy"), "Disease", ["CD", "UC"], ["Control"], "16S",
           group="Subject accession", note="biopsies, CD+UC vs control"),
    Cohort("mucosal-ibd", _ibdmeta("MucosalIBD"), "Disease", ["CD"], ["Control"], "16S",
           group="Subject accession", note="ileum biopsies"),
    Cohort("jangi-ms", _jangi, "Host_disease", ["Multiple_sclerosis_in_remission"],
           ["Healthy_Control"], "16S", note="QIIME 2 artifacts"),
]  # fmt: skip


def _cached(key: str, build: Callable[[], object]):
    path = CACHE / f"{key}.pkl"
    if path.exists():
        with path.open("rb") as handle:
            return pickle.load(handle)
    value = build()
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as handle:
        pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)
    return value


def load(cohort: Cohort) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return the cohort's ``(table, metadata)``, labelled samples only, rows aligned."""

    def build():
        table, meta = cohort.loader()
        meta = meta[meta[cohort.label].isin(cohort.positive + cohort.negative)]
        return table.loc[meta.index], meta

    return _cached(f"cohort-{cohort.name}", build)


def select(names: list[str] | None) -> list[Cohort]:
    """Return the named cohorts (all when ``names`` is empty), in registry order."""
    if not names:
        return list(COHORTS)
    unknown = set(names) - {c.name for c in COHORTS}
    if unknown:
        raise SystemExit(f"unknown cohort(s): {', '.join(sorted(unknown))}")
    return [c for c in COHORTS if c.name in names]
