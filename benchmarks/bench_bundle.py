"""Size and load time: the data-only model archive against a joblib pickle.

For each classifier, the pipeline is fitted on the embedded simulated cohort
(257 samples x 248 strains) with mlmicro's default configuration for that
classifier (species rank, relative abundances, the classifier's default
hyperparameters: XGBoost 50 rounds x 10 trees, a 500-tree random forest, L1
logistic regression), then saved twice:

* ``archive``: :func:`mlmicro.model.persist.dump_pipeline` +
  :func:`mlmicro.model.archive.write_archive` (zip, deflate);
* ``joblib``: ``joblib.dump(pipeline, path, compress=3)``, what the joblib
  bundle does for its pipeline.

Only the fitted pipeline is saved in both (no model card, CV results or
training table). Load time is the median of ``--repeats`` loads in this
process: ``load_pipeline(read_archive(path))`` (every check included) and
``joblib.load(path)``. Both loaded pipelines are checked to predict exactly
what the fitted one does.

``--bundles`` compares whole model bundles instead (card, pipeline, CV results and training
cohort): the default model trained by ``mlmicro train`` on the embedded cohort (default
configuration, 10 x 5 CV) and, when the shared cohorts are present, Gevers rectum biopsies at
genus rank (``fast`` configuration), each saved as

* ``.mlmodel``: :meth:`mlmicro.Model.save` (zip of JSON, ``.npy``, Parquet, XGBoost JSON);
* ``.joblib``: the old format, ``joblib.dump`` of the same parts (``compress=3``) with the card
  and its SHA-256 beside it.

Load time is the median of ``--repeats`` loads: :func:`mlmicro.load_model` (every check
included) against :func:`mlmicro.model.legacy.read_legacy_bundle` (SHA-256 of the file, the
card, ``joblib.load``). Both loaded models are checked to predict exactly what the trained one
does.

Run on demand (not a test), from the project root::

    PYTHONPATH=. python benchmarks/bench_bundle.py
    PYTHONPATH=. python benchmarks/bench_bundle.py --models xgboost --repeats 9
    PYTHONPATH=. python benchmarks/bench_bundle.py --bundles --repeats 7
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import joblib
import numpy as np

import mlmicro
from mlmicro.config import TrainConfig
from mlmicro.datasets import load_default_cohort, shared_datasets_dir
from mlmicro.model.archive import read_archive, write_archive
from mlmicro.model.legacy import read_legacy_bundle
from mlmicro.model.persist import dump_pipeline, load_pipeline
from mlmicro.model.training import fit_final

MODELS = ("xgboost", "random-forest", "logistic-l1")


def median_seconds(load, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        load()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def save_legacy(model: mlmicro.Model, path: Path) -> Path:
    """Write ``model`` as the old format did: a joblib pickle, the card with its SHA-256 beside."""
    card = model.card.to_dict() | {"format_version": 1}
    payload = {
        "format": card["format"],
        "format_version": 1,
        "pipeline": model.pipeline,
        "cv": model.cv,
        "training": model.training,
        "card": card,
    }
    joblib.dump(payload, path, compress=3)
    card["bundle"] = {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    path.with_suffix(".json").write_text(json.dumps(card, default=str), encoding="utf-8")
    return path


def trained_models(jobs: int) -> list[tuple[str, mlmicro.Model, object]]:
    """The models ``--bundles`` compares, with a table to check their predictions on."""
    cohort = load_default_cohort()
    out = [("default model, embedded cohort", mlmicro.train(jobs=jobs), cohort.table)]
    root = shared_datasets_dir()
    if (root / "mlrepo/gevers").is_dir():
        sys.path.insert(0, str(Path(__file__).parent))
        from cross_cohort import gevers

        rectum = gevers(root, "rectum")
        table = mlmicro.read_table(rectum.table)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # samples outside the task
            model = mlmicro.train(
                table,
                rectum.metadata,
                label=rectum.label,
                positive=["CD"],
                negative=["no"],
                group=rectum.group,
                config="fast",
                rank="genus",
                jobs=jobs,
            )
        out.append(("Gevers rectum, genus, fast", model, table))
    return out


def compare_bundles(repeats: int, jobs: int) -> None:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name, model, table in trained_models(jobs):
            expected = model.predict_proba(table).to_numpy()
            new = model.save(Path(folder) / "new.mlmodel")
            old = save_legacy(model, Path(folder) / "old.joblib")
            loaded_new = mlmicro.load_model(new)
            loaded_old = mlmicro.Model.from_bundle(read_legacy_bundle(old, trust=True))
            for loaded in (loaded_new, loaded_old):
                if not np.array_equal(loaded.predict_proba(table).to_numpy(), expected):
                    raise SystemExit(f"{name}: a loaded model predicts differently")
            rows.append(
                (
                    name,
                    model.card.n_samples,
                    len(model.features),
                    new.stat().st_size / 1024,
                    old.stat().st_size / 1024,
                    median_seconds(lambda p=new: mlmicro.load_model(p), repeats),
                    median_seconds(lambda p=old: read_legacy_bundle(p, trust=True), repeats),
                )
            )
    print(
        f"| model | samples | taxa | .mlmodel KiB | .joblib KiB | size ratio | .mlmodel load s "
        f"| .joblib load s | load ratio |  (load: median of {repeats})"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, n, taxa, size_n, size_o, load_n, load_o in rows:
        print(
            f"| {name} | {n} | {taxa} | {size_n:.0f} | {size_o:.0f} | {size_n / size_o:.2f} "
            f"| {load_n:.3f} | {load_o:.3f} | {load_n / load_o:.2f} |"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--bundles", action="store_true", help="compare whole model bundles")
    parser.add_argument("--jobs", type=int, default=1, help="CV fits in parallel (--bundles)")
    args = parser.parse_args(argv)
    if args.bundles:
        compare_bundles(args.repeats, args.jobs)
        return

    cohort = load_default_cohort()
    table = cohort.table
    labels = cohort.metadata.loc[table.index, "diagnosis"]
    classes = ["control", "CD"]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name in args.models:
            config = TrainConfig(model=name, jobs=1)
            pipeline = fit_final(table, labels, classes=classes, config=config)
            expected = pipeline.predict_proba(table)
            archive = Path(folder) / f"{name}.zip"
            pickled = Path(folder) / f"{name}.joblib"
            start = time.perf_counter()
            write_archive(archive, dump_pipeline(pipeline))
            save_archive = time.perf_counter() - start
            start = time.perf_counter()
            joblib.dump(pipeline, pickled, compress=3)
            save_joblib = time.perf_counter() - start
            for loaded in (load_pipeline(read_archive(archive)), joblib.load(pickled)):
                if not np.array_equal(loaded.predict_proba(table), expected):
                    raise SystemExit(f"{name}: a loaded pipeline predicts differently")
            rows.append(
                (
                    name,
                    archive.stat().st_size / 1024,
                    pickled.stat().st_size / 1024,
                    save_archive,
                    save_joblib,
                    median_seconds(lambda a=archive: load_pipeline(read_archive(a)), args.repeats),
                    median_seconds(lambda p=pickled: joblib.load(p), args.repeats),
                )
            )
    print(
        "| model | archive KiB | joblib KiB | size ratio | archive save s | joblib save s "
        "| archive load s | joblib load s | load ratio |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, size_a, size_j, save_a, save_j, load_a, load_j in rows:
        print(
            f"| {name} | {size_a:.0f} | {size_j:.0f} | {size_a / size_j:.2f} | {save_a:.3f} "
            f"| {save_j:.3f} | {load_a:.3f} | {load_j:.3f} | {load_a / load_j:.2f} |"
        )


if __name__ == "__main__":
    main()
