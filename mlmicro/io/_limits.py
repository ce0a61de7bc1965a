"""Size limits that keep a bad file from hanging a reader or exhausting memory.

* :data:`MAX_LINE_BYTES`: the longest line of a text table. The widest real
  layout -- samples as rows, ~100,000 ASVs named by full SILVA lineages -- has
  a header of about 20 MB; a longer "line" is a file with no line breaks (a
  binary file, or a decompression bomb), and is refused while it is being
  decompressed, before it fills memory.
* :data:`MAX_LABEL_CHARS`: the longest sample ID or taxon name (real lineages
  are under 1 KB; Python's ``csv`` module stops at this size too).
* :data:`MAX_VALUE`: the largest abundance. Relative abundances divide by a
  sample's total; values near the float64 maximum (1.8e308) make that total
  overflow to infinity and the sample come out as zeros.
"""

from __future__ import annotations

from mlmicro.exceptions import InputFileError

__all__ = [
    "MAX_LINE_BYTES",
    "MAX_LABEL_CHARS",
    "MAX_VALUE",
    "LineGuard",
    "format_size",
    "label_too_long_message",
]

MAX_LINE_BYTES = 32 * 1024 * 1024
MAX_LABEL_CHARS = 128 * 1024
MAX_VALUE = 1e300


def format_size(n_bytes: int) -> str:
    """Return a byte count as ``"32 MiB"`` / ``"128 KiB"`` / ``"100 bytes"``.

    Examples
    --------
    >>> format_size(32 * 1024 * 1024), format_size(131072), format_size(100)
    ('32 MiB', '128 KiB', '100 bytes')
    """
    for unit, size in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n_bytes >= size and n_bytes % size == 0:
            return f"{n_bytes // size} {unit}"
    return f"{n_bytes} bytes"


def label_too_long_message(label: str, where: str) -> str:
    """Return the error sentence for a sample ID or taxon name over :data:`MAX_LABEL_CHARS`."""
    return (
        f"A name in {where} is {len(label):,} characters long (it starts {label[:40]!r}), "
        f"over the limit of {MAX_LABEL_CHARS:,}; check the delimiter and the quotes (an "
        "unclosed quote joins many cells into one) or shorten the name."
    )


class LineGuard:
    """Check, block by block, that no line of a byte stream is longer than a limit.

    Feed it the stream's bytes in order with :meth:`feed`; it raises as soon as
    a line passes the limit, so a caller decompressing a stream can stop there.
    LF, CR LF and CR all end a line.

    Parameters
    ----------
    where : str
        The file, for the message.
    limit : int
        The longest line allowed, in bytes (line break excluded).
    """

    def __init__(self, where: str, limit: int | None = None) -> None:
        self.where = where
        self.limit = MAX_LINE_BYTES if limit is None else limit
        self._open = 0  # bytes of the unfinished line so far
        self._seen: list[bytes] = []  # the blocks fed so far (references, no copies)

    def feed(self, block: bytes) -> None:
        """Check the next bytes of the stream.

        Raises
        ------
        InputFileError
            If a line is longer than the limit.
        """
        pos, n = 0, len(block)
        while pos < n:
            budget = self.limit - self._open
            end = min(n, pos + budget + 1)
            brk = max(block.rfind(b"\n", pos, end), block.rfind(b"\r", pos, end))
            if brk < 0:
                if end - pos > budget:
                    raise self._error(block[:pos])
                self._open += n - pos
                break
            self._open = 0
            pos = brk + 1
        self._seen.append(block)

    def _error(self, start_of_block: bytes) -> InputFileError:
        # lines are counted only now, on the way out: checking a good file costs no count
        line = 1 + _count_breaks(b"".join([*self._seen, start_of_block]))
        return InputFileError(
            f"Line {line} of {self.where} is longer than {format_size(self.limit)}, the "
            "limit for one line of a text table; check that the file is a text table with one "
            "row per line (not a binary file, and not a file without line breaks)."
        )


def _count_breaks(data: bytes) -> int:
    """Count line ends in ``data`` (CR LF counts once)."""
    return data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")
