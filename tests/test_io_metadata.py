"""read_metadata and join_metadata on small synthetic files."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlmicro.exceptions import MetadataError
from mlmicro.io import UnmatchedSamplesWarning, join_metadata, read_metadata, read_metaml


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_qiime2_metadata_skips_types_row(tmp_path):
    path = write(
        tmp_path / "m.tsv",
        "sample-id\tdisease\tage\n#q2:types\tcategorical\tnumeric\nS1\tMS\t30\nS2\tHC\tNA\n",
    )
    metadata = read_metadata(path)
    assert metadata.index.name == "sample_id"
    assert metadata.index.tolist() == ["S1", "S2"]
    assert metadata["disease"].tolist() == ["MS", "HC"]
    assert metadata["age"].dtype.kind in "if"
    assert np.isnan(metadata.loc["S2", "age"])


def test_qiime1_mapping_and_csv(tmp_path):
    tsv = write(tmp_path / "map.txt", "#SampleID\tVar\n100.1\tCD\n007\tno\n")
    assert read_metadata(tsv).index.tolist() == ["100.1", "007"]  # IDs stay strings
    csv = write(tmp_path / "m.csv", 'id,label,note\nA,x,"a, b"\nB,,c\n')
    metadata = read_metadata(csv)
    assert metadata.loc["A", "note"] == "a, b"
    assert pd.isna(metadata.loc["B", "label"])


def test_sample_id_column(tmp_path):
    path = write(tmp_path / "m.tsv", "Subject\tSample (16S)\tDisease\nP1\tG1\tCD\nP1\tG2\tUC\n")
    metadata = read_metadata(path, sample_id_column="Sample (16S)")
    assert metadata.index.tolist() == ["G1", "G2"]
    assert list(metadata.columns) == ["Subject", "Disease"]


def test_metaml_metadata_in_small_file(tmp_path):
    path = write(
        tmp_path / "abundance.txt",
        "dataset_name\tA\tA\tB\n"
        "sampleID\ts1\ts2\ts1\n"
        "age\t30\tnd\t41.5\n"
        "disease\tn\tcd\t-\n"
        "k__Bacteria\t100\t100\t100\n"
        "k__Bacteria|p__Firmicutes\t60\t10\t0\n",
    )
    metadata = read_metadata(path)
    assert metadata.index.tolist() == ["A:s1", "A:s2", "B:s1"]
    assert metadata["age"].tolist()[0] == 30.0 and np.isnan(metadata["age"].iloc[1])
    assert pd.isna(metadata.loc["B:s1", "disease"])
    table, meta = read_metaml(path)
    assert table.index.equals(meta.index)
    assert table.loc["A:s2", "k__Bacteria|p__Firmicutes"] == 10.0


def test_join_keeps_table_order_and_warns(tmp_path):
    table = pd.DataFrame(
        {"OTU1": [1.0, 2.0, 3.0]}, index=pd.Index(["S3", "S1", "S9"], name="sample_id")
    )
    metadata = read_metadata(write(tmp_path / "m.tsv", "id\tlabel\nS1\ta\nS3\tb\nS4\tc\n"))
    with pytest.warns(UnmatchedSamplesWarning) as record:
        joined, meta = join_metadata(table, metadata)
    message = str(record[0].message)
    assert "1 of 3 table samples" in message and "'S9'" in message
    assert "1 of 3 metadata rows" in message and "'S4'" in message
    assert joined.index.tolist() == meta.index.tolist() == ["S3", "S1"]
    assert meta["label"].tolist() == ["b", "a"]
    assert issubclass(UnmatchedSamplesWarning, UserWarning)


def test_join_without_warning_when_all_match(tmp_path):
    table = pd.DataFrame({"OTU1": [1.0, 2.0]}, index=pd.Index(["S1", "S2"], name="sample_id"))
    metadata = read_metadata(write(tmp_path / "m.tsv", "id\tlabel\nS2\ta\nS1\tb\n"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        joined, meta = join_metadata(table, metadata)
    assert meta["label"].tolist() == ["b", "a"]


def test_duplicate_ids_in_chosen_column(tmp_path):
    path = write(tmp_path / "m.tsv", "Subject\tSample\nP1\tG1\nP1\tG2\n")
    with pytest.raises(MetadataError, match="--sample-id-column"):
        read_metadata(path, sample_id_column="Subject")
