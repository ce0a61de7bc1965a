"""What mlmicro writes, mlmicro reads back with the same columns, for every shared table."""

from __future__ import annotations

import pytest
from metaml_helpers import read_metaml_once

import mlmicro
from mlmicro.taxonomy import is_lineage

pytestmark = pytest.mark.shared

TABLES = {
    "metaml": "metaml/abundance.txt.bz2",
    "gevers": "mlrepo/gevers/refseq/taxatable.txt",
    "sokol": "mlrepo/sokol/refseq/taxatable.txt",
    "sokol-biom": "mlrepo/sokol/gg/otutable.biom",
    "kostic": "mlrepo/kostic/refseq/taxatable.txt",
    "cs-prism": "ibdmeta/CS-PRISM/all_samples_taxonomy_closed_reference.tsv",
    "hmp2": "ibdmeta/HMP2/all_samples_taxonomy_closed_reference.tsv",
    "mucosal": "ibdmeta/MucosalIBD/all_samples_taxonomy_closed_reference.tsv",
    "jangi": "qiime2/jangi_ms/filt-feature-table.qza",
}


def _read(shared, name):
    path = shared / TABLES[name]
    if name == "metaml":
        table, _ = read_metaml_once(path)
        return table
    if name == "jangi":
        return mlmicro.read_table(path, taxonomy=path.parent / "hybrid-taxonomy.qza")
    return mlmicro.read_table(path)


@pytest.mark.parametrize("name", list(TABLES))
def test_written_tables_read_back_with_the_same_columns(name, shared_datasets, tmp_path):
    table = _read(shared_datasets, name)
    # every column, but not every sample of the 3,610 x 3,302 MetAML table: columns are what
    # the round trip checks, and writing the whole table six times took half a minute
    table = table.iloc[:400]
    has_lineage = any(is_lineage(c) for c in table.columns)
    outputs = {"raw": table}
    for rank in ("species", "genus") if has_lineage else ():
        outputs[rank] = mlmicro.transform_table(table, "relative", rank=rank)
    for what, frame in outputs.items():
        for extension in (".tsv", ".parquet"):
            path = tmp_path / f"{what}{extension}"
            mlmicro.write_table(frame, path)
            back = mlmicro.read_table(path)
            assert list(back.columns) == list(frame.columns), (what, extension)
            assert back.shape == frame.shape
