"""Batch prediction on a Dask cluster: local vs ``local:W``, wall time, memory, per-block cost.

The same synthetic samples-as-rows TSV and model as ``bench_predict.py`` (N
samples x 1,000 taxa; mlmicro's default XGBoost, 500 trees, trained on 300
samples). Each mode runs in a fresh process:

* ``local``: :func:`mlmicro.predict.predict_file` with ``jobs=1``, as
  ``mlmicro predict`` runs it;
* ``dask local:W``: the same call with ``scheduler=client``, a
  ``distributed.LocalCluster`` of W worker processes with one thread each
  (started first; its start-up is shown apart and not in the wall time). The
  file is read and the output written in the calling process; each block is
  predicted on a worker.

Columns: wall time; peak RSS of the calling process (for ``local:W`` it also
holds the scheduler) and the largest worker's; blocks (tasks); per block, the
worker compute time (``predict_block``: align, frozen steps, XGBoost, output
rows) and the overhead ``(W x wall - sum of task compute) / blocks`` -- worker
time per block not spent predicting (waiting for the reader, transfers,
scheduling). The script checks that every mode writes the same bytes.

Run on demand (not a test)::

    python benchmarks/bench_dask_predict.py                    # 10^6 samples, local:2
    python benchmarks/bench_dask_predict.py --sizes 100000 --workers 2 4
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_predict import N_TAXA, train_model, write_cohort

_LOCAL = """
import json, resource, sys, time
from mlmicro.predict import predict_file
model, path, out = sys.argv[1:4]
start = time.perf_counter()
run = predict_file(model, path, out, jobs=1, force=True)
wall = time.perf_counter() - start
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"wall": wall, "n": run.n_samples, "rss_mb": rss}))
"""

_DASK = """
import json, logging, resource, sys, time
import distributed
from mlmicro.predict import predict_file
model, path, out, workers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

def peak_mb():
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def warm():
    import mlmicro.predict.batch  # import cost out of the timed run
    return True

if __name__ == "__main__":
    start = time.perf_counter()
    cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=logging.ERROR)
    client = distributed.Client(cluster, set_as_default=False)
    client.wait_for_workers(workers)
    client.run(warm)
    started = time.perf_counter() - start
    with distributed.get_task_stream(client) as stream:
        start = time.perf_counter()
        run = predict_file(model, path, out, jobs=1, force=True, scheduler=client)
        wall = time.perf_counter() - start
    blocks = [r for r in stream.data if "mlmicro-predict" in str(r["key"])]
    compute = sum(part["stop"] - part["start"] for r in blocks for part in r["startstops"]
                  if part["action"] == "compute")
    worker_rss = max(client.run(peak_mb).values())
    client.close()
    cluster.close()
    print(json.dumps({"wall": wall, "n": run.n_samples, "rss_mb": peak_mb(), "start": started,
                      "blocks": len(blocks), "compute": compute, "worker_rss_mb": worker_rss}))
"""


def child(code: str, *args: object) -> dict:
    """Run ``code`` in a fresh interpreter (from this checkout); return its JSON line."""
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as script:
        script.write(code)
    try:
        done = subprocess.run(
            [sys.executable, script.name, *map(str, args)],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
        )
    finally:
        os.unlink(script.name)
    return json.loads(done.stdout.splitlines()[-1])


def table(rows: list[dict]) -> str:
    head = [
        "samples",
        "mode",
        "workers x threads",
        "cluster start",
        "wall",
        "samples/s",
        "speed-up",
        "peak RSS caller",
        "peak RSS worker",
        "blocks",
        "compute / block",
        "overhead / block",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        dask = "blocks" in r
        w = r["workers"]
        cells = [
            f"{r['n']:,}",
            r["mode"],
            f"{w} x 1" if dask else "1 x 1 (here)",
            f"{r['start']:.1f} s" if dask else "-",
            f"{r['wall']:.1f} s",
            f"{r['n'] / r['wall']:,.0f}",
            f"{r['baseline'] / r['wall']:.2f}",
            f"{r['rss_mb']:,.0f} MB",
            f"{r['worker_rss_mb']:,.0f} MB" if dask else "-",
            str(r["blocks"]) if dask else "-",
            f"{r['compute'] / max(1, r['blocks']) * 1e3:.0f} ms" if dask else "-",
            f"{(w * r['wall'] - r['compute']) / max(1, r['blocks']) * 1e3:.0f} ms" if dask else "-",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--workers", type=int, nargs="+", default=[2])
    parser.add_argument("--taxa", type=int, default=N_TAXA)
    parser.add_argument("--workdir", type=Path, default=None, help="where to write the files")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(dir=args.workdir, prefix="bench_dask_predict_") as scratch:
        folder = Path(scratch)
        print(f"training the benchmark model on 300 samples x {args.taxa} taxa ...", flush=True)
        model = train_model(folder, args.taxa)
        for size in args.sizes:
            path = folder / f"cohort_{size}.tsv"
            started = time.perf_counter()
            write_cohort(path, size, args.taxa)
            mb = path.stat().st_size / 1e6
            took = time.perf_counter() - started
            print(f"{size:>9,} samples: wrote {mb:,.0f} MB in {took:.0f} s", flush=True)
            reference = folder / "local.tsv"
            local = child(_LOCAL, model, path, reference)
            local.update(mode="local", workers=1, baseline=local["wall"])
            rows.append(local)
            print(json.dumps(local), flush=True)
            for workers in args.workers:
                out = folder / f"dask{workers}.tsv"
                row = child(_DASK, model, path, out, workers)
                row.update(mode=f"dask local:{workers}", workers=workers, baseline=local["wall"])
                assert filecmp.cmp(out, reference, shallow=False), "outputs differ"
                out.unlink()
                rows.append(row)
                print(json.dumps(row), flush=True)
            path.unlink()
    print()
    print(f"{os.cpu_count()} CPUs; every mode wrote the same bytes")
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
