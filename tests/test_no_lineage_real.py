"""Tables whose features carry no lineage train on the features as named."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

import mlmicro
from mlmicro.cli import app
from mlmicro.datasets import load_default_cohort
from mlmicro.model.api import NoLineageWarning

TASK = dict(
    label="diagnosis",
    positive=["CD"],
    negative=["control"],
    group="subject_id",
    config="fast",
    jobs=1,
    **{"cv.folds": 3},
)

# these tests apply models to their own training samples on purpose
pytestmark = [pytest.mark.filterwarnings("ignore::mlmicro.model.model.InSampleWarning")]


def test_names_without_lineage_train_as_named(tmp_path):
    cohort = load_default_cohort()
    table = cohort.table.copy()
    table.columns = [f"OTU{i:04d}" for i in range(table.shape[1])]  # names only
    model = mlmicro.train(table, cohort.metadata, **TASK)  # rank auto: chosen, no warning
    assert model.rank is None and model.features == sorted(table.columns)
    assert model.card.rank_choice["reason"] == "features carry no lineage: the features as named"
    assert model.card.cv_metrics["roc_auc"]["mean"] > 0.7
    # the names align onto themselves for prediction, in any column order
    shuffled = table.iloc[:20, ::-1]
    pd.testing.assert_frame_equal(
        model.predict_proba(shuffled), model.predict_proba(table.iloc[:20])
    )
    # said explicitly: no warning
    explicit = mlmicro.train(table, cohort.metadata, rank="none", **TASK)
    assert explicit.rank is None
    # a rank the names cannot be collapsed to: trained as named, with a warning saying so
    with pytest.warns(NoLineageWarning, match="carry no lineage"):
        asked = mlmicro.train(table, cohort.metadata, rank="species", **TASK)
    assert asked.rank is None and asked.card.rank_choice is None


@pytest.mark.shared
@pytest.mark.slow
def test_siamcat_zeller_trains_as_shipped(shared_datasets, tmp_path):
    """SIAMCAT's own example (R write.table layout, mOTU names): its vignette's LASSO 0.837."""
    folder = shared_datasets / "siamcat"
    out = tmp_path / "zeller.mlmodel"
    result = CliRunner().invoke(
        app,
        [
            "train",
            str(folder / "feat_crc_zeller_msb_mocat_specI.tsv"),
            "--metadata",
            str(folder / "meta_crc_zeller.tsv"),
            "--label",
            "label",
            "--positive",
            "CRC",
            "--negative",
            "CTR",
            "--rank",
            "none",
            "--jobs",
            "2",
            "--no-progress",
            "--output",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    card = json.loads(out.with_suffix(".card.json").read_text())
    assert card["n_samples"] == 141 and card["rank"] is None
    assert card["cv_metrics"]["roc_auc"]["mean"] >= 0.817  # 0.830 measured
