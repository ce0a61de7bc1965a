"""When training shows progress: on in a terminal or a notebook, off everywhere else."""

from __future__ import annotations

import sys
from typing import Literal

from mlmicro.exceptions import ConfigError

__all__ = ["ProgressOption", "interactive", "resolve_progress"]

#: What ``mlmicro.train(progress=...)`` accepts.
ProgressOption = bool | Literal["auto"] | None


def _in_ipython() -> bool:
    """Whether the code runs in IPython or a Jupyter kernel."""
    shell = sys.modules.get("IPython")
    get = getattr(shell, "get_ipython", None)
    return bool(get is not None and get() is not None)


def interactive() -> bool:
    """Whether someone is watching: standard error is a terminal, or this is IPython/Jupyter."""
    stream = sys.stderr
    try:
        tty = bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError):  # a closed or replaced stream
        tty = False
    return tty or _in_ipython()


def resolve_progress(progress: ProgressOption) -> bool:
    """Turn ``progress`` into on or off: ``"auto"`` / ``None`` follow :func:`interactive`.

    Examples
    --------
    >>> resolve_progress(True), resolve_progress(False)
    (True, False)
    """
    if progress is None or (isinstance(progress, str) and progress == "auto"):
        return interactive()
    if isinstance(progress, bool):
        return progress
    raise ConfigError(f"progress={progress!r}: use True, False or 'auto'.")
