"""Batch prediction throughput and memory: ``mlmicro predict`` against the time to parse.

For each size, a synthetic samples-as-rows TSV of N samples x 1,000 taxa
(sparse read counts, MetaPhlAn-style lineages) is written to a temporary
folder, then timed in fresh subprocesses:

* ``parse (pandas)``: ``pandas.read_csv(chunksize=...)`` with float64 columns,
  values discarded -- the floor any reader of this file pays;
* ``parse (pyarrow)``: pyarrow's streaming CSV reader, for comparison;
* ``predict``: :func:`mlmicro.predict.predict_file` (what ``mlmicro predict``
  runs): read in blocks, align, predict, write the predictions file;
* ``CLI``: the ``mlmicro predict`` command end to end, interpreter start,
  imports and model loading included.

Peak RSS is each subprocess's own maximum resident set size. The model is an
XGBoost model with mlmicro's default hyperparameters (50 rounds x 10 trees)
trained on 300 synthetic samples of the same 1,000 taxa.

Run on demand (not a test)::

    python benchmarks/bench_predict.py                       # 1e4, 1e5, 1e6 samples
    python benchmarks/bench_predict.py --sizes 10000 100000 --jobs 1 2 --top-strains 5
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

N_TAXA = 1_000
POOL = 5_000  # distinct value rows; sample i gets a random one (formatting is slow, parsing is not)


def lineages(n_taxa: int) -> list[str]:
    return [
        f"k__Bacteria|p__Phylum{j % 7}|c__Class{j % 13}|o__Order{j % 29}|f__Family{j % 61}"
        f"|g__Genus{j % 211}|s__Genus{j % 211}_species{j}"
        for j in range(n_taxa)
    ]


def counts(rng: np.random.Generator, n: int, n_taxa: int) -> np.ndarray:
    """Sparse, overdispersed read counts: ~85% zeros, like a real profile table."""
    present = rng.random((n, n_taxa)) < 0.15
    values = rng.negative_binomial(1, 0.02, size=(n, n_taxa)) * present
    values[:, 0] += 1  # no empty sample
    return values


def write_cohort(path: Path, n_samples: int, n_taxa: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    pool = ["\t".join(map(str, row)) for row in counts(rng, POOL, n_taxa).tolist()]
    picks = rng.integers(0, POOL, size=n_samples)
    with path.open("w") as handle:
        handle.write("sample_id\t" + "\t".join(lineages(n_taxa)) + "\n")
        for start in range(0, n_samples, 10_000):
            stop = min(start + 10_000, n_samples)
            handle.write("".join(f"S{i}\t{pool[picks[i]]}\n" for i in range(start, stop)))


def train_model(folder: Path, n_taxa: int) -> Path:
    import pandas as pd

    import mlmicro

    rng = np.random.default_rng(1)
    n = 300
    values = counts(rng, n, n_taxa).astype(float)
    y = rng.random(n) < 0.5
    values[y, :20] += rng.negative_binomial(1, 0.05, size=(int(y.sum()), 20))  # signal
    index = pd.Index([f"T{i}" for i in range(n)], name="sample_id")
    table = pd.DataFrame(values, index=index, columns=lineages(n_taxa))
    meta = pd.DataFrame({"dx": np.where(y, "case", "control")}, index=index)
    model = mlmicro.train(
        table, meta, label="dx", positive=["case"], jobs=1, **{"cv.folds": 2, "cv.repeats": 1}
    )
    return model.save(folder / "bench_model.mlmodel")


_MEASURE = """
import json, resource, sys, time
def measure(work):
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    n = work()
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    print(json.dumps({"seconds": seconds, "cpu": cpu, "n": n, "rss_mb": after.ru_maxrss / 1024}))
"""

_PARSE_PANDAS = (
    _MEASURE
    + """
import numpy as np, pandas as pd
path, chunk = sys.argv[1], int(sys.argv[2])
with open(path) as f:
    width = len(f.readline().split("\\t"))
dtypes = {j: np.float64 for j in range(1, width)}
dtypes[0] = object
def work():
    n = 0
    with pd.read_csv(path, sep="\\t", header=None, names=list(range(width)), skiprows=1,
                     index_col=False, dtype=dtypes, na_filter=False, chunksize=chunk) as reader:
        for block in reader:
            n += len(block)
    return n
measure(work)
"""
)

_PARSE_ARROW = (
    _MEASURE
    + """
import pyarrow.csv as csv
path = sys.argv[1]
def work():
    n = 0
    reader = csv.open_csv(path, parse_options=csv.ParseOptions(delimiter="\\t"),
                          read_options=csv.ReadOptions(block_size=1 << 24))
    for batch in reader:
        n += batch.num_rows
    return n
measure(work)
"""
)

_PREDICT = (
    _MEASURE
    + """
from mlmicro.predict import predict_file
model, path, out, chunk, jobs, top = sys.argv[1:7]
measure(lambda: predict_file(model, path, out, chunk_size=int(chunk), jobs=int(jobs),
                             top_strains=int(top), force=True).n_samples)
"""
)


def child(code: str, *args: object) -> dict:
    """Run ``code`` in a fresh interpreter; return its wall and CPU seconds, samples, peak RSS."""
    done = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.splitlines()[-1])


def cli(*args: object) -> dict:
    """Run ``mlmicro predict`` end to end in a fresh wrapper; return wall seconds and peak RSS."""
    wrapper = (
        "import json, resource, subprocess, sys, time; start = time.perf_counter(); "
        "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
        "print(json.dumps({'seconds': time.perf_counter() - start, "
        "'rss_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))"
    )
    command = ["mlmicro", "predict", *map(str, args)]
    done = subprocess.run(
        [sys.executable, "-c", wrapper, *command], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--taxa", type=int, default=N_TAXA)
    parser.add_argument(
        "--chunk-size", type=int, default=None, help="default: mlmicro's own (auto) block size"
    )
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="--jobs values to time")
    parser.add_argument(
        "--top-strains",
        type=int,
        default=0,
        help="also time --top-strains K (exact TreeSHAP; sizes up to 100,000 only)",
    )
    parser.add_argument("--no-cli", action="store_true", help="skip the end-to-end CLI run")
    parser.add_argument("--workdir", type=Path, default=None, help="where to write the files")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    args = parser.parse_args(argv)

    from mlmicro.io.chunks import auto_chunk_size

    chunk = args.chunk_size or auto_chunk_size(args.taxa)
    with tempfile.TemporaryDirectory(dir=args.workdir, prefix="bench_predict_") as scratch:
        folder = Path(scratch)
        print(f"training the benchmark model on 300 samples x {args.taxa} taxa ...", flush=True)
        model = train_model(folder, args.taxa)
        out = folder / "predictions.tsv"
        rows = []
        for size in args.sizes:
            path = folder / f"cohort_{size}.tsv"
            started = time.perf_counter()
            write_cohort(path, size, args.taxa)
            mb = path.stat().st_size / 1e6
            print(
                f"{size:>9,} samples: wrote {mb:,.0f} MB in {time.perf_counter() - started:.0f} s",
                flush=True,
            )
            row = {"samples": size, "file_mb": round(mb), "chunk_size": chunk}
            row["parse_pandas"] = child(_PARSE_PANDAS, path, chunk)
            row["parse_arrow"] = child(_PARSE_ARROW, path)
            for jobs in args.jobs:
                row[f"predict_j{jobs}"] = child(_PREDICT, model, path, out, chunk, jobs, 0)
            if args.top_strains and size <= 100_000:
                row["top_strains"] = child(
                    _PREDICT, model, path, out, chunk, max(args.jobs), args.top_strains
                )
            if not args.no_cli:
                row["cli"] = cli(model, path, "-o", out, "--force", "--no-progress")
            rows.append(row)
            path.unlink()
            print(json.dumps(row), flush=True)
    print()
    print(table(rows, args))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


def table(rows: list[dict], args: argparse.Namespace) -> str:
    """Markdown table: wall seconds, samples per second, ratio to the parse floor, peak RSS."""
    head = ["samples", "file", "parse (pandas)", "parse (pyarrow)"]
    for jobs in args.jobs:
        head += [f"predict -j {jobs}", "samples/s", "x parse"]
    head += ["peak RSS parse", "peak RSS predict"]
    if args.top_strains:
        head.append(f"--top-strains {args.top_strains} -j {max(args.jobs)}")
    if not args.no_cli:
        head.append("CLI end to end")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        floor = r["parse_pandas"]["seconds"]
        cells = [
            f"{r['samples']:,}",
            f"{r['file_mb']:,} MB",
            f"{floor:.1f} s",
            f"{r['parse_arrow']['seconds']:.1f} s",
        ]
        for jobs in args.jobs:
            p = r[f"predict_j{jobs}"]
            cells += [
                f"{p['seconds']:.1f} s",
                f"{p['n'] / p['seconds']:,.0f}",
                f"{p['seconds'] / floor:.2f}",
            ]
        rss = max(r[f"predict_j{jobs}"]["rss_mb"] for jobs in args.jobs)
        cells += [f"{r['parse_pandas']['rss_mb']:,.0f} MB", f"{rss:,.0f} MB"]
        if args.top_strains:
            top = r.get("top_strains")
            cells.append(f"{top['seconds']:.1f} s" if top else "-")
        if not args.no_cli:
            cells.append(f"{r['cli']['seconds']:.1f} s")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
