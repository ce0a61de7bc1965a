"""The one check of where a command will write, made before any work is done.

Every command that writes (``transform``, ``train``, ``predict``, ``explain``)
calls :func:`check_output` first, so a long run never ends in an error about
its output path, an input is never overwritten (``--force`` or not), and an
existing output is replaced only with ``force``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from mlmicro.exceptions import OutputExistsError

__all__ = ["check_output", "same_file"]


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Return whether two paths name the same file (following links), existing or not."""
    first, second = Path(a), Path(b)
    try:
        if first.exists() and second.exists():
            return os.path.samefile(first, second)
    except OSError:
        pass
    return first.resolve() == second.resolve()


def _writable_folder(folder: Path) -> Path:
    """Return the nearest existing ancestor of ``folder``, refusing a file on the way."""
    current = folder
    while not current.exists():
        if current.parent == current:
            break
        current = current.parent
    if current.exists() and not current.is_dir():
        raise OutputExistsError(
            f"Cannot write under {folder}: {current} is a file, not a folder; choose another "
            "output path."
        )
    if current.exists() and not os.access(current, os.W_OK | os.X_OK):
        raise OutputExistsError(
            f"Cannot write to {folder}: the folder {current} is not writable; choose another "
            "output path or fix its permissions."
        )
    return current


def check_output(
    path: str | os.PathLike[str],
    *,
    force: bool = False,
    inputs: Iterable[str | os.PathLike[str] | None] = (),
    companions: Iterable[str | os.PathLike[str]] = (),
    kind: Literal["file", "folder"] = "file",
    option: str = "--output",
) -> Path:
    """Refuse an output path that cannot or must not be written, before any work.

    Parameters
    ----------
    path : path-like
        The output file (or folder, with ``kind="folder"``).
    force : bool
        Replace an existing output.
    inputs : iterable of path-like
        The command's input files: the output (and its companions) may never
        be one of them, whatever ``force`` says.
    companions : iterable of path-like
        Files written beside the output (a model card), checked the same way.
    kind : {"file", "folder"}
        What ``path`` must be.
    option : str
        The option naming ``path``, for messages.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    OutputExistsError
        On an existing output without ``force``, an output that is an input,
        a folder given for a file (or a file for a folder), a parent that is
        a file, or a folder that is not writable.

    Examples
    --------
    >>> check_output("out/predictions.tsv", inputs=["cohort.tsv"])
    PosixPath('out/predictions.tsv')
    """
    target = Path(path)
    given = [Path(p) for p in inputs if p is not None]
    for candidate in (target, *(Path(c) for c in companions)):
        for source in given:
            if same_file(candidate, source):
                raise OutputExistsError(
                    f"{option} {candidate} is one of the inputs ({source}); mlmicro never "
                    "overwrites an input, --force or not: choose another output path."
                )
    if kind == "file":
        if target.is_dir():
            raise OutputExistsError(
                f"{option} {target} is a folder; give a file name (e.g. {target / 'out.tsv'})."
            )
        files = (target, *(Path(c) for c in companions))
        existing = [f for f in files if f.exists()]
        if existing and not force:
            raise OutputExistsError(
                f"Output file {existing[0]} already exists; pass --force to overwrite it or "
                "choose another path."
            )
        _writable_folder(target.parent if str(target.parent) else Path("."))
    else:
        if target.exists() and not target.is_dir():
            raise OutputExistsError(
                f"{option} {target} is a file, not a folder; give a folder for the outputs."
            )
        _writable_folder(target)
    return target
