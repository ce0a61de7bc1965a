"""The Typer app and how every command reports errors and warnings."""

from __future__ import annotations

import enum
import functools
import inspect
import signal
import sys
import threading
import types
import typing
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import typer

from mlmicro.exceptions import MlmicroError

__all__ = ["app", "handle_errors", "echo_error", "readable_metavars"]

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


class _Terminated(BaseException):
    """SIGTERM arrived: unwind like an interrupt, so temporary files are removed."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise _Terminated()


def _install_sigterm() -> Any:
    """Turn SIGTERM into an exception for the command's run (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _raise_terminated)


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
        handler = _install_sigterm()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("default")
                warnings.filterwarnings("ignore", category=DeprecationWarning)
                warnings.filterwarnings("ignore", category=FutureWarning)
                return func(*args, **kwargs)
        except MlmicroError as exc:
            echo_error(str(exc))
            raise typer.Exit(code=1) from None
        except _Terminated:
            echo_error("terminated; no output was written.")
            raise typer.Exit(code=143) from None
        except OSError as exc:  # the file system said no: name the file, never a traceback
            where = f" ({exc.filename})" if exc.filename else ""
            echo_error(f"{exc.strerror or exc}{where}; check the path and its permissions.")
            raise typer.Exit(code=1) from None
        except KeyboardInterrupt:
            echo_error("interrupted; no output was written.")
            raise typer.Exit(code=130) from None
        except MemoryError:
            echo_error("out of memory; use --chunk-size or a smaller table.")
            raise typer.Exit(code=1) from None
        finally:
            warnings.showwarning = previous
            if handler is not None:
                signal.signal(signal.SIGTERM, handler)

    return wrapper  # type: ignore[return-value]


_METAVARS: dict[type, str] = {str: "TEXT", Path: "PATH", int: "INTEGER", float: "NUMBER"}


def _metavar(annotation: Any, name: str, argument: bool) -> str | None:
    """Return the metavar ``--help`` shows for one parameter (``None``: Typer's own)."""
    if argument:
        return name.upper()
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        kinds = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = kinds[0] if len(kinds) == 1 else annotation
    if typing.get_origin(annotation) is list:
        return "VALUE"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "[" + "|".join(str(m.value) for m in annotation) + "]"
    return _METAVARS.get(annotation) if isinstance(annotation, type) else None


def readable_metavars(typer_app: typer.Typer) -> None:
    """Give every option of every command a plain metavar (``TEXT``, ``PATH``, ``VALUE``).

    Typer shows Python types (``<str>``, ``<list[str]>``) by default; an
    explicit ``metavar=`` on an option is kept.
    """
    for command in typer_app.registered_commands:
        signature = inspect.signature(command.callback, eval_str=True)
        for name, parameter in signature.parameters.items():
            info = parameter.default
            if not isinstance(info, typer.models.ParameterInfo) or info.metavar is not None:
                continue
            argument = isinstance(info, typer.models.ArgumentInfo)
            info.metavar = _metavar(parameter.annotation, name, argument)


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
    """Console-script entry point: usage errors too are one ``error:`` line."""
    try:
        code = app(prog_name="mlmicro", standalone_mode=False)
    except typer.Abort:
        echo_error("interrupted; no output was written.")
        sys.exit(130)
    except Exception as exc:
        if not callable(getattr(exc, "format_message", None)):
            raise
        if type(exc).__name__ == "NoArgsIsHelpError":  # plain `mlmicro`: the help
            typer.echo(exc.format_message())
            sys.exit(0)
        # Typer's usage errors: a missing argument, an option out of its range
        context = getattr(exc, "ctx", None)
        command = getattr(context, "command_path", "mlmicro")
        echo_error(f"{exc.format_message()} (see: {command} --help)")
        sys.exit(getattr(exc, "exit_code", 2))
    sys.exit(code if isinstance(code, int) else 0)
