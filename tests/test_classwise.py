"""Per-class AUROC, confusion matrices, the permutation null's spread, and report figures."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from explain_helpers import small
from sklearn.metrics import confusion_matrix, roc_auc_score

import mlmicro
from mlmicro.cli.train import format_report
from mlmicro.datasets import simulate_cohort
from mlmicro.model.card import ModelCard
from mlmicro.model.classwise import class_breakdown
from mlmicro.report import write_report
from mlmicro.report.figure_output import CONTENT_WIDTH_PX, DPI, smallest_text_px


def _oof(n: int = 60, repeats: int = 2, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    classes = ["a", "b", "c"]
    y = rng.choice(classes, n)
    parts = []
    for r in range(repeats):
        logits = rng.normal(size=(n, 3)) + 1.5 * (y[:, None] == np.array(classes))
        p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        part = pd.DataFrame(p, columns=[f"probability_{c}" for c in classes])
        part.insert(0, "y_true", y)
        part.insert(0, "sample_id", [f"s{i}" for i in range(n)])
        part.insert(0, "fold", 0)
        part.insert(0, "repeat", r)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def test_breakdown_matches_sklearn_on_each_samples_mean_probability():
    oof = _oof()
    mean = oof.groupby("sample_id", sort=False)[["probability_a", "probability_b", "probability_c"]]
    proba = mean.mean().to_numpy()
    y = oof.groupby("sample_id", sort=False)["y_true"].first().to_numpy()
    got = class_breakdown(oof, ["a", "b", "c"], None)
    for k, name in enumerate("abc"):
        assert got.per_class_auroc[name] == pytest.approx(roc_auc_score(y == name, proba[:, k]))
    predicted = np.array(list("abc"))[proba.argmax(1)]
    assert got.confusion == confusion_matrix(y, predicted, labels=list("abc")).tolist()
    assert got.n_samples == 60 and sum(map(sum, got.confusion)) == 60
    assert type(got).from_dict(got.to_dict()) == got


@pytest.fixture(scope="module")
def multiclass_model():
    cohort = simulate_cohort(n_subjects=45, seed=8)
    metadata = cohort.metadata.copy()
    odd = metadata["subject_id"].str[-1].astype(int) % 2 == 1
    metadata.loc[(metadata["diagnosis"] == "CD") & odd, "diagnosis"] = "UC"
    return mlmicro.train(
        cohort.table, metadata, label="diagnosis", group="subject_id", config="fast", jobs=1,
        **{"cv.folds": 3, "cv.repeats": 2, "cv.permutations": 3},
    )  # fmt: skip


def test_multiclass_summary_card_and_null(multiclass_model, tmp_path):
    model = multiclass_model
    card = model.card
    text = format_report(model)
    assert "AUROC (macro, one-vs-rest)" in text and "AUPRC (macro)" in text
    assert card.cv_metrics["roc_auc"]["averaging"] == "macro, one-vs-rest"
    breakdown = card.classwise
    assert set(breakdown.per_class_auroc) == set(model.classes)
    for name, value in breakdown.per_class_auroc.items():
        assert re.search(rf"^  {name}\s+{value:.3f}$", text, re.M)
    assert breakdown.decision == "at the most probable class"
    assert sum(map(sum, breakdown.confusion)) == card.n_samples
    for name, row in zip(breakdown.classes, breakdown.confusion, strict=True):
        assert re.search(rf"^  {name}\s+" + r"\s+".join(map(str, row)) + "$", text, re.M)
    # the null's mean and sd: printed, stored, and those of the permuted AUROCs
    null = np.asarray(model.cv.permutation["null_roc_auc"])
    perm = card.cv["permutation"]
    assert perm["null_mean"] == pytest.approx(null.mean())
    assert perm["null_sd"] == pytest.approx(null.std(ddof=1))
    assert f"null AUROC mean {null.mean():.3f}, sd {null.std(ddof=1):.3f}" in text
    # the card keeps all of it through JSON, and a card without it still reads
    again = ModelCard.from_dict(card.to_dict())
    assert again.classwise == breakdown
    old = card.to_dict()
    del old["classwise"]
    assert ModelCard.from_dict(old).classwise is None


@pytest.mark.filterwarnings("ignore::mlmicro.model.model.InSampleWarning")
def test_binary_report_confusion_at_threshold_permutation_and_figure_files(tmp_path):
    _, _, model = small()
    breakdown = model.card.classwise
    assert breakdown.per_class_auroc is None
    assert breakdown.threshold == pytest.approx(model.trust.threshold)
    # at the model's threshold on the calibrated mean out-of-fold probabilities
    oof = model.cv.oof.groupby("sample_id", sort=False)
    proba = oof[[f"probability_{c}" for c in model.classes]].mean().to_numpy()
    decided = model.trust.labels(model.trust.calibrate(proba))
    y = oof["y_true"].first().to_numpy()
    assert breakdown.confusion == confusion_matrix(y, decided, labels=model.classes).tolist()
    card = replace(
        model.card,
        cv={**model.card.cv, "permutation": {"n": 9, "p_value": 0.1, "null_mean": 0.51,
                                             "null_sd": 0.03}},
    )  # fmt: skip
    model.card = card
    explanation = model.explain()
    sample = explanation.sample_ids[0]
    files = write_report(explanation, model, tmp_path / "r", samples=[sample], figure_format="pdf")
    page = files["report"].read_text()
    assert "null AUROC mean 0.510, sd 0.030" in page
    section = page[page.index('<section id="classes">') :]
    section = section[: section.index("</section>")]
    cells = [int(v) for v in re.findall(r"<td>(\d+)</td>", section)]
    assert cells == [n for row in breakdown.confusion for n in row]
    assert "threshold" in section
    pdfs = sorted((tmp_path / "r" / "figures").glob("*.pdf"))
    assert any("waterfall" in p.name for p in pdfs) and len(pdfs) >= 5
    assert all(p.read_bytes().startswith(b"%PDF") for p in pdfs)
    # waterfall text: at least 10 px at 100% zoom, shown at its own size, one per row
    fig = explanation.plot_waterfall(sample)
    assert smallest_text_px(fig, dpi=DPI) >= 10
    width = int(re.search(r"<figure class='waterfall'><img [^>]*width=\"(\d+)\"", page).group(1))
    assert width <= CONTENT_WIDTH_PX
    # the strain table prints in full: no scroll box on paper
    print_css = page[page.index("@media print") :]
    assert ".scroll{max-height:none;overflow:visible" in print_css


def test_explain_command_writes_figure_files_of_a_multiclass_model(multiclass_model, tmp_path):
    from typer.testing import CliRunner

    from mlmicro.cli import app

    bundle = multiclass_model.save(tmp_path / "model.mlmodel")
    folder = tmp_path / "report"
    result = CliRunner().invoke(
        app, ["explain", str(bundle), "-o", str(folder), "--figure-format", "svg", "--top", "5"]
    )
    assert result.exit_code == 0, result.output
    svgs = sorted((folder / "figures").glob("*.svg"))
    assert len(svgs) >= 3
    assert all(p.read_text().lstrip().startswith("<?xml") for p in svgs)
    page = (folder / "report.html").read_text()
    assert "data:image/svg+xml;base64," in page
    assert all(name in page for name in multiclass_model.classes)
