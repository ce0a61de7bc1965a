"""The Typer app and how every command reports errors and warnings."""

from __future__ import annotations

import functools
import sys
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from mlmicro.exceptions import MlmicroError

__all__ = ["app", "handle_errors", "echo_error"]

app = typer.Typer(
    name="mlmicro",
    help=(
        "Predict autoimmune status from microbiome profiles and name the strains that "
        "drive each prediction."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

F = TypeVar("F", bound=Callable[..., Any])


def echo_error(message: str) -> None:
    """Print a one-line error to standard error."""
    typer.echo(f"error: {' '.join(str(message).split())}", err=True)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    typer.echo(f"warning: {' '.join(str(message).split())}", err=True)


def handle_errors(func: F) -> F:
    """Turn mlmicro errors into a one-line message and exit status 1; warnings into one line."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        previous = warnings.showwarning
        warnings.showwarning = _show_warning
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("default")
                warnings.filterwarnings("ignore", category=DeprecationWarning)
                warnings.filterwarnings("ignore", category=FutureWarning)
                return func(*args, **kwargs)
        except MlmicroError as exc:
            echo_error(str(exc))
            raise typer.Exit(code=1) from None
        except KeyboardInterrupt:
            echo_error("interrupted; no output was written.")
            raise typer.Exit(code=130) from None
        except MemoryError:
            echo_error("out of memory; use --chunk-size or a smaller table.")
            raise typer.Exit(code=1) from None
        finally:
            warnings.showwarning = previous

    return wrapper  # type: ignore[return-value]


def version_callback(value: bool) -> None:
    """Print the version and exit (``--version``)."""
    if value:
        from mlmicro import __version__

        typer.echo(f"mlmicro {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        callback=version_callback,
        is_eager=True,
        help="Show the version and exit.",
    ),
) -> None:
    """Predict autoimmune status from microbiome profiles."""


def main() -> None:
    """Console-script entry point."""
    app(prog_name="mlmicro")
    sys.exit(0)
