"""write_table round trips and atomic_write."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mlmicro.exceptions import OutputExistsError
from mlmicro.io import atomic_write, read_table, write_table

LINEAGES = [
    "k__Bacteria|p__Firmicutes|g__Roseburia",
    "k__Bacteria|p__Bacteroidetes",
    "OTU_17",
]


def _table() -> pd.DataFrame:
    return pd.DataFrame(
        [[1.5, 0.0, 3.0], [0.1, 2.0, 1e-12]],
        index=pd.Index(["S1", "007"], name="sample_id"),
        columns=LINEAGES,
    )


@pytest.mark.parametrize(
    "name", ["t.tsv", "t.txt", "t.csv", "t.parquet", "t.tsv.gz", "t.csv.gz", "t.TSV"]
)
def test_round_trip(tmp_path, name):
    table = _table()
    path = write_table(table, tmp_path / name)
    back = read_table(path)
    pd.testing.assert_frame_equal(back, table, check_index_type=False, check_column_type=False)
    assert back.index.tolist() == ["S1", "007"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no temp file left


def test_text_layout(tmp_path):
    write_table(_table(), tmp_path / "t.tsv")
    lines = (tmp_path / "t.tsv").read_text().splitlines()
    assert lines[0].split("\t") == ["sample_id", *LINEAGES]
    assert lines[2].startswith("007\t")


def test_gz_is_gzip(tmp_path):
    write_table(_table(), tmp_path / "t.csv.gz")
    assert gzip.decompress((tmp_path / "t.csv.gz").read_bytes()).startswith(b"sample_id,")


def test_overwrite_and_refusal(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("old")
    write_table(_table(), path)
    assert path.read_text().startswith("sample_id")
    with pytest.raises(OutputExistsError, match="already exists"):
        write_table(_table(), path, overwrite=False)


def test_creates_folders(tmp_path):
    path = write_table(_table(), tmp_path / "a" / "b" / "t.parquet")
    assert path.exists()


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_write(path) as handle:
        handle.write(b"half")
        raise RuntimeError("boom")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.bin"]


def test_atomic_write_modes(tmp_path):
    with atomic_write(tmp_path / "a.txt", mode="w") as handle:
        handle.write("héllo\n")
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "héllo\n"
    with atomic_write(tmp_path / "b.bin", mode=None) as temporary:
        assert temporary.parent == tmp_path
        temporary.write_bytes(b"x")
    assert (tmp_path / "b.bin").read_bytes() == b"x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.bin"]


def test_atomic_write_path_mode_failure_removes_temp(tmp_path):
    with pytest.raises(ValueError), atomic_write(tmp_path / "c.bin", mode=None) as temporary:
        temporary.write_bytes(b"partial")
        raise ValueError("fail")
    assert list(tmp_path.iterdir()) == []


@settings(max_examples=25, deadline=None)
@given(
    values=arrays(
        np.float64,
        st.tuples(st.integers(1, 4), st.integers(1, 4)),
        elements=st.floats(0.001, 1e12, allow_nan=False, allow_infinity=False),
    ),
    extension=st.sampled_from([".tsv", ".csv", ".parquet"]),
)
def test_round_trip_property(tmp_path_factory, values, extension):
    table = pd.DataFrame(
        values,
        index=pd.Index([f"s{i}" for i in range(values.shape[0])], name="sample_id"),
        columns=[f"k__Bacteria|g__G{j}" for j in range(values.shape[1])],
    )
    path = tmp_path_factory.mktemp("rt") / f"t{extension}"
    back = read_table(write_table(table, path))
    np.testing.assert_array_equal(back.to_numpy(), values)
    assert back.columns.tolist() == table.columns.tolist()
