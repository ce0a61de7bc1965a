"""``mlmicro convert``: rewrite an old joblib bundle as a data-only ``.mlmodel`` archive."""

from __future__ import annotations

from pathlib import Path

import typer

from mlmicro.cli._app import app, handle_errors


@app.command()
@handle_errors
def convert(
    old: Path = typer.Argument(..., help="Old model bundle (.joblib, its .json card beside it)."),
    new: Path = typer.Argument(..., help="The bundle to write (.mlmodel)."),
    trust: bool = typer.Option(
        False,
        "--trust",
        help="Confirm that you made OLD or trust its source: reading a joblib pickle runs "
        "whatever code it holds. Required.",
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite NEW if it exists."),
) -> None:
    """Convert an old joblib model bundle to the .mlmodel format, which loads without code.

    OLD is checked against the SHA-256 in its card and then unpickled, which is
    why --trust is required; NEW is written as a data-only archive (signed when
    MLMICRO_SIGNING_KEY or MLMICRO_SIGNING_KEY_FILE is set). OLD is left as it is.
    """
    from mlmicro.model.bundle import card_path
    from mlmicro.model.legacy import convert_legacy_bundle

    path = convert_legacy_bundle(old, new, trust=trust, force=force)
    typer.echo(f"wrote {path} (card copy: {card_path(path)}); {old} is unchanged")
