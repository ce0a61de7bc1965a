"""Matching a new cohort's taxa to a model's features across naming styles and ranks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlmicro.alignment import align_columns, align_table, complete_lineage, match_taxa
from mlmicro.exceptions import CoverageError, InvalidTableError

FAECALI = (
    "k__Bacteria|p__Firmicutes|c__Clostridia|o__Clostridiales|f__Ruminococcaceae"
    "|g__Faecalibacterium|s__Faecalibacterium_prausnitzii"
)
ROSEBURIA = (
    "k__Bacteria|p__Firmicutes|c__Clostridia|o__Clostridiales|f__Lachnospiraceae"
    "|g__Roseburia|s__Roseburia_hominis"
)
BACTEROIDES = (
    "k__Bacteria|p__Bacteroidetes|c__Bacteroidia|o__Bacteroidales|f__Bacteroidaceae"
    "|g__Bacteroides|s__Bacteroides_fragilis"
)
SPECIES = [BACTEROIDES, FAECALI, ROSEBURIA]
GENERA = [s.rsplit("|", 1)[0] for s in SPECIES]


def _targets(columns, features=SPECIES, rank="species", totals=None):
    return list(align_columns(columns, features, rank=rank, totals=totals).targets)


@pytest.mark.parametrize(
    "column",
    [
        FAECALI,
        FAECALI.replace("|", ";"),
        FAECALI.replace("|", "; "),
        FAECALI.replace("|", " | "),
        "s__Faecalibacterium_prausnitzii",
        "Faecalibacterium prausnitzii",
        "Faecalibacterium_prausnitzii",
        "faecalibacterium prausnitzii",
        "g__Faecalibacterium|s__Faecalibacterium_prausnitzii",
        # Greengenes: species epithet under its genus, padded empty ranks
        "k__Bacteria; p__Firmicutes; c__Clostridia; o__Clostridiales; f__Ruminococcaceae; "
        "g__Faecalibacterium; s__prausnitzii",
        # same species filed under another taxonomy's upper ranks
        "k__Bacteria|p__Bacillota|c__Clostridia|o__Eubacteriales|f__Oscillospiraceae"
        "|g__Faecalibacterium|s__Faecalibacterium_prausnitzii",
        # a deeper (strain) column collapses to the species
        FAECALI + "|t__SGB15316",
    ],
)
def test_every_naming_style_finds_the_species(column):
    assert _targets([column]) == [FAECALI]


def test_a_deeper_table_is_summed_to_the_models_rank():
    columns = [FAECALI + "|t__A", FAECALI + "|t__B", ROSEBURIA]
    alignment = align_columns(columns, SPECIES, rank="species")
    assert alignment.apply([[1.0, 2.0, 4.0]]).tolist() == [[0.0, 3.0, 4.0]]
    species_table = ["Faecalibacterium prausnitzii", "Roseburia hominis"]
    genus_model = align_columns(species_table, GENERA, rank="genus")
    assert genus_model.apply([[1.0, 2.0]]).tolist() == [[0.0, 1.0, 2.0]]


def test_species_the_genus_model_never_saw_still_count_toward_their_genus():
    alignment = align_columns(
        ["s__Roseburia_inulinivorans", "Roseburia intestinalis"], GENERA, rank="genus"
    )
    assert alignment.targets == (GENERA[2], GENERA[2])
    assert alignment.apply([[1.0, 2.0]]).tolist() == [[0.0, 0.0, 3.0]]


def test_a_metaphlan_hierarchy_is_not_counted_twice():
    genus = FAECALI.rsplit("|", 1)[0]
    family = genus.rsplit("|", 1)[0]
    columns = ["k__Bacteria", family, genus, FAECALI]
    totals = [10.0, 10.0, 10.0, 10.0]
    alignment = align_columns(columns, SPECIES, rank="species", totals=totals)
    assert alignment.targets == (None, None, None, FAECALI)
    assert alignment.counted == (False, False, False, True)
    values = np.array([[10.0, 10.0, 10.0, 10.0]])
    aligned = alignment.apply(values)
    assert aligned.tolist() == [[0.0, 10.0, 0.0]]
    assert alignment.abundance_share(values, aligned).tolist() == [1.0]


def test_renamed_counts_model_taxa_reached_by_name():
    columns = [
        FAECALI + "|t__A",  # exact lineage, deeper: not renamed
        "Roseburia hominis",  # bare name: completed
        BACTEROIDES.replace("p__Bacteroidetes", "p__Bacteroidota") + "|t__B",  # other phylum
        BACTEROIDES.replace("p__Bacteroidetes", "p__Bacteroidota") + "|t__C",
    ]
    alignment = align_columns(columns, SPECIES, rank="species")
    assert alignment.renamed == 2 and alignment.n_found == 3


def test_missing_taxa_are_absent_and_unknown_taxa_are_dropped():
    columns = [ROSEBURIA, "k__Bacteria|p__Proteobacteria|g__Escherichia|s__Escherichia_coli"]
    alignment = align_columns(columns, SPECIES, rank="species")
    values = np.array([[3.0, 1.0]])
    aligned = alignment.apply(values)
    assert aligned.tolist() == [[0.0, 0.0, 3.0]]
    assert alignment.found.tolist() == [False, False, True]
    assert alignment.n_unknown == 1 and alignment.table_taxa == 2
    assert alignment.abundance_share(values, aligned).tolist() == [0.75]


def test_feature_ids_without_lineage_count_toward_the_total_but_match_nothing():
    alignment = align_columns(["4479944", FAECALI], SPECIES, rank="species")
    assert alignment.targets == (None, FAECALI)
    assert alignment.counted == (True, True)
    values = np.array([[1.0, 1.0]])
    assert alignment.abundance_share(values, alignment.apply(values)).tolist() == [0.5]


def test_a_shallower_table_matches_nothing_at_a_deeper_rank():
    alignment = align_columns(GENERA, SPECIES, rank="species")
    assert alignment.n_found == 0
    with pytest.raises(CoverageError, match="stops at genus rank, above the model's species"):
        align_table(pd.DataFrame([[1.0, 2.0, 3.0]], columns=GENERA), SPECIES, rank="species")


def test_match_by_deepest_names_prefers_the_closer_upper_ranks():
    # Greengenes keeps two genera called Ruminococcus; the family tells them apart
    model = [
        "k__B|p__F|c__C|o__O|f__Lachnospiraceae|g__Ruminococcus",
        "k__B|p__F|c__C|o__O|f__Ruminococcaceae|g__Ruminococcus",
    ]
    new = ["k__B|p__Bacillota|c__C|o__X|f__Ruminococcaceae|g__Ruminococcus"]
    assert match_taxa(new, model) == {new[0]: model[1]}
    tie = ["k__B|p__Bacillota|c__C|o__X|f__Oscillospiraceae|g__Ruminococcus"]
    assert match_taxa(tie, model) == {}


def test_exact_matches_win_and_name_matches_are_one_to_one():
    model = ["k__B|p__F|f__A|g__Blautia"]
    assert match_taxa(["k__B|p__F|f__A|g__Blautia", "k__B|p__X|f__Z|g__Blautia"], model) == {
        "k__B|p__F|f__A|g__Blautia": "k__B|p__F|f__A|g__Blautia"
    }
    # two other-taxonomy genera competing for one feature with equal evidence: neither
    competing = ["k__B|p__X|f__Y|g__Blautia", "k__B|p__X|f__Z|g__Blautia"]
    assert match_taxa(competing, model) == {}


def test_unclassified_taxa_match_by_their_nearest_named_rank():
    model = ["k__B|p__Firmicutes|c__Clostridia|o__Clostridiales|f__Lachnospiraceae|g__unclassified"]
    new = ["k__B|p__Bacillota|c__Clostridia|o__Lachnospirales|f__Lachnospiraceae|g__unclassified"]
    assert match_taxa(new, model) == {new[0]: model[0]}


def test_complete_lineage():
    assert complete_lineage("Roseburia hominis", SPECIES) == ROSEBURIA
    assert complete_lineage("Roseburia", SPECIES) == ROSEBURIA.rsplit("|", 1)[0]
    assert complete_lineage("f__Lachnospiraceae", SPECIES) == ROSEBURIA.rsplit("|", 2)[0]
    assert complete_lineage("Escherichia coli", SPECIES) is None
    assert complete_lineage("OTU_17", SPECIES) is None
    assert complete_lineage("s__Escherichia_coli", SPECIES) is None


def test_align_table_checks_values_and_sums_columns_that_become_one():
    table = pd.DataFrame(
        {FAECALI: [1.0, 0.0], FAECALI.replace("|", "; "): [2.0, 1.0], ROSEBURIA: [0.0, 5.0]},
        index=["a", "b"],
    )
    aligned = align_table(table, SPECIES, rank="species")
    assert aligned.columns.tolist() == SPECIES
    assert aligned.loc["a"].tolist() == [0.0, 3.0, 0.0]
    bad = table.copy()
    bad.iloc[0, 0] = -1.0
    with pytest.raises(InvalidTableError, match="Negative value"):
        align_table(bad, SPECIES, rank="species")
    with pytest.raises(CoverageError, match="None of the 1 taxa"):
        align_table(pd.DataFrame({"OTU_1": [1.0]}), SPECIES, rank="species")


_STYLES = {
    "pipe": lambda lineage: lineage,
    "semicolon": lambda lineage: lineage.replace("|", ";"),
    "greengenes": lambda lineage: lineage.replace("|", "; "),
    "species": lambda lineage: lineage.rsplit("|", 1)[-1],
    "bare": lambda lineage: lineage.rsplit("|", 1)[-1][3:].replace("_", " "),
}


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(
        st.lists(st.floats(0, 1e6, allow_nan=False), min_size=3, max_size=3),
        min_size=1,
        max_size=5,
    ),
    style=st.sampled_from(sorted(_STYLES)),
    order=st.permutations(range(3)),
)
def test_alignment_is_the_same_whatever_the_style_and_column_order(values, style, order):
    values = np.asarray(values)
    names = [_STYLES[style](s) for s in SPECIES]
    columns = [names[i] for i in order]
    shuffled = values[:, list(order)]
    aligned = align_columns(columns, SPECIES, rank="species").apply(shuffled)
    np.testing.assert_array_equal(aligned, values)
