"""Behaviour of the transformers: learned state, errors, names, RankCollapser."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import skbio.stats.composition as skc
from sklearn.base import clone
from sklearn.pipeline import make_pipeline

from mlmicro.exceptions import InvalidTableError, TaxonomyError, TransformError
from mlmicro.transforms import (
    ALR,
    CLR,
    ILR,
    Closure,
    LogTransform,
    PrevalenceFilter,
    RankCollapser,
    ZeroReplacement,
)
from mlmicro.transforms import _functional as F

TAXA = [f"k__Bacteria|p__Firmicutes|g__G{i}" for i in range(5)]


def _table(values, taxa=TAXA, prefix="S") -> pd.DataFrame:
    values = np.asarray(values, dtype=np.float64)
    index = [f"{prefix}{i}" for i in range(len(values))]
    return pd.DataFrame(values, index=index, columns=taxa[: values.shape[1]])


@pytest.fixture
def train() -> pd.DataFrame:
    return _table(
        [
            [10, 0, 5, 1, 4],
            [20, 2, 0, 1, 7],
            [5, 1, 5, 2, 0],
            [8, 0, 1, 1, 2],
        ]
    )


@pytest.fixture
def new() -> pd.DataFrame:
    return _table([[1000, 0, 0, 1, 3], [4, 4, 4, 4, 0]], prefix="N")


# ------------------------------------------------------------------ Closure


def test_closure_keeps_names_and_index(train):
    out = Closure().set_output(transform="pandas").fit_transform(train)
    assert list(out.columns) == TAXA and list(out.index) == list(train.index)
    np.testing.assert_allclose(out.sum(axis=1), 1.0)


def test_closure_names_the_empty_sample(train):
    bad = train.copy()
    bad.loc["S2"] = 0.0
    with pytest.raises(TransformError, match=r"'S2'"):
        Closure().fit(train).transform(bad)


@pytest.mark.parametrize(
    "transformer",
    [Closure(), ZeroReplacement(), CLR(), ALR(), ILR(), LogTransform(), PrevalenceFilter()],
)
def test_negative_values_are_an_invalid_table(train, transformer):
    bad = train.copy()
    bad.iloc[1, 2] = -1.0
    with pytest.raises(InvalidTableError, match=r"Negative values.*'S1'"):
        transformer.fit(bad)


def test_transformers_reject_nan(train):
    bad = train.copy()
    bad.iloc[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        Closure().fit(bad)


# ------------------------------------------------------------------ ZeroReplacement


def test_multiplicative_matches_skbio_and_freezes_delta(train, new):
    zr = ZeroReplacement().fit(train)
    assert zr.delta_ == pytest.approx(1 / 25) and zr.pseudocount_ is None
    np.testing.assert_allclose(zr.transform(train), skc.multi_replace(train.to_numpy()), atol=1e-12)
    out = zr.transform(new)
    np.testing.assert_allclose(out, skc.multi_replace(new.to_numpy(), delta=1 / 25), atol=1e-12)
    assert zr.delta_ == pytest.approx(1 / 25)


def test_explicit_delta_is_used(train):
    zr = ZeroReplacement(delta=1e-4).fit(train)
    np.testing.assert_allclose(
        zr.transform(train), skc.multi_replace(train.to_numpy(), delta=1e-4), atol=1e-12
    )


def test_pseudocount_is_learned_from_training_data_and_frozen(train, new):
    zr = ZeroReplacement(method="pseudocount").fit(train)
    expected_pc = 0.5 * (1 / 30)  # smallest non-zero proportion of the training table
    assert zr.pseudocount_ == pytest.approx(expected_pc) and zr.delta_ is None
    # the new table has a far smaller proportion (1/1004); the fitted value is still used
    out = zr.transform(new)
    props = F.closure(new.to_numpy())
    np.testing.assert_allclose(out, F.closure(props + expected_pc), atol=1e-12)
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    assert zr.pseudocount_ == pytest.approx(expected_pc)


def test_zero_replacement_errors(train):
    with pytest.raises(TransformError, match="method"):
        ZeroReplacement(method="bayes").fit(train)
    with pytest.raises(TransformError, match="pseudocount only applies"):
        ZeroReplacement(pseudocount=0.1).fit(train)
    with pytest.raises(TransformError, match="delta only applies"):
        ZeroReplacement(method="pseudocount", delta=0.1).fit(train)
    with pytest.raises(TransformError, match="delta must be"):
        ZeroReplacement(delta=-1.0).fit(train)
    with pytest.raises(TransformError, match="smaller delta"):
        ZeroReplacement(delta=1.0).fit(train).transform(train)


# ------------------------------------------------------------------ CLR


def test_clr_requires_zero_replacement(train):
    with pytest.raises(TransformError, match=r"ZeroReplacement\(\).*") as err:
        CLR().fit(train)
    assert "'S0'" in str(err.value)
    pipe = make_pipeline(ZeroReplacement(), CLR()).fit(train)
    np.testing.assert_allclose(pipe.transform(train).sum(axis=1), 0.0, atol=1e-12)


def test_clr_matches_skbio_and_inverts(train):
    positive = train.to_numpy() + 1.0
    clr = CLR().fit(positive)
    coords = clr.transform(positive)
    np.testing.assert_allclose(coords, skc.clr(positive), atol=1e-10)
    np.testing.assert_allclose(clr.inverse_transform(coords), F.closure(positive), atol=1e-12)
    with pytest.raises(TransformError, match="expects 5 columns"):
        clr.inverse_transform(coords[:, :3])


def test_clr_pandas_output_keeps_taxa(train):
    out = (
        make_pipeline(ZeroReplacement(), CLR()).set_output(transform="pandas").fit_transform(train)
    )
    assert list(out.columns) == TAXA and list(out.index) == list(train.index)


# ------------------------------------------------------------------ ALR


def test_alr_auto_reference_picks_stable_ubiquitous_taxon(train):
    # G0 and G3 are present in every sample; G0's log-proportion varies least
    alr = ALR().fit(train)
    props = F.closure(train.to_numpy())
    variances = np.log(props[:, [0, 3]]).var(axis=0)
    assert variances[0] < variances[1]
    assert alr.reference_ == TAXA[0] and alr.reference_index_ == 0
    assert alr.get_feature_names_out().tolist() == TAXA[1:]


def test_alr_auto_reference_falls_back_to_most_prevalent():
    table = _table([[1, 0, 3], [0, 2, 3], [1, 1, 0], [0, 3, 4]])
    # no taxon everywhere; G1 and G2 are in 3 of 4 samples, G2 has more mass
    assert ALR().fit(table).reference_ == TAXA[2]


def test_alr_reference_by_name_and_index(train):
    positive = train + 1.0
    by_name = ALR(reference=TAXA[1]).fit(positive)
    by_index = ALR(reference=-4).fit(positive)
    assert by_name.reference_index_ == by_index.reference_index_ == 1
    np.testing.assert_allclose(
        by_name.transform(positive), skc.alr(positive.to_numpy(), 1), atol=1e-10
    )
    with pytest.raises(TransformError, match="not a taxon"):
        ALR(reference="g__Nope").fit(positive)
    with pytest.raises(TransformError, match="out of range"):
        ALR(reference=5).fit(positive)
    with pytest.raises(TransformError, match="must be 'auto'"):
        ALR(reference=1.5).fit(positive)


def test_alr_reference_is_frozen_and_inverts(train, new):
    alr = ALR().fit(train)
    positive_new = _table([[1.0, 5.0, 5.0, 5.0, 5.0], [100.0, 5.0, 5.0, 5.0, 6.0]])
    assert ALR().fit(positive_new).reference_index_ != alr.reference_index_ == 0
    coords = alr.transform(positive_new)
    expected = F.closure(positive_new.to_numpy())
    np.testing.assert_allclose(coords, skc.alr(expected, 0), atol=1e-10)
    np.testing.assert_allclose(alr.inverse_transform(coords), expected, atol=1e-12)
    with pytest.raises(TransformError, match="strictly positive"):
        alr.transform(new)


def test_alr_pandas_output(train):
    pipe = make_pipeline(ZeroReplacement(), ALR()).set_output(transform="pandas")
    out = pipe.fit_transform(train)
    assert pipe[-1].reference_ not in out.columns and len(out.columns) == 4


# ------------------------------------------------------------------ ILR


def test_ilr_matches_skbio_names_and_inverts(train):
    positive = train + 1.0
    ilr = ILR().set_output(transform="pandas").fit(positive)
    out = ilr.transform(positive)
    assert list(out.columns) == ["ilr0", "ilr1", "ilr2", "ilr3"]
    assert list(out.index) == list(train.index)
    np.testing.assert_allclose(out.to_numpy(), skc.ilr(positive.to_numpy()), atol=1e-10)
    np.testing.assert_allclose(ilr.basis_, F.gram_schmidt_basis(5))
    np.testing.assert_allclose(
        ilr.inverse_transform(out.to_numpy()), F.closure(positive.to_numpy()), atol=1e-12
    )


def test_ilr_custom_basis(train):
    positive = (train + 1.0).to_numpy()
    rng = np.random.default_rng(0)
    # rotate the default basis: still orthonormal, rows still sum to 0
    rotation, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    basis = rotation @ F.gram_schmidt_basis(5)
    ilr = ILR(basis=basis).fit(positive)
    np.testing.assert_allclose(ilr.transform(positive), skc.ilr(positive, basis), atol=1e-10)
    np.testing.assert_allclose(
        ilr.inverse_transform(ilr.transform(positive)), F.closure(positive), atol=1e-12
    )
    with pytest.raises(TransformError, match="shape"):
        ILR(basis=basis[:, :4]).fit(positive)
    with pytest.raises(TransformError, match="orthonormal"):
        ILR(basis=2 * basis).fit(positive)


def test_ilr_needs_two_taxa():
    with pytest.raises(TransformError, match="at least 2"):
        ILR().fit(np.ones((3, 1)))


# ------------------------------------------------------------------ LogTransform


def test_log_transform_learns_and_freezes_pseudocount(train, new):
    log = LogTransform().fit(train)
    assert log.pseudocount_ == pytest.approx(0.5 / 30)
    expected = np.log(F.closure(new.to_numpy()) + 0.5 / 30)
    np.testing.assert_allclose(log.transform(new), expected, atol=1e-12)
    assert log.get_feature_names_out().tolist() == TAXA


def test_log_transform_zero_pseudocount_needs_positive_data(train):
    positive = train + 1.0
    np.testing.assert_allclose(
        LogTransform(pseudocount=0).fit_transform(positive),
        np.log(F.closure(positive.to_numpy())),
    )
    with pytest.raises(TransformError, match="pseudocount=0"):
        LogTransform(pseudocount=0).fit(train).transform(train)
    with pytest.raises(TransformError, match="pseudocount must be"):
        LogTransform(pseudocount=-0.1).fit(train)


# ------------------------------------------------------------------ PrevalenceFilter


def test_prevalence_filter_keeps_prevalent_taxa(train, new):
    pf = PrevalenceFilter(min_prevalence=0.75).set_output(transform="pandas").fit(train)
    # G1 is in 2/4 samples; G2 and G4 in 3/4
    assert pf.kept_features_.tolist() == [TAXA[0], TAXA[2], TAXA[3], TAXA[4]]
    assert pf.support_.tolist() == [True, False, True, True, True]
    np.testing.assert_allclose(pf.prevalence_, [1.0, 0.5, 0.75, 1.0, 0.75])
    out = pf.transform(new)  # frozen: G1 is dropped although present in the new table
    assert list(out.columns) == pf.kept_features_.tolist()
    np.testing.assert_array_equal(out.to_numpy(), new.to_numpy()[:, pf.support_])  # not closed


def test_prevalence_filter_abundance_and_detection_limit(train):
    pf = PrevalenceFilter(min_prevalence=0.0, min_abundance=0.1).fit(train)
    assert pf.kept_features_.tolist() == [TAXA[0], TAXA[2], TAXA[4]]
    pf = PrevalenceFilter(min_prevalence=1.0, detection_limit=1.5).fit(train)
    assert pf.kept_features_.tolist() == [TAXA[0]]


def test_prevalence_filter_never_leaves_zero_features(train):
    with pytest.warns(UserWarning, match="keeping only the most prevalent"):
        pf = PrevalenceFilter(min_prevalence=1.0, min_abundance=0.9).fit(train)
    # G0 and G3 are in every sample; G0 has the larger mean abundance
    assert pf.kept_features_.tolist() == [TAXA[0]]


def test_prevalence_filter_param_errors(train):
    with pytest.raises(TransformError, match="min_prevalence"):
        PrevalenceFilter(min_prevalence=2).fit(train)
    with pytest.raises(TransformError, match="detection_limit"):
        PrevalenceFilter(detection_limit=-1).fit(train)


def test_fitted_transformers_pickle(train, new):
    for transformer in (ZeroReplacement(method="pseudocount"), PrevalenceFilter(), ALR()):
        fitted = clone(transformer).fit(train + 1.0)
        restored = pickle.loads(pickle.dumps(fitted))
        np.testing.assert_array_equal(restored.transform(new + 1.0), fitted.transform(new + 1.0))


# ------------------------------------------------------------------ RankCollapser

_METAPHLAN = {
    "k__Bacteria": [100.0, 100.0],
    "k__Bacteria|p__Firmicutes": [70.0, 40.0],
    "k__Bacteria|p__Firmicutes|c__Clostridia": [70.0, 40.0],
    "k__Bacteria|p__Firmicutes|c__Clostridia|o__Clostridiales": [70.0, 40.0],
    "k__Bacteria|p__Firmicutes|c__Clostridia|o__Clostridiales|f__Lachnospiraceae": [70.0, 40.0],
    "k__Bacteria|p__Firmicutes|c__Clostridia|o__Clostridiales|f__Lachnospiraceae|g__Roseburia": [
        50.0,
        40.0,
    ],
    "k__Bacteria|p__Firmicutes|c__Clostridia|o__Clostridiales|f__Lachnospiraceae|g__Roseburia"
    "|s__Roseburia_hominis": [30.0, 40.0],
    "k__Bacteria|p__Firmicutes|c__Clostridia|o__Clostridiales|f__Lachnospiraceae|g__Roseburia"
    "|s__Roseburia_intestinalis": [20.0, 0.0],
    "k__Bacteria|p__Firmicutes|c__Clostridia|o__Clostridiales|f__Lachnospiraceae|g__Blautia": [
        20.0,
        0.0,
    ],
    "k__Bacteria|p__Firmicutes|c__Clostridia|o__Clostridiales|f__Lachnospiraceae|g__Blautia"
    "|s__Blautia_obeum": [20.0, 0.0],
    # a leaf that stops above genus (kept, padded with g__unclassified)
    "k__Bacteria|p__Bacteroidetes": [30.0, 60.0],
}
_LACHNO = "k__Bacteria|p__Firmicutes|c__Clostridia|o__Clostridiales|f__Lachnospiraceae"
ROSEBURIA = f"{_LACHNO}|g__Roseburia"
BLAUTIA = f"{_LACHNO}|g__Blautia"
BACTEROIDETES_G = (
    "k__Bacteria|p__Bacteroidetes|c__unclassified|o__unclassified|f__unclassified|g__unclassified"
)


@pytest.fixture
def metaphlan() -> pd.DataFrame:
    return pd.DataFrame(_METAPHLAN, index=["A", "B"])


def test_rank_collapser_hierarchical_no_double_counting(metaphlan):
    rc = RankCollapser(rank="genus").set_output(transform="pandas").fit(metaphlan)
    assert rc.taxa_.tolist() == sorted([ROSEBURIA, BLAUTIA, BACTEROIDETES_G])
    assert rc.n_features_in_ == metaphlan.shape[1]
    assert rc.feature_names_in_.tolist() == list(metaphlan.columns)
    out = rc.transform(metaphlan)
    assert list(out.index) == ["A", "B"]
    assert out.loc["A", ROSEBURIA] == 50.0 and out.loc["B", ROSEBURIA] == 40.0
    assert out.loc["A", BACTEROIDETES_G] == 30.0
    np.testing.assert_allclose(out.sum(axis=1), [100.0, 100.0])  # nothing counted twice


def test_rank_collapser_species_and_no_rank(metaphlan):
    species = RankCollapser(rank="s").fit(metaphlan)
    assert len(species.taxa_) == 4  # 3 species + the padded Bacteroidetes leaf
    np.testing.assert_allclose(species.transform(metaphlan).sum(axis=1), [100.0, 100.0])
    deepest = RankCollapser().fit(metaphlan)  # rank=None: leaves of the hierarchy
    assert len(deepest.taxa_) == 4
    np.testing.assert_allclose(deepest.transform(metaphlan).sum(axis=1), [100.0, 100.0])


def test_rank_collapser_reindexes_a_new_cohort(metaphlan):
    rc = RankCollapser(rank="genus").set_output(transform="pandas").fit(metaphlan)
    cohort = pd.DataFrame(
        {
            # flat species table, other column order, Greengenes style for one taxon
            "k__Bacteria; p__Proteobacteria; g__Escherichia; s__coli": [5.0, 1.0, 0.0],
            f"{ROSEBURIA}|s__Roseburia_hominis": [1.0, 2.0, 3.0],
            f"{ROSEBURIA}|s__Roseburia_faecis": [4.0, 0.0, 1.0],
        },
        index=["x", "y", "z"],
    )
    out = rc.transform(cohort)
    assert list(out.columns) == rc.taxa_.tolist() and list(out.index) == ["x", "y", "z"]
    np.testing.assert_allclose(out[ROSEBURIA], [5.0, 2.0, 4.0])  # species summed
    np.testing.assert_allclose(out[BLAUTIA], 0.0)  # missing -> 0
    np.testing.assert_allclose(out[BACTEROIDETES_G], 0.0)
    assert not any("Escherichia" in c for c in out.columns)  # unknown -> dropped


def test_rank_collapser_aligns_other_naming_styles(metaphlan):
    """The fitted first step matches a cohort's names as mlmicro predict does."""
    rc = RankCollapser(rank="genus").fit(metaphlan)
    where = rc.taxa_.tolist().index(ROSEBURIA)
    for name in (
        ROSEBURIA.replace("Roseburia", "ROSEBURIA"),  # case
        ROSEBURIA.replace("|", "; "),  # QIIME style
        "Roseburia hominis",  # a bare species name, under the model's genus
    ):
        out = rc.transform(pd.DataFrame({name: [7.0]}))
        assert out[0, where] == 7.0 and out.sum() == 7.0, name
    # two new columns matched to one fitted taxon are summed
    both = pd.DataFrame({ROSEBURIA.replace("|", ";"): [7.0], "Roseburia hominis": [2.0]})
    out = rc.transform(both)
    assert out[0, where] == 9.0 and out.sum() == 9.0
    # the fitted taxa themselves map one to one
    own = pd.DataFrame(np.eye(len(rc.taxa_)), columns=rc.taxa_)
    np.testing.assert_array_equal(rc.transform(own), np.eye(len(rc.taxa_)))


def test_rank_collapser_in_a_pipeline(metaphlan):
    pipe = make_pipeline(
        RankCollapser(rank="genus"), PrevalenceFilter(), ZeroReplacement(), CLR()
    ).set_output(transform="pandas")
    out = pipe.fit_transform(metaphlan)
    assert list(out.columns) == pipe.get_feature_names_out().tolist()
    cohort = pd.DataFrame({f"{BLAUTIA}|s__Blautia_obeum": [3.0], "k__Bacteria|p__X": [1.0]})
    new_out = pipe.transform(cohort)
    assert list(new_out.columns) == list(out.columns)


def test_rank_collapser_input_errors(metaphlan):
    with pytest.raises(InvalidTableError, match="DataFrame"):
        RankCollapser().fit(metaphlan.to_numpy())
    with pytest.raises(InvalidTableError, match="string"):
        RankCollapser().fit(pd.DataFrame(np.ones((2, 2))))
    bad = metaphlan.copy()
    bad.iloc[1, 3] = -1.0
    with pytest.raises(InvalidTableError, match="Negative value.*sample 'B'"):
        RankCollapser().fit(bad)
    bad.iloc[1, 3] = np.nan
    with pytest.raises(InvalidTableError, match="Missing or infinite value.*sample 'B'"):
        RankCollapser().fit(bad)
    text = metaphlan.astype(object)
    text.iloc[0, 0] = "many"
    with pytest.raises(InvalidTableError, match="non-numeric"):
        RankCollapser().fit(text)
    with pytest.raises(TaxonomyError):
        RankCollapser(rank="tribe").fit(metaphlan)
    with pytest.raises(TaxonomyError):
        RankCollapser(rank="genus").fit(pd.DataFrame({"ASV1": [1.0], "ASV2": [2.0]}))
    fitted = RankCollapser(rank="genus").fit(metaphlan)
    with pytest.raises(InvalidTableError, match="DataFrame"):
        fitted.transform(metaphlan.to_numpy())


def test_sample_emptied_by_filtering_is_uniform_not_an_error():
    """After a prevalence filter a sample may hold none of the kept taxa."""
    from sklearn.pipeline import make_pipeline

    X = pd.DataFrame(
        [[0.0, 0.0, 5.0], [1.0, 2.0, 0.0], [3.0, 1.0, 0.0], [2.0, 2.0, 0.0]],
        columns=["k__B|g__A", "k__B|g__C", "k__B|g__Rare"],
        index=["only_rare", "s1", "s2", "s3"],
    )
    for method in ("multiplicative", "pseudocount"):
        pipe = make_pipeline(
            Closure(), PrevalenceFilter(min_prevalence=0.5), ZeroReplacement(method=method), CLR()
        )
        out = pipe.fit_transform(X)
        assert out.shape == (4, 2)
        np.testing.assert_allclose(out[0], 0.0)
        assert np.abs(out[1:]).max() > 0.1
    logs = make_pipeline(Closure(), PrevalenceFilter(min_prevalence=0.5), LogTransform()).fit(X)
    row = logs.transform(X)[0]
    assert row[0] == row[1] == np.log(logs[-1].pseudocount_)
