"""Explanations: exact values, mapping to taxa, direction, abundance, stability, aggregation."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from explain_helpers import planted, small
from matplotlib.figure import Figure
from sklearn.dummy import DummyClassifier
from sklearn.pipeline import Pipeline

from mlmicro import figures  # noqa: F401  (imports shap with its import-time warnings silenced)
from mlmicro.exceptions import (
    CoverageError,
    InvalidTableError,
    MetadataError,
    ModelBundleError,
    TaxonomyError,
)
from mlmicro.explain import Explanation, explain, labels_from_metadata
from mlmicro.model.contributions import transform_features
from mlmicro.model.model import Model
from mlmicro.taxonomy import truncate_lineage

shap = pytest.importorskip("shap")


@pytest.fixture(scope="module")
def binary():
    cohort, model = planted()
    return cohort, model, model.explain()


@pytest.fixture(scope="module")
def multiclass():
    cohort, metadata, model = small("relative", multiclass=True)
    return model, model.explain()


# ------------------------------------------------------------------ exactness
def test_native_values_match_shap_tree_explainer(binary):
    _, model, exp = binary
    features = transform_features(model.pipeline, model.training.table())
    explainer = shap.TreeExplainer(model.pipeline[-1])
    reference = explainer.shap_values(features)
    assert reference.shape == exp.values.shape
    assert np.abs(reference - exp.values.to_numpy()).max() < 1e-5
    assert float(np.ravel(explainer.expected_value)[0]) == pytest.approx(exp.base_value, abs=1e-5)


def test_multiclass_values_match_shap_tree_explainer(multiclass):
    model, exp = multiclass
    features = transform_features(model.pipeline, model.training.table())
    reference = shap.TreeExplainer(model.pipeline[-1]).shap_values(features)  # (n, F, K)
    for k, name in enumerate(model.classes):
        mine = exp.values.xs(name, level="class").to_numpy()
        assert np.abs(reference[:, :, k] - mine).max() < 1e-5


@pytest.mark.filterwarnings("ignore::mlmicro.model.model.InSampleWarning")
def test_values_add_up_to_the_model_output(binary, multiclass):
    _, model, exp = binary
    table = model.training.table()
    margin = model.pipeline[-1].predict(
        transform_features(model.pipeline, table), output_margin=True
    )
    np.testing.assert_allclose(exp.base_value + exp.values.sum(axis=1), margin, atol=1e-4)
    np.testing.assert_allclose(exp.probability, model.predict_proba(table), atol=1e-5)
    model3, exp3 = multiclass
    np.testing.assert_allclose(
        exp3.probability, model3.predict_proba(model3.training.table()), atol=1e-5
    )


# ------------------------------------------------------------- planted drivers
def test_top_ten_recovers_the_planted_drivers_with_their_direction(binary):
    cohort, model, exp = binary
    assert model.card.config["xgboost"] == {}  # the default XGBoost settings
    drivers = dict(zip(cohort.drivers["lineage"], cohort.drivers["direction"], strict=True))
    top = exp.top(10)
    right = [
        lineage in drivers and (drivers[lineage] == "enriched") == (direction == "CD")
        for lineage, direction in zip(top["lineage"], top["direction"], strict=True)
    ]
    assert sum(right) >= 9, top[["name", "direction", "mean_abs_shap"]]


# ------------------------------------------------------------------ summary
def test_summary_names_taxa_and_orders_them(binary):
    _, model, exp = binary
    summary = exp.summary(top_k=10)
    assert list(summary.columns[:5]) == ["rank", "name", "lineage", "feature", "mean_abs_shap"]
    assert summary["rank"].tolist() == list(range(1, len(summary) + 1))
    assert summary["mean_abs_shap"].is_monotonic_decreasing
    assert set(summary["lineage"]) == set(model.features_used)
    assert summary["name"].is_unique
    assert not summary["name"].str.contains("__").any()  # readable, not lineages
    for column in [
        "prevalence_control",
        "prevalence_CD",
        "prevalence_all",
        "mean_abundance_control",
        "mean_abundance_CD",
    ]:
        assert summary[column].between(0, 1).all(), column
    assert summary["cv_top_k_share"].between(0, 1).all()
    assert set(summary["direction"]) <= {"CD", "control", "unclear"}


def test_abundance_columns_match_the_cohort(binary):
    cohort, model, exp = binary
    summary = exp.summary().set_index("lineage")
    table = model.training.table()
    labels = model.training.labels()
    proportions = table.div(table.sum(axis=1), axis=0)
    lineage = summary.index[0]
    cases = proportions.loc[labels == "CD", lineage]
    assert summary.at[lineage, "prevalence_CD"] == pytest.approx((cases > 0).mean())
    assert summary.at[lineage, "mean_abundance_CD"] == pytest.approx(cases.mean())


def test_cv_stability_counts_fold_models(binary):
    _, model, exp = binary
    importance = model.cv.fold_importance
    summary = exp.summary(top_k=5).set_index("lineage")
    for lineage in summary.index[:3]:
        in_top = [lineage in row.nlargest(5).index for _, row in importance.iterrows()]
        assert summary.at[lineage, "cv_top_k_share"] == pytest.approx(np.mean(in_top))


def test_negative_class_view_flips_signs_not_directions(binary):
    _, _, exp = binary
    control = exp.for_class("control")
    pd.testing.assert_frame_equal(control.values, -exp.values)
    assert control.base_value == -exp.base_value
    pd.testing.assert_frame_equal(control.probability, exp.probability)
    assert control.top(5)["direction"].tolist() == exp.top(5)["direction"].tolist()
    with pytest.raises(MetadataError, match="not one of the model's classes"):
        exp.for_class("UC")


def test_sample_contributions_sum_to_the_margin(binary):
    _, _, exp = binary
    sample = exp.sample_ids[3]
    table = exp.contributions(sample)
    assert table["shap"].abs().is_monotonic_decreasing
    assert exp.base_value + table["shap"].sum() == pytest.approx(
        exp.base_value + exp.values.loc[sample].sum()
    )
    with pytest.raises(InvalidTableError, match="not in the explained cohort"):
        exp.contributions("no-such-sample")


# ---------------------------------------------------------------- aggregation
def test_aggregate_sums_shap_within_the_rank(binary):
    _, _, exp = binary
    genus = exp.aggregate("genus")
    assert genus.rank == "genus"
    groups = exp.values.T.groupby([truncate_lineage(c, "genus") for c in exp.values.columns]).sum()
    np.testing.assert_allclose(genus.values, groups.T[genus.values.columns], atol=1e-9)
    np.testing.assert_allclose(genus.values.sum(axis=1), exp.values.sum(axis=1), atol=1e-9)
    summary = genus.summary()
    assert summary["mean_abs_shap"].is_monotonic_decreasing
    assert (summary["lineage"].map(lambda s: s.rsplit("|", 1)[-1][:3]) == "g__").all()
    assert summary["prevalence_all"].between(0, 1).all()


def test_aggregate_refuses_ranks_at_or_below_the_features(binary):
    _, _, exp = binary
    with pytest.raises(TaxonomyError, match="pick a rank above"):
        exp.aggregate("strain")
    with pytest.raises(TaxonomyError, match="Unknown rank"):
        exp.aggregate("clade-x")


# ----------------------------------------------------------- a given cohort
@pytest.mark.filterwarnings("ignore::mlmicro.model.model.InSampleWarning")
def test_new_cohort_goes_through_the_frozen_pipeline(binary):
    cohort, model, exp = binary
    booster_before = bytes(model.pipeline[-1].get_booster().save_raw())
    table = model.training.table().iloc[:40]
    # another lineage style, shuffled columns, a taxon the model never saw, one it lacks
    shuffled = table[table.columns[::-1]].drop(columns=table.columns[5])
    shuffled.columns = [c.replace("|", "; ") for c in shuffled.columns]
    unseen = "k__Bacteria; p__Nova; c__Nova; o__Nova; f__Nova; g__Nova; s__Nova_x; t__SGB1"
    shuffled = pd.concat([shuffled, pd.DataFrame({unseen: 3.0}, index=table.index)], axis=1)
    given = model.explain(shuffled)
    assert given.cohort == "given cohort"
    expected = model.explain(table.drop(columns=table.columns[5]))
    np.testing.assert_allclose(given.values, expected.values, atol=1e-9)
    assert bytes(model.pipeline[-1].get_booster().save_raw()) == booster_before
    assert given.labels is None
    assert "prevalence_all" in given.summary() and "prevalence_CD" not in given.summary()
    assert any("occur in the given cohort" in note for note in given.notes)


@pytest.mark.filterwarnings("ignore::mlmicro.model.model.InSampleWarning")
def test_new_cohort_labels_from_metadata(binary):
    cohort, model, _ = binary
    table = model.training.table().iloc[:60]
    metadata = cohort.metadata.loc[table.index]
    exp = explain(model, table, metadata=metadata)
    assert exp.labels.tolist() == metadata["diagnosis"].tolist()
    assert {"prevalence_CD", "prevalence_control"} <= set(exp.summary().columns)
    renamed = metadata.assign(diagnosis=metadata["diagnosis"].replace({"control": "healthy"}))
    with pytest.raises(MetadataError, match="does not know: 'healthy'"):
        labels_from_metadata(model, renamed)  # the same refusal as external validation
    with pytest.raises(MetadataError, match="(?i)label column 'diagnosis'"):
        labels_from_metadata(model, metadata.drop(columns="diagnosis"))


def test_table_without_shared_taxa_is_refused(binary):
    _, model, _ = binary
    alien = pd.DataFrame(
        {"k__Bacteria|p__Nova|c__N|o__N|f__N|g__Nova|s__Nova_x|t__SGB1": [1.0, 2.0]},
        index=["a", "b"],
    )
    with pytest.raises(CoverageError):
        model.explain(alien)


def test_models_without_xgboost_are_refused(binary):
    _, model, _ = binary
    other = Model(
        Pipeline([*model.pipeline.steps[:-1], ("classifier", DummyClassifier())]),
        card=replace(model.card, config={"model": "random-forest"}),
        training=model.training,
    )
    with pytest.raises(
        ModelBundleError, match="need an XGBoost, random-forest or logistic model.*DummyClassifier"
    ):
        explain(other)
    no_cohort = Model(model.pipeline, card=model.card, cv=model.cv)
    with pytest.raises(ModelBundleError, match="keeps no training cohort"):
        no_cohort.explain()


# ------------------------------------------------------------------ multiclass
def test_multiclass_has_one_view_per_class(multiclass):
    model, exp = multiclass
    assert exp.is_multiclass and exp.outputs == model.classes
    assert exp.values.index.names == ["sample_id", "class"]
    assert list(exp.base_value.index) == model.classes
    summary = exp.summary()
    assert summary["class"].unique().tolist() == model.classes
    assert summary.groupby("class")["rank"].min().eq(1).all()
    top = exp.top(3)
    assert top.groupby("class").size().eq(3).all()
    view = exp.for_class("UC")
    assert not view.is_multiclass and view.outputs == ["UC"]
    assert set(view.summary()["direction"]) <= {"UC", "not UC", "unclear"}
    assert isinstance(view.base_value, float)


# --------------------------------------------------------------- transforms
def test_alr_explains_log_ratios_to_the_reference():
    _, _, model = small("alr")
    exp = model.explain()
    transform = model.pipeline.named_steps["transform"]
    taxa = model.pipeline[:-2].get_feature_names_out()  # the taxa before the ALR step
    reference = taxa[transform.reference_index_]
    assert exp.feature_kind == "log-ratio"
    assert reference not in exp.values.columns
    assert len(exp.values.columns) == len(taxa) - 1
    summary = exp.summary()
    assert summary["feature"].str.startswith("log-ratio to ").all()
    assert summary["name"].str.contains(" / ").all()
    assert any("ALR transform" in note for note in exp.notes)
    assert "prevalence_CD" in summary  # each log-ratio still has its taxon
    assert exp.aggregate("genus").rank == "genus"


def test_ilr_explains_balances_not_taxa():
    _, _, model = small("ilr")
    exp = model.explain()
    assert exp.feature_kind == "balance"
    summary = exp.summary()
    assert summary["name"].str.match(r"ilr\d+: \d+ taxa vs ").all()
    assert summary["feature"].str.startswith("balance: ").all()
    assert summary["cv_top_k_share"].isna().all()
    assert not any(c.startswith("prevalence_") for c in summary.columns)
    assert any("ILR transform" in note and "not taxa" in note for note in exp.notes)
    with pytest.raises(InvalidTableError, match="ILR balances"):
        exp.aggregate("genus")


def test_clr_features_are_taxa():
    _, _, model = small("clr")
    exp = model.explain()
    assert exp.feature_kind == "taxon"
    assert set(exp.values.columns) == set(model.features_used)
    assert (exp.summary()["feature"] == "centred log-ratio (clr)").all()


# ----------------------------------------------------------------- plotting
def test_plots_return_figures(binary, multiclass):
    _, _, exp = binary
    top = exp.top(1)
    for fig in (
        exp.plot_bar(5),
        exp.plot_beeswarm(5),
        exp.plot_waterfall(exp.sample_ids[0], 6),
        exp.plot_dependence(top.at[0, "name"]),
        exp.aggregate("family").plot_bar(5),
    ):
        assert isinstance(fig, Figure) and fig.axes
    _, exp3 = multiclass
    assert isinstance(exp3.plot_bar(4, target="UC"), Figure)
    with pytest.raises(InvalidTableError, match="neither a feature lineage"):
        exp.plot_dependence("Nonexistent species")


def test_repr_says_what_is_explained(binary):
    _, _, exp = binary
    assert isinstance(exp, Explanation)
    assert "taxa at strain rank" in repr(exp) and "training cohort" in repr(exp)
