"""``mlmicro predict --report``: the external-validation page, and its refusals."""

from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

import mlmicro
from mlmicro.cli import app
from mlmicro.datasets import simulate_cohort
from mlmicro.predict.validation import Validation

runner = CliRunner()
pytestmark = pytest.mark.filterwarnings("ignore::mlmicro.predict.OutOfDomainWarning")


def run(*args):
    return runner.invoke(app, ["predict", *map(str, args)])


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("validation")
    cohort = simulate_cohort(n_subjects=70, seed=2)
    subjects = cohort.metadata["subject_id"]
    train_ids = subjects[subjects.str[-1].astype(int) < 6].index  # 60% of subjects
    model = mlmicro.train(
        cohort.table.loc[train_ids],
        cohort.metadata.loc[train_ids],
        label="diagnosis",
        positive=["CD"],
        negative=["control"],
        group="subject_id",
        config="fast",
        jobs=1,
        **{"cv.folds": 3},
    )
    bundle = model.save(folder / "model.mlmodel")
    table = folder / "cohort.tsv"
    mlmicro.write_table(cohort.table, table)  # every sample: the training ones are left out
    metadata = folder / "metadata.tsv"
    cohort.metadata.to_csv(metadata, sep="\t")
    return {"bundle": bundle, "table": table, "metadata": metadata, "train_ids": train_ids}


@pytest.mark.filterwarnings("ignore::mlmicro.model.model.InSampleWarning")
def test_report_page_scores_only_samples_not_in_training(setup, tmp_path):
    out, folder = tmp_path / "p.tsv", tmp_path / "external"
    result = run(
        setup["bundle"], setup["table"], "-o", out, "--metadata", setup["metadata"],
        "--report", folder, "--figure-format", "svg", "--no-progress",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    page = (folder / "validation.html").read_text()
    scores = pd.read_csv(folder / "validation_scores.tsv", sep="\t")
    n_train = len(setup["train_ids"])
    assert not scores["sample_id"].isin(setup["train_ids"]).any()
    facts = dict(re.findall(r"<tr><th>([^<]+)</th><td>([^<]+)</td></tr>", page))
    assert facts["left out: the model's training samples"] == str(n_train)
    assert facts["scored samples"].startswith(str(len(scores)))
    # the page's AUROC is the one of the scored samples; its CI is a real interval around it
    auc = roc_auc_score(scores["y_true"] == "CD", scores["probability_CD"])
    match = re.search(r"AUROC ([0-9.]+), 95% CI \[([0-9.]+), ([0-9.]+)\]", page) or re.search(
        r"<th>AUROC</th><td>([0-9.]+)</td>", page
    )
    assert match and abs(float(match.group(1)) - auc) < 1e-3
    ci = re.search(r"AUROC 95% CI \[([0-9.]+), ([0-9.]+)\]", page)
    assert ci and float(ci.group(1)) < auc < float(ci.group(2))
    # confusion matrix at the labels written to the predictions (the model's threshold)
    predictions = pd.read_csv(out, sep="\t").set_index("sample_id").loc[scores["sample_id"]]
    expected = pd.crosstab(scores["y_true"].to_numpy(), predictions["predicted_label"].to_numpy())
    body = page[page.index('id="confusion"') :]
    cells = [int(v) for v in re.findall(r"<td>(\d+)</td>", body)[:4]]
    classes = ["control", "CD"]
    assert cells == [int(expected.reindex(index=classes, columns=classes, fill_value=0).iat[i, j])
                     for i in range(2) for j in range(2)]  # fmt: skip
    assert "the model's decision threshold" in body
    assert (folder / "figures" / "roc.svg").read_text().lstrip().startswith("<?xml")
    assert "data:image/svg+xml;base64," in page
    # the model was trained by subject and the metadata hold that column: subjects resampled
    n_subjects = scores["subject"].nunique()
    assert n_subjects < len(scores)
    expected = f"whole subjects are resampled: {n_subjects} subjects of column 'subject_id'"
    assert expected in html.unescape(page)


def test_bootstrap_resamples_whole_subjects():
    """Ten samples per subject: resampling samples would narrow the interval."""
    rng = np.random.default_rng(3)
    n_subjects, per_subject = 30, 10
    subject = np.repeat(np.arange(n_subjects), per_subject)
    is_case = (np.arange(n_subjects) % 2 == 1)[subject]
    # a subject's samples share its score: the information is in 30 subjects, not 300 samples
    own = rng.normal(0.0, 1.0, n_subjects) + 0.8 * (np.arange(n_subjects) % 2)
    score = np.clip(0.5 + 0.2 * own[subject] + rng.normal(0, 0.01, len(subject)), 0, 1)
    scored = pd.DataFrame(
        {
            "sample_id": [f"s{i}" for i in range(len(subject))],
            "subject": [f"p{s}" for s in subject],
            "y_true": np.where(is_case, "CD", "control"),
            "probability_control": 1 - score,
            "probability_CD": score,
        }
    )
    common = {"label": "dx", "n_samples": len(scored), "class_counts": {}, "metrics": {}}
    by_subject = Validation(**common, scored=scored, subject_column="pid")
    by_sample = Validation(**common, scored=scored.drop(columns="subject"))
    low_s, high_s = by_subject.auroc_interval(["control", "CD"], "CD")
    low, high = by_sample.auroc_interval(["control", "CD"], "CD")
    assert by_subject.n_subjects == n_subjects and by_sample.n_subjects is None
    assert high_s - low_s > 2 * (high - low)


def test_report_needs_metadata_and_checks_its_folder_first(setup, tmp_path):
    result = run(setup["bundle"], setup["table"], "--report", tmp_path / "r")
    assert result.exit_code != 0 and "--metadata" in result.output
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run(
        setup["bundle"], setup["table"], "--metadata", setup["metadata"], "--report", blocker,
        "-o", tmp_path / "p.tsv",
    )  # fmt: skip
    assert result.exit_code != 0 and "--report" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "p.tsv").exists()  # refused before any prediction


@pytest.mark.filterwarnings("ignore::mlmicro.model.model.InSampleWarning")
def test_multiclass_page_macro_auroc_and_confusion_at_the_most_probable_class(tmp_path):
    cohort = simulate_cohort(n_subjects=60, seed=8)
    metadata = cohort.metadata.copy()
    digit = metadata["subject_id"].str[-1].astype(int)
    metadata.loc[(metadata["diagnosis"] == "CD") & (digit % 2 == 1), "diagnosis"] = "UC"
    train_ids = metadata.index[digit < 6]
    model = mlmicro.train(
        cohort.table.loc[train_ids], metadata.loc[train_ids], label="diagnosis",
        group="subject_id", config="fast", jobs=1, **{"cv.folds": 3},
    )  # fmt: skip
    assert len(model.classes) == 3
    bundle = model.save(tmp_path / "model.mlmodel")
    table, meta_file = tmp_path / "cohort.tsv", tmp_path / "metadata.tsv"
    mlmicro.write_table(cohort.table, table)
    metadata.to_csv(meta_file, sep="\t")
    out, folder = tmp_path / "p.tsv", tmp_path / "external"
    result = run(
        bundle, table, "-o", out, "--metadata", meta_file, "--report", folder, "--no-progress"
    )
    assert result.exit_code == 0, result.output
    page = html.unescape((folder / "validation.html").read_text())
    scores = pd.read_csv(folder / "validation_scores.tsv", sep="\t")
    assert not scores["sample_id"].isin(train_ids).any()
    columns = [f"probability_{c}" for c in model.classes]
    macro = roc_auc_score(scores["y_true"], scores[columns].to_numpy(), multi_class="ovr",
                          labels=model.classes)  # fmt: skip
    row = re.search(r"<th>AUROC \(macro, one-vs-rest\)</th><td>([0-9.]+)</td>", page)
    assert row and abs(float(row.group(1)) - macro) < 1e-3
    body = page[page.index('id="confusion"') :]
    cells = [int(v) for v in re.findall(r"<td>(\d+)</td>", body)[:9]]
    decided = np.array(model.classes)[scores[columns].to_numpy().argmax(axis=1)]
    expected = pd.crosstab(scores["y_true"], decided).reindex(
        index=model.classes, columns=model.classes, fill_value=0
    )
    assert cells == expected.to_numpy().ravel().tolist()
    assert "the most probable class" in body
