"""``mlmicro transform``: compositional transformation of a taxa table."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from mlmicro.choices import DEFAULT_ZEROS, TRANSFORMS, ZERO_METHODS
from mlmicro.cli._app import app, handle_errors
from mlmicro.cli._common import FORMAT_HELP, check_output
from mlmicro.io import empty_samples, read_table, write_table
from mlmicro.transforms.table import transform_table

#: Transform choices (from :data:`mlmicro.choices.TRANSFORMS`).
Method = StrEnum("Method", {name: name for name in TRANSFORMS})
#: Zero-replacement choices (from :data:`mlmicro.choices.ZERO_METHODS`).
Zeros = StrEnum("Zeros", {name: name for name in ZERO_METHODS})


@app.command()
@handle_errors
def transform(
    table: Path = typer.Argument(..., help="Taxa table (TSV/CSV, MetaPhlAn, QIIME, BIOM, .qza)."),
    output: Path = typer.Option(..., "--output", "-o", help="Output file: .tsv, .csv or .parquet."),
    method: Method = typer.Option(Method("clr"), "--method", "-m", help="Transform to apply."),
    rank: str | None = typer.Option(
        None,
        "--rank",
        "-r",
        help="Collapse to this rank first (phylum ... genus, species, strain).",
    ),
    zeros: Zeros = typer.Option(
        Zeros(DEFAULT_ZEROS), "--zeros", help="Zero replacement before log-ratio transforms."
    ),
    min_prevalence: float = typer.Option(
        0.0,
        "--min-prevalence",
        min=0.0,
        max=1.0,
        help="Keep taxa present in at least this share of samples.",
    ),
    input_format: str = typer.Option("auto", "--format", help=FORMAT_HELP),
    taxonomy: Path | None = typer.Option(
        None, "--taxonomy", help="Taxonomy (.qza or TSV) for feature IDs of a .qza/BIOM table."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing output file."),
) -> None:
    """Collapse, filter and transform a taxa table (samples as rows in the output)."""
    check_output(output, force=force, inputs=[table, taxonomy])
    data = read_table(table, format=input_format, taxonomy=taxonomy)
    n_empty = len(empty_samples(data))
    result = transform_table(
        data, method.value, rank=rank, zeros=zeros.value, min_prevalence=min_prevalence
    )
    write_table(result, output, overwrite=force)
    left_out = f"; left out {n_empty} sample(s) without reads" if n_empty else ""
    typer.echo(
        f"wrote {output}: {result.shape[0]} samples x {result.shape[1]} features "
        f"({method.value}{', ' + rank if rank else ''}){left_out}"
    )
