"""Training end to end: leakage-free CV, the saved bundle, the notebook API."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from bundle_helpers import write_legacy_bundle

import mlmicro
from mlmicro.config import load_config
from mlmicro.datasets import simulate_cohort
from mlmicro.exceptions import MetadataError, ModelBundleError
from mlmicro.model.bundle import ModelVersionWarning, card_path
from mlmicro.model.cv import RepeatedSubjectsWarning
from mlmicro.model.legacy import convert_legacy_bundle
from mlmicro.model.model import InSampleWarning

FAST = {"config": "fast"}


def train_cd(cohort, **kwargs):
    """Train CD vs the rest on a simulated cohort."""
    return mlmicro.train(
        cohort.table, cohort.metadata, label="diagnosis", positive=["CD"], **kwargs
    )


@pytest.fixture(scope="module")
def cohort():
    return simulate_cohort(n_subjects=80, seed=3)


@pytest.fixture(scope="module")
def model(cohort):
    return train_cd(
        cohort,
        negative=["control"],
        group="subject_id",
        **{"cv.repeats": 2},
        **FAST,
    )


def test_cv_results_and_card(model, cohort):
    assert model.classes == ["control", "CD"] and model.positive_class == "CD"
    assert list(model.cv_results.index) == [0, 1]
    auc = model.card.cv_metrics["roc_auc"]
    assert 0.6 < auc["mean"] <= 1.0 and auc["ci95"][0] <= auc["mean"] <= auc["ci95"][1]
    oof = model.oof_predictions
    # every sample predicted once per repeat, never by a model that saw its subject
    assert oof.groupby("repeat")["sample_id"].nunique().tolist() == [len(cohort.table)] * 2
    assert model.card.cv["scheme"] == "stratified group k-fold"
    assert model.card.n_samples == len(cohort.table)
    assert model.card.training_table["fingerprint_sha256"]
    assert set(model.card.versions) >= {"python", "mlmicro", "scikit-learn", "xgboost"}
    assert "mlmicro.Model xgboost" in repr(model) and "AUROC" in repr(model)


def test_every_step_is_fitted_inside_the_folds(cohort, monkeypatch):
    """Each CV pipeline (rank, filter, zeros, transform, classifier) sees only its training fold."""
    from mlmicro.transforms import RankCollapser

    seen: list[frozenset[str]] = []
    original = RankCollapser.fit

    def recording_fit(self, X, y=None):
        seen.append(frozenset(map(str, X.index)))
        return original(self, X, y)

    monkeypatch.setattr(RankCollapser, "fit", recording_fit)
    fitted = train_cd(
        cohort,
        group="subject_id",
        config="clr",
        **{"cv.folds": 4, "cv.repeats": 2},
    )
    everyone = frozenset(cohort.table.index)
    oof = fitted.oof_predictions
    tests = [frozenset(g["sample_id"]) for _, g in oof.groupby(["repeat", "fold"], sort=True)]
    # the domain reference is refitted inside each fold of the first repeat
    first = [frozenset(g["sample_id"]) for (r, _), g in oof.groupby(["repeat", "fold"]) if r == 0]
    # one fit per split, the final refit on everyone, one per first-repeat fold for the domain
    assert len(seen) == len(tests) + 1 + len(first)
    assert seen.count(everyone) == 1  # only the final refit saw every sample
    subject = cohort.metadata["subject_id"]
    # folds run in parallel, so fits are recorded in any order: match them by content
    assert sorted(map(sorted, seen)) == sorted(
        [sorted(everyone - t) for t in tests]
        + [sorted(everyone)]
        + [sorted(everyone - t) for t in first]
    )
    for test_samples in tests:
        fit_samples = everyone - test_samples
        assert not set(subject[list(fit_samples)]) & set(subject[list(test_samples)])


def test_save_load_predict_identical(model, cohort, tmp_path):
    path = model.save(tmp_path / "models" / "cd")
    assert path.name == "cd.mlmodel" and path.is_file() and card_path(path).is_file()
    card = json.loads(card_path(path).read_text())
    for key in ("classes", "positive_class", "n_samples", "features", "cv_metrics", "bundle"):
        assert key in card
    assert card["bundle"]["file"] == "cd.mlmodel" and card["bundle"]["signed_by"] is None
    assert set(card["cv_metrics"]["roc_auc"]) >= {"mean", "std", "ci95"}
    loaded = mlmicro.load_model(path)
    new = cohort.table.iloc[:25]  # training samples: out-of-fold probabilities, with a warning
    with pytest.warns(InSampleWarning, match="25 of 25"):
        pd.testing.assert_frame_equal(model.predict_proba(new), loaded.predict_proba(new))
        assert (model.predict(new) == loaded.predict(new)).all()
    assert loaded.features == model.features
    assert loaded.card.to_dict() == card
    # loading by the card copy's path loads the bundle beside it
    assert mlmicro.load_model(card_path(path)).classes == model.classes


def test_tampered_bundle_is_refused(model, tmp_path):
    path = model.save(tmp_path / "m.mlmodel")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelBundleError, match="SHA-256|damaged"):
        mlmicro.load_model(path)


def test_card_copy_is_not_read_and_non_bundle_is_refused(model, tmp_path):
    path = model.save(tmp_path / "m.mlmodel")
    card_path(path).write_text("{}")  # the copy beside is for reading; the bundle holds the card
    assert mlmicro.load_model(path).classes == model.classes
    card_path(path).unlink()
    assert mlmicro.load_model(path).classes == model.classes
    other = tmp_path / "x.mlmodel"
    other.write_text("not a model")
    with pytest.raises(ModelBundleError, match="not an mlmicro model bundle"):
        mlmicro.load_model(other)


def test_saving_as_joblib_is_refused(model, tmp_path):
    with pytest.raises(ModelBundleError, match=r"m\.mlmodel"):
        model.save(tmp_path / "m.joblib")
    assert not list(tmp_path.iterdir())


def test_old_bundle_with_other_versions_warns_on_convert(model, tmp_path):
    old = write_legacy_bundle(model, tmp_path / "m.joblib")
    card = json.loads(old.with_suffix(".json").read_text())
    card["versions"]["scikit-learn"] = "0.1"
    old.with_suffix(".json").write_text(json.dumps(card))
    with pytest.warns(ModelVersionWarning, match="scikit-learn==0.1"):
        convert_legacy_bundle(old, tmp_path / "m.mlmodel", trust=True)


def test_repeated_subjects_without_group_warn(cohort):
    with pytest.warns(RepeatedSubjectsWarning, match="--group subject_id"):
        train_cd(cohort, **FAST)


def test_leave_one_study_out(cohort):
    model = train_cd(
        cohort,
        study="study",
        group="subject_id",
        **FAST,
    )
    per_study = pd.DataFrame(model.card.cv["per_study"])
    assert sorted(per_study["study"]) == sorted(cohort.metadata["study"].unique())
    assert per_study["n_samples"].sum() == len(cohort.table)
    assert model.card.cv["scheme"] == "leave-one-study-out"


def test_permutation_null(cohort):
    model = train_cd(
        cohort,
        group="subject_id",
        **{"cv.permutations": 3, "cv.folds": 3},
        **FAST,
    )
    perm = model.cv.permutation
    assert perm["n"] == 3 and len(perm["null_roc_auc"]) == 3
    assert perm["p_value"] == pytest.approx(0.25)  # real signal: no null beats it
    assert np.mean(perm["null_roc_auc"]) < model.card.cv_metrics["roc_auc"]["mean"]


@pytest.mark.parametrize("name", ["random-forest", "logistic-l1"])
def test_other_classifiers(cohort, name):
    model = train_cd(
        cohort,
        group="subject_id",
        model=name,
        **FAST,
    )
    assert model.card.config["model"] == name
    assert model.card.cv_metrics["roc_auc"]["mean"] > 0.6


def test_clr_pipeline_and_tuning(cohort):
    model = train_cd(
        cohort,
        group="subject_id",
        config=load_config("clr").override(
            **{"cv.folds": 3, "cv.repeats": 1, "cv.tune": True, "cv.inner_folds": 2}
        ),
        xgboost={"n_estimators": 10, "num_parallel_tree": 2},
    )
    assert "zeros" in model.pipeline.named_steps and "transform" in model.pipeline.named_steps
    assert model.card.cv_metrics["roc_auc"]["mean"] > 0.6


def test_multiclass(cohort):
    meta = cohort.metadata.copy()
    rng = np.random.default_rng(0)
    meta["subtype"] = np.where(
        meta["diagnosis"] == "CD", rng.choice(["ileal", "colonic"], len(meta)), "control"
    )
    model = mlmicro.train(cohort.table, meta, label="subtype", group="subject_id", **FAST)
    assert model.classes == ["colonic", "control", "ileal"] and model.positive_class is None
    with pytest.warns(InSampleWarning):
        assert model.predict_proba(cohort.table.iloc[:3]).shape == (3, 3)


def test_no_shared_samples(cohort):
    meta = cohort.metadata.copy()
    meta.index = "X" + meta.index
    with pytest.raises(MetadataError, match="shared|share"):
        mlmicro.train(cohort.table, meta, label="diagnosis", **FAST)


def test_train_on_embedded_cohort_with_defaults():
    model = mlmicro.train(config="fast")
    assert model.card.task.label == "diagnosis"
    assert model.card.cv["scheme"] == "stratified group k-fold"
