"""The rank chosen from the kind of table (``rank = "auto"``, the default)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from metaml_helpers import read_metaml_once
from typer.testing import CliRunner

import mlmicro
from mlmicro.cli import app
from mlmicro.config import TrainConfig, load_config
from mlmicro.datasets import load_default_cohort
from mlmicro.io import read_table
from mlmicro.model.autorank import choose_rank
from mlmicro.model.card import ModelCard

GENERA = [
    f"k__Bacteria|p__Firmicutes|c__Clostridia|o__Clostridiales|f__F{i}|g__G{i}" for i in range(6)
]


def _counts(seed: int = 0, n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    values = rng.poisson(30, size=(n, len(GENERA))).astype(float)
    return pd.DataFrame(values, index=[f"S{i}" for i in range(n)], columns=GENERA)


def test_flat_read_counts_with_lineages_are_modelled_at_species():
    # measured: 16S tables score higher at species than at genus (benchmarks/README.md)
    choice = choose_rank(_counts())
    assert choice.rank == "species"
    assert choice.reason == "a taxa table with lineages: species"


def test_relative_abundances_are_modelled_at_species():
    table = _counts()
    assert choose_rank(table.div(table.sum(axis=1), axis=0)).rank == "species"


def test_a_metaphlan_style_profile_is_species_even_with_whole_numbers():
    # one row per rank, each parent holding the sum of its children (MetaPhlAn's layout)
    children = _counts().iloc[:, :2].set_axis(["k__B|p__F|g__A", "k__B|p__F|g__C"], axis=1)
    table = children.assign(**{"k__B": children.sum(axis=1), "k__B|p__F": children.sum(axis=1)})
    assert choose_rank(table).rank == "species"


def test_sgb_rows_are_modelled_at_sgb():
    table = _counts().rename(columns=lambda c: f"{c}|s__{c[-2:]}_sp|t__SGB{c[-1]}")
    choice = choose_rank(table)
    assert choice.rank == "strain" and "SGB" in choice.reason


def test_features_without_lineage_are_used_as_named():
    table = _counts().set_axis([f"Otu{i:05d}" for i in range(len(GENERA))], axis=1)
    assert choose_rank(table).rank is None


def test_auto_is_the_default_and_can_be_spelled_in_any_case():
    assert TrainConfig().rank == "auto"
    assert load_config("default").rank == "auto"
    assert TrainConfig(rank="AUTO").rank == "auto"
    assert TrainConfig(rank="genus").rank == "genus"


def test_train_records_the_choice_and_an_explicit_rank_wins():
    cohort = load_default_cohort()
    table = cohort.table
    kwargs = dict(label="diagnosis", positive=["CD"], negative=["control"], group="subject_id")
    kwargs.update(config="fast", jobs=1, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        auto = mlmicro.train(table, cohort.metadata, **kwargs, rank="auto")
        fixed = mlmicro.train(table, cohort.metadata, **kwargs, rank="genus")
    # the embedded cohort has MetaPhlAn 4 SGB rows
    assert auto.card.rank == "strain"
    assert auto.card.rank_choice == {
        "rank": "strain",
        "auto": True,
        "reason": "species-level genome bins (t__SGB rows): SGB",
    }
    assert all("|t__" in f for f in auto.card.features)
    assert fixed.card.rank == "genus" and fixed.card.rank_choice is None
    assert ModelCard.from_dict(auto.card.to_dict()).rank_choice == auto.card.rank_choice


def test_cli_prints_the_chosen_rank(tmp_path):
    cohort = load_default_cohort()
    counts = cohort.table.rename(columns=lambda c: c.rsplit("|", 2)[0])  # genus lineages
    counts = counts.T.groupby(level=0).sum().T
    table_path, meta_path = tmp_path / "counts.tsv", tmp_path / "meta.tsv"
    counts.T.to_csv(table_path, sep="\t", index_label="#OTU ID")
    cohort.metadata.to_csv(meta_path, sep="\t")
    result = CliRunner().invoke(
        app,
        [
            "train",
            str(table_path),
            "--metadata",
            str(meta_path),
            "--label",
            "diagnosis",
            "--positive",
            "CD",
            "--negative",
            "control",
            "--group",
            "subject_id",
            "--config",
            "fast",
            "--jobs",
            "1",
            "--output",
            str(tmp_path / "m.mlmodel"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "at species rank (chosen: a taxa table with lineages: species)" in result.output


@pytest.mark.shared
def test_real_tables_get_the_rank_their_kind_calls_for(shared_datasets):
    metaml, _ = read_metaml_once(shared_datasets / "metaml" / "abundance.txt.bz2")
    assert choose_rank(metaml.iloc[:200]).rank == "species"
    gevers = read_table(shared_datasets / "mlrepo" / "gevers" / "refseq" / "taxatable.txt")
    assert choose_rank(gevers).rank == "species"
    prism = read_table(
        shared_datasets / "ibdmeta" / "CS-PRISM" / "all_samples_taxonomy_closed_reference.tsv"
    )
    assert choose_rank(prism).rank == "species"
    siamcat = read_table(shared_datasets / "siamcat" / "feat_crc_zeller_msb_mocat_specI.tsv")
    assert choose_rank(siamcat).rank is None
