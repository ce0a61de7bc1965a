"""The confounders the literature knows, found on the real cohorts by train and by the CLI."""

from __future__ import annotations

import warnings

import pytest
from metaml_helpers import read_metaml_once
from typer.testing import CliRunner

import mlmicro
from mlmicro.cli import app
from mlmicro.io import join_metadata, read_metadata, read_table
from mlmicro.model.confounders import ConfounderWarning

pytestmark = pytest.mark.shared

IBD = ["--positive", "ibd_ulcerative_colitis", "--positive", "ibd_crohn_disease"]


@pytest.fixture(scope="module")
def metaml(shared_datasets):
    return read_metaml_once(shared_datasets / "metaml" / "abundance.txt.bz2")


def _flagged(output: str) -> str:
    return next(line for line in output.splitlines() if "on their own separate" in line)


def test_nielsen_country_flagged_by_train(metaml):
    table, meta = metaml
    meta = meta[meta["dataset_name"] == "Neilsen_genome_assembly"]
    with pytest.warns(ConfounderWarning, match=r"'country' \(AUROC 0\.9\d on its own, all 163"):
        model = mlmicro.train(
            table.loc[meta.index],
            meta,
            label="disease",
            positive=["ibd_ulcerative_colitis", "ibd_crohn_disease"],
            negative=["n"],
            group="subjectID",
            config="fast",
            jobs=1,
        )
    country = next(c for c in model.card.confounders if c.column == "country")
    assert country.separates and country.pure_levels[0] == {
        "level": "denmark",
        "class": "n",
        "n": 163,
    }


def test_stacked_psoriasis_and_nielsen_flagged_by_the_command(shared_datasets, tmp_path):
    path = str(shared_datasets / "metaml" / "abundance.txt.bz2")
    runner = CliRunner()
    args = ["confounders", path, "--metadata", path, "--label", "disease"]
    result = runner.invoke(app, [*args, "--positive", "y", "--negative", "n"])
    assert result.exit_code == 0, result.output
    line = _flagged(result.output)
    assert "'bodysite'" in line and "'dataset_name'" in line


#: The stacked task kept small: psoriasis skin (y and n) against the gut samples of three
#: other cohorts (all n). The whole file (2,090 samples) trains in about 2 minutes here.
STACKED = (
    'dataset_name in ["Psoriasis_2014", "metahit", "Quin_gut_liver_cirrhosis", '
    '"Zeller_fecal_colorectal_cancer"]'
)


def test_stacked_psoriasis_flagged_by_train_itself(shared_datasets, tmp_path):
    path = str(shared_datasets / "metaml" / "abundance.txt.bz2")
    output = tmp_path / "stacked.mlmodel"
    args = ["train", path, "--metadata", path, "--label", "disease", "--positive", "y"]
    args += ["--negative", "n", "--group", "subjectID", "--config", "fast", "--repeats", "1"]
    args += ["--jobs", "1", "--no-progress", "--where", STACKED, "-o", str(output)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "trained on 316" in result.output  # 70 skin samples, 246 gut controls
    warning = next(line for line in result.stderr.splitlines() if "on their own separate" in line)
    assert "'bodysite' (AUROC 0.98 on its own, all 246 'stool' samples are n)" in warning
    assert "'dataset_name'" in warning and "--study" in warning
    card = mlmicro.load_model(output).card
    flagged = {c.column for c in card.confounders if c.separates}
    assert {"bodysite", "dataset_name"} <= flagged
    row = next(line for line in result.stdout.splitlines() if line.strip().startswith("bodysite"))
    assert "YES: AUROC 0.98" in row  # the printed screen, not only the warning


def test_cs_prism_sample_type_flagged_by_train_and_command(shared_datasets):
    base = shared_datasets / "ibdmeta" / "CS-PRISM"
    table_path = base / "all_samples_taxonomy_closed_reference.tsv"
    meta_path = base / "metadata_recoded.txt"
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "confounders",
            str(table_path),
            "--metadata",
            str(meta_path),
            "--sample-id-column",
            "Sample accession (16S)",
            "--label",
            "Disease",
            "--positive",
            "CD",
            "--positive",
            "UC",
            "--negative",
            "Control",
            "--group",
            "Subject accession",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "'Sample type' (AUROC 0.66 on its own, all 134 'Biopsy' samples are CD+UC)" in (
        _flagged(result.output)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unmatched samples, shallow samples
        table = read_table(table_path)
        meta = read_metadata(meta_path, sample_id_column="Sample accession (16S)")
        table, meta = join_metadata(table, meta)
    with pytest.warns(ConfounderWarning, match="'Sample type'"):
        model = mlmicro.train(
            table,
            meta,
            label="Disease",
            positive=["CD", "UC"],
            negative=["Control"],
            group="Subject accession",
            config="fast",
            rank="genus",
            jobs=1,
        )
    flagged = {c.column for c in model.card.confounders if c.separates}
    assert "Sample type" in flagged
