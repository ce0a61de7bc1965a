"""Batch prediction API: frozen pipeline, coverage, top strains, validation, chunking."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mlmicro
from mlmicro.datasets import simulate_cohort
from mlmicro.exceptions import ConfigError, CoverageError, MetadataError, ModelBundleError
from mlmicro.model.contributions import feature_contributions, transform_features
from mlmicro.model.metrics import score
from mlmicro.predict import (
    PredictionWarning,
    cohort_labels,
    coverage_report,
    predict_file,
    predict_table,
    taxon_importance,
)
from mlmicro.taxonomy import collapse_to_rank, display_name

# the "new" cohorts are simulated with other seeds: other taxa and baselines, so out of the
# training cohort's applicability domain (tested in tests/test_trust.py)
pytestmark = pytest.mark.filterwarnings("ignore::mlmicro.predict.OutOfDomainWarning")


@pytest.fixture(scope="module")
def cohort():
    return simulate_cohort(n_subjects=40, seed=1)


@pytest.fixture(scope="module")
def new_cohort():
    return simulate_cohort(n_subjects=30, seed=7)


def _train(cohort, **options):
    return mlmicro.train(
        cohort.table,
        cohort.metadata,
        label="diagnosis",
        group="subject_id",
        config="fast",
        jobs=1,
        **{"cv.folds": 3, "rank": "species", **options},  # species: bare names match it
    )


@pytest.fixture(scope="module")
def model(cohort):
    return _train(cohort, positive=["CD"], negative=["control"])


@pytest.fixture(scope="module")
def bundle(model, tmp_path_factory):
    return model.save(tmp_path_factory.mktemp("models") / "cd.mlmodel")


def test_predictions_are_the_frozen_pipelines(model, new_cohort):
    result = predict_table(model, new_cohort.table)
    table = result.predictions
    assert table.index.name == "sample_id" and list(table.index) == list(new_cohort.table.index)
    assert table.columns.tolist() == [
        "predicted_label",
        "probability_control",
        "probability_CD",
        "probability_source",
        "status",
        "domain_score",
        "in_domain",
    ]
    assert (table["probability_source"] == "model").all() and result.n_in_training == 0
    expected = model.trust.calibrate(model.pipeline.predict_proba(new_cohort.table))
    np.testing.assert_allclose(table[["probability_control", "probability_CD"]], expected)
    assert (table["predicted_label"] == model.predict(new_cohort.table)).all()
    np.testing.assert_allclose(
        table[["probability_control", "probability_CD"]].sum(axis=1), 1.0, rtol=1e-6
    )
    assert result.validation is None


def test_the_notebook_path_gives_the_cli_numbers(bundle, new_cohort, tmp_path):
    path = tmp_path / "new.tsv"
    mlmicro.write_table(new_cohort.table, path)
    run = predict_file(bundle, path, tmp_path / "out.tsv", chunk_size=7)
    written = pd.read_csv(run.output, sep="\t", index_col="sample_id")
    notebook = mlmicro.load_model(bundle).predict_proba(mlmicro.read_table(path))
    assert run.n_samples == len(notebook) == len(written)
    np.testing.assert_allclose(written[notebook.columns], notebook, rtol=1e-12, atol=0)
    assert run.class_counts == written["predicted_label"].value_counts().to_dict() | {
        c: 0 for c in ("control", "CD") if c not in set(written["predicted_label"])
    }


@pytest.mark.parametrize("name", ["new.csv.gz", "new.parquet", "new.tsv"])
@pytest.mark.parametrize("out", ["p.csv", "p.tsv.gz", "p.parquet"])
def test_formats_in_and_out(model, new_cohort, tmp_path, name, out):
    path = tmp_path / name
    mlmicro.write_table(new_cohort.table, path)
    run = predict_file(model, path, tmp_path / out, chunk_size=11)
    written = _read_output(run.output)
    expected = predict_table(model, new_cohort.table).predictions
    assert written.index.tolist() == expected.index.tolist()
    np.testing.assert_allclose(written["probability_CD"], expected["probability_CD"], rtol=1e-12)


def _read_output(path):
    if path.suffix == ".parquet":
        return pd.read_parquet(path).set_index("sample_id")
    sep = "," if ".csv" in path.name else "\t"
    return pd.read_csv(path, sep=sep, index_col="sample_id")


def test_taxa_as_rows_and_other_naming_styles_predict_the_same(model, new_cohort, tmp_path):
    species = collapse_to_rank(new_cohort.table, "species")
    renamed = species.copy()
    renamed.columns = [display_name(c) for c in species.columns]  # bare species names
    path = tmp_path / "taxa_rows.tsv"
    renamed.T.rename_axis("taxon").to_csv(path, sep="\t")
    run = predict_file(model, path, tmp_path / "out.tsv")
    written = _read_output(run.output)
    expected = predict_table(model, new_cohort.table).predictions
    np.testing.assert_allclose(
        written.loc[expected.index, "probability_CD"], expected["probability_CD"], rtol=1e-12
    )
    # every matched column was a bare name, so every model taxon found counts as renamed
    assert run.coverage.renamed == run.coverage.n_found > 0


def test_coverage_report_and_refusal(model, new_cohort):
    full = coverage_report(model, new_cohort.table)
    assert full.n_found <= full.n_features and 0 < full.importance_share <= 1
    assert 0.5 < full.abundance_share_mean <= 1
    importance, basis = taxon_importance(model)
    assert basis == "mean |SHAP| over CV folds" and list(importance.index) == model.features
    top = importance.sort_values(ascending=False).index[:5]
    species = collapse_to_rank(new_cohort.table, "species")
    kept = [c for c in species.columns if c not in set(top)]
    report = coverage_report(model, species[kept])
    assert set(top) <= set(report.missing["taxon"])
    assert report.missing["importance"].is_monotonic_decreasing
    assert report.importance_share < full.importance_share
    assert 0 < report.abundance_share_mean < full.abundance_share_mean
    text = report.format()
    assert "most important missing taxa" in text and display_name(top[0]) in text
    too_high = report.importance_share + 0.01
    with pytest.raises(CoverageError, match="below the minimum coverage") as err:
        predict_table(model, species[kept], min_coverage=too_high)
    assert "\n" not in str(err.value) and "--min-coverage 0" in str(err.value)
    assert len(predict_table(model, species[kept], min_coverage=0).predictions) == len(species)


def test_samples_without_model_taxa_get_no_prediction(model, new_cohort):
    table = new_cohort.table.copy()
    table["k__Bacteria|p__Unknownia|g__Nova|s__Nova_nova"] = 5.0
    table.iloc[0, :-1] = 0.0
    result = predict_table(model, table)
    first = result.predictions.iloc[0]
    assert pd.isna(first["predicted_label"]) and np.isnan(first["probability_CD"])
    assert result.predictions.iloc[1:]["predicted_label"].notna().all()
    assert result.coverage.n_without_model_taxa == 1
    assert result.coverage.abundance_share_min == 0.0


def test_top_strains_are_signed_shap_toward_the_positive_class(model, new_cohort):
    k = 4
    result = predict_table(model, new_cohort.table, top_strains=k)
    table = result.predictions
    shap_columns = [f"top{i}_shap" for i in range(1, k + 1)]
    assert table.columns.tolist()[7:] == ["shap_source"] + [
        name for i in range(1, k + 1) for name in (f"top{i}_taxon", f"top{i}_shap")
    ]
    assert (table["shap_source"] == "out-of-sample").all()  # a cohort the model never saw
    magnitude = table[shap_columns].abs().to_numpy()
    assert (np.diff(magnitude, axis=1) <= 1e-12).all()  # strongest first
    values, base, features = feature_contributions(model.pipeline, new_cohort.table)
    names = [display_name(c) for c in features.columns]
    first = table.iloc[0]
    j = names.index(first["top1_taxon"])
    assert first["top1_shap"] == pytest.approx(values[0, j], rel=1e-9)
    assert np.abs(values[0]).max() == pytest.approx(abs(first["top1_shap"]), rel=1e-9)
    # SHAP values add up to the classifier's log-odds of the positive class (before calibration)
    margin = base + values.sum(axis=1)
    raw = 1 / (1 + np.exp(-margin))
    calibrated = model.trust.calibrate(np.column_stack([1 - raw, raw]))[:, 1]
    np.testing.assert_allclose(calibrated, table["probability_CD"], rtol=1e-5)


def test_top_strains_of_every_model_type(cohort, new_cohort):
    forest = _train(cohort, positive=["CD"], model="random-forest")
    result = predict_table(forest, new_cohort.table, top_strains=3)
    assert result.predictions["top1_taxon"].notna().all()
    assert result.coverage.importance_basis == "classifier importance"
    with pytest.raises(ConfigError, match="0 or more"):
        predict_table(forest, new_cohort.table, top_strains=-1)


def test_multiclass_top_strains_point_toward_the_predicted_class(cohort, new_cohort):
    def three_way(metadata):
        metadata = metadata.copy()
        subject = metadata["subject_id"].str[-1].astype(int)
        metadata["group3"] = np.where(
            metadata["diagnosis"] == "CD", "CD", np.where(subject % 2 == 0, "ctl_a", "ctl_b")
        )
        return metadata

    meta = three_way(cohort.metadata)
    multi = mlmicro.train(
        cohort.table,
        meta,
        label="group3",
        group="subject_id",
        config="fast",
        jobs=1,
        **{"cv.folds": 3},
    )
    assert multi.positive_class is None and len(multi.classes) == 3
    result = predict_table(
        multi, new_cohort.table, top_strains=2, metadata=three_way(new_cohort.metadata)
    )
    with pytest.raises(MetadataError, match="binary model's classes"):
        cohort_labels(multi, three_way(new_cohort.metadata), positive=["CD"])
    table = result.predictions
    assert [f"probability_{c}" for c in multi.classes] == table.columns[1:4].tolist()
    values, _, features = feature_contributions(multi.pipeline, new_cohort.table)
    names = [display_name(c) for c in features.columns]
    row = table.iloc[0]
    k = multi.classes.index(row["predicted_label"])
    assert row["top1_shap"] == pytest.approx(values[0, k, names.index(row["top1_taxon"])])
    assert result.validation is not None and result.validation.n_samples == len(table)


def test_external_validation_scores_with_the_cards_label_mapping(model, new_cohort):
    meta = new_cohort.metadata
    result = predict_table(model, new_cohort.table, metadata=meta)
    validation = result.validation
    expected = score(
        meta.loc[result.predictions.index, "diagnosis"],
        result.predictions[["probability_control", "probability_CD"]].to_numpy(),
        ["control", "CD"],
        "CD",
        predicted=result.predictions["predicted_label"].to_numpy(),
    )
    assert validation.metrics == pytest.approx(expected)
    assert validation.label == "diagnosis" and validation.n_samples == len(meta)
    assert "AUROC" in validation.format() and "balanced accuracy" in validation.format()


def test_cohort_labels_map_values_like_training(cohort):
    model = _train(cohort, positive=["CD"])  # no negative: every other value is negative
    meta = pd.DataFrame(
        {"diagnosis": ["CD", "UC", "control", None, "  "], "x": range(5)},
        index=list("abcde"),
    )
    # 'UC' never occurred in training: refused, not silently counted as a negative
    with pytest.raises(MetadataError, match=r"does not know: 'UC' \(1\).*--positive"):
        cohort_labels(model, meta)
    assert cohort_labels(model, meta.drop(index="b")).to_dict() == {"a": "CD", "c": "control"}
    # the user's explicit mapping: every other value is negative
    labels = cohort_labels(model, meta, positive=["CD"])
    assert labels.to_dict() == {"a": "CD", "b": "control", "c": "control"}
    with pytest.raises(MetadataError, match="not in the sample metadata"):
        cohort_labels(model, meta, "disease")


def test_other_label_spellings_map_onto_the_models_classes(model, new_cohort):
    meta = new_cohort.metadata.assign(
        status=new_cohort.metadata["diagnosis"].map({"CD": "crohn", "control": "healthy"})
    )
    labels = cohort_labels(model, meta, "status", positive=["crohn"], negative=["healthy"])
    assert labels.to_dict() == meta["diagnosis"].to_dict()
    result = predict_table(
        model,
        new_cohort.table,
        metadata=meta,
        label="status",
        positive=["crohn"],
        negative=["healthy"],
    )
    direct = predict_table(model, new_cohort.table, metadata=new_cohort.metadata)
    assert result.validation.metrics == pytest.approx(direct.validation.metrics)
    with pytest.raises(MetadataError, match="need --metadata"):
        predict_table(model, new_cohort.table, positive=["crohn"])
    with pytest.raises(MetadataError, match="does not know: 'crohn'"):
        cohort_labels(model, meta, "status")  # other spellings need the mapping


def test_no_labelled_sample_warns(model, new_cohort):
    meta = pd.DataFrame({"diagnosis": ["CD"]}, index=["elsewhere"])
    with pytest.warns(PredictionWarning, match="No predicted sample has a usable label"):
        result = predict_table(model, new_cohort.table, metadata=meta)
    assert result.validation is None


def test_a_table_file_is_not_a_model(tmp_path, new_cohort):
    path = tmp_path / "cohort.tsv"
    mlmicro.write_table(new_cohort.table, path)
    with pytest.raises(ModelBundleError, match="not a model bundle"):
        predict_table(path, new_cohort.table)


def test_jobs_and_chunk_size_do_not_change_the_numbers(bundle, new_cohort, tmp_path):
    path = tmp_path / "new.tsv"
    mlmicro.write_table(new_cohort.table, path)
    one = predict_file(bundle, path, tmp_path / "a.tsv", chunk_size=1000, top_strains=2)
    many = predict_file(bundle, path, tmp_path / "b.tsv", chunk_size=4, jobs=2, top_strains=2)
    assert one.output.read_text() == many.output.read_text()


def test_the_one_application_path_is_the_fitted_pipeline(model, new_cohort):
    # sklearn's own pipeline on the raw cohort and the application path: one answer
    applied = model.apply(new_cohort.table)
    assert applied.predicted.all()
    direct = transform_features(model.pipeline, new_cohort.table)
    np.testing.assert_array_equal(direct.to_numpy(), applied.features)
    np.testing.assert_array_equal(
        model.pipeline.predict_proba(new_cohort.table), applied.raw_probabilities
    )
    np.testing.assert_array_equal(
        model.trust.calibrate(applied.raw_probabilities), applied.probabilities
    )
    # the model's own features, fed back, align one to one onto themselves
    own = pd.DataFrame(applied.abundance, index=new_cohort.table.index, columns=model.features)
    np.testing.assert_array_equal(model.apply(own).probabilities, applied.probabilities)
