"""Every bad input gives a typed error whose message says what, where and how to fix."""

from __future__ import annotations

import gzip
import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mlmicro.exceptions import (
    InputFileError,
    InvalidTableError,
    MetadataError,
    MlmicroError,
    TaxonomyError,
    UnknownFormatError,
)
from mlmicro.io import (
    UnmatchedSamplesWarning,
    empty_samples,
    join_metadata,
    read_feature_taxonomy,
    read_metadata,
    read_metaml,
    read_table,
    write_table,
)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def one_sentence(message: str) -> None:
    assert message.endswith(".")
    assert "\n" not in message


# -- files ---------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(InputFileError, match="does not exist") as info:
        read_table(tmp_path / "nope.tsv")
    assert isinstance(info.value, FileNotFoundError | OSError)
    one_sentence(str(info.value))


def test_folder_instead_of_file(tmp_path):
    with pytest.raises(InputFileError, match="is a folder"):
        read_table(tmp_path)


@pytest.mark.parametrize("content", [b"", b"\n  \n", gzip.compress(b"")])
def test_empty_file(tmp_path, content):
    path = tmp_path / "empty.tsv"
    path.write_bytes(content)
    with pytest.raises(InputFileError, match="is empty") as info:
        read_table(path)
    one_sentence(str(info.value))


def test_truncated_gzip(tmp_path):
    path = tmp_path / "t.tsv.gz"
    path.write_bytes(gzip.compress(b"taxon\tS1\nOTU1\t1\n" * 200)[:-20])
    with pytest.raises(InputFileError, match="truncated or corrupt gzip"):
        read_table(path)


@pytest.mark.parametrize("content", [b"\x00\x01\x02binary\x00", b"just one column\nno tabs\n"])
def test_unknown_format(tmp_path, content):
    path = tmp_path / "mystery.dat"
    path.write_bytes(content)
    with pytest.raises(UnknownFormatError, match="--format") as info:
        read_table(path)
    for name in ("tsv", "metaphlan", "biom", "qza"):
        assert name in str(info.value)
    one_sentence(str(info.value))


# -- values ----------------------------------------------------------------------


def test_non_numeric_cell_names_taxon_and_sample(tmp_path):
    path = write(tmp_path / "t.tsv", "taxon\tS1\tS2\nOTU1\t1\t2\nOTU2\t3\tabc\n")
    with pytest.raises(InvalidTableError, match="Non-numeric") as info:
        read_table(path)
    message = str(info.value)
    assert "'abc'" in message and "'OTU2'" in message and "'S2'" in message
    assert str(path) in message
    one_sentence(message)


def test_non_numeric_cell_samples_as_rows(tmp_path):
    path = write(tmp_path / "t.tsv", "sample_id\tOTU1\tOTU2\nS1\t1\t2\nS2\tx\t0\n")
    with pytest.raises(InvalidTableError, match="taxon 'OTU1' and sample 'S2'"):
        read_table(path)


@pytest.mark.parametrize("cell", ["", "NA", "nan"])
def test_missing_cell(tmp_path, cell):
    path = write(tmp_path / "t.tsv", f"taxon\tS1\tS2\nOTU1\t1\t2\nOTU2\t3\t{cell}\n")
    with pytest.raises(InvalidTableError, match="Missing") as info:
        read_table(path)
    assert "'OTU2'" in str(info.value) and "'S2'" in str(info.value)


def test_short_row_is_missing_values(tmp_path):
    path = write(tmp_path / "t.tsv", "taxon\tS1\tS2\nOTU1\t1\n")
    with pytest.raises(InvalidTableError, match="Missing"):
        read_table(path)


@pytest.mark.parametrize("bad_line", [2, 3])
def test_long_row(tmp_path, bad_line):
    rows = ["OTU1\t1\t2", "OTU2\t1\t2"]
    rows[bad_line - 2] += "\t3"
    path = write(tmp_path / "t.tsv", "taxon\tS1\tS2\n" + "\n".join(rows) + "\n")
    with pytest.raises(InvalidTableError, match=f"Line {bad_line} .* has 4 fields") as info:
        read_table(path)
    one_sentence(str(info.value))


@pytest.mark.parametrize("cell", ["inf", "-inf"])
def test_infinite_value(tmp_path, cell):
    path = write(tmp_path / "t.tsv", f"taxon\tS1\tS2\nOTU1\t1\t{cell}\n")
    with pytest.raises(InvalidTableError, match="infinite") as info:
        read_table(path)
    assert "'OTU1'" in str(info.value) and "'S2'" in str(info.value)


def test_nan_in_biom_json(tmp_path):
    document = {
        "shape": [1, 2],
        "matrix_type": "dense",
        "data": [[1.0, None]],
        "rows": [{"id": "OTU1", "metadata": None}],
        "columns": [{"id": "S1"}, {"id": "S2"}],
    }
    path = write(tmp_path / "t.biom", json.dumps(document))
    with pytest.raises(InvalidTableError, match="Missing or infinite value.*'OTU1'.*'S2'"):
        read_table(path)


def test_negative_value(tmp_path):
    path = write(tmp_path / "t.tsv", "taxon\tS1\tS2\nOTU1\t1\t-2.5\n")
    with pytest.raises(InvalidTableError, match="Negative value") as info:
        read_table(path)
    assert "'OTU1'" in str(info.value) and "'S2'" in str(info.value)
    one_sentence(str(info.value))


def test_duplicate_sample_ids(tmp_path):
    path = write(tmp_path / "t.tsv", "taxon\tS1\tS1\nOTU1\t1\t2\n")
    with pytest.raises(InvalidTableError, match="sample ID 'S1' appears 2 times"):
        read_table(path)


def test_duplicate_taxa(tmp_path):
    path = write(tmp_path / "t.tsv", "taxon\tS1\tS2\nOTU1\t1\t2\nOTU2\t1\t1\nOTU1\t3\t4\n")
    with pytest.raises(InvalidTableError, match="taxon 'OTU1' appears 2 times") as info:
        read_table(path)
    assert "merge or rename" in str(info.value)


def test_duplicate_otu_in_classic_table(tmp_path):
    path = write(
        tmp_path / "otus.txt",
        "#OTU ID\tS1\ttaxonomy\n1\t1\tk__Bacteria\n1\t2\tk__Archaea\n",
    )
    with pytest.raises(InvalidTableError, match="taxon '1'"):
        read_table(path)


def test_all_zero_samples_are_kept_and_named(tmp_path):
    path = write(tmp_path / "t.tsv", "taxon\tS1\tS2\tS3\nOTU1\t1\t0\t0\nOTU2\t3\t0\t0\n")
    table = read_table(path)
    assert table.index.tolist() == ["S1", "S2", "S3"]
    assert empty_samples(table) == ["S2", "S3"]
    assert empty_samples(table.loc[["S1"]]) == []


def test_all_zero_samples_refused_when_asked(tmp_path):
    path = write(tmp_path / "t.tsv", "taxon\tS1\tS2\tS3\nOTU1\t1\t0\t0\nOTU2\t3\t0\t0\n")
    with pytest.raises(InvalidTableError, match="'S2', 'S3'") as info:
        read_table(path, allow_empty_samples=False)
    assert "remove them" in str(info.value) and str(path) in str(info.value)
    one_sentence(str(info.value))


def test_table_with_no_samples(tmp_path):
    path = write(tmp_path / "t.tsv", "taxon\nOTU1\n")
    with pytest.raises(InvalidTableError, match="no samples"):
        read_table(path, format="tsv")


# -- BIOM / qza ------------------------------------------------------------------


def test_truncated_biom_json(tmp_path):
    text = json.dumps({"shape": [1, 1], "data": [[0, 0, 1.0]], "rows": [], "columns": []})
    path = write(tmp_path / "t.biom", text[: len(text) // 2])
    with pytest.raises(InputFileError, match="BIOM JSON file .* truncated or corrupt") as info:
        read_table(path)
    one_sentence(str(info.value))


def test_biom_json_missing_entries(tmp_path):
    path = write(tmp_path / "t.biom", json.dumps({"shape": [1, 1]}))
    with pytest.raises(InputFileError, match="'rows'"):
        read_table(path)


def test_biom_json_entry_outside_shape(tmp_path):
    document = {
        "shape": [1, 1],
        "data": [[0, 3, 1.0]],
        "rows": [{"id": "o"}],
        "columns": [{"id": "s"}],
    }
    with pytest.raises(InputFileError, match="outside"):
        read_table(write(tmp_path / "t.biom", json.dumps(document)))


def _hdf5_biom_bytes(tmp_path: Path) -> bytes:
    biom = pytest.importorskip("biom")
    from biom.util import biom_open

    table = biom.Table(np.array([[1.0, 2.0], [3.0, 0.0]]), ["o1", "o2"], ["s1", "s2"])
    path = tmp_path / "good.biom"
    with biom_open(str(path), "w") as handle:
        table.to_hdf5(handle, "tests")
    return path.read_bytes()


def test_truncated_biom_hdf5(tmp_path):
    data = _hdf5_biom_bytes(tmp_path)
    path = tmp_path / "cut.biom"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputFileError, match="BIOM HDF5 file .* truncated or corrupt"):
        read_table(path)


def test_hdf5_that_is_not_biom(tmp_path):
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as handle:
        handle["x"] = [1, 2, 3]
    with pytest.raises(InputFileError, match="BIOM HDF5"):
        read_table(path)


def test_qza_bad_zip(tmp_path):
    path = tmp_path / "t.qza"
    path.write_bytes(b"PK\x03\x04" + b"garbage" * 20)
    with pytest.raises(InputFileError, match="not a readable .qza") as info:
        read_table(path)
    one_sentence(str(info.value))


def test_qza_without_biom(tmp_path):
    path = tmp_path / "taxonomy.qza"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("abc/data/taxonomy.tsv", "Feature ID\tTaxon\n")
    with pytest.raises(InputFileError, match="no data/feature-table.biom.*--taxonomy"):
        read_table(path)


def test_qza_with_truncated_biom(tmp_path):
    data = _hdf5_biom_bytes(tmp_path)
    path = tmp_path / "t.qza"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("abc/data/feature-table.biom", data[:300])
    with pytest.raises(InputFileError, match="truncated or corrupt"):
        read_table(path)


# -- taxonomy ----------------------------------------------------------------------


def test_taxonomy_sharing_no_features(tmp_path):
    table = write(tmp_path / "t.tsv", "taxon\tS1\nOTU1\t1\n")
    taxonomy = write(tmp_path / "tax.tsv", "Feature ID\tTaxon\nASV9\tk__Bacteria\n")
    with pytest.raises(TaxonomyError, match="taxonomy made for this table"):
        read_table(table, taxonomy=taxonomy)


def test_taxonomy_with_duplicate_feature(tmp_path):
    taxonomy = write(tmp_path / "tax.tsv", "Feature ID\tTaxon\nA\tk__X\nA\tk__Y\n")
    with pytest.raises(TaxonomyError, match="'A' is listed more than once"):
        read_feature_taxonomy(taxonomy)


def test_metaml_without_sample_row(tmp_path):
    path = write(tmp_path / "m.txt", "dataset_name\td1\td1\nk__Bacteria\t1\t2\n")
    with pytest.raises(InvalidTableError, match="'sampleID'"):
        read_metaml(path)


# -- metadata ------------------------------------------------------------------------


def test_metadata_duplicate_ids(tmp_path):
    path = write(tmp_path / "m.tsv", "sample-id\tlabel\nS1\ta\nS1\tb\n")
    with pytest.raises(MetadataError, match="'S1' appears 2 times") as info:
        read_metadata(path)
    one_sentence(str(info.value))


def test_metadata_unknown_id_column(tmp_path):
    path = write(tmp_path / "m.tsv", "sample-id\tlabel\nS1\ta\n")
    with pytest.raises(MetadataError, match="'Sample' is not in"):
        read_metadata(path, sample_id_column="Sample")


def test_metadata_given_a_table_file(tmp_path):
    path = write(tmp_path / "t.biom", json.dumps({"shape": [0, 0]}))
    with pytest.raises(MetadataError, match="not sample metadata"):
        read_metadata(path)


def test_join_without_shared_samples(tmp_path):
    table = read_table(write(tmp_path / "t.tsv", "taxon\tS1\tS2\nOTU1\t1\t2\n"))
    metadata = read_metadata(write(tmp_path / "m.tsv", "id\tlabel\nG1\ta\nG2\tb\n"))
    with pytest.raises(MetadataError, match="--sample-id-column") as info:
        join_metadata(table, metadata)
    assert "'S1'" in str(info.value) and "'G1'" in str(info.value)
    one_sentence(str(info.value))


def test_metadata_rows_without_id_warn(tmp_path):
    path = write(tmp_path / "m.tsv", "id\tlabel\nS1\ta\nNA\tb\n\tc\n")
    with pytest.warns(UnmatchedSamplesWarning, match="2 row"):
        metadata = read_metadata(path)
    assert metadata.index.tolist() == ["S1"]


# -- output ----------------------------------------------------------------------------


def test_write_unknown_extension(tmp_path):
    table = read_table(write(tmp_path / "t.tsv", "taxon\tS1\nOTU1\t1\n"))
    with pytest.raises(UnknownFormatError, match=r"\.parquet") as info:
        write_table(table, tmp_path / "out.xlsx")
    assert isinstance(info.value, MlmicroError)
    assert not (tmp_path / "out.xlsx").exists()


# -- inputs are never modified -----------------------------------------------------------


def _digest(path: Path) -> tuple[str, float]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("t.tsv", "taxon\tS1\tS2\nOTU1\t1\t2\nOTU2\t3\t4\n"),
        ("bad.tsv", "taxon\tS1\tS2\nOTU1\t1\t-2\n"),
        ("m.txt", "#mpa_v30\nclade_name\ts1\nk__Bacteria\t100\n"),
        ("c.txt", "#OTU ID\tS1\ttaxonomy\n1\t1\tk__Bacteria\n"),
    ],
)
def test_input_file_unchanged(tmp_path, name, content):
    path = write(tmp_path / name, content)
    before = _digest(path)
    try:
        read_table(path)
        read_metadata(path)
    except MlmicroError:
        pass
    assert _digest(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


@pytest.mark.shared
def test_real_files_unchanged(shared_datasets):
    paths = [
        shared_datasets / "qiime2" / "jangi_ms" / "filt-feature-table.qza",
        shared_datasets / "qiime2" / "jangi_ms" / "hybrid-taxonomy.qza",
        shared_datasets / "mlrepo" / "sokol" / "gg" / "otutable.biom",
    ]
    before = [_digest(p) for p in paths]
    read_table(paths[0], taxonomy=paths[1])
    read_table(paths[2])
    assert [_digest(p) for p in paths] == before
