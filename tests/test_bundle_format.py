"""Model bundles (.mlmodel): exact round trips, no code run on load, signatures, old bundles."""

from __future__ import annotations

import builtins
import functools
import io
import json
import pathlib
import zipfile

import matplotlib
import numpy as np
import pandas as pd
import pytest
from bundle_helpers import (
    Payload,
    members_of,
    npy_with_pickle,
    pickle_bytes,
    rewrite,
    write_legacy_bundle,
    write_members,
)
from typer.testing import CliRunner

import mlmicro
from mlmicro.cli import app
from mlmicro.datasets import simulate_cohort
from mlmicro.exceptions import ConfigError, ModelBundleError
from mlmicro.model import bundle as bundle_module
from mlmicro.model.bundle import card_path, read_bundle
from mlmicro.model.signing import key_id

matplotlib.use("Agg")

MODELS = ("xgboost", "random-forest", "logistic-l1")
TRANSFORMS = ("relative", "log", "clr", "alr", "ilr")
KEY = "5f" * 32
OTHER_KEY = "a7" * 32

# these tests apply models to their own training samples on purpose
pytestmark = pytest.mark.filterwarnings("ignore::mlmicro.model.model.InSampleWarning")


@pytest.fixture(autouse=True)
def no_signing_key(monkeypatch):
    monkeypatch.delenv("MLMICRO_SIGNING_KEY", raising=False)
    monkeypatch.delenv("MLMICRO_SIGNING_KEY_FILE", raising=False)


@functools.cache
def cohort():
    return simulate_cohort(n_subjects=40, n_taxa=60, seed=5)


@functools.cache
def trained(model: str = "xgboost", transform: str = "clr", study: bool = False):
    data = cohort()
    return mlmicro.train(
        data.table,
        data.metadata,
        label="diagnosis",
        positive=["CD"],
        negative=["control"],
        group=None if study else "subject_id",
        study="study" if study else None,
        model=model,
        jobs=1,
        xgboost={"n_estimators": 6},
        random_forest={"n_estimators": 12},
        **{
            "cv.folds": 3,
            "cv.repeats": 1,
            "cv.permutations": 2 if study else 0,
            "preprocessing.transform": transform,
        },
    )


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A genuine bundle, and the cohort table as a file."""
    folder = tmp_path_factory.mktemp("bundle")
    path = trained().save(folder / "genuine.mlmodel")
    table = folder / "cohort.tsv"
    cohort().table.to_csv(table, sep="\t")
    return path, table


def assert_same_cv(a, b):
    for name in ("per_repeat", "oof", "per_study", "fold_importance"):
        left, right = getattr(a, name), getattr(b, name)
        assert (left is None) == (right is None), name
        if left is not None:
            pd.testing.assert_frame_equal(left, right)
    assert (a.scheme, a.folds, a.repeats, a.notes) == (b.scheme, b.folds, b.repeats, b.notes)
    assert a.summary == b.summary and a.permutation == b.permutation


# ---------------------------------------------------------------------------
# round trips
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("transform", TRANSFORMS)
@pytest.mark.parametrize("model", MODELS)
def test_save_load_is_exact_for_every_model_and_transform(model, transform, tmp_path):
    fitted = trained(model, transform)
    path = fitted.save(tmp_path / "m.mlmodel")
    loaded = mlmicro.load_model(path)
    table = cohort().table
    assert np.array_equal(
        loaded.predict_proba(table).to_numpy(), fitted.predict_proba(table).to_numpy()
    )
    assert loaded.features == fitted.features and loaded.features_used == fitted.features_used
    assert loaded.card.to_dict() == fitted.card.to_dict()
    assert_same_cv(loaded.cv, fitted.cv)
    assert (loaded.training.matrix != fitted.training.matrix).nnz == 0
    assert (loaded.training.sample_ids, loaded.training.taxa, loaded.training.y) == (
        fitted.training.sample_ids,
        fitted.training.taxa,
        fitted.training.y,
    )
    if model == "xgboost":
        old, new = fitted.explain(threads=1), loaded.explain(threads=1)
        pd.testing.assert_frame_equal(new.values, old.values)
        pd.testing.assert_frame_equal(new.summary(), old.summary())


def test_leave_one_study_out_with_permutations_round_trips(tmp_path):
    fitted = trained("xgboost", "relative", study=True)
    assert fitted.cv.per_study is not None and fitted.cv.permutation is not None
    loaded = mlmicro.load_model(fitted.save(tmp_path / "loso"))
    assert_same_cv(loaded.cv, fitted.cv)


def test_a_bundle_is_data_only(saved):
    path, _ = saved
    names = zipfile.ZipFile(path).namelist()
    assert names[0] == "format.json"
    assert {"model.json", "card.json", "pipeline/state.json", "cv/oof.parquet"} <= set(names)
    assert "pipeline/blobs/model.classifier.booster.json" in names
    assert all(n.endswith((".json", ".npy", ".parquet")) for n in names)
    for data in members_of(path).values():
        assert b"\x80\x04\x95" not in data[:3] and not data.startswith(b"\x80")  # no pickle
    card = json.loads(card_path(path).read_text())
    assert card["bundle"]["file"] == "genuine.mlmodel"


def test_loads_when_library_versions_differ(saved, tmp_path):
    """The state is data, so a bundle from other scikit-learn / xgboost versions loads alike."""
    path, _ = saved

    def other_versions(members):
        state = json.loads(members["pipeline/state.json"])
        state["versions"].update({"scikit-learn": "1.8.2", "xgboost": "3.1.4"})
        members["pipeline/state.json"] = json.dumps(state).encode()
        card = json.loads(members["card.json"])
        card["versions"].update({"scikit-learn": "1.8.2", "xgboost": "3.1.4"})
        members["card.json"] = json.dumps(card).encode()

    other = rewrite(path, tmp_path / "other.mlmodel", other_versions)
    table = cohort().table
    assert np.array_equal(
        mlmicro.load_model(other).predict_proba(table).to_numpy(),
        trained().predict_proba(table).to_numpy(),
    )


# ---------------------------------------------------------------------------
# read once: the bytes checked are the bytes parsed
# ---------------------------------------------------------------------------


def test_the_file_is_opened_once_and_the_card_copy_never(saved, monkeypatch):
    path, _ = saved
    opened: list[str] = []
    real_open = io.open  # Path.open and Path.read_bytes go through it too

    def any_open(file, *args, **kwargs):
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", any_open)
    monkeypatch.setattr(io, "open", any_open)
    mlmicro.load_model(path)
    assert opened.count(str(path)) == 1
    assert str(card_path(path)) not in opened


def test_a_file_swapped_after_the_check_is_not_parsed(saved, tmp_path, monkeypatch):
    path, _ = saved
    target = tmp_path / "swapped.mlmodel"
    target.write_bytes(path.read_bytes())
    marker = tmp_path / "marker"
    real = bundle_module.read_archive

    def checked_then_swapped(data, **kwargs):
        members = real(data, **kwargs)
        target.write_bytes(pickle_bytes(marker))  # the attacker wins the race, too late
        return members

    monkeypatch.setattr(bundle_module, "read_archive", checked_then_swapped)
    loaded = mlmicro.load_model(target)
    assert loaded.classes == trained().classes and not marker.exists()


# ---------------------------------------------------------------------------
# malicious bundles
# ---------------------------------------------------------------------------


def _replace(name, content):
    def edit(members):
        members[name] = content(members[name]) if callable(content) else content

    return edit


def _json_edit(name, change):
    def edit(members):
        document = json.loads(members[name])
        change(document)
        members[name] = json.dumps(document).encode()

    return edit


def _crafted_booster(document):
    tree = document["learner"]["gradient_booster"]["model"]["trees"][0]
    tree["split_indices"] = [10**6 for _ in tree["split_indices"]]


def _bad_indices(members):
    indices = np.load(io.BytesIO(members["training/indices.npy"]))
    buffer = io.BytesIO()
    np.save(buffer, indices + 10**6)
    members["training/indices.npy"] = buffer.getvalue()


def _cases(genuine: pathlib.Path, marker: pathlib.Path):
    """(name, writer, expected message) for every way of attacking the bundle."""
    members = members_of(genuine)
    booster = "pipeline/blobs/model.classifier.booster.json"
    cases = [
        (f"pickle in {name}", _replace(name, pickle_bytes(marker)), "") for name in sorted(members)
    ]
    cases += [
        (f"object array in {name}", _replace(name, npy_with_pickle(marker)), "object")
        for name in sorted(members)
        if name.endswith(".npy")
    ]
    cases += [
        ("card of another format", _json_edit("card.json", lambda c: c.update(format="x")), "card"),
        (
            "card with other features",
            _json_edit("card.json", lambda c: c["features"].reverse()),
            "features",
        ),
        (
            "card with three classes",
            _json_edit("card.json", lambda c: c["task"]["classes"].append("UC")),
            "",
        ),
        ("crafted booster", _json_edit(booster, _crafted_booster), "booster"),
        ("booster that is not JSON", _replace(booster, b"\x00\x01garbage"), "booster"),
        ("training indices out of range", _bad_indices, "training matrix"),
        (
            "CV table without its columns",
            _replace("cv/oof.parquet", lambda _: members["cv/per_repeat.parquet"]),
            "out-of-fold",
        ),
        ("zip slip", lambda m: m.update({"../escape.json": b"{}"}), "escape its folder"),
        ("absolute path", lambda m: m.update({"/etc/escape.json": b"{}"}), "escape its folder"),
        ("undeclared member", lambda m: m.update({"payload.pkl": pickle_bytes(marker)}), "declare"),
    ]
    return cases


def _write_case(genuine, target, edit):
    return rewrite(genuine, target, edit)


def _legacy_renamed(tmp_path, marker):
    path = write_legacy_bundle(trained(), tmp_path / "old.joblib", payload=Payload(marker))
    renamed = tmp_path / "renamed.mlmodel"
    path.rename(renamed)
    return renamed


def _one_line_error(result) -> str:
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in result.output
    return lines[0]


def test_every_malicious_bundle_is_refused_without_running_code(saved, tmp_path):
    genuine, table = saved
    marker = tmp_path / "marker"
    runner = CliRunner()
    cases = [
        (n, _write_case(genuine, tmp_path / f"case{i}.mlmodel", e), m)
        for i, (n, e, m) in enumerate(_cases(genuine, marker))
    ]
    cases.append(("joblib pickle renamed", _legacy_renamed(tmp_path, marker), "mlmicro convert"))
    assert len(cases) > 25
    for name, path, message in cases:
        with pytest.raises(ModelBundleError) as caught:
            mlmicro.load_model(path)
        text = str(caught.value)
        assert "\n" not in text and message in text, (name, text)
        out = tmp_path / f"{path.stem}.tsv"
        predicted = runner.invoke(app, ["predict", str(path), str(table), "-o", str(out)])
        assert message in _one_line_error(predicted), name
        assert not out.exists(), name
        report = tmp_path / f"{path.stem}-report"
        explained = runner.invoke(app, ["explain", str(path), "-o", str(report)])
        assert message in _one_line_error(explained), name
        assert not report.exists(), name
        assert not marker.exists(), f"{name}: code ran"


def test_a_member_changed_without_its_listing_is_refused(saved, tmp_path):
    genuine, _ = saved
    members = members_of(genuine)
    members["card.json"] = members["card.json"].replace(b'"CD"', b'"UC"')
    members["format.json"] = zipfile.ZipFile(genuine).read("format.json")
    path = write_members(tmp_path / "changed.mlmodel", members, relist=False)
    with pytest.raises(ModelBundleError, match="SHA-256"):
        mlmicro.load_model(path)


# ---------------------------------------------------------------------------
# signatures
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def signed(tmp_path_factory):
    return trained().save(tmp_path_factory.mktemp("signed") / "signed.mlmodel", key=KEY)


def test_a_signed_bundle_is_verified_with_its_key(signed, monkeypatch, tmp_path):
    expected = key_id(bytes.fromhex(KEY))
    assert json.loads(card_path(signed).read_text())["bundle"]["signed_by"] == expected
    info = mlmicro.load_model(signed, key=KEY).provenance
    assert (info.signed, info.key_id, info.verified) == (True, expected, True)
    unverified = mlmicro.load_model(signed).provenance  # no key: reported, not checked
    assert (unverified.signed, unverified.key_id, unverified.verified) == (True, expected, False)
    monkeypatch.setenv("MLMICRO_SIGNING_KEY", KEY)
    assert mlmicro.load_model(signed).provenance.verified
    monkeypatch.delenv("MLMICRO_SIGNING_KEY")
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    monkeypatch.setenv("MLMICRO_SIGNING_KEY_FILE", str(key_file))
    assert mlmicro.load_model(signed).provenance.verified
    assert mlmicro.load_model(signed, key=key_file).provenance.verified


def test_wrong_key_tampering_and_missing_signature_are_refused(signed, saved, tmp_path):
    with pytest.raises(ModelBundleError, match="signed with key"):
        mlmicro.load_model(signed, key=OTHER_KEY)
    genuine, _ = saved
    with pytest.raises(ModelBundleError, match="not signed"):
        mlmicro.load_model(genuine, key=KEY)
    # a member changed and the archive's listing made to match: only the signature notices
    forged = rewrite(
        signed, tmp_path / "forged.mlmodel", _json_edit("card.json", lambda c: c.update(name="x"))
    )
    with pytest.raises(ModelBundleError, match="does not match its content"):
        mlmicro.load_model(forged, key=KEY)
    stripped = rewrite(signed, tmp_path / "stripped.mlmodel", lambda m: m.pop("signature.json"))
    with pytest.raises(ModelBundleError, match="not signed"):
        mlmicro.load_model(stripped, key=KEY)
    with pytest.raises(ConfigError, match="at least 16"):
        mlmicro.load_model(signed, key=b"short")


def test_cli_reports_provenance(signed, saved, monkeypatch):
    genuine, table = saved
    runner = CliRunner()
    monkeypatch.setenv("MLMICRO_SIGNING_KEY", KEY)
    result = runner.invoke(app, ["predict", str(signed), str(table)])
    assert result.exit_code == 0, result.output
    assert f"signed by key {key_id(bytes.fromhex(KEY))}, verified" in result.stderr
    refused = runner.invoke(app, ["predict", str(genuine), str(table)])
    assert "not signed" in _one_line_error(refused)
    monkeypatch.delenv("MLMICRO_SIGNING_KEY")
    unsigned = runner.invoke(app, ["predict", str(genuine), str(table)])
    assert unsigned.exit_code == 0 and f"model {genuine}: unsigned" in unsigned.stderr


# ---------------------------------------------------------------------------
# old joblib bundles and mlmicro convert
# ---------------------------------------------------------------------------


def test_load_model_refuses_an_old_bundle_naming_the_conversion(tmp_path):
    marker = tmp_path / "marker"
    old = write_legacy_bundle(trained(), tmp_path / "old.joblib", payload=Payload(marker))
    with pytest.raises(ModelBundleError) as caught:
        mlmicro.load_model(old)
    message = str(caught.value)
    assert "\n" not in message
    assert f"mlmicro convert {old} {old.with_suffix('.mlmodel')} --trust" in message
    assert not marker.exists()


def test_convert_needs_trust_and_keeps_the_digest_check(tmp_path):
    runner = CliRunner()
    marker = tmp_path / "marker"
    evil = write_legacy_bundle(trained(), tmp_path / "evil.joblib", payload=Payload(marker))
    refused = runner.invoke(app, ["convert", str(evil), str(tmp_path / "evil.mlmodel")])
    assert "--trust" in _one_line_error(refused) and "runs whatever code" in refused.stderr
    assert not marker.exists() and not (tmp_path / "evil.mlmodel").exists()
    old = write_legacy_bundle(trained(), tmp_path / "old.joblib")
    card = old.with_suffix(".json")
    card.write_text(card.read_text().replace('"sha256": "', '"sha256": "0'))
    changed = runner.invoke(app, ["convert", str(old), str(tmp_path / "x.mlmodel"), "--trust"])
    assert "SHA-256" in _one_line_error(changed) and not (tmp_path / "x.mlmodel").exists()


def test_convert_with_trust_writes_an_identical_model(tmp_path):
    fitted = trained()
    old = write_legacy_bundle(fitted, tmp_path / "cd.joblib")
    before = old.read_bytes(), old.with_suffix(".json").read_bytes()
    new = tmp_path / "cd.mlmodel"
    result = CliRunner().invoke(app, ["convert", str(old), str(new), "--trust"])
    assert result.exit_code == 0, result.output
    assert (old.read_bytes(), old.with_suffix(".json").read_bytes()) == before
    converted = read_bundle(new)
    table = cohort().table
    assert np.array_equal(
        converted.pipeline.predict_proba(table), fitted.pipeline.predict_proba(table)
    )
    assert_same_cv(converted.cv, fitted.cv)
    again = CliRunner().invoke(app, ["convert", str(old), str(new), "--trust"])
    assert "--force" in _one_line_error(again)
