"""Open an input file once: existence checks and transparent decompression.

Every reader works on a :class:`Source`, never on a bare path, so that the
checks every input needs (the file exists, is a file, is not empty, its
gzip/bz2 stream is complete) are made in one place with one set of messages.
Input files are only ever opened for reading.
"""

from __future__ import annotations

import bz2
import gzip
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from mlmicro.exceptions import InputFileError

__all__ = ["Source", "open_source"]

#: Magic bytes of the compressed containers read transparently.
_COMPRESSION_MAGIC: dict[str, bytes] = {"gzip": b"\x1f\x8b", "bz2": b"BZh"}
_DECOMPRESSORS = {"gzip": gzip.decompress, "bz2": bz2.decompress}
_COMPRESSED_SUFFIXES = (".gz", ".gzip", ".bz2")
_HEAD_BYTES = 65_536


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
        """Return the whole (decompressed) content; read once, then cached.

        Raises
        ------
        InputFileError
            If the file cannot be read or its compressed stream is truncated.
        """
        if self._data is None:
            raw = _read_file(self.path)
            if self.compression is not None:
                try:
                    raw = _DECOMPRESSORS[self.compression](raw)
                except (OSError, EOFError, ValueError, zlib.error) as err:
                    raise InputFileError(
                        f"Input file {self.path} is a truncated or corrupt {self.compression} "
                        f"file ({err}); download or compress it again."
                    ) from None
            self._data = raw
        return self._data

    def head(self, size: int = _HEAD_BYTES) -> bytes:
        """Return the first ``size`` bytes of the (decompressed) content."""
        if self.compression is None and self._data is None:
            with self.path.open("rb") as handle:
                return handle.read(size)
        return self.read_bytes()[:size]

    def head_text(self, size: int = _HEAD_BYTES) -> str:
        """Return the start of the content as text (UTF-8, byte-order mark removed)."""
        return decode_text(self.head(size))


def decode_text(data: bytes) -> str:
    """Decode bytes as UTF-8, replacing bad bytes and dropping a byte-order mark."""
    return data.decode("utf-8", errors="replace").removeprefix("\ufeff")


def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise InputFileError(
            f"Cannot read input file {path} ({err.strerror or err}); "
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
        If the file is missing, is a folder, cannot be read, or is empty.
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(
            f"Input file {path} does not exist; check the path "
            f"(relative paths start from {Path.cwd()})."
        )
    if path.is_dir():
        raise InputFileError(
            f"Input path {path} is a folder, not a file; give the path of the file inside it."
        )
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as err:
        raise InputFileError(
            f"Cannot read input file {path} ({err.strerror or err}); check its permissions."
        ) from None
    compression = next(
        (name for name, sig in _COMPRESSION_MAGIC.items() if magic.startswith(sig)), None
    )
    source = Source(path=path, compression=compression)
    if not source.head(1024).strip():
        raise InputFileError(
            f"Input file {path} is empty; give a file with a table in it "
            "(was it fully downloaded or written?)."
        )
    return source
