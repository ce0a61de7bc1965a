"""Training on a Dask cluster: wall time and per-task scheduler overhead.

Trains the embedded cohort with the ``fast`` preset (5-fold grouped CV) and a
label-permutation null of ``--permutations`` permutations (each one repeat of
the same 5 folds: 5 x N + 5 independent fits), in two ways:

* ``threads``: local joblib threads, ``--jobs`` at a time (1: serial);
* ``dask local:W``: a ``distributed.LocalCluster`` of W worker processes with
  one thread each, passed to ``mlmicro.train(scheduler=client)``.

For each Dask run the table shows the cluster start (workers spawned and
mlmicro imported on each, not counted in the wall time), the wall time of
``mlmicro.train``, and the per-task scheduler overhead
``(W x wall - sum of task compute times) / tasks`` -- the worker time per task
not spent fitting (scheduling, transfers, idle workers at the end). A second
figure, ``no-op round trip``, is the wall time per task of 1,000 empty tasks
through the same runner. The final refit runs in the client process on one
thread in every mode. The script checks that every mode gives the same
p-value and cross-validated AUROC.

Run on demand (not a test)::

    python benchmarks/bench_dask.py                          # 200 permutations, local:2
    python benchmarks/bench_dask.py --permutations 50 --workers 2 4 --jobs 1 2
"""

from __future__ import annotations

import argparse
import os
import time

import mlmicro
from mlmicro.model.parallel import DaskRunner


def _noop(item: int) -> int:
    return item


def _warm() -> bool:
    import mlmicro.model.training  # noqa: F401 - import cost out of the timed run

    return True


def run_threads(args: argparse.Namespace, jobs: int) -> dict:
    start = time.perf_counter()
    model = mlmicro.train(config=args.config, jobs=jobs, **{"cv.permutations": args.permutations})
    wall = time.perf_counter() - start
    return {"mode": f"threads (jobs={jobs})", "workers": jobs, "wall": wall, "model": model}


def run_dask(args: argparse.Namespace, workers: int) -> dict:
    import distributed

    start = time.perf_counter()
    cluster = distributed.LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        silence_logs=40,
    )
    client = distributed.Client(cluster, set_as_default=False)
    try:
        client.wait_for_workers(workers)
        client.run(_warm)
        started = time.perf_counter() - start
        with distributed.get_task_stream(client) as stream:
            start = time.perf_counter()
            model = mlmicro.train(
                config=args.config,
                jobs=1,
                scheduler=client,
                **{"cv.permutations": args.permutations},
            )
            wall = time.perf_counter() - start
        compute = sum(
            part["stop"] - part["start"]
            for record in stream.data
            for part in record["startstops"]
            if part["action"] == "compute"
        )
        fits = [r for r in stream.data if "mlmicro-" in str(r["key"])]
        start = time.perf_counter()
        DaskRunner(client).map(_noop, range(1000), description="no-op")
        noop = (time.perf_counter() - start) / 1000
    finally:
        client.close()
        cluster.close()
    return {
        "mode": f"dask local:{workers}",
        "workers": workers,
        "start": started,
        "wall": wall,
        "tasks": len(fits),
        "overhead": (workers * wall - compute) / max(1, len(fits)),
        "noop": noop,
        "model": model,
    }


def table(rows: list[dict], baseline: float) -> str:
    lines = [
        "| mode | workers x threads | cluster start s | wall s | speed-up | tasks "
        "| overhead ms/task | no-op round trip ms/task |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        dask = "tasks" in row
        cells = [
            row["mode"],
            f"{row['workers']} x 1",
            f"{row['start']:.1f}" if dask else "-",
            f"{row['wall']:.1f}",
            f"{baseline / row['wall']:.2f}",
            str(row["tasks"]) if dask else "-",
            f"{row['overhead'] * 1e3:.1f}" if dask else "-",
            f"{row['noop'] * 1e3:.2f}" if dask else "-",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--permutations", type=int, default=200)
    parser.add_argument("--config", default="fast")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1], help="local thread counts")
    parser.add_argument("--workers", type=int, nargs="+", default=[2], help="Dask worker counts")
    args = parser.parse_args(argv)
    rows = [run_threads(args, jobs) for jobs in args.jobs]
    rows += [run_dask(args, workers) for workers in args.workers]
    reference = rows[0]["model"].card
    for row in rows[1:]:
        card = row["model"].card
        assert card["cv"]["permutation"] == reference["cv"]["permutation"], row["mode"]
        assert card["cv_metrics"] == reference["cv_metrics"], row["mode"]
    perm = reference["cv"]["permutation"]
    print(
        f"embedded cohort, preset {args.config!r}, {perm['n']} permutations "
        f"(p = {perm['p_value']:.4f}, identical in every mode), {os.cpu_count()} CPUs"
    )
    print(table(rows, rows[0]["wall"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
