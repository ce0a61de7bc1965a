"""Messages, options and small outputs a new user meets first."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlmicro.cli import app
from mlmicro.io import MissingTaxonomyWarning, read_table

runner = CliRunner()


def _biom_json(ids: list[str], samples: list[str]) -> bytes:
    data = [[i, j, float(i + j + 1)] for i in range(len(ids)) for j in range(len(samples))]
    return json.dumps(
        {
            "id": "t",
            "format": "Biological Observation Matrix 1.0.0",
            "format_url": "http://biom-format.org",
            "type": "OTU table",
            "generated_by": "tests",
            "date": "2024-01-01T00:00:00",
            "matrix_type": "sparse",
            "matrix_element_type": "float",
            "shape": [len(ids), len(samples)],
            "data": data,
            "rows": [{"id": i, "metadata": None} for i in ids],
            "columns": [{"id": s, "metadata": None} for s in samples],
        }
    ).encode()


def _qza(path: Path, ids: list[str], samples: list[str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("1234-uuid/metadata.yaml", "type: FeatureTable[Frequency]\n")
        archive.writestr("1234-uuid/data/feature-table.biom", _biom_json(ids, samples))
    return path


def test_qza_without_taxonomy_names_the_option_and_the_keyword(tmp_path):
    qza = _qza(tmp_path / "table.qza", ["a1b2c3", "d4e5f6"], ["s1", "s2"])
    with pytest.warns(MissingTaxonomyWarning, match=r"--taxonomy .*taxonomy='taxonomy\.qza'"):
        table = read_table(qza)
    assert table.columns.tolist() == ["a1b2c3", "d4e5f6"]
    # with a taxonomy there is nothing to say
    with_lineage = read_table(qza, taxonomy={"a1b2c3": "k__Bacteria; p__Firmicutes"})
    assert "k__Bacteria|p__Firmicutes" in with_lineage.columns
    result = runner.invoke(
        app, ["transform", str(qza), "--method", "relative", "-o", str(tmp_path / "o.tsv")]
    )
    assert "warning:" in result.output and "--taxonomy" in result.output


def _one_line_error(result) -> str:
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    return errors[0]


def test_study_column_with_one_class_per_study(tmp_path):
    import mlmicro
    from mlmicro.datasets import default_cohort_path, load_default_cohort
    from mlmicro.exceptions import MetadataError

    cohort = load_default_cohort()
    meta = cohort.metadata.copy()
    meta["Study name"] = "study_" + meta["diagnosis"].astype(str)
    with pytest.raises(MetadataError, match="every study holds one class only"):
        mlmicro.train(
            cohort.table, meta, label="diagnosis", positive=["CD"], negative=["control"],
            study="Study name", config="fast",
        )  # fmt: skip
    meta_path = tmp_path / "meta.tsv"
    meta.to_csv(meta_path, sep="\t")
    out = tmp_path / "m.mlmodel"
    result = runner.invoke(
        app,
        ["train", str(default_cohort_path()), "--metadata", str(meta_path), "--label",
         "diagnosis", "--positive", "CD", "--negative", "control", "--study", "Study name",
         "--config", "fast", "--no-progress", "-o", str(out)],
    )  # fmt: skip
    line = _one_line_error(result)
    assert "'Study name'" in line and "needs both classes in some study" in line
    assert not out.exists()


@pytest.mark.filterwarnings("ignore::mlmicro.predict.OutOfDomainWarning")
@pytest.mark.filterwarnings("ignore::mlmicro.predict.PredictionWarning")
def test_predictions_say_why_a_sample_has_no_prediction(tmp_path):
    import pandas as pd

    import mlmicro
    from mlmicro.datasets import simulate_cohort

    cohort = simulate_cohort(n_subjects=30, seed=4)
    model = mlmicro.train(
        cohort.table, cohort.metadata, label="diagnosis", positive=["CD"], group="subject_id",
        config="fast", jobs=1, **{"cv.folds": 3},
    )  # fmt: skip
    bundle = model.save(tmp_path / "m.mlmodel")
    new = simulate_cohort(n_subjects=8, seed=9).table
    alien = "k__Bacteria|p__Nowhere|c__N|o__N|f__N|g__Nullus|s__Nullus_nemo"
    new[alien] = 0.0
    new.iloc[0] = 0.0  # no reads at all
    new.iloc[1] = 0.0
    new.iloc[1, new.columns.get_loc(alien)] = 5.0  # reads only in a taxon the model never saw
    table = tmp_path / "new.tsv"
    mlmicro.write_table(new, table)
    out = tmp_path / "p.tsv"
    for chunk in ("3", "100"):
        result = runner.invoke(
            app, ["predict", str(bundle), str(table), "-o", str(out), "--force",
                  "--chunk-size", chunk, "--no-progress"],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        written = pd.read_csv(out, sep="\t", keep_default_na=False).set_index("sample_id")
        status = written["status"]
        assert status.iloc[0] == "no reads" and status.iloc[1] == "no model taxa"
        assert (status.iloc[2:] == "ok").all()
        assert (written["predicted_label"].iloc[:2] == "").all()
        assert (written["predicted_label"].iloc[2:] != "").all()


def test_transform_leaves_out_samples_without_reads(tmp_path):
    import pandas as pd

    import mlmicro
    from mlmicro.exceptions import TransformError
    from mlmicro.io import EmptySamplesWarning

    table = pd.DataFrame(
        {"k__B|g__A": [1.0, 0.0, 3.0, 0.0], "k__B|g__C": [1.0, 0.0, 1.0, 0.0]},
        index=pd.Index(["s1", "dead1", "s2", "dead2"], name="sample_id"),
    )
    with pytest.warns(EmptySamplesWarning, match=r"2 sample\(s\).*'dead1', 'dead2'"):
        out = mlmicro.transform_table(table, "clr")
    assert out.index.tolist() == ["s1", "s2"]
    with pytest.raises(TransformError, match="dead1"):
        mlmicro.transform_table(table, "clr", drop_empty=False)
    path = tmp_path / "t.tsv"
    mlmicro.write_table(table, path)
    target = tmp_path / "clr.tsv"
    result = runner.invoke(app, ["transform", str(path), "-m", "clr", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert "warning: 2 sample(s)" in result.output and "'dead1'" in result.output
    assert "2 samples x 2 features" in result.output
    assert "left out 2 sample(s) without reads" in result.output
    written = pd.read_csv(target, sep="\t", index_col=0)
    assert written.index.tolist() == ["s1", "s2"]


@pytest.mark.parametrize(
    "command", ["train", "predict", "explain", "transform", "confounders", "recalibrate"]
)
def test_help_shows_plain_metavars(command):
    result = runner.invoke(app, [command, "--help"], terminal_width=200)
    assert result.exit_code == 0
    for python_type in ("<list[str]>", "<str>", "<int>", "<float>", "<int range>", "<float range>"):
        assert python_type not in result.output, (command, python_type)
    assert " TEXT" in result.output or " PATH" in result.output


def test_suggested_commands_quote_column_names_with_spaces():
    import pandas as pd

    from mlmicro.exceptions import MetadataError
    from mlmicro.model.cv import RepeatedSubjectsWarning, make_splitter
    from mlmicro.model.labels import make_target

    meta = pd.DataFrame({"Subject accession": ["a", "a", "b", "b", "c", "c"]})
    y = [0, 1, 0, 1, 0, 1]
    with pytest.warns(RepeatedSubjectsWarning, match="pass --group 'Subject accession'"):
        make_splitter(pd.Series(y).to_numpy(), folds=2, repeats=1, seed=0, metadata=meta)
    labels = pd.DataFrame({"Disease state": ["Crohn disease", "ulcerative colitis"] * 3})
    with pytest.raises(MetadataError, match="--positive 'ulcerative colitis'"):
        make_target(labels, "Disease state")


def test_training_shows_progress_only_when_someone_watches(monkeypatch):
    import io
    import sys
    import types

    import mlmicro
    from mlmicro.datasets import simulate_cohort
    from mlmicro.model.progress import interactive, resolve_progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    cohort = simulate_cohort(n_subjects=30, seed=6)
    options = {"label": "diagnosis", "positive": ["CD"], "group": "subject_id", "config": "fast"}
    shown = {}
    for name, stream in (("terminal", Terminal()), ("file", io.StringIO())):
        monkeypatch.setattr(sys, "stderr", stream)
        mlmicro.train(cohort.table, cohort.metadata, jobs=1, **options, **{"cv.folds": 3})
        shown[name] = stream.getvalue()
    assert "cross-validation" in shown["terminal"] and "fit" in shown["terminal"]
    assert shown["file"] == ""
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert resolve_progress("auto") is False and resolve_progress(True) is True
    notebook = types.ModuleType("IPython")
    notebook.get_ipython = lambda: object()
    monkeypatch.setitem(sys.modules, "IPython", notebook)
    assert interactive() and resolve_progress("auto") is True
