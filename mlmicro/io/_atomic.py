"""Write a file so that readers never see it half-written.

The content goes to a temporary file in the destination's folder (so the
final rename stays on one file system) and replaces the destination with
:func:`os.replace` only when writing succeeded. On any error the temporary
file is removed and the destination is left as it was.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from mlmicro.exceptions import OutputExistsError

__all__ = ["atomic_write"]


def _publish_new(temporary: Path, target: Path) -> None:
    """Give ``temporary`` the name ``target`` only if nothing has that name yet."""
    try:
        os.link(temporary, target)
    except FileExistsError:
        raise OutputExistsError(
            f"Output file {target} appeared while this run was writing it (another run?); "
            "nothing was replaced: pass --force to overwrite it or choose another path."
        ) from None
    except OSError:  # a file system without hard links: the check was made before the run
        if target.exists():
            raise OutputExistsError(
                f"Output file {target} already exists; pass --force to overwrite it."
            ) from None
        os.replace(temporary, target)
        return
    temporary.unlink()


def _default_permissions() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike[str],
    mode: str | None = "wb",
    *,
    encoding: str | None = None,
    overwrite: bool = True,
) -> Iterator[Any]:
    r"""Write ``path`` atomically.

    Parameters
    ----------
    path : str or path-like
        The destination. Missing parent folders are created.
    mode : {"wb", "w", None}
        ``"wb"`` / ``"w"``: yield an open binary / text file to write to.
        ``None``: yield the temporary file's :class:`~pathlib.Path`, for
        writers that want a path (``joblib.dump``, ``DataFrame.to_csv``).
    encoding : str, optional
        Text encoding for ``mode="w"`` (default UTF-8).
    overwrite : bool
        Replace an existing ``path``. When false, the file is published with a
        hard link, which fails if ``path`` appeared meanwhile (another run
        writing the same output): the check and the publication are one step.

    Yields
    ------
    file object or pathlib.Path
        Where to write; it becomes ``path`` when the ``with`` block ends
        without an exception.

    Examples
    --------
    >>> with atomic_write("model.bin") as handle:  # doctest: +SKIP
    ...     handle.write(b"...")
    >>> with atomic_write("table.tsv", mode=None) as tmp:  # doctest: +SKIP
    ...     frame.to_csv(tmp, sep="\t")
    """
    if mode not in ("wb", "w", None):
        raise ValueError(f"atomic_write mode must be 'wb', 'w' or None, not {mode!r}")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    temporary = Path(name)
    try:
        if mode is None:
            os.close(descriptor)
            yield temporary
        else:
            handle: IO[Any]
            if mode == "wb":
                handle = os.fdopen(descriptor, "wb")
            else:
                handle = os.fdopen(descriptor, "w", encoding=encoding or "utf-8", newline="")
            with handle:
                yield handle
                handle.flush()
                os.fsync(handle.fileno())
        os.chmod(temporary, _default_permissions())
        if overwrite:
            os.replace(temporary, target)
        else:
            _publish_new(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
