"""Cross-cohort prediction on real data: a model trained on one cohort predicts another."""

from __future__ import annotations

import pytest

import mlmicro
from mlmicro.predict import OutOfDomainWarning, predict_file


@pytest.mark.shared
@pytest.mark.filterwarnings("ignore::mlmicro.model.model.InSampleWarning")
def test_gevers_rectum_model_predicts_ileum_biopsies(shared_datasets, tmp_path):
    """Train on RISK rectum biopsies (CD vs no), predict the ileum biopsies it never saw."""
    gevers = shared_datasets / "mlrepo" / "gevers"
    table_path = gevers / "refseq" / "taxatable.txt"
    table = mlmicro.read_table(table_path)
    rectum = mlmicro.read_metadata(gevers / "task-rectum.txt")
    ileum = mlmicro.read_metadata(gevers / "task-ileum.txt")
    subjects = mlmicro.read_metadata(gevers / "mapping-orig.txt")["HOST_SUBJECT_ID"]
    model = mlmicro.train(
        table.loc[rectum.index],
        rectum.join(subjects),
        label="Var",
        positive=["CD"],
        negative=["no"],
        group="HOST_SUBJECT_ID",
        config="fast",
        rank="genus",
        jobs=1,
        **{"cv.folds": 3},
    )
    bundle = model.save(tmp_path / "rectum.mlmodel")
    # only ileum samples of children the model never saw
    unseen = ileum[~ileum.index.map(subjects).isin(set(subjects.loc[rectum.index]))]
    # the whole table holds stool samples too: unlike the rectum biopsies the model saw
    with pytest.warns(OutOfDomainWarning, match="applicability domain"):
        run = predict_file(bundle, table_path, tmp_path / "ileum.tsv", metadata=unseen, label="Var")
    assert run.n_samples == len(table)  # every sample of the table is predicted
    assert run.coverage.n_found == run.coverage.n_features  # one shared pipeline
    validation = run.validation
    assert validation.n_samples == len(unseen) > 100
    assert set(validation.class_counts) == {"no", "CD"}
    assert validation.metrics["roc_auc"] > 0.7  # 0.83 measured; Duvallet et al.: 0.71 within
