"""Opt-in allocator tuning for long block-by-block prediction runs (glibc only).

Nothing here runs on import or by default: a program that owns its process
(the ``mlmicro predict`` command) opts in with :func:`reuse_freed_blocks`.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import platform
from collections.abc import Iterator

__all__ = ["reuse_freed_blocks"]

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc mallopt parameters
_GLIBC_DEFAULT_THRESHOLD = 128 * 1024


def _glibc() -> ctypes.CDLL | None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:  # pragma: no cover - glibc without a loadable libc
        return None


@contextlib.contextmanager
def reuse_freed_blocks() -> Iterator[None]:
    """Let glibc reuse freed block-sized buffers during a prediction run.

    Each block passes through several temporaries of ~80 MB (aligned,
    closed, filtered). glibc serves allocations that large with fresh pages,
    which the kernel zeroes on first touch -- as costly as the arithmetic
    itself. Raising the mmap and trim thresholds for the run keeps freed
    buffers in the heap for the next block; afterwards the defaults are set
    again and the memory is returned to the system. Elsewhere a no-op.
    """
    libc = _glibc()
    if libc is None:
        yield
        return
    libc.mallopt(_M_MMAP_THRESHOLD, 1 << 30)
    libc.mallopt(_M_TRIM_THRESHOLD, 1 << 30)
    try:
        yield
    finally:
        libc.mallopt(_M_MMAP_THRESHOLD, _GLIBC_DEFAULT_THRESHOLD)
        libc.mallopt(_M_TRIM_THRESHOLD, _GLIBC_DEFAULT_THRESHOLD)
        libc.malloc_trim(0)
