"""read_table on small synthetic files of every format."""

from __future__ import annotations

import bz2
import gzip
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlmicro.exceptions import ConfigError, UnknownFormatError
from mlmicro.io import FORMATS, detect_format, read_feature_taxonomy, read_table

BACT = "k__Bacteria|p__Firmicutes|c__Clostridia|o__Clostridiales"
RUMI = f"{BACT}|f__Ruminococcaceae|g__Faecalibacterium"
PRAU = f"{RUMI}|s__Faecalibacterium_prausnitzii"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# -- MetaPhlAn ---------------------------------------------------------------

MPA3_SINGLE = """#mpa_v30_CHOCOPhlAn_201901
#/usr/bin/metaphlan s1.fastq --input_type fastq
#SampleID\tMetaphlan_Analysis
#clade_name\tNCBI_tax_id\trelative_abundance\tadditional_species
k__Bacteria\t2\t100.0\t
k__Bacteria|p__Firmicutes\t2|1239\t70.0\t
k__Bacteria|p__Bacteroidetes\t2|976\t30.0\t
k__Bacteria|p__Firmicutes|c__Clostridia|o__Clostridiales|f__Ruminococcaceae|g__Faecalibacterium|s__Faecalibacterium_prausnitzii\t2|1239|186801|186802|216572|216851|853\t70.0\tk__Bacteria|s__X
"""

MPA4_SINGLE = """#mpa_vJan21_CHOCOPhlAnSGB_202103
#/usr/bin/metaphlan s2.fastq --input_type fastq
#15056 reads processed
#SampleID\tpatient_7
#clade_name\tNCBI_tax_id\trelative_abundance\tadditional_species
UNCLASSIFIED\t-1\t12.5\t
k__Bacteria\t2\t87.5\t
k__Bacteria|p__Firmicutes\t2|1239\t87.5\t
k__Bacteria|p__Firmicutes|c__Clostridia|o__Clostridiales|f__Ruminococcaceae|g__Faecalibacterium|s__Faecalibacterium_prausnitzii|t__SGB15316\t2|1239|||||853|\t87.5\t
"""

MPA2_SINGLE = """#SampleID\tMetaphlan2_Analysis
k__Bacteria\t100.0
k__Bacteria|p__Firmicutes\t100.0
"""

MPA3_MERGED = """#mpa_v30_CHOCOPhlAn_201901
clade_name\tNCBI_tax_id\ts1\ts2\ts3
UNKNOWN\t-1\t10.0\t0.0\t5.0
k__Bacteria\t2\t90.0\t100.0\t95.0
k__Bacteria|p__Firmicutes\t2|1239\t90.0\t40.0\t95.0
"""

MPA4_MERGED = """#mpa_vJan21_CHOCOPhlAnSGB_202103
clade_name\ts1_profile\ts2_profile
UNCLASSIFIED\t5.0\t0.0
k__Bacteria\t95.0\t100.0
k__Bacteria|p__Firmicutes\t95.0\t100.0
"""

MPA2_MERGED = """ID\tA\tB
k__Bacteria\t100.0\t100.0
k__Bacteria|p__Firmicutes\t60.0\t20.0
"""


def test_metaphlan3_single_profile(tmp_path):
    path = write(tmp_path / "s1_profile.txt", MPA3_SINGLE)
    assert detect_format(path) == "metaphlan"
    table = read_table(path)
    assert table.index.tolist() == ["s1"]  # default #SampleID -> file name without _profile
    assert table.loc["s1", PRAU] == 70.0
    assert table.loc["s1", "k__Bacteria"] == 100.0  # hierarchical rows kept
    assert table.shape == (1, 4)


def test_metaphlan4_single_profile_drops_unclassified(tmp_path):
    path = write(tmp_path / "s2.tsv", MPA4_SINGLE)
    table = read_table(path)
    assert table.index.tolist() == ["patient_7"]  # explicit #SampleID is used
    assert "UNCLASSIFIED" not in table.columns
    assert table.loc["patient_7", f"{PRAU}|t__SGB15316"] == 87.5


def test_metaphlan2_single_profile(tmp_path):
    path = write(tmp_path / "old_profile.txt", MPA2_SINGLE)
    table = read_table(path, format="metaphlan")
    assert table.index.tolist() == ["old"]
    assert table.columns.tolist() == ["k__Bacteria", "k__Bacteria|p__Firmicutes"]


@pytest.mark.parametrize(
    ("text", "samples"),
    [(MPA3_MERGED, ["s1", "s2", "s3"]), (MPA4_MERGED, ["s1_profile", "s2_profile"])],
)
def test_metaphlan_merged(tmp_path, text, samples):
    path = write(tmp_path / "merged.tsv", text)
    assert detect_format(path) == "metaphlan"
    table = read_table(path)
    assert table.index.tolist() == samples
    assert table.columns.tolist() == ["k__Bacteria", "k__Bacteria|p__Firmicutes"]
    assert "NCBI_tax_id" not in table.columns


def test_metaphlan2_merged_is_sniffed(tmp_path):
    path = write(tmp_path / "merged.txt", MPA2_MERGED)
    assert detect_format(path) == "metaphlan"
    assert read_table(path).loc["B", "k__Bacteria|p__Firmicutes"] == 20.0


# -- delimited ---------------------------------------------------------------


def test_tsv_taxa_as_rows(tmp_path):
    path = write(
        tmp_path / "t.tsv",
        "taxon\tS1\tS2\nk__Bacteria;p__Firmicutes\t1\t2\nk__Bacteria; p__Bacteroidetes\t3\t0\n",
    )
    table = read_table(path)
    assert table.index.tolist() == ["S1", "S2"]
    assert table.columns.tolist() == ["k__Bacteria|p__Firmicutes", "k__Bacteria|p__Bacteroidetes"]
    assert table.loc["S2", "k__Bacteria|p__Firmicutes"] == 2.0


def test_tsv_samples_as_rows_detected(tmp_path):
    path = write(tmp_path / "t.tsv", f"id\t{PRAU}\t{BACT}\nS1\t1\t2\nS2\t3\t4\nS3\t0\t1\n")
    table = read_table(path)
    assert table.index.tolist() == ["S1", "S2", "S3"]
    assert table.loc["S3", BACT] == 1.0


def test_orientation_from_sample_id_header(tmp_path):
    path = write(tmp_path / "t.tsv", "sample_id\tOTU1\tOTU2\nS1\t1\t2\nS2\t3\t4\n")
    assert read_table(path).index.tolist() == ["S1", "S2"]
    path = write(tmp_path / "u.tsv", "#OTU ID x\tS1\tS2\nOTU1\t1\t2\nOTU2\t3\t4\n")
    assert read_table(path).index.tolist() == ["S1", "S2"]


@pytest.mark.parametrize(
    ("orientation", "samples"), [("taxa-rows", ["A", "B"]), ("samples-rows", ["X", "Y"])]
)
def test_orientation_override(tmp_path, orientation, samples):
    path = write(tmp_path / "t.tsv", "label\tA\tB\nX\t1\t2\nY\t3\t4\n")
    assert read_table(path, orientation=orientation).index.tolist() == samples


def test_unknown_orientation(tmp_path):
    path = write(tmp_path / "t.tsv", "label\tA\nX\t1\n")
    with pytest.raises(ConfigError, match="orientation"):
        read_table(path, orientation="sideways")


def test_csv(tmp_path):
    path = write(tmp_path / "t.csv", f'feature,S1,S2\n"{PRAU}",1.5,0\n{BACT},2,4e1\n')
    assert detect_format(path) == "csv"
    table = read_table(path)
    assert table.loc["S2", BACT] == 40.0
    assert table.loc["S1", PRAU] == 1.5


def test_csv_with_semicolons(tmp_path):
    path = write(tmp_path / "t.csv", "feature;S1;S2\nOTU1;1;2\nOTU2;3;4\n")
    assert read_table(path).loc["S2", "OTU2"] == 4.0


def test_canonical_duplicates_are_summed(tmp_path):
    path = write(
        tmp_path / "t.tsv",
        "taxon\tS1\nk__Bacteria;p__Firmicutes;g__\t1\nk__Bacteria;p__Firmicutes\t2\n",
    )
    table = read_table(path)
    assert table.columns.tolist() == ["k__Bacteria|p__Firmicutes"]
    assert table.iloc[0, 0] == 3.0


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress])
def test_compressed(tmp_path, compress):
    path = tmp_path / "t.tsv.gz"
    path.write_bytes(compress(b"taxon\tS1\tS2\nOTU1\t1\t2\nOTU2\t3\t4\n"))
    assert read_table(path).loc["S1", "OTU2"] == 3.0


def test_crlf_and_bom(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_bytes("\ufefftaxon\tS1\r\nOTU1\t1\r\nOTU2\t2\r\n".encode())
    table = read_table(path)
    assert table.columns.tolist() == ["OTU1", "OTU2"]


# -- QIIME classic -----------------------------------------------------------


def test_qiime_classic_with_taxonomy_column(tmp_path):
    path = write(
        tmp_path / "otus.txt",
        "# Constructed from biom file\n"
        "#OTU ID\tS1\tS2\ttaxonomy\n"
        "0123\t1\t0\tk__Bacteria; p__Firmicutes; c__; o__; f__; g__; s__\n"
        "456\t2\t5\tk__Bacteria; p__Firmicutes\n"
        "789\t0\t1\t\n",
    )
    assert detect_format(path) == "qiime-classic"
    table = read_table(path)
    assert table.columns.tolist() == ["k__Bacteria|p__Firmicutes", "789"]
    assert table.loc["S1", "k__Bacteria|p__Firmicutes"] == 3.0


def test_qiime_classic_ids_stay_strings(tmp_path):
    path = write(tmp_path / "otus.txt", "# OTU\t001\t002\n0123\t1\t0\n456\t2\t5\n")
    table = read_table(path)
    assert table.index.tolist() == ["001", "002"]
    assert table.columns.tolist() == ["0123", "456"]


# -- BIOM ------------------------------------------------------------------------


def _biom_json(taxonomy: bool) -> dict:
    rows = [
        {"id": "OTU1", "metadata": {"taxonomy": ["k__Bacteria", "p__Firmicutes", "g__"]}},
        {"id": "OTU2", "metadata": {"taxonomy": "k__Bacteria; p__Bacteroidetes"}},
        {"id": "OTU3", "metadata": None},
    ]
    if not taxonomy:
        rows = [{"id": r["id"], "metadata": None} for r in rows]
    return {
        "id": None,
        "format": "Biological Observation Matrix 1.0.0",
        "type": "OTU table",
        "matrix_type": "sparse",
        "matrix_element_type": "float",
        "shape": [3, 2],
        "data": [[0, 0, 5.0], [1, 1, 2.0], [2, 0, 1.0]],
        "rows": rows,
        "columns": [{"id": "S1", "metadata": None}, {"id": "S2", "metadata": None}],
    }


def test_biom_json_with_taxonomy(tmp_path):
    path = write(tmp_path / "t.biom", json.dumps(_biom_json(taxonomy=True)))
    table = read_table(path)
    assert table.columns.tolist() == [
        "k__Bacteria|p__Firmicutes",
        "k__Bacteria|p__Bacteroidetes",
        "OTU3",
    ]
    assert table.loc["S1"].tolist() == [5.0, 0.0, 1.0]


def test_biom_json_dense(tmp_path):
    document = _biom_json(taxonomy=False)
    document["matrix_type"] = "dense"
    document["data"] = [[5, 0], [0, 2], [1, 0]]
    table = read_table(write(tmp_path / "t.json", json.dumps(document)))
    assert table.loc["S2"].tolist() == [0.0, 2.0, 0.0]


def _write_hdf5_biom(path: Path) -> None:
    biom = pytest.importorskip("biom")
    from biom.util import biom_open

    table = biom.Table(
        np.array([[1, 0, 3], [2, 3, 0], [0, 4, 1]], dtype=float),
        ["o1", "o2", "o3"],
        ["s1", "s2", "s3"],
        observation_metadata=[
            {"taxonomy": ["k__Bacteria", "p__Firmicutes", "g__Roseburia", "s__"]},
            {"taxonomy": ["k__Bacteria", "p__Firmicutes", "g__Roseburia", "s__"]},
            {"taxonomy": ["k__Bacteria", "p__Bacteroidetes", "g__", "s__"]},
        ],
    )
    with biom_open(str(path), "w") as handle:
        table.to_hdf5(handle, "mlmicro tests")


def test_biom_hdf5_with_taxonomy(tmp_path):
    path = tmp_path / "t.biom"
    _write_hdf5_biom(path)
    assert detect_format(path) == "biom"
    table = read_table(path)
    genus = "k__Bacteria|p__Firmicutes|g__Roseburia"
    assert table.columns.tolist() == [genus, "k__Bacteria|p__Bacteroidetes"]
    assert table.loc["s2", genus] == 3.0  # o1 + o2 summed
    assert table.loc["s1"].tolist() == [1.0 + 2.0, 0.0]


def test_biom_hdf5_matches_biom_format(tmp_path):
    biom = pytest.importorskip("biom")
    path = tmp_path / "t.biom"
    _write_hdf5_biom(path)
    expected = biom.load_table(str(path)).to_dataframe(dense=True).T
    table = read_table(path, taxonomy={"o1": "o1", "o2": "o2", "o3": "o3"})
    np.testing.assert_array_equal(table.to_numpy(), expected.to_numpy())


# -- QIIME 2 -------------------------------------------------------------------


def _write_qza(path: Path, member: str, data: bytes) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("1234-uuid/metadata.yaml", "type: FeatureTable[Frequency]\n")
        archive.writestr(f"1234-uuid/data/{member}", data)


def test_qza_with_taxonomy_tsv(tmp_path):
    biom_path = tmp_path / "t.biom"
    _write_hdf5_biom(biom_path)
    qza = tmp_path / "table.qza"
    _write_qza(qza, "feature-table.biom", biom_path.read_bytes())
    taxonomy = write(
        tmp_path / "taxonomy.tsv",
        "Feature ID\tTaxon\tConfidence\n#q2:types\tcategorical\tnumeric\n"
        "o1\tk__Bacteria; p__Actinobacteria\t0.9\n",
    )
    table = read_table(qza, taxonomy=taxonomy)
    # o1 from the given taxonomy; o2 / o3 keep the lineage stored in the BIOM file
    assert table.columns.tolist() == [
        "k__Bacteria|p__Actinobacteria",
        "k__Bacteria|p__Firmicutes|g__Roseburia",
        "k__Bacteria|p__Bacteroidetes",
    ]


def test_taxonomy_qza_and_headerless_tsv(tmp_path):
    qza = tmp_path / "taxonomy.qza"
    _write_qza(qza, "taxonomy.tsv", b"Feature ID\tTaxon\nf1\tk__Bacteria; p__X\n")
    assert read_feature_taxonomy(qza) == {"f1": "k__Bacteria; p__X"}
    plain = write(tmp_path / "gg.txt", "f1\tk__Bacteria; p__Y\nf2\tk__Archaea\n")
    assert read_feature_taxonomy(plain) == {"f1": "k__Bacteria; p__Y", "f2": "k__Archaea"}


def test_parquet_is_read(tmp_path):
    frame = pd.DataFrame({"sample_id": ["a", "b"], "OTU1": [1.0, 2.0]})
    frame.to_parquet(tmp_path / "t.parquet")
    assert detect_format(tmp_path / "t.parquet") == "parquet"
    assert read_table(tmp_path / "t.parquet").loc["b", "OTU1"] == 2.0


def test_format_registry_and_explicit_format(tmp_path):
    assert set(FORMATS) >= {"tsv", "csv", "metaphlan", "metaml", "qiime-classic", "biom", "qza"}
    path = write(tmp_path / "t.txt", "taxon\tS1\nOTU1\t1\n")
    assert read_table(path, format="tsv").shape == (1, 1)
    assert read_table(path, format="txt").shape == (1, 1)  # an alias
    with pytest.raises(UnknownFormatError, match="auto, tsv, csv"):
        read_table(path, format="excel")


def test_result_is_independent_of_buffers(tmp_path):
    path = write(tmp_path / "t.tsv", "taxon\tS1\tS2\nOTU1\t1\t2\n")
    table = read_table(path)
    table.iloc[0, 0] = 99.0
    assert read_table(path).iloc[0, 0] == 1.0
