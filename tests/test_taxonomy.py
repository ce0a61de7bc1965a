"""Lineage parsing, rank collapse and display names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlmicro.exceptions import TaxonomyError
from mlmicro.taxonomy import (
    canonical_lineage,
    canonicalize_columns,
    collapse_to_rank,
    display_name,
    display_names,
    is_hierarchical,
    normalize_rank,
    rank_of,
    truncate_lineage,
)

FP = (
    "k__Bacteria|p__Firmicutes|c__Clostridia|o__Clostridiales|f__Ruminococcaceae|"
    "g__Faecalibacterium|s__Faecalibacterium_prausnitzii"
)


@pytest.mark.parametrize(
    "raw",
    [
        FP,
        FP.replace("|", ";"),
        FP.replace("|", "; "),
        "k__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; f__Ruminococcaceae; "
        "g__Faecalibacterium; s__prausnitzii",
        "k__Bacteria;p__Firmicutes;c__Clostridia;o__Clostridiales;f__Ruminococcaceae;"
        "g__Faecalibacterium;s__Faecalibacterium prausnitzii",
        "d__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; f__Ruminococcaceae; "
        "g__Faecalibacterium; s__Faecalibacterium_prausnitzii",
        "D_0__Bacteria;D_1__Firmicutes;D_2__Clostridia;D_3__Clostridiales;D_4__Ruminococcaceae;"
        "D_5__Faecalibacterium;D_6__Faecalibacterium prausnitzii",
    ],
)
def test_every_style_reads_as_one_lineage(raw):
    assert canonical_lineage(raw) == FP


def test_padding_is_dropped_and_ids_kept():
    assert canonical_lineage("k__Bacteria; p__Bacteroidetes; c__; o__; f__; g__; s__") == (
        "k__Bacteria|p__Bacteroidetes"
    )
    assert canonical_lineage("4a1f0c9e") == "4a1f0c9e"
    assert canonical_lineage("Unassigned") == "Unassigned"


def test_ranks():
    assert normalize_rank("Genus") == "genus" and normalize_rank("SGB") == "strain"
    assert rank_of(FP) == "species" and rank_of("otu1") is None
    with pytest.raises(TaxonomyError, match="Unknown rank 'tribe'"):
        normalize_rank("tribe")


def test_truncate_pads_with_unclassified():
    assert truncate_lineage(FP, "genus").endswith("g__Faecalibacterium")
    assert truncate_lineage("k__B|p__F|f__X", "genus") == "k__B|p__F|f__X|g__unclassified"


def _metaphlan_like() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "k__B": [100.0, 100.0],
            "k__B|g__A": [60.0, 30.0],
            "k__B|g__A|s__A_x": [40.0, 30.0],
            "k__B|g__A|s__A_y": [20.0, 0.0],
            "k__B|g__C": [40.0, 70.0],
            "k__B|g__C|s__C_z": [40.0, 70.0],
        },
        index=["s1", "s2"],
    )


def test_hierarchical_table_is_never_double_counted():
    table = _metaphlan_like()
    assert is_hierarchical(table.columns, table.sum().to_numpy())
    for rank, n in [("kingdom", 1), ("genus", 2), ("species", 3)]:
        out = collapse_to_rank(table, rank)
        assert out.shape[1] == n
        np.testing.assert_allclose(out.sum(axis=1), 100.0)
    leaves = collapse_to_rank(table, None)
    assert sorted(leaves.columns) == ["k__B|g__A|s__A_x", "k__B|g__A|s__A_y", "k__B|g__C|s__C_z"]


def test_flat_table_with_parent_rows_is_summed():
    # 16S: reads assigned only to the genus sit in their own row, apart from species rows
    table = pd.DataFrame(
        {"k__B|g__A": [5.0, 7.0], "k__B|g__A|s__A_x": [40.0, 30.0], "k__B|g__C|s__C_z": [1.0, 2.0]}
    )
    assert not is_hierarchical(table.columns, table.sum().to_numpy())
    genus = collapse_to_rank(table, "genus")
    assert genus.to_dict("list") == {"k__B|g__A": [45.0, 37.0], "k__B|g__C": [1.0, 2.0]}
    species = collapse_to_rank(table, "species")
    assert species.sum(axis=1).tolist() == [46.0, 39.0]
    assert "k__B|g__A|s__unclassified" in species.columns


def test_features_without_lineage():
    table = pd.DataFrame({"k__B|g__A": [1.0], "otu7": [2.0]})
    assert collapse_to_rank(table, "genus").columns.tolist() == ["k__B|g__A"]
    with pytest.raises(TaxonomyError, match="carry no lineage"):
        collapse_to_rank(pd.DataFrame({"otu1": [1.0]}), "genus")


def test_display_names():
    assert display_name(FP) == "Faecalibacterium prausnitzii"
    assert display_name(FP + "|t__SGB15316") == "Faecalibacterium prausnitzii SGB15316"
    assert display_name(FP + "|t__Faecalibacterium_prausnitzii_unclassified") == (
        "Faecalibacterium prausnitzii (unclassified strain)"
    )
    assert display_name("k__B|f__Lachnospiraceae|g__unclassified") == "unclassified Lachnospiraceae"
    assert display_name("k__B|g__Roseburia") == "Roseburia"
    names = display_names(
        ["k__B|f__L|g__unclassified", "k__B|f__L|g__unclassified|s__unclassified"]
    )
    assert len(set(names)) == 2


def test_canonicalize_columns_sums_merged_styles():
    table = pd.DataFrame({"k__B; g__A": [1.0], "k__B|g__A": [2.0], "k__B;g__C": [3.0]})
    out = canonicalize_columns(table)
    assert out.to_dict("list") == {"k__B|g__A": [3.0], "k__B|g__C": [3.0]}
