"""Open an input file once: existence checks and transparent decompression.

Every reader works on a :class:`Source`, never on a bare path, so that the
checks every input needs (the file exists, is a regular file -- not a named
pipe or a device, which could block or never end --, is not empty, its
gzip/bz2 stream is complete, its lines are not absurdly long, its text is
decoded right) are made in one place with one set of messages. Input files
are only ever opened for reading.

Binary readers (BIOM HDF5, ``.qza``, Parquet) take :meth:`Source.read_bytes`;
text readers take :meth:`Source.text_bytes`, the content as UTF-8 whatever
its encoding (see :mod:`mlmicro.io._encoding`), each line checked against
:data:`~mlmicro.io._limits.MAX_LINE_BYTES` while it is decompressed.
"""

from __future__ import annotations

import bz2
import gzip
import os
import stat
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from mlmicro.exceptions import InputFileError
from mlmicro.io import _limits
from mlmicro.io._encoding import decode_head, sniff_encoding, to_utf8
from mlmicro.io._limits import LineGuard

__all__ = ["Source", "open_source", "decode_text"]

#: Magic bytes of the compressed containers read transparently.
_COMPRESSION_MAGIC: dict[str, bytes] = {"gzip": b"\x1f\x8b", "bz2": b"BZh"}
_OPENERS = {"gzip": gzip.open, "bz2": bz2.open}
_COMPRESSED_SUFFIXES = (".gz", ".gzip", ".bz2")
_HEAD_BYTES = 65_536
_BLOCK = 1 << 20
_DECOMPRESS_ERRORS = (OSError, EOFError, ValueError, zlib.error)
_NOT_REGULAR = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


@dataclass
class Source:
    """An input file, checked and ready to be read.

    Parameters
    ----------
    path : pathlib.Path
        The file as given by the user.
    compression : str or None
        ``"gzip"``, ``"bz2"`` or ``None``, found from the file's first bytes.
    """

    path: Path
    compression: str | None
    _data: bytes | None = field(default=None, repr=False)
    _text: bytes | None = field(default=None, repr=False)
    _head: bytes | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        """The file's path as a string, for messages."""
        return str(self.path)

    @property
    def stem(self) -> str:
        """The file name without compression and format extensions."""
        name = self.path.name
        for suffix in _COMPRESSED_SUFFIXES:
            if name.lower().endswith(suffix):
                name = name[: -len(suffix)]
                break
        return Path(name).stem

    def read_bytes(self) -> bytes:
        """Return the whole (decompressed) content as stored; read once, then cached.

        For binary formats; text readers use :meth:`text_bytes`.

        Raises
        ------
        InputFileError
            If the file cannot be read or its compressed stream is truncated.
        """
        if self._data is None:
            self._data = self._read(guard=None)
        return self._data

    def text_bytes(self) -> bytes:
        """Return the whole content as UTF-8 text; read once, then cached.

        A byte-order mark is removed, UTF-16 / UTF-32 are re-encoded, and a
        file that is not UTF-8 is read as cp1252 / latin-1 with a
        :class:`~mlmicro.io._encoding.TextEncodingWarning`.

        Raises
        ------
        InputFileError
            If the file cannot be read, its compressed stream is truncated,
            a line is longer than :data:`~mlmicro.io._limits.MAX_LINE_BYTES`
            or its UTF-16 / UTF-32 text is broken.
        """
        if self._text is None:
            wide = sniff_encoding(self.head(512)).startswith(("utf-16", "utf-32"))
            # UTF-16 / UTF-32 lines take 2-4 bytes a character: a loose check on the raw
            # bytes, the exact one after re-encoding
            guard = LineGuard(self.name, _limits.MAX_LINE_BYTES * (4 if wide else 1))
            if self._data is not None:
                raw = self._data
                guard.feed(raw)
            else:
                raw = self._read(guard)  # lines checked while decompressing: a bomb stops early
            text = to_utf8(raw, self.name)
            if wide:
                LineGuard(self.name).feed(text)
            self._text = text
        return self._text

    def head(self, size: int = _HEAD_BYTES) -> bytes:
        """Return the first ``size`` bytes of the (decompressed) content.

        Only the start of a compressed file is decompressed.
        """
        if self._data is not None:
            return self._data[:size]
        if self._head is None or (len(self._head) < size and len(self._head) == _HEAD_BYTES):
            head = self._read_head(max(size, _HEAD_BYTES))
            if size > _HEAD_BYTES:
                return head[:size]
            self._head = head
        return self._head[:size]

    def head_text(self, size: int = _HEAD_BYTES) -> str:
        """Return the start of the content as text (byte-order mark removed, never fails)."""
        return decode_head(self.head(size))

    def _open(self) -> BinaryIO:
        opener = _OPENERS.get(self.compression or "", open)
        return opener(self.path, "rb")

    def _read_head(self, size: int) -> bytes:
        try:
            with self._open() as handle:
                return handle.read(size)
        except _DECOMPRESS_ERRORS as err:
            raise self._read_error(err) from None

    def _read(self, guard: LineGuard | None) -> bytes:
        if self.compression is None:
            data = _read_file(self.path)
            if guard is not None:
                guard.feed(data)
            return data
        blocks = []
        try:
            with self._open() as handle:
                while block := handle.read(_BLOCK):
                    if guard is not None:
                        guard.feed(block)
                    blocks.append(block)
        except InputFileError:
            raise
        except _DECOMPRESS_ERRORS as err:
            raise self._read_error(err) from None
        return b"".join(blocks)

    def _read_error(self, err: BaseException) -> InputFileError:
        if self.compression is None:
            return InputFileError(
                f"Cannot read input file {self.path} ({_reason(err)}); "
                "check its permissions and that the disk is readable."
            )
        return InputFileError(
            f"Input file {self.path} is a truncated or corrupt {self.compression} file "
            f"({_reason(err)}); download or compress it again."
        )


def _reason(err: BaseException) -> str:
    text = getattr(err, "strerror", None) or str(err) or type(err).__name__
    return " ".join(str(text).split())


def decode_text(data: bytes) -> str:
    """Decode UTF-8 bytes (from :meth:`Source.text_bytes`), dropping a byte-order mark."""
    return data.decode("utf-8", errors="replace").removeprefix("\ufeff")


def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise InputFileError(
            f"Cannot read input file {path} ({_reason(err)}); "
            "check its permissions and that the disk is readable."
        ) from None


def open_source(path: str | os.PathLike[str]) -> Source:
    """Check that ``path`` is a readable, non-empty file and return a :class:`Source`.

    Parameters
    ----------
    path : str or path-like
        The input file; gzip or bz2 compression is recognised from its content.

    Returns
    -------
    Source
        The checked file.

    Raises
    ------
    InputFileError
        If the file is missing, is a folder, a named pipe or a device, cannot
        be read, or is empty.
    """
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise InputFileError(
            f"Input file {path} does not exist; check the path "
            f"(relative paths start from {Path.cwd()})."
        ) from None
    except (OSError, ValueError) as err:
        raise InputFileError(
            f"Cannot read input file {path} ({_reason(err)}); check the path and its permissions."
        ) from None
    if stat.S_ISDIR(mode):
        raise InputFileError(
            f"Input path {path} is a folder, not a file; give the path of the file inside it."
        )
    kind = next((what for test, what in _NOT_REGULAR if test(mode)), None)
    if kind is not None:
        raise InputFileError(
            f"Input path {path} is {kind}, not a regular file, and could block or never end; "
            f"save what it gives to a file first (e.g. `cat {path} > table.tsv`) and read that."
        )
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as err:
        raise InputFileError(
            f"Cannot read input file {path} ({_reason(err)}); check its permissions."
        ) from None
    compression = next(
        (name for name, sig in _COMPRESSION_MAGIC.items() if magic.startswith(sig)), None
    )
    source = Source(path=path, compression=compression)
    if not source.head_text(1024).strip():
        raise InputFileError(
            f"Input file {path} is empty; give a file with a table in it "
            "(was it fully downloaded or written?)."
        )
    return source
