"""Tests for mlmicro.datasets: the simulated cohort and the public-cohort registry."""

from __future__ import annotations

import gzip
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold, cross_val_predict

from mlmicro.datasets import (
    DEFAULT_SEED,
    GUT_SPECIES,
    PUBLIC_COHORTS,
    SIMULATED_TAXA,
    PublicCohort,
    SimulatedCohort,
    default_cohort_path,
    default_drivers_path,
    default_metadata_path,
    load_default_cohort,
    main,
    public_cohort,
    save_cohort,
    shared_datasets_dir,
    simulate_cohort,
)
from mlmicro.exceptions import ConfigError
from mlmicro.taxonomy import canonical_lineage, depth_of, display_name, is_hierarchical


@pytest.fixture(scope="module")
def default() -> SimulatedCohort:
    return load_default_cohort()


def _clr(table: pd.DataFrame) -> np.ndarray:
    logged = np.log(table.to_numpy() + 0.5)
    return logged - logged.mean(axis=1, keepdims=True)


def _grouped_auroc(cohort: SimulatedCohort) -> float:
    proportions = cohort.table.div(cohort.table.sum(axis=1), axis=0)
    features = np.log(proportions.to_numpy() + 1e-5)
    labels = cohort.labels.to_numpy()
    groups = cohort.metadata["subject_id"].to_numpy()
    splitter = StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=0)
    model = LogisticRegression(C=0.05, max_iter=5000)
    scores = cross_val_predict(
        model, features, labels, groups=groups, cv=splitter, method="predict_proba"
    )[:, 1]
    return float(roc_auc_score(labels, scores))


# --- curated taxa -----------------------------------------------------------


def test_gut_species_are_canonical_unique_species_lineages():
    assert 200 <= len(GUT_SPECIES) <= 300
    assert len(set(GUT_SPECIES)) == len(GUT_SPECIES)
    for lineage in GUT_SPECIES:
        assert canonical_lineage(lineage) == lineage
        assert depth_of(lineage) == 7
        assert lineage.startswith(("k__Bacteria|", "k__Archaea|"))
    names = {display_name(s) for s in GUT_SPECIES}
    for expected in (
        "Faecalibacterium prausnitzii",
        "Roseburia intestinalis",
        "Roseburia hominis",
        "Eubacterium rectale",
        "Ruminococcus gnavus",
        "Ruminococcus bromii",
        "Akkermansia muciniphila",
        "Escherichia coli",
        "Fusobacterium nucleatum",
        "Klebsiella pneumoniae",
        "Veillonella parvula",
    ):
        assert expected in names
    smithii = next(s for s in GUT_SPECIES if s.endswith("s__Methanobrevibacter_smithii"))
    assert smithii.startswith("k__Archaea|p__Euryarchaeota|")


def test_simulated_taxa_are_strains_or_species_and_flat():
    assert len(set(SIMULATED_TAXA)) == len(SIMULATED_TAXA)
    depths = {depth_of(t) for t in SIMULATED_TAXA}
    assert depths == {7, 8}
    assert sum(depth_of(t) == 8 for t in SIMULATED_TAXA) > 0.8 * len(SIMULATED_TAXA)
    assert not is_hierarchical(SIMULATED_TAXA)
    for lineage in SIMULATED_TAXA:
        assert canonical_lineage(lineage) == lineage
        if depth_of(lineage) == 8:
            assert lineage.rsplit("|", 1)[1].startswith("t__SGB")


# --- simulation ---------------------------------------------------------------


def test_same_seed_same_cohort_other_seed_other_cohort():
    first = simulate_cohort(n_subjects=40, n_taxa=80, seed=7)
    again = simulate_cohort(n_subjects=40, n_taxa=80, seed=7)
    other = simulate_cohort(n_subjects=40, n_taxa=80, seed=8)
    pd.testing.assert_frame_equal(first.table, again.table)
    pd.testing.assert_frame_equal(first.metadata, again.metadata)
    pd.testing.assert_frame_equal(first.drivers, again.drivers)
    assert not first.table.equals(other.table)


def test_default_cohort_shape_and_layout(default):
    table, meta = default.table, default.metadata
    assert 200 <= len(table) <= 300
    assert 150 <= meta["subject_id"].nunique() <= 200
    assert 200 <= table.shape[1] <= 300
    assert table.index.name == "sample_id"
    assert table.index.equals(meta.index)
    assert table.index[0] == "S0001"
    assert table.dtypes.eq(np.float64).all()
    values = table.to_numpy()
    assert np.array_equal(values, np.round(values)) and (values >= 0).all()
    assert list(meta.columns) == [
        "subject_id",
        "study",
        "diagnosis",
        "timepoint",
        "read_depth",
        "age",
        "sex",
    ]
    assert set(meta["diagnosis"]) == {"CD", "control"}
    assert np.array_equal(table.sum(axis=1).to_numpy(), meta["read_depth"].to_numpy())
    assert all(canonical_lineage(c) == c for c in table.columns)


def test_sparsity_depth_and_nonzero_samples(default):
    table = default.table
    assert (table.to_numpy() == 0).mean() > 0.5
    prevalence = (table > 0).mean()
    assert 0.05 <= prevalence.median() <= 0.4
    assert prevalence.max() > 0.8  # a core of taxa nearly always present
    depth = table.sum(axis=1)
    assert (depth > 0).all()
    assert depth.min() >= 5_000 and depth.max() <= 100_000
    assert depth.max() / depth.min() > 5
    # a few dominant taxa per sample
    top = table.div(depth, axis=0).max(axis=1)
    assert 0.05 < top.median() < 0.6


def test_repeated_subjects_and_studies(default):
    meta = default.metadata
    visits = meta.groupby("subject_id").size()
    assert (visits > 1).sum() >= 20
    assert visits.max() <= 3
    assert meta["study"].nunique() >= 2
    # the label and the covariates are subject-level
    per_subject = meta.groupby("subject_id")[["diagnosis", "study", "age", "sex"]].nunique()
    assert (per_subject == 1).all().all()
    # cases are balanced across studies, so the batch carries no label signal
    case_share = (
        meta.drop_duplicates("subject_id")
        .groupby("study")["diagnosis"]
        .apply(lambda d: (d == "CD").mean())
    )
    assert case_share.max() - case_share.min() < 0.05
    timepoints = meta.groupby("subject_id")["timepoint"].apply(sorted)
    assert all(t == list(range(1, len(t) + 1)) for t in timepoints)


def test_study_batch_changes_depth(default):
    medians = default.metadata.groupby("study")["read_depth"].median()
    assert medians.max() / medians.min() > 1.3


def test_drivers_present_with_planted_direction(default):
    drivers = default.drivers
    assert list(drivers.columns[:4]) == ["lineage", "name", "direction", "log_fold_change"]
    assert len(drivers) == 10
    assert set(drivers["direction"]) == {"enriched", "depleted"}
    assert drivers["lineage"].isin(default.table.columns).all()
    assert (drivers["name"] == drivers["lineage"].map(display_name)).all()
    sign = np.where(drivers["direction"] == "enriched", 1, -1)
    assert (np.sign(drivers["log_fold_change"]) == sign).all()
    table = default.table
    clr = pd.DataFrame(_clr(table), index=table.index, columns=table.columns)
    cases = default.labels == 1
    for lineage, expected in zip(drivers["lineage"], sign, strict=True):
        difference = clr.loc[cases, lineage].mean() - clr.loc[~cases, lineage].mean()
        assert np.sign(difference) == expected, lineage
        prevalence_difference = (default.table.loc[cases, lineage] > 0).mean() - (
            default.table.loc[~cases, lineage] > 0
        ).mean()
        assert np.sign(prevalence_difference) == expected, lineage


def test_non_drivers_carry_no_planted_signal():
    cohort = simulate_cohort(n_subjects=600, repeat_fraction=0.0, seed=3)
    clr = pd.DataFrame(_clr(cohort.table), columns=cohort.table.columns)
    labels = cohort.labels.to_numpy() == 1
    gap = clr[labels].mean() - clr[~labels].mean()
    spread = np.sqrt(clr[labels].var() / labels.sum() + clr[~labels].var() / (~labels).sum())
    z = (gap / spread).abs()
    drivers = set(cohort.drivers["lineage"])
    assert z[list(drivers)].min() > 5
    others = z.drop(list(drivers))
    assert (others > 3.5).sum() <= 2


def test_default_cohort_is_learnable_but_not_trivial(default):
    auroc = _grouped_auroc(default)
    assert 0.72 <= auroc <= 0.97


def test_no_effect_means_no_signal():
    cohort = simulate_cohort(effect_size=0.0, seed=1)
    assert 0.3 <= _grouped_auroc(cohort) <= 0.7
    assert (cohort.drivers["log_fold_change"] == 0).all()


def test_boosted_trees_rank_the_drivers_first():
    xgboost = pytest.importorskip("xgboost")
    cohort = simulate_cohort(n_subjects=420, seed=0)
    assert len(cohort.table) >= 550
    features = _clr(cohort.table)
    model = xgboost.XGBClassifier(
        n_estimators=300,
        max_depth=3,
        learning_rate=0.05,
        subsample=0.8,
        colsample_bytree=0.5,
        random_state=0,
        n_jobs=2,
    )
    model.fit(features, cohort.labels.to_numpy())
    contributions = model.get_booster().predict(xgboost.DMatrix(features), pred_contribs=True)[
        :, :-1
    ]
    importance = np.abs(contributions).mean(axis=0)
    top10 = set(cohort.table.columns[np.argsort(importance)[::-1][:10]])
    assert len(top10 & set(cohort.drivers["lineage"])) >= 9


def test_options_change_the_cohort():
    cohort = simulate_cohort(
        n_subjects=60,
        repeat_fraction=0.0,
        n_studies=3,
        n_taxa=100,
        n_drivers=4,
        case_fraction=0.25,
        seed=2,
    )
    meta = cohort.metadata
    assert len(meta) == 60 and meta["subject_id"].is_unique
    assert meta["study"].nunique() == 3
    assert (meta["diagnosis"] == "CD").sum() == pytest.approx(15, abs=2)
    assert cohort.table.shape[1] <= 100
    assert len(cohort.drivers) == 4


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_subjects": 2},
        {"repeat_fraction": 1.5},
        {"case_fraction": 0.0},
        {"n_drivers": 99},
        {"n_taxa": 5000},
        {"effect_size": -1.0},
        {"n_studies": 0},
    ],
)
def test_bad_options_raise_config_error(kwargs):
    with pytest.raises(ConfigError):
        simulate_cohort(**kwargs)


# --- shipped files ------------------------------------------------------------


def test_shipped_files_equal_regenerated_cohort(default):
    fresh = simulate_cohort(seed=DEFAULT_SEED)
    pd.testing.assert_frame_equal(default.table, fresh.table)
    pd.testing.assert_frame_equal(default.metadata, fresh.metadata)
    pd.testing.assert_frame_equal(default.drivers, fresh.drivers)


def test_regenerating_writes_the_same_files(tmp_path):
    assert main(["--out", str(tmp_path)]) == 0
    shipped = {
        "default_cohort.tsv.gz": default_cohort_path(),
        "default_metadata.tsv": default_metadata_path(),
        "default_drivers.tsv": default_drivers_path(),
    }
    for name, path in shipped.items():
        written = tmp_path / name
        if name.endswith(".gz"):
            assert gzip.decompress(written.read_bytes()) == gzip.decompress(path.read_bytes())
        else:
            assert written.read_bytes() == path.read_bytes()


def test_table_file_layout():
    raw = default_cohort_path().read_bytes()
    assert raw[4:8] == b"\x00\x00\x00\x00"  # gzip mtime 0: byte-reproducible
    lines = gzip.decompress(raw).decode().splitlines()
    header = lines[0].split("\t")
    assert header[0] == "clade_name" and header[1] == "S0001"
    first = lines[1].split("\t")
    assert first[0].startswith("k__") and all(v.isdigit() for v in first[1:])
    assert default_metadata_path().read_text().startswith("sample_id\t")


def test_shipped_files_are_small_and_documented(default):
    folder = Path(str(files("mlmicro.cohorts")))
    total = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    assert total < 1_000_000
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert "python -m mlmicro.datasets" in readme
    assert "simulated" in readme.lower()
    for name in default.drivers["name"]:
        assert name in readme


def test_save_cohort_round_trip(tmp_path):
    cohort = simulate_cohort(n_subjects=20, n_taxa=60, seed=5)
    paths = save_cohort(cohort, tmp_path, prefix="tiny")
    names = [p.name for p in paths]
    assert names == ["tiny_cohort.tsv.gz", "tiny_metadata.tsv", "tiny_drivers.tsv"]
    table = pd.read_csv(paths[0], sep="\t", index_col=0).T
    assert np.array_equal(table.to_numpy(dtype=float), cohort.table.to_numpy())
    assert list(table.columns) == list(cohort.table.columns)


# --- public cohorts -----------------------------------------------------------


def test_public_cohort_registry_is_read_only_and_complete():
    with pytest.raises(TypeError):
        PUBLIC_COHORTS["new"] = PUBLIC_COHORTS["metaml_ibd"]  # type: ignore[index]
    assert {
        "metaml_ibd",
        "metaml_nielsen_ibd",
        "metaml_psoriasis",
        "metaml_cirrhosis",
        "metaml_colorectal",
        "metaml_wt2d",
        "gevers_ileum",
        "gevers_rectum",
        "sokol_cd",
        "sokol_uc",
        "ibdmeta_cs_prism",
        "ibdmeta_hmp2",
        "ibdmeta_mucosal",
        "jangi_ms",
    } <= set(PUBLIC_COHORTS)
    for name, cohort in PUBLIC_COHORTS.items():
        assert isinstance(cohort, PublicCohort) and cohort.name == name
        assert cohort.positive_labels and cohort.negative_labels
        assert not set(cohort.positive_labels) & set(cohort.negative_labels)
        assert cohort.description and "\n" not in cohort.description
    assert public_cohort("gevers_ileum").positive_labels == ("CD",)
    assert {c.format for c in PUBLIC_COHORTS.values()} == {"metaml", "qiime-classic", "qza"}
    with pytest.raises(ConfigError, match="metaml_ibd"):
        public_cohort("nope")


def test_shared_datasets_dir_honours_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MLMICRO_SHARED_DATASETS", str(tmp_path))
    assert shared_datasets_dir() == tmp_path
    expected = tmp_path / "qiime2" / "jangi_ms" / "filt-feature-table.qza"
    assert PUBLIC_COHORTS["jangi_ms"].table_path() == expected
    monkeypatch.delenv("MLMICRO_SHARED_DATASETS")
    monkeypatch.chdir(tmp_path)
    assert shared_datasets_dir() == (tmp_path.parent / "shared" / "datasets").resolve()


@pytest.mark.shared
def test_public_cohort_files_exist(shared_datasets):
    for cohort in PUBLIC_COHORTS.values():
        for path in (
            cohort.table_path(shared_datasets),
            cohort.sample_metadata_path(shared_datasets),
            cohort.labels_path(shared_datasets),
            cohort.taxonomy_path(shared_datasets),
        ):
            if path is not None:
                assert path.is_file(), f"{cohort.name}: {path}"


@pytest.mark.shared
def test_public_cohort_labels_match_their_files(shared_datasets):
    for cohort in PUBLIC_COHORTS.values():
        labels_file = cohort.labels_path(shared_datasets)
        if labels_file is not None:
            values = pd.read_csv(labels_file, sep="\t", dtype=str)[cohort.label_column]
        elif cohort.format == "qiime-classic":
            meta = pd.read_csv(cohort.sample_metadata_path(shared_datasets), sep="\t", dtype=str)
            assert cohort.group_column in meta.columns and cohort.sample_id_column in meta.columns
            for column, value in cohort.filters:
                meta = meta[meta[column] == value]
            values = meta[cohort.label_column]
        elif cohort.format == "qza":
            meta = pd.read_csv(
                cohort.sample_metadata_path(shared_datasets), sep="\t", dtype=str, skiprows=[1]
            )
            values = meta[cohort.label_column]
        else:
            assert cohort.format == "metaml"
            rows = pd.read_csv(
                cohort.table_path(shared_datasets),
                sep="\t",
                header=None,
                index_col=0,
                nrows=8,
                dtype=str,
            )
            assert cohort.group_column in rows.index
            keep = np.ones(rows.shape[1], dtype=bool)
            for column, value in cohort.filters:
                keep &= (rows.loc[column] == value).to_numpy()
            assert keep.any(), cohort.name
            values = rows.loc[cohort.label_column][keep]
        present = set(values.dropna())
        assert set(cohort.positive_labels) <= present, cohort.name
        assert set(cohort.negative_labels) <= present, cohort.name
