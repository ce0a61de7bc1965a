"""Reading a table in blocks of samples: the same table as read_table, one block at a time."""

from __future__ import annotations

import bz2

import numpy as np
import pandas as pd
import pytest

import mlmicro
from mlmicro.exceptions import InvalidTableError, UnknownFormatError
from mlmicro.io.chunks import read_table_chunks

TAXA = [
    "k__Bacteria|p__Firmicutes|g__Roseburia|s__Roseburia_hominis",
    "k__Bacteria|p__Firmicutes|g__Blautia|s__Blautia_obeum",
    "k__Bacteria|p__Bacteroidetes|g__Bacteroides|s__Bacteroides_fragilis",
]


@pytest.fixture
def table():
    rng = np.random.default_rng(0)
    values = rng.integers(0, 50, size=(23, len(TAXA))).astype(float) + 1
    return pd.DataFrame(
        values,
        index=pd.Index([f"S{i:02d}" for i in range(23)], name="sample_id"),
        columns=TAXA,
    )


def _blocks(path, **options):
    chunks = read_table_chunks(path, **options)
    return chunks, list(chunks)


@pytest.mark.parametrize("name", ["t.tsv", "t.csv", "t.tsv.gz", "t.parquet"])
def test_streamed_blocks_make_up_the_table(tmp_path, table, name):
    path = tmp_path / name
    mlmicro.write_table(table, path)
    chunks, blocks = _blocks(path, chunk_size=5)
    assert chunks.streamed and chunks.table is None
    assert [len(b) for b in blocks] == [5, 5, 5, 5, 3]
    whole = pd.concat(blocks)
    pd.testing.assert_frame_equal(whole, mlmicro.read_table(path))
    assert chunks.columns == TAXA


def test_bz2_and_semicolon_csv_stream_too(tmp_path, table):
    path = tmp_path / "t.csv.bz2"
    path.write_bytes(bz2.compress(table.to_csv(sep=";").encode()))
    chunks, blocks = _blocks(path, chunk_size=10)
    assert chunks.streamed
    pd.testing.assert_frame_equal(pd.concat(blocks), mlmicro.read_table(path))


def test_parquet_with_a_stored_index(tmp_path, table):
    path = tmp_path / "t.parquet"
    table.to_parquet(path)  # index stored as a column named sample_id by pandas metadata
    chunks, blocks = _blocks(path, chunk_size=7)
    assert chunks.streamed and chunks.n_samples == 23
    assert pd.concat(blocks).index.tolist() == table.index.tolist()


def test_taxa_as_rows_is_read_whole_and_handed_out_in_blocks(tmp_path, table):
    path = tmp_path / "rows.tsv"
    table.T.rename_axis("#OTU ID").to_csv(path, sep="\t")
    chunks, blocks = _blocks(path, chunk_size=10)
    assert not chunks.streamed and chunks.n_samples == 23
    assert [len(b) for b in blocks] == [10, 10, 3]
    pd.testing.assert_frame_equal(pd.concat(blocks), mlmicro.read_table(path))


def test_columns_that_become_one_lineage_are_summed(tmp_path, table):
    table = table.copy()
    table[TAXA[0].replace("|", "; ")] = 1.0
    path = tmp_path / "t.tsv"
    table.to_csv(path, sep="\t")
    chunks, blocks = _blocks(path, chunk_size=4)
    assert chunks.columns == TAXA
    pd.testing.assert_frame_equal(pd.concat(blocks), mlmicro.read_table(path))


def test_feature_ids_get_lineages_from_a_taxonomy(tmp_path, table):
    ids = table.copy()
    ids.columns = ["f1", "f2", "f3"]
    path = tmp_path / "ids.tsv"
    ids.to_csv(path, sep="\t")
    taxonomy = dict(zip(ids.columns, TAXA, strict=True))
    chunks, blocks = _blocks(path, chunk_size=8, orientation="samples-rows", taxonomy=taxonomy)
    assert chunks.columns == TAXA and blocks[0].columns.tolist() == TAXA


def test_bad_values_name_their_sample_and_taxon(tmp_path, table):
    lines = table.to_csv(sep="\t").splitlines()
    cells = lines[20].split("\t")
    cells[2] = "abc"
    lines[20] = "\t".join(cells)
    path = tmp_path / "bad.tsv"
    path.write_text("\n".join(lines) + "\n")
    chunks = read_table_chunks(path, chunk_size=5)
    with pytest.raises(InvalidTableError, match=r"Non-numeric value 'abc'.*'S19'"):
        list(chunks)


def test_ragged_rows_and_repeated_taxa_are_refused(tmp_path, table):
    lines = table.to_csv(sep="\t").splitlines()
    lines[7] += "\t3"
    path = tmp_path / "ragged.tsv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InvalidTableError, match="fields but its header has"):
        list(read_table_chunks(path, chunk_size=5))
    repeated = table.copy()
    repeated.columns = [TAXA[0], TAXA[0], TAXA[1]]
    path = tmp_path / "repeated.tsv"
    repeated.to_csv(path, sep="\t")
    with pytest.raises(InvalidTableError, match="appears 2 times"):
        read_table_chunks(path)


def test_empty_samples_are_kept_unless_refused_and_empty_tables_are_refused(tmp_path, table):
    table = table.copy()
    table.iloc[12] = 0.0
    path = tmp_path / "zero.tsv"
    table.to_csv(path, sep="\t")
    blocks = list(read_table_chunks(path, chunk_size=5))
    assert sum(len(block) for block in blocks) == 23
    assert [s for block in blocks for s in mlmicro.io.empty_samples(block)] == ["S12"]
    with pytest.raises(InvalidTableError, match="no reads or abundance.*'S12'"):
        list(read_table_chunks(path, chunk_size=5, allow_empty_samples=False))
    header = tmp_path / "header.tsv"
    header.write_text("sample_id\t" + "\t".join(TAXA) + "\n")
    with pytest.raises(InvalidTableError, match="has no samples"):
        list(read_table_chunks(header, orientation="samples-rows"))


def test_bad_options(tmp_path, table):
    path = tmp_path / "t.tsv"
    mlmicro.write_table(table, path)
    with pytest.raises(InvalidTableError, match="chunk_size"):
        read_table_chunks(path, chunk_size=0)
    with pytest.raises(UnknownFormatError, match="Unknown table format"):
        read_table_chunks(path, format="xlsx")
