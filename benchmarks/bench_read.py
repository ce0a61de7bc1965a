"""Reading times of :func:`mlmicro.read_table` on the real cohorts and on large synthetic tables.

Each file is read ``--repeats`` times in this process; the table shows the best
and the median wall time (seconds), the best CPU time of this process (steadier
than wall time on a shared machine) and the shape read. The synthetic tables are
written once to a temporary folder: taxa as rows (the common layout), the same
gzip-compressed, and samples as rows; their values are sparse read counts.

Run on demand (not a test)::

    python benchmarks/bench_read.py                  # real cohorts + 2,000 x 5,000 synthetic
    python benchmarks/bench_read.py --repeats 5 --samples 5000 --taxa 2000
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import mlmicro

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets"
REAL = [
    ("metaml (bz2, 3,610 samples)", "metaml/abundance.txt.bz2", "metaml"),
    ("gevers taxatable", "mlrepo/gevers/refseq/taxatable.txt", "auto"),
    ("sokol BIOM JSON", "mlrepo/sokol/gg/otutable.biom", "auto"),
    ("CS-PRISM classic", "ibdmeta/CS-PRISM/all_samples_taxonomy_closed_reference.tsv", "auto"),
    ("jangi .qza", "qiime2/jangi_ms/filt-feature-table.qza", "auto"),
    ("siamcat (R layout)", "siamcat/feat_crc_zeller_msb_mocat_specI.tsv", "auto"),
]


def write_synthetic(folder: Path, n_samples: int, n_taxa: int) -> list[tuple[str, Path]]:
    rng = np.random.default_rng(0)
    values = rng.negative_binomial(1, 0.02, size=(n_taxa, n_samples))
    values *= rng.random((n_taxa, n_samples)) < 0.15
    values[0] += 1
    taxa = [
        f"k__Bacteria|p__P{j % 7}|c__C{j % 13}|g__G{j % 211}|s__G{j % 211}_s{j}"
        for j in range(n_taxa)
    ]
    samples = [f"S{i:06d}" for i in range(n_samples)]
    rows = ["taxon\t" + "\t".join(samples)]
    rows += [
        taxon + "\t" + "\t".join(map(str, row))
        for taxon, row in zip(taxa, values.tolist(), strict=True)
    ]
    text = ("\n".join(rows) + "\n").encode()
    taxa_rows = folder / "taxa_rows.tsv"
    taxa_rows.write_bytes(text)
    gz = folder / "taxa_rows.tsv.gz"
    gz.write_bytes(gzip.compress(text, compresslevel=1))
    t_rows = ["sample_id\t" + "\t".join(taxa)]
    t_rows += [
        s + "\t" + "\t".join(map(str, col))
        for s, col in zip(samples, values.T.tolist(), strict=True)
    ]
    samples_rows = folder / "samples_rows.tsv"
    samples_rows.write_text("\n".join(t_rows) + "\n")
    label = f"{n_samples:,} x {n_taxa:,}"
    return [
        (f"synthetic taxa-rows {label}", taxa_rows),
        (f"synthetic taxa-rows .gz {label}", gz),
        (f"synthetic samples-rows {label}", samples_rows),
    ]


def time_read(path: Path, fmt: str, repeats: int) -> tuple[float, float, float, tuple[int, int]]:
    times, cpu = [], []
    shape = (0, 0)
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        table = mlmicro.read_table(path, format=fmt)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        shape = table.shape
        del table
    return min(times), statistics.median(times), min(cpu), shape


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--samples", type=int, default=2_000)
    parser.add_argument("--taxa", type=int, default=5_000)
    args = parser.parse_args(argv)
    print(f"mlmicro from {Path(mlmicro.__file__).parent}", file=sys.stderr)
    print("| file | shape | best s | median s | best CPU s |")
    print("|---|---|---|---|---|")
    for label, relative, fmt in REAL:
        path = SHARED / relative
        if not path.exists():
            continue
        try:
            best, median, cpu, shape = time_read(path, fmt, args.repeats)
        except mlmicro.exceptions.MlmicroError as err:
            print(f"| {label} | error: {str(err)[:60]} | - | - | - |")
            continue
        print(f"| {label} | {shape[0]} x {shape[1]} | {best:.3f} | {median:.3f} | {cpu:.3f} |")
    with tempfile.TemporaryDirectory() as tmp:
        for label, path in write_synthetic(Path(tmp), args.samples, args.taxa):
            best, median, cpu, shape = time_read(path, "auto", args.repeats)
            print(f"| {label} | {shape[0]} x {shape[1]} | {best:.3f} | {median:.3f} | {cpu:.3f} |")


if __name__ == "__main__":
    main()
