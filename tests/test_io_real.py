"""read_table / read_metadata on the real public cohorts in ../shared/datasets."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd
import pytest

from mlmicro.io import (
    MissingTaxonomyWarning,
    UnmatchedSamplesWarning,
    detect_format,
    join_metadata,
    read_feature_taxonomy,
    read_metadata,
    read_metaml,
    read_table,
)
from mlmicro.taxonomy import collapse_to_rank

pytestmark = pytest.mark.shared

JANGI_UNTAXED = {"1329af1b6ef03e37112b7c5f5f71c83c", "1e96e123658e7a246d81d08aa435907b"}


def _assert_table(table: pd.DataFrame, n_samples: int) -> None:
    assert table.shape[0] == n_samples
    assert table.index.name == "sample_id"
    assert table.index.is_unique and table.columns.is_unique
    assert all(isinstance(s, str) for s in table.index[:5])
    assert (table.dtypes == np.float64).all()
    assert np.isfinite(table.to_numpy()).all()


@pytest.fixture(scope="module")
def metaml(shared_datasets):
    start = time.perf_counter()
    table, metadata = read_metaml(shared_datasets / "metaml" / "abundance.txt.bz2")
    return table, metadata, time.perf_counter() - start


def test_metaml_table(metaml):
    table, _, _ = metaml  # read time: benchmarks/bench_read.py, not a timed test
    _assert_table(table, 3610)
    assert table.shape[1] == 3302
    prausnitzii = [c for c in table.columns if c.endswith("s__Faecalibacterium_prausnitzii")]
    assert prausnitzii == [
        "k__Bacteria|p__Firmicutes|c__Clostridia|o__Clostridiales|f__Ruminococcaceae"
        "|g__Faecalibacterium|s__Faecalibacterium_prausnitzii"
    ]
    assert table.loc["metahit:MH0002"].sum() > 0
    # every rank is kept: kingdoms sum to ~100 % per sample
    kingdoms = collapse_to_rank(table, "kingdom").sum(axis=1)
    assert kingdoms.median() == pytest.approx(100, abs=1)


def test_metaml_metadata(metaml):
    table, metadata, _ = metaml
    assert metadata.index.equals(table.index)
    assert metadata.shape == (3610, 211)
    # sampleIDs repeat across datasets, the index does not
    sample_ids = metadata["sampleID"]
    assert sample_ids[sample_ids.duplicated()].nunique() == 172
    counts = metadata.loc[metadata["dataset_name"] == "metahit", "disease"].value_counts()
    assert counts.to_dict() == {"n": 85, "ibd_ulcerative_colitis": 21, "ibd_crohn_disease": 4}
    assert metadata["age"].dtype == np.float64  # numeric-looking, "nd" missing
    assert metadata["bmi"].isna().any()


def test_metaml_read_table_and_metadata_agree(shared_datasets, metaml):
    path = shared_datasets / "metaml" / "abundance.txt.bz2"
    assert detect_format(path) == "metaml"
    metadata = read_metadata(path)
    assert metadata.index.equals(metaml[0].index)


@pytest.mark.parametrize(
    ("cohort", "n_samples", "taxon"),
    [
        (
            "gevers",
            1358,
            "k__Bacteria|p__Actinobacteria|c__Coriobacteriia|o__Coriobacteriales"
            "|f__Coriobacteriaceae|g__Collinsella|s__Collinsella_aerofaciens",
        ),
        (
            "sokol",
            233,
            "k__Bacteria|p__Bacteroidetes|c__Bacteroidia|o__Bacteroidales"
            "|f__Bacteroidaceae|g__Bacteroides|s__Bacteroides_ovatus",
        ),
    ],
)
def test_mlrepo_taxatable(shared_datasets, cohort, n_samples, taxon):
    path = shared_datasets / "mlrepo" / cohort / "refseq" / "taxatable.txt"
    assert detect_format(path) == "qiime-classic"
    table = read_table(path)
    _assert_table(table, n_samples)
    assert taxon in table.columns
    # lineages that become identical once canonical are summed, not lost
    raw = pd.read_csv(path, sep="\t", index_col=0)
    assert table.to_numpy().sum() == pytest.approx(raw.to_numpy().sum())


def test_mlrepo_biom_json(shared_datasets):
    path = shared_datasets / "mlrepo" / "sokol" / "gg" / "otutable.biom"
    assert detect_format(path) == "biom"
    table = read_table(path)
    _assert_table(table, 233)
    assert table.shape[1] == 4131
    assert "195157" in table.columns  # OTU ids, no taxonomy in this file


@pytest.mark.parametrize(
    ("cohort", "n_samples"), [("CS-PRISM", 677), ("HMP2", 183), ("MucosalIBD", 428)]
)
def test_ibdmeta_table(shared_datasets, cohort, n_samples):
    path = shared_datasets / "ibdmeta" / cohort / "all_samples_taxonomy_closed_reference.tsv"
    table = read_table(path)
    _assert_table(table, n_samples)
    # columns come from the taxonomy column, as lineages; OTUs with one lineage summed
    assert all(c.startswith("k__") for c in table.columns)
    assert "k__Bacteria|p__Firmicutes|c__Clostridia|o__Clostridiales" in table.columns
    raw = pd.read_csv(path, sep="\t", index_col=0).drop(columns="taxonomy")
    assert table.shape[1] < raw.shape[0]
    np.testing.assert_allclose(table.sum(axis=1).to_numpy(), raw.sum(axis=0).to_numpy())


def test_ibdmeta_join(shared_datasets):
    folder = shared_datasets / "ibdmeta" / "CS-PRISM"
    table = read_table(folder / "all_samples_taxonomy_closed_reference.tsv")
    metadata = read_metadata(
        folder / "metadata_recoded.txt", sample_id_column="Sample accession (16S)"
    )
    assert metadata.shape[0] == 494
    with pytest.warns(UnmatchedSamplesWarning, match="189 of 677 table samples"):
        joined, meta = join_metadata(table, metadata)
    assert joined.shape[0] == meta.shape[0] == 488
    assert joined.index.equals(meta.index)
    assert meta["Disease"].value_counts().to_dict() == {
        "CD": 243,
        "UC": 182,
        "Control": 42,
        "IC": 21,
    }


def test_ibdmeta_numeric_ids_stay_strings(shared_datasets):
    folder = shared_datasets / "ibdmeta" / "HMP2"
    table = read_table(folder / "all_samples_taxonomy_closed_reference.tsv")
    metadata = read_metadata(
        folder / "metadata_recoded.txt", sample_id_column="Sample accession (16S)"
    )
    assert "206561" in table.index and "206561" in metadata.index
    with pytest.warns(UnmatchedSamplesWarning):
        joined, _ = join_metadata(table, metadata)
    assert joined.shape[0] == 178


def test_jangi_qza(shared_datasets):
    path = shared_datasets / "qiime2" / "jangi_ms" / "filt-feature-table.qza"
    assert detect_format(path) == "qza"
    with pytest.warns(MissingTaxonomyWarning, match="--taxonomy"):
        table = read_table(path)
    _assert_table(table, 104)
    assert table.shape[1] == 1322
    assert table.to_numpy().sum() == pytest.approx(table.sum(axis=1).sum())
    assert table.sum(axis=1).min() == 22000


@pytest.mark.parametrize("as_tsv", [False, True])
def test_jangi_qza_with_taxonomy(shared_datasets, tmp_path, as_tsv):
    folder = shared_datasets / "qiime2" / "jangi_ms"
    taxonomy = folder / "hybrid-taxonomy.qza"
    if as_tsv:
        mapping = read_feature_taxonomy(taxonomy)
        assert len(mapping) == 2693
        taxonomy = tmp_path / "taxonomy.tsv"
        taxonomy.write_text(
            "Feature ID\tTaxon\n" + "".join(f"{k}\t{v}\n" for k, v in mapping.items())
        )
    with pytest.warns(MissingTaxonomyWarning):
        plain = read_table(folder / "filt-feature-table.qza")
    table = read_table(folder / "filt-feature-table.qza", taxonomy=taxonomy)
    _assert_table(table, 104)
    untaxed = {c for c in table.columns if not c.startswith("k__")}
    assert untaxed == JANGI_UNTAXED
    assert (
        "k__Bacteria|p__Verrucomicrobia|c__Verrucomicrobiae|o__Verrucomicrobiales"
        "|f__Verrucomicrobiaceae|g__Akkermansia|s__Akkermansia_muciniphila"
    ) in table.columns
    np.testing.assert_allclose(table.sum(axis=1), plain.sum(axis=1))


def test_jangi_metadata_join(shared_datasets):
    folder = shared_datasets / "qiime2" / "jangi_ms"
    metadata = read_metadata(folder / "subset_metadata_MS.tsv")
    assert metadata.shape == (105, 2)  # the #q2:types row is skipped
    assert "#q2:types" not in metadata.index
    with pytest.warns(MissingTaxonomyWarning):
        table = read_table(folder / "filt-feature-table.qza")
    with pytest.warns(UnmatchedSamplesWarning, match="SRR3501948"):
        joined, meta = join_metadata(table, metadata)
    assert meta["Host_disease"].value_counts().to_dict() == {
        "Multiple_sclerosis_in_remission": 61,
        "Healthy_Control": 43,
    }
    assert joined.shape[0] == 104


@pytest.mark.parametrize(
    ("task", "counts"),
    [
        ("gevers/task-ileum.txt", {"CD": 78, "no": 62}),
        ("gevers/task-rectum.txt", {"no": 92, "CD": 68}),
        ("sokol/task-healthy-cd.txt", {"Crohn's disease": 62, "Healthy": 19}),
    ],
)
def test_mlrepo_task_files(shared_datasets, task, counts):
    metadata = read_metadata(shared_datasets / "mlrepo" / task)
    assert list(metadata.columns) == ["Var"]
    assert metadata["Var"].value_counts().to_dict() == counts
    cohort = task.split("/")[0]
    table = read_table(shared_datasets / "mlrepo" / cohort / "refseq" / "taxatable.txt")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnmatchedSamplesWarning)
        joined, meta = join_metadata(table, metadata)
    assert len(joined) == sum(counts.values())


def test_mlrepo_pcdai_task_is_numeric(shared_datasets):
    metadata = read_metadata(shared_datasets / "mlrepo" / "gevers" / "task-pcdai-ileum.txt")
    assert metadata["Var"].dtype == np.float64


def test_mlrepo_mapping_with_cr_line_endings(shared_datasets):
    metadata = read_metadata(shared_datasets / "mlrepo" / "gevers" / "mapping-suppl.txt")
    assert metadata.shape == (1040, 6)
    assert "01-001.S" in metadata.index
