"""Readers accept the files people have and refuse bad ones in one clean line.

Each case below is a file as found in the wild (odd encodings, R's layout, a
MetaPhlAn table saved as CSV) or a broken one (truncated, binary, huge
lines, values that overflow, pipes). The parametrised test at the end runs
``read_table`` over all of them.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import os
import warnings
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

import mlmicro
from mlmicro.exceptions import InputFileError, InvalidTableError, MlmicroError, UnknownFormatError
from mlmicro.io import (
    MissingTaxonomyWarning,
    TextEncodingWarning,
    drop_organelles,
    empty_samples,
    is_organelle,
    read_metadata,
    read_table,
)
from mlmicro.io._limits import MAX_LABEL_CHARS, MAX_LINE_BYTES, LineGuard
from mlmicro.io._validate import check_totals
from mlmicro.io.chunks import read_table_chunks
from mlmicro.taxonomy import canonical_lineage

TSV = "taxon\tS1\tS2\nOTU1\t1\t2\nOTU2\t3\t4\n"
CAFE = "k__Bacteria|g__Caf\u00e9"


def one_line(message: str, path: Path) -> None:
    assert "\n" not in message
    assert str(path) in message


# -- delimiter: a MetaPhlAn table saved as CSV --------------------------------------


def test_metaphlan_merged_table_saved_as_csv(tmp_path):
    path = tmp_path / "merged.csv"
    path.write_text(
        "clade_name,S000,S001,S002\n"
        "UNCLASSIFIED,1.0,0.0,2.0\n"
        "k__Bacteria,99.0,100.0,98.0\n"
        "k__Bacteria|p__Firmicutes,60.0,40.0,8.0\n"
    )
    assert mlmicro.io.detect_format(path) == "metaphlan"
    table = read_table(path)
    assert table.index.tolist() == ["S000", "S001", "S002"]
    assert table.columns.tolist() == ["k__Bacteria", "k__Bacteria|p__Firmicutes"]
    assert table.loc["S001", "k__Bacteria|p__Firmicutes"] == 40.0
    pd.testing.assert_frame_equal(
        table, read_table(path, format="csv").drop(columns="UNCLASSIFIED")
    )


def test_metaphlan_csv_with_version_line_and_taxid_column(tmp_path):
    path = tmp_path / "merged.csv"
    path.write_text(
        "#mpa_v30_CHOCOPhlAn_201901\n"
        "clade_name,NCBI_tax_id,s1,s2\n"
        "k__Bacteria,2,100.0,100.0\n"
        "k__Bacteria|p__Firmicutes,2|1239,70.0,10.0\n"
    )
    table = read_table(path)
    assert table.index.tolist() == ["s1", "s2"]
    assert table.loc["s2", "k__Bacteria|p__Firmicutes"] == 10.0


def test_qiime_classic_table_saved_as_csv(tmp_path):
    path = tmp_path / "otus.csv"
    path.write_text("#OTU ID,S1,S2,taxonomy\n1,5,0,k__Bacteria; p__Firmicutes\n2,1,3,\n")
    assert mlmicro.io.detect_format(path) == "qiime-classic"
    table = read_table(path)
    assert table.columns.tolist() == ["k__Bacteria|p__Firmicutes", "2"]
    assert table.loc["S2", "2"] == 3.0


# -- encodings --------------------------------------------------------------------------


@pytest.mark.parametrize("codec", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32"])
@pytest.mark.parametrize("name", ["t.tsv", "t.tsv.gz"])
def test_unicode_encodings_are_decoded(tmp_path, codec, name):
    text = f"taxon\tS1\tS\u00e92\r\n{CAFE}\t1\t2\r\nOTU2\t3\t4\r\n"
    data = text.encode(codec)
    if codec in ("utf-16-le", "utf-16-be"):
        data = (b"\xff\xfe" if codec.endswith("le") else b"\xfe\xff") + data
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    table = read_table(path)
    assert table.index.tolist() == ["S1", "S\u00e92"]
    assert table.columns.tolist() == [CAFE, "OTU2"]
    assert table.loc["S\u00e92", "OTU2"] == 4.0


def test_utf16_without_byte_order_mark(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_bytes(TSV.encode("utf-16-le"))
    assert read_table(path).shape == (2, 2)


@pytest.mark.parametrize("fmt", ["metaphlan", "biom", "qiime-classic"])
def test_byte_order_marks_on_other_formats(tmp_path, fmt):
    texts = {
        "metaphlan": "#mpa_v30\nclade_name\ts1\nk__Bacteria\t100\n",
        "biom": json.dumps(
            {
                "shape": [1, 1],
                "data": [[0, 0, 5.0]],
                "rows": [{"id": "o1"}],
                "columns": [{"id": "s1"}],
            }
        ),
        "qiime-classic": "#OTU ID\ts1\n1\t100\n",
    }
    for codec in ("utf-8-sig", "utf-16"):
        path = tmp_path / f"t-{codec}.txt"
        path.write_bytes(texts[fmt].encode(codec))
        assert mlmicro.io.detect_format(path) == fmt
        assert read_table(path).shape == (1, 1)


@pytest.mark.parametrize(
    ("codec", "text", "expected"),
    [
        ("latin-1", CAFE, CAFE),
        ("cp1252", "k__Bacteria|g__Caf\u00e9\u2013like", "k__Bacteria|g__Caf\u00e9\u2013like"),
    ],
)
def test_not_utf8_is_read_as_cp1252_with_a_warning(tmp_path, codec, text, expected):
    path = tmp_path / "t.tsv"
    path.write_bytes(f"taxon\tS1\n{text}\t1\n".encode(codec))
    with pytest.warns(TextEncodingWarning, match="not UTF-8") as record:
        table = read_table(path)
    assert table.columns.tolist() == [expected]
    message = str(record[0].message)
    assert str(path) in message and "line 2" in message and "\n" not in message


def test_bytes_undefined_in_cp1252_fall_back_to_latin1(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_bytes(b"taxon\tS1\nk__A\x81\t1\n")
    with pytest.warns(TextEncodingWarning, match="latin-1"):
        table = read_table(path)
    assert table.columns.tolist() == ["k__A\x81"]


def test_metadata_in_latin1_and_utf16(tmp_path):
    path = tmp_path / "m.tsv"
    path.write_bytes("sample-id\tcountry\nS1\tEspa\u00f1a\n".encode("latin-1"))
    with pytest.warns(TextEncodingWarning):
        assert read_metadata(path).loc["S1", "country"] == "Espa\u00f1a"
    path.write_bytes("sample-id\tcountry\nS1\tEspa\u00f1a\n".encode("utf-16"))
    assert read_metadata(path).loc["S1", "country"] == "Espa\u00f1a"


def test_streamed_chunks_decode_utf16_and_warn_on_latin1(tmp_path):
    text = "sample_id\tk__A\tk__B\nS\u00e91\t1\t2\nS2\t3\t4\n"
    path = tmp_path / "s.tsv"
    path.write_bytes(text.encode("utf-16"))
    chunks = read_table_chunks(path, orientation="samples-rows")
    assert chunks.streamed
    assert pd.concat(list(chunks)).index.tolist() == ["S\u00e91", "S2"]
    path.write_bytes(text.encode("latin-1"))
    with pytest.warns(TextEncodingWarning, match=str(path)):
        chunks = read_table_chunks(path, orientation="samples-rows")
    assert pd.concat(list(chunks)).index.tolist() == ["S\u00e91", "S2"]


def test_broken_utf16_is_refused(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_bytes(TSV.encode("utf-16")[:-1])
    with pytest.raises(InputFileError, match="UTF-16 LE") as info:
        read_table(path)
    one_line(str(info.value), path)


# -- R's write.table layout -------------------------------------------------------------


def test_r_write_table_layout(tmp_path):
    path = tmp_path / "feat.tsv"
    path.write_text("S1\tS2\tS3\nBacteroides vulgatus [C]\t0.5\t0\t0.2\nUNMAPPED\t0.5\t1\t0.8\n")
    table = read_table(path)
    assert table.index.tolist() == ["S1", "S2", "S3"]
    assert table.columns.tolist() == ["Bacteroides vulgatus [C]", "UNMAPPED"]
    assert table.loc["S3", "UNMAPPED"] == 0.8


def test_r_layout_samples_as_rows_and_streamed(tmp_path):
    lineages = ["k__Bacteria|p__Firmicutes", "k__Bacteria|p__Bacteroidetes"]
    path = tmp_path / "t.tsv"
    path.write_text("\t".join(lineages) + "\nS1\t1\t2\nS2\t3\t4\n")
    table = read_table(path)
    assert table.index.tolist() == ["S1", "S2"] and table.columns.tolist() == lineages
    chunks = read_table_chunks(path)
    assert chunks.streamed
    pd.testing.assert_frame_equal(pd.concat(list(chunks)), table)


def test_one_wide_row_is_still_an_error_not_r_layout(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("taxon\tS1\tS2\nOTU1\t1\t2\t3\nOTU2\t1\t2\n")
    with pytest.raises(InvalidTableError, match="Line 2 .* has 4 fields"):
        read_table(path)


def test_r_layout_metadata(tmp_path):
    path = tmp_path / "meta.tsv"
    path.write_text("label\tage\nS1\tCRC\t61\nS2\tCTR\t58\n")
    metadata = read_metadata(path)
    assert metadata.index.tolist() == ["S1", "S2"]
    assert metadata.loc["S2", "label"] == "CTR"


@pytest.mark.shared
def test_siamcat_feature_table_as_shipped(shared_datasets):
    path = shared_datasets / "siamcat" / "feat_crc_zeller_msb_mocat_specI.tsv"
    table = read_table(path)
    assert table.shape == (141, 1754)
    assert table.index[0] == "CCIS27304052ST-3-0"
    assert "UNMAPPED" in table.columns
    assert "Bacteroides dorei/vulgatus [c:1104]" in table.columns
    assert table.loc["CCIS27304052ST-3-0", "UNMAPPED"] == pytest.approx(0.589839018573821)
    np.testing.assert_allclose(table.sum(axis=1), 1.0, rtol=1e-9)
    metadata = read_metadata(shared_datasets / "siamcat" / "meta_crc_zeller.tsv")
    assert set(table.index) == set(metadata.index)


# -- not a regular file -----------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_named_pipe_is_refused_without_blocking(tmp_path):
    path = tmp_path / "pipe.tsv"
    os.mkfifo(path)  # nobody writes to it: opening it for reading would block forever
    with pytest.raises(InputFileError, match="named pipe") as info:
        read_table(path)
    one_line(str(info.value), path)
    with pytest.raises(InputFileError, match="named pipe"):
        read_metadata(path)


def test_device_is_refused(tmp_path):
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero")
    link = tmp_path / "zeros.tsv"
    link.symlink_to("/dev/zero")  # endless: must not be read
    with pytest.raises(InputFileError, match="character device"):
        read_table(link)


# -- long lines and names ---------------------------------------------------------------


def _gzip_one_long_line(path: Path, n_mib: int) -> None:
    packer = zlib.compressobj(1, zlib.DEFLATED, 31)
    block = b"A" * (1 << 20)
    with path.open("wb") as handle:
        handle.write(packer.compress(b"taxon\tS1\n"))
        for _ in range(n_mib):
            handle.write(packer.compress(block))
        handle.write(packer.compress(b"\t1\n") + packer.flush())


def test_small_gzip_with_a_200_mb_line_is_refused_early(tmp_path):
    path = tmp_path / "bomb.tsv.gz"
    _gzip_one_long_line(path, 200)
    assert path.stat().st_size < 2_000_000
    with pytest.raises(InputFileError, match="Line 2 .* longer than 32 MiB") as info:
        read_table(path)
    one_line(str(info.value), path)


def test_line_limit_on_plain_files(tmp_path, monkeypatch):
    monkeypatch.setattr("mlmicro.io._limits.MAX_LINE_BYTES", 1000)
    path = tmp_path / "t.tsv"
    path.write_text("taxon\tS1\n" + "OTU1\t1\n" * 10 + "x" * 1001 + "\t1\n")
    with pytest.raises(InputFileError, match="Line 12 .* longer than 1000 bytes") as info:
        read_table(path)
    one_line(str(info.value), path)
    path.write_text("taxon\tS1\n" + "x" * 990 + "\t1\n")
    assert read_table(path).shape == (1, 1)


def test_line_guard_agrees_with_splitting_lines():
    rng = np.random.default_rng(3)
    for _ in range(2000):
        data = bytes(rng.choice(list(b"ab\r\n"), size=int(rng.integers(0, 30))).tolist())
        limit = int(rng.integers(1, 6))
        lines = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        expected = next((i + 1 for i, line in enumerate(lines) if len(line) > limit), None)
        cuts = sorted(rng.integers(0, len(data) + 1, size=3).tolist())
        blocks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        guard, found = LineGuard("f", limit=limit), None
        try:
            for block in blocks:
                guard.feed(block)
        except InputFileError as err:
            found = int(str(err).split()[1])
        assert found == expected, (data, limit, blocks)


def test_line_guard_counts_lines_across_blocks():
    guard = LineGuard("f", limit=3)
    for block in (b"ab", b"c\nde", b"f\r", b"\nghi\r", b"\njk"):
        guard.feed(block)
    with pytest.raises(InputFileError, match="Line 4 of f"):
        guard.feed(b"lm")
    assert MAX_LINE_BYTES == 32 * 1024 * 1024


@pytest.mark.parametrize("where", ["row", "header", "row, orientation given"])
def test_over_long_taxon_or_sample_name(tmp_path, where):
    name = "A" * (MAX_LABEL_CHARS + 10)
    path = tmp_path / "t.tsv"
    if where == "header":
        path.write_text(f"taxon\t{name}\nOTU1\t1\n")
    else:
        path.write_text(f"taxon\tS1\n{name}\t1\n")
    orientation = "taxa-rows" if "given" in where else "auto"
    with pytest.raises(InvalidTableError, match="131,082 characters long.*'AAAA") as info:
        read_table(path, orientation=orientation)
    one_line(str(info.value), path)


def test_over_long_name_in_biom(tmp_path):
    document = {
        "shape": [1, 1],
        "data": [[0, 0, 1.0]],
        "rows": [{"id": "o" * (MAX_LABEL_CHARS + 1)}],
        "columns": [{"id": "s1"}],
    }
    path = tmp_path / "t.biom"
    path.write_text(json.dumps(document))
    with pytest.raises(InvalidTableError, match="characters long.*'oooo"):
        read_table(path)


# -- values that overflow ---------------------------------------------------------------


@pytest.mark.parametrize("value", ["1e308", "1.7976931348623157e308", "5e300"])
def test_values_too_large_for_relative_abundances(tmp_path, value):
    path = tmp_path / "t.tsv"
    path.write_text(f"taxon\tS1\tS2\nOTU1\t1\t{value}\nOTU2\t2\t{value}\n")
    with pytest.raises(InvalidTableError, match="too large") as info:
        read_table(path)
    message = str(info.value)
    assert "'S2'" in message and "'OTU1'" in message
    one_line(message, path)


def test_largest_allowed_value_reads(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("taxon\tS1\nOTU1\t1e300\nOTU2\t1e300\n")
    table = read_table(path)
    assert np.isfinite(table.sum(axis=1)).all()


def test_totals_that_overflow_are_refused():
    values = np.array([[1.0, 2.0, 3.0], [1e308, 1e308, 1.0]])
    with pytest.raises(InvalidTableError, match="sample 'B'"):
        check_totals(values, ["A", "B"], ["x", "y", "z"], "f.tsv")


def test_streamed_chunks_refuse_overflowing_values(tmp_path):
    path = tmp_path / "s.tsv"
    path.write_text("sample_id\tk__A\tk__B\nS1\t1\t2\nS2\t1e308\t4\n")
    with pytest.raises(InvalidTableError, match="'S2' is too large"):
        list(read_table_chunks(path))


# -- empty samples --------------------------------------------------------------------------


def test_empty_samples_are_read_in_every_format(tmp_path):
    frame = pd.DataFrame(
        [[1.0, 2.0], [0.0, 0.0]],
        index=pd.Index(["S1", "S2"], name="sample_id"),
        columns=["k__A", "k__B"],
    )
    for name in ("t.tsv", "t.csv", "t.parquet", "t.tsv.gz"):
        path = tmp_path / name
        mlmicro.io.write_table(frame, path)
        table = read_table(path)
        assert empty_samples(table) == ["S2"], name
    document = {
        "shape": [2, 2],
        "data": [[0, 0, 1.0]],
        "rows": [{"id": "o1"}, {"id": "o2"}],
        "columns": [{"id": "S1"}, {"id": "S2"}],
    }
    path = tmp_path / "t.biom"
    path.write_text(json.dumps(document))
    assert empty_samples(read_table(path)) == ["S2"]


# -- organelles -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lineage", "organelle"),
    [
        ("k__Bacteria|p__Cyanobacteria|c__Chloroplast|o__Streptophyta", True),
        ("k__Bacteria; p__Cyanobacteria; c__Chloroplast; o__; f__; g__; s__", True),
        ("d__Bacteria; p__Cyanobacteria; c__Cyanobacteriia; o__Chloroplast", True),
        ("k__Bacteria|p__Proteobacteria|o__Rickettsiales|f__mitochondria", True),
        ("D_0__Bacteria;D_3__Rickettsiales;D_4__Mitochondria", True),
        ("k__Bacteria|f__MITOCHONDRIA|g__x", True),
        ("k__Bacteria|p__Cyanobacteria|c__Oscillatoriophycideae", False),
        ("k__Bacteria|p__Proteobacteria|o__Rickettsiales|f__Rickettsiaceae", False),
        ("k__Bacteria|g__Chloroplastida_like", False),
        ("4392784", False),
    ],
)
def test_is_organelle(lineage, organelle):
    assert is_organelle(lineage) is organelle


def test_drop_organelles_on_synthetic_table():
    table = pd.DataFrame(
        [[5.0, 1.0, 2.0, 0.0], [0.0, 0.0, 3.0, 4.0]],
        index=pd.Index(["S1", "S2"], name="sample_id"),
        columns=[
            "k__Bacteria|p__Firmicutes",
            "k__Bacteria|p__Proteobacteria|o__Rickettsiales|f__mitochondria",
            "k__Bacteria|p__Cyanobacteria|c__Chloroplast",
            "k__Bacteria|p__Bacteroidetes",
        ],
    )
    before = table.copy()
    kept, n_dropped = drop_organelles(table)
    assert n_dropped == 2
    assert kept.columns.tolist() == ["k__Bacteria|p__Firmicutes", "k__Bacteria|p__Bacteroidetes"]
    assert kept.index.tolist() == ["S1", "S2"]
    pd.testing.assert_frame_equal(table, before)
    again, none = drop_organelles(kept)
    assert none == 0
    pd.testing.assert_frame_equal(again, kept)


@pytest.mark.shared
@pytest.mark.parametrize("cohort", ["CS-PRISM", "HMP2", "MucosalIBD"])
def test_drop_organelles_on_ibdmeta(shared_datasets, cohort):
    path = shared_datasets / "ibdmeta" / cohort / "all_samples_taxonomy_closed_reference.tsv"
    table = read_table(path)
    raw = pd.read_csv(path, sep="\t", index_col=0, dtype={"taxonomy": str})
    lower = raw["taxonomy"].fillna("").str.lower()
    organelle_otus = lower.str.contains("f__mitochondria|c__chloroplast")
    assert 0 < organelle_otus.sum() < 10
    kept, n_dropped = drop_organelles(table)
    # OTUs with the same lineage were summed on reading: one column per organelle lineage
    lineages = {canonical_lineage(t) for t in raw.loc[organelle_otus, "taxonomy"]}
    assert n_dropped == len(lineages) == table.shape[1] - kept.shape[1]
    assert not any(is_organelle(c) for c in kept.columns)
    assert "k__Bacteria|p__Cyanobacteria|c__Chloroplast|o__Streptophyta" not in kept.columns
    dropped_reads = table.sum(axis=1) - kept.sum(axis=1)
    organelle_reads = raw.loc[organelle_otus].drop(columns="taxonomy").sum(axis=0)
    np.testing.assert_allclose(dropped_reads.to_numpy(), organelle_reads.to_numpy())


# -- read_table on many bad and odd files ------------------------------------------------------

Builder = Callable[[Path], Path]


def _bytes(name: str, data: bytes) -> Builder:
    def build(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(data)
        return path

    return build


def _text(name: str, text: str) -> Builder:
    return _bytes(name, text.encode())


def _biom_json(document: object, cut: int | None = None) -> Builder:
    text = json.dumps(document)
    return _text("t.biom", text[:cut] if cut else text)


def _hdf5_biom(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        handle["observation/ids"] = np.array([b"o1", b"o2"])
        handle["sample/ids"] = np.array([b"s1", b"s2", b"s3"])
        handle["sample/matrix/data"] = np.array([1.0, 2.0, 3.0])
        handle["sample/matrix/indices"] = np.array([0, 1, 0])
        handle["sample/matrix/indptr"] = np.array([0, 1, 2, 3])
    return buffer.getvalue()


def _built(name: str, make: Callable[[Path], bytes]) -> Builder:
    def build(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(make(folder))
        return path

    return build


def _qza(member: str, data: Callable[[Path], bytes]) -> Builder:
    def make(folder: Path) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("0b1c/metadata.yaml", "type: FeatureTable[Frequency]\n")
            archive.writestr(f"0b1c/data/{member}", data(folder))
        return buffer.getvalue()

    return _built("t.qza", make)


def _parquet(frame: pd.DataFrame, cut: bool = False) -> Builder:
    def make(folder: Path) -> bytes:
        buffer = io.BytesIO()
        frame.to_parquet(buffer)
        data = buffer.getvalue()
        return data[: len(data) // 2] if cut else data

    return _built("t.parquet", make)


def _fifo(folder: Path) -> Path:
    path = folder / "pipe.tsv"
    os.mkfifo(path)
    return path


def _long_gzip(folder: Path) -> Path:
    path = folder / "long.tsv.gz"
    _gzip_one_long_line(path, 40)
    return path


def _long_plain(folder: Path) -> Path:
    path = folder / "long.tsv"
    with path.open("wb") as handle:
        handle.write(b"taxon\tS1\nOTU1\t")
        handle.write(b"1" * (MAX_LINE_BYTES + 1))
        handle.write(b"\n")
    return path


GOOD = pd.DataFrame(
    {"k__A": [1.0, 2.0], "k__B": [3.0, 0.0]}, index=pd.Index(["s1", "s2"], name="sample_id")
)
RNG = np.random.default_rng(7)
BIOM_OK = {"rows": [{"id": "o1"}], "columns": [{"id": "s1"}], "shape": [1, 1]}

#: (id, builder, expected shape or None for a refusal)
CASES: list[tuple[str, Builder, tuple[int, int] | None]] = [
    # files that read
    ("plain-tsv", _text("t.tsv", TSV), (2, 2)),
    ("utf8-bom", _bytes("t.tsv", TSV.encode("utf-8-sig")), (2, 2)),
    ("utf16-le-bom", _bytes("t.tsv", TSV.encode("utf-16")), (2, 2)),
    ("utf16-be-bom", _bytes("t.tsv", b"\xfe\xff" + TSV.encode("utf-16-be")), (2, 2)),
    ("utf32-bom", _bytes("t.tsv", TSV.encode("utf-32")), (2, 2)),
    ("utf16-no-bom", _bytes("t.tsv", TSV.encode("utf-16-le")), (2, 2)),
    ("latin1", _bytes("t.tsv", f"taxon\tS1\n{CAFE}\t1\n".encode("latin-1")), (1, 1)),
    ("crlf", _text("t.tsv", TSV.replace("\n", "\r\n")), (2, 2)),
    ("cr-only", _text("t.tsv", TSV.replace("\n", "\r")), (2, 2)),
    ("blank-lines", _text("t.tsv", "\n" + TSV.replace("\n", "\n\n")), (2, 2)),
    ("quoted", _text("t.tsv", '"taxon"\t"S1"\n"OTU 1"\t1\n'), (1, 1)),
    ("r-layout", _text("t.tsv", "S1\tS2\nOTU1\t1\t2\nOTU2\t3\t4\n"), (2, 2)),
    ("metaphlan-csv", _text("m.csv", "clade_name,A,B\nk__Bacteria,100,100\n"), (2, 1)),
    ("all-zero-sample", _text("t.tsv", "taxon\tS1\tS2\nOTU1\t1\t0\n"), (2, 1)),
    ("gzip", _bytes("t.tsv.gz", gzip.compress(TSV.encode())), (2, 2)),
    ("bz2", _bytes("t.tsv.bz2", bz2.compress(TSV.encode())), (2, 2)),
    (
        "biom-json-bom",
        _bytes("t.biom", json.dumps({**BIOM_OK, "data": []}).encode("utf-8-sig")),
        (1, 1),
    ),
    ("biom-hdf5", _built("t.biom", _hdf5_biom), (3, 2)),
    ("qza", _qza("feature-table.biom", _hdf5_biom), (3, 2)),
    ("parquet", _parquet(GOOD), (2, 2)),
    (
        "mpa-utf16",
        _bytes(
            "p.txt",
            "#mpa_v30\n#clade_name\tNCBI_tax_id\trelative_abundance\nk__Bacteria\t2\t100\n".encode(
                "utf-16"
            ),
        ),
        (1, 1),
    ),
    # files that are refused
    ("empty", _bytes("t.tsv", b""), None),
    ("whitespace", _text("t.tsv", " \n\t\n\r\n"), None),
    ("bom-only", _bytes("t.tsv", b"\xff\xfe"), None),
    ("header-only-tsv", _text("t.tsv", "taxon\tS1\tS2\n"), None),
    ("header-only-csv", _text("t.csv", "taxon,S1,S2\n"), None),
    ("header-only-classic", _text("t.txt", "#OTU ID\tS1\n"), None),
    ("one-column", _text("t.tsv", "taxon\nOTU1\n"), None),
    ("binary-nul", _bytes("t.dat", b"\x00\x01\x02\x03binary\x00" * 50), None),
    ("binary-random", _bytes("t.dat", RNG.bytes(4096)), None),
    ("nul-in-text", _text("t.tsv", "taxon\tS1\nOT\x00U1\t1\n"), None),
    ("truncated-gzip", _bytes("t.tsv.gz", gzip.compress(TSV.encode() * 300)[:-30]), None),
    ("gzip-magic-junk", _bytes("t.tsv.gz", b"\x1f\x8b" + b"junk" * 40), None),
    ("truncated-bz2", _bytes("t.tsv.bz2", bz2.compress(TSV.encode() * 300)[:-30]), None),
    ("gzip-empty", _bytes("t.tsv.gz", gzip.compress(b"")), None),
    ("biom-json-truncated", _biom_json({**BIOM_OK, "data": [[0, 0, 1]]}, cut=30), None),
    ("biom-json-list", _biom_json([1, 2, 3]), None),
    ("biom-json-no-rows", _biom_json({"shape": [1, 1], "data": []}), None),
    ("biom-json-shape", _biom_json({**BIOM_OK, "shape": [2, 1], "data": []}), None),
    ("biom-json-outside", _biom_json({**BIOM_OK, "data": [[0, 5, 1.0]]}), None),
    ("biom-json-text-value", _biom_json({**BIOM_OK, "data": [[0, 0, "x"]]}), None),
    ("biom-json-huge", _biom_json({**BIOM_OK, "data": [[0, 0, 1e308]]}), None),
    (
        "biom-json-no-samples",
        _biom_json({"rows": [], "columns": [], "shape": [0, 0], "data": []}),
        None,
    ),
    ("biom-hdf5-truncated", _built("t.biom", lambda f: _hdf5_biom(f)[:400]), None),
    (
        "hdf5-not-biom",
        _built("t.biom", lambda f: _hdf5_biom(f).replace(b"sample", b"sampel")),
        None,
    ),
    ("qza-bad-zip", _bytes("t.qza", b"PK\x03\x04" + b"garbage" * 30), None),
    ("qza-no-table", _qza("taxonomy.tsv", lambda f: b"Feature ID\tTaxon\n"), None),
    ("qza-truncated-biom", _qza("feature-table.biom", lambda f: _hdf5_biom(f)[:300]), None),
    ("parquet-truncated", _parquet(GOOD, cut=True), None),
    ("parquet-nan", _parquet(GOOD.assign(k__A=[1.0, np.nan])), None),
    ("parquet-text-column", _parquet(GOOD.assign(k__C=["a", "b"])), None),
    ("nan", _text("t.tsv", "taxon\tS1\tS2\nOTU1\t1\tnan\n"), None),
    ("NA", _text("t.tsv", "taxon\tS1\tS2\nOTU1\t1\tNA\n"), None),
    ("empty-cell", _text("t.tsv", "taxon\tS1\tS2\nOTU1\t1\t\n"), None),
    ("inf", _text("t.tsv", "taxon\tS1\tS2\nOTU1\t1\tinf\n"), None),
    ("minus-inf", _text("t.tsv", "taxon\tS1\tS2\nOTU1\t1\t-inf\n"), None),
    ("negative", _text("t.tsv", "taxon\tS1\tS2\nOTU1\t1\t-2\n"), None),
    ("1e308", _text("t.tsv", "taxon\tS1\tS2\nOTU1\t1\t1e308\n"), None),
    ("1e999", _text("t.tsv", "taxon\tS1\tS2\nOTU1\t1\t1e999\n"), None),
    ("non-numeric", _text("t.tsv", "taxon\tS1\tS2\nOTU1\t1\tabc\n"), None),
    ("duplicate-sample", _text("t.tsv", "taxon\tS1\tS1\nOTU1\t1\t2\n"), None),
    ("duplicate-taxon", _text("t.tsv", "taxon\tS1\nOTU1\t1\nOTU1\t2\n"), None),
    ("long-row", _text("t.tsv", "taxon\tS1\tS2\nOTU1\t1\t2\nOTU2\t1\t2\t3\n"), None),
    ("short-row", _text("t.tsv", "taxon\tS1\tS2\nOTU1\t1\n"), None),
    ("unclosed-quote", _text("t.tsv", 'taxon\tS1\n"OTU1\t1\nOTU2\t2\n'), None),
    ("long-taxon-name", _text("t.tsv", "taxon\tS1\n" + "A" * 200_000 + "\t1\n"), None),
    ("long-sample-name", _text("t.tsv", "taxon\t" + "S" * 200_000 + "\nOTU1\t1\n"), None),
    ("long-line-gzip", _long_gzip, None),
    ("long-line-plain", _long_plain, None),
    ("utf16-truncated", _bytes("t.tsv", TSV.encode("utf-16")[:-1]), None),
    ("metaml-header-only", _text("m.txt", "dataset_name\td1\td1\n"), None),
    ("metaml-no-sample-row", _text("m.txt", "dataset_name\td1\nk__Bacteria\t1\n"), None),
    ("metaphlan-only-unknown", _text("m.txt", "#mpa_v30\nclade_name\ts1\nUNKNOWN\t100\n"), None),
    ("metaphlan-comments-only", _text("m.txt", "#mpa_v30\n#/usr/bin/metaphlan x\n"), None),
]
if hasattr(os, "mkfifo"):
    CASES.append(("fifo", _fifo, None))


@pytest.mark.parametrize(("build", "shape"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_read_table_reads_cleanly_or_refuses_in_one_line(tmp_path, build, shape):
    path = build(tmp_path)
    regular = path.is_file()
    before = hashlib.sha256(path.read_bytes()).hexdigest() if regular else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            table = read_table(path)
        except MlmicroError as err:
            assert shape is None, f"refused a good file: {err}"
            message = str(err)
            assert "\n" not in message and message.strip() == message
            assert str(path) in message, message
        else:
            assert shape is not None, f"read a bad file as {table.shape}"
            assert table.shape == shape
            assert (table.dtypes == np.float64).all()
            assert np.isfinite(table.to_numpy()).all()
    for warning in caught:
        assert issubclass(warning.category, (TextEncodingWarning, MissingTaxonomyWarning)), warning
        assert str(path) in str(warning.message)
    if regular:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    else:
        assert path.is_fifo()
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_there_are_enough_cases():
    assert sum(shape is None for _, _, shape in CASES) >= 40
    assert {UnknownFormatError, InputFileError, InvalidTableError} <= set(
        MlmicroError.__subclasses__()
    )


# -- the command line -------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["fifo", "1e308", "long-taxon-name", "utf16-truncated"])
def test_cli_refuses_bad_files_in_one_line(tmp_path, case):
    from typer.testing import CliRunner

    from mlmicro.cli import app

    if case == "fifo" and not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes here")
    build = next(builder for name, builder, _ in CASES if name == case)
    path = build(tmp_path)
    out = tmp_path / "out.tsv"
    result = CliRunner().invoke(app, ["transform", str(path), "-o", str(out)])
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(path) in errors[0], result.output
    assert not out.exists()


def test_cli_reads_latin1_with_a_one_line_warning(tmp_path):
    from typer.testing import CliRunner

    from mlmicro.cli import app

    path = tmp_path / "t.tsv"
    path.write_bytes(f"taxon\tS1\tS2\n{CAFE}\t1\t2\nk__Bacteria|g__B\t3\t4\n".encode("latin-1"))
    out = tmp_path / "out.tsv"
    result = CliRunner().invoke(app, ["transform", str(path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    warned = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert len(warned) == 1 and "not UTF-8" in warned[0] and str(path) in warned[0]
    assert CAFE.split("|")[-1] in out.read_text(encoding="utf-8")


def test_streamed_chunks_with_a_header_wider_than_the_first_mib(tmp_path):
    taxa = [
        f"k__Bacteria|p__P{j % 9}|c__C{j % 31}|g__Genus{j}|s__Genus{j}_species"
        for j in range(20_000)
    ]
    path = tmp_path / "wide.tsv.gz"
    header = "sample_id\t" + "\t".join(taxa)
    assert len(header) > 1 << 20
    rows = [f"S{i}\t" + "\t".join(["1"] * len(taxa)) for i in range(3)]
    path.write_bytes(gzip.compress(("\n\n" + header + "\n" + "\n".join(rows) + "\n").encode()))
    chunks = read_table_chunks(path)
    assert chunks.streamed and len(chunks.columns) == len(taxa)
    assert pd.concat(list(chunks)).shape == (3, len(taxa))


def test_streamed_chunks_refuse_a_first_line_over_the_limit(tmp_path, monkeypatch):
    monkeypatch.setattr("mlmicro.io.chunks.MAX_LINE_BYTES", 2 << 20)
    path = tmp_path / "long.tsv.gz"
    path.write_bytes(gzip.compress(b"sample_id\t" + b"A" * (10 << 20)))
    with pytest.raises(InputFileError, match="Line 1 .* longer than"):
        read_table_chunks(path)


def test_utf16_gzip_with_an_endless_line_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr("mlmicro.io._limits.MAX_LINE_BYTES", 1 << 20)
    path = tmp_path / "wide.tsv.gz"
    path.write_bytes(gzip.compress(("taxon\tS1\n" + "A" * (3 << 19)).encode("utf-16")))
    with pytest.raises(InputFileError, match="Line 2 .* longer than 1 MiB"):
        read_table(path)
    path.write_bytes(gzip.compress(("taxon\tS1\n" + "A" * (5 << 20)).encode("utf-16")))
    with pytest.raises(InputFileError, match="Line 2 .* longer than 4 MiB"):
        read_table(path)
