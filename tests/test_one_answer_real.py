"""One model, one answer, on real cohorts: the notebook API, ``mlmicro predict`` and
``explain`` reach a saved model through the same path and agree to 1e-9.

Each case trains a quick model the way users do, saves it, and applies it three
ways to the table file as the user has it: ``load_model(path).predict_proba``,
the ``mlmicro predict --top-strains`` command and :func:`mlmicro.explain.explain`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from metaml_helpers import read_metaml_once
from typer.testing import CliRunner

import mlmicro
from mlmicro.cli import app
from mlmicro.config import TrainConfig, load_config

pytestmark = [
    pytest.mark.shared,
    pytest.mark.slow,
    # these cohorts carry label-derived columns (MetaHIT 'ibd', Jangi 'host_phenotype') and
    # real confounders; the screen's warning about them is tested in test_confounders_real.py
    pytest.mark.filterwarnings("ignore::mlmicro.model.confounders.ConfounderWarning"),
]

TOP = 5


@dataclass
class Case:
    table_path: Path
    table: pd.DataFrame
    metadata: pd.DataFrame
    train: dict = field(default_factory=dict)
    predict_args: list[str] = field(default_factory=list)
    read_args: dict = field(default_factory=dict)
    config: str | TrainConfig = "fast"


def _with_forest(case: Case) -> Case:
    """The same case trained with a random forest's vote in the booster (forest-blend)."""
    fast = load_config("fast")
    return replace(case, config=replace(fast, xgboost={**fast.xgboost, "forest_trees": 100}))


def _metaml(shared: Path, tmp: Path, dataset: str, **train) -> Case:
    table, meta = read_metaml_once(shared / "metaml" / "abundance.txt.bz2")
    meta = meta[meta["dataset_name"] == dataset]
    path = tmp / f"{dataset}.tsv"  # the cohort's own table, as a user would keep it
    mlmicro.write_table(table.loc[meta.index], path)
    return Case(path, mlmicro.read_table(path), meta, train)


def _gevers(shared: Path, tmp: Path, site: str, rank: str) -> Case:
    gevers = shared / "mlrepo" / "gevers"
    path = gevers / "refseq" / "taxatable.txt"
    task = mlmicro.read_metadata(gevers / f"task-{site}.txt")
    subjects = mlmicro.read_metadata(gevers / "mapping-orig.txt")["HOST_SUBJECT_ID"]
    train = dict(label="Var", positive=["CD"], negative=["no"], group="HOST_SUBJECT_ID", rank=rank)
    return Case(path, mlmicro.read_table(path), task.join(subjects), train)


def _jangi(shared: Path, tmp: Path) -> Case:
    folder = shared / "qiime2" / "jangi_ms"
    path = folder / "filt-feature-table.qza"
    taxonomy = folder / "hybrid-taxonomy.qza"
    table = mlmicro.read_table(path, taxonomy=taxonomy)
    meta = mlmicro.read_metadata(folder / "subset_metadata_MS.tsv")
    meta = meta[meta.index.isin(table.index)]  # SRR3501948 has no table column
    train = dict(label="Host_disease", positive=["Multiple_sclerosis_in_remission"])
    return Case(
        path,
        table,
        meta,
        train,
        ["--taxonomy", str(taxonomy)],
    )


def _cs_prism(shared: Path, tmp: Path) -> Case:
    folder = shared / "ibdmeta" / "CS-PRISM"
    path = folder / "all_samples_taxonomy_closed_reference.tsv"
    meta = mlmicro.read_metadata(
        folder / "metadata_recoded.txt", sample_id_column="Sample accession (16S)"
    )
    meta = meta[(meta["Sample type"] == "Stool") & meta["Disease"].isin(["CD", "UC", "Control"])]
    table = mlmicro.read_table(path)
    meta = meta[meta.index.isin(table.index)]
    train = dict(
        label="Disease",
        positive=["CD", "UC"],
        negative=["Control"],
        group="Subject accession",
        rank="genus",
    )
    return Case(path, table, meta, train)


CASES = {
    "psoriasis": lambda s, t: _metaml(
        s, t, "Psoriasis_2014", label="disease", positive=["y"], negative=["n"], group="subjectID"
    ),
    "metahit": lambda s, t: _metaml(
        s,
        t,
        "metahit",
        label="disease",
        positive=["ibd_ulcerative_colitis", "ibd_crohn_disease"],
        negative=["n"],
    ),
    "gevers-ileum-species": lambda s, t: _gevers(s, t, "ileum", "species"),
    "gevers-ileum-genus": lambda s, t: _gevers(s, t, "ileum", "genus"),
    "gevers-rectum-species": lambda s, t: _gevers(s, t, "rectum", "species"),
    "gevers-rectum-genus": lambda s, t: _gevers(s, t, "rectum", "genus"),
    "jangi-ms": _jangi,
    "cs-prism-stool": _cs_prism,
    "psoriasis-forest-blend": lambda s, t: _with_forest(
        _metaml(
            s,
            t,
            "Psoriasis_2014",
            label="disease",
            positive=["y"],
            negative=["n"],
            group="subjectID",
        )
    ),
    "jangi-ms-forest-blend": lambda s, t: _with_forest(_jangi(s, t)),
    "gevers-ileum-genus-forest-blend": lambda s, t: _with_forest(_gevers(s, t, "ileum", "genus")),
}


@pytest.mark.filterwarnings("ignore::mlmicro.model.model.InSampleWarning")
@pytest.mark.parametrize("name", list(CASES))
def test_api_predict_and_explain_give_one_answer(name, shared_datasets, tmp_path):
    case = CASES[name](shared_datasets, tmp_path)
    model = mlmicro.train(
        case.table.loc[case.metadata.index],
        case.metadata,
        config=case.config,
        jobs=1,
        **case.train,
    )
    bundle = model.save(tmp_path / f"{name}.mlmodel")
    loaded = mlmicro.load_model(bundle)
    blended = name.endswith("forest-blend")
    assert (type(loaded.pipeline[-1]).__name__ == "BoostedForestClassifier") is blended

    # 1. the notebook API on the whole table file
    api = loaded.predict_proba(case.table)
    columns = [f"probability_{c}" for c in loaded.classes]
    assert list(api.columns) == columns
    assert api.notna().all().all(), "every sample of these tables carries model taxa"

    # 2. mlmicro predict on the same file, with SHAP drivers per sample
    out = tmp_path / "predictions.tsv"
    result = CliRunner().invoke(
        app,
        [
            "predict",
            str(bundle),
            str(case.table_path),
            *case.predict_args,
            "--top-strains",
            str(TOP),
            "--min-coverage",
            "0",
            "--output",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    cli = pd.read_csv(out, sep="\t", dtype={"sample_id": str}).set_index("sample_id")
    assert list(cli.index) == [str(s) for s in case.table.index]
    np.testing.assert_allclose(cli[columns].to_numpy(), api.to_numpy(), rtol=0, atol=1e-9)

    # 3. explain over the training samples: the same probabilities...
    samples = case.table.loc[case.metadata.index]
    exp = loaded.explain(samples)
    explained = exp.probability
    np.testing.assert_allclose(
        explained.to_numpy(), api.loc[explained.index].to_numpy(), rtol=0, atol=1e-9
    )
    # ... every top-20 driver occurs in the explained samples ...
    view = exp.views()[0]
    keys = view.ranked_keys(20)
    prevalence = (view.data[keys] > 0).mean()
    assert (prevalence > 0).all(), prevalence[prevalence == 0].index.tolist()
    if "prevalence_all" in view.top(20):  # what the report shows is that prevalence
        shown = view.top(20)["prevalence_all"].to_numpy()
        np.testing.assert_allclose(shown, prevalence.to_numpy())
    # ... and the SHAP values --top-strains printed are explain's, sample by sample
    key_of = dict(zip(exp.features["name"], exp.features.index, strict=True))
    shap = view.values
    checked = 0
    for sample, row in cli.loc[explained.index].iterrows():
        for i in range(1, TOP + 1):
            taxon = row[f"top{i}_taxon"]
            if isinstance(taxon, str):
                assert row[f"top{i}_shap"] == pytest.approx(
                    shap.at[sample, key_of[taxon]], abs=1e-9
                )
                checked += 1
    assert checked >= len(explained)


@pytest.mark.parametrize("name", ["psoriasis"])
def test_explain_command_on_the_psoriasis_model(name, shared_datasets, tmp_path):
    """The stacked MetAML psoriasis model explains, over its training samples and a file."""
    case = CASES[name](shared_datasets, tmp_path)
    model = mlmicro.train(
        case.table.loc[case.metadata.index], case.metadata, config="fast", jobs=1, **case.train
    )
    bundle = model.save(tmp_path / "psoriasis.mlmodel")
    result = CliRunner().invoke(
        app,
        ["explain", str(bundle), str(case.table_path), "--output-dir", str(tmp_path / "r")],
    )
    assert result.exit_code == 0, result.output
    summary = pd.read_csv(tmp_path / "r" / "shap_summary.tsv", sep="\t")
    assert len(summary) > 20
    training = mlmicro.load_model(bundle).explain()
    assert "Psoriasis_2014:Steph_b2_3" in training.sample_ids
