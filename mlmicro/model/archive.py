"""A zip container for model bundles that can be read without executing code.

:func:`write_archive` stores named byte strings (members) in a zip file,
atomically; :func:`read_archive` reads one back into memory once, so the bytes
that are checked are the bytes that are parsed, and refuses anything that a
bundle writer would not have made:

* member names that could escape a folder (absolute, ``..``, backslashes,
  drive letters) or that the format version does not declare
  (:data:`MEMBER_PATTERNS`), duplicate names, folders;
* members that are encrypted or compressed by other methods than stored or
  deflate;
* members or archives larger than the limits, by their declared size and by
  the size actually decompressed (zip bombs);
* members whose size or SHA-256 differs from the archive's own listing
  (``format.json``, written first by :func:`write_archive`).

Members hold data only: JSON, ``.npy`` arrays (:func:`array_to_npy` /
:func:`npy_to_array`, never with pickled objects), Parquet tables
(:func:`frame_to_parquet` / :func:`parquet_to_frame`) and XGBoost's own model
format. Signing the members is in :mod:`mlmicro.model.signing`.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
import zipfile
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from mlmicro.exceptions import ModelBundleError
from mlmicro.io import atomic_write

__all__ = [
    "ARCHIVE_FORMAT",
    "ARCHIVE_VERSION",
    "FORMAT_MEMBER",
    "MEMBER_PATTERNS",
    "MAX_MEMBER_BYTES",
    "MAX_TOTAL_BYTES",
    "write_archive",
    "read_archive",
    "array_to_npy",
    "npy_to_array",
    "frame_to_parquet",
    "parquet_to_frame",
]

ARCHIVE_FORMAT = "mlmicro-archive"
ARCHIVE_VERSION = 1
#: The archive's own listing of its members; always the first member.
FORMAT_MEMBER = "format.json"

_SEGMENT = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,159}"
#: Member names each archive format version may hold (``format.json`` aside).
MEMBER_PATTERNS: Mapping[int, tuple[re.Pattern[str], ...]] = MappingProxyType(
    {
        1: tuple(
            re.compile(pattern)
            for pattern in (
                r"(card|model|signature|trust)\.json",
                r"pipeline/state\.json",
                rf"pipeline/arrays/{_SEGMENT}\.npy",
                rf"pipeline/blobs/{_SEGMENT}\.(ubj|json)",
                rf"(cv|training)/{_SEGMENT}\.(parquet|npy|json)",
            )
        )
    }
)

#: Default limit on one member's size, decompressed.
MAX_MEMBER_BYTES = 1 << 30
#: Default limit on all members together, decompressed (and on the zip file itself).
MAX_TOTAL_BYTES = 2 << 30
_MAX_FORMAT_BYTES = 1 << 20
_COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_DATE_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so that one model always gives the same bytes
_ARRAY_KINDS = "biuf"


def _unsafe_reason(name: str) -> str | None:
    """Return why ``name`` is not a safe relative member name, or ``None``."""
    if not name:
        return "an empty name"
    if "\\" in name or ":" in name or any(ord(c) < 32 for c in name):
        return "a backslash, colon or control character"
    if name.startswith("/"):
        return "an absolute path"
    if any(part in ("", ".", "..") for part in name.split("/")):
        return "a '.', '..' or empty path segment"
    return None


def _allowed(name: str, version: int) -> bool:
    return any(p.fullmatch(name) for p in MEMBER_PATTERNS[version])


def _where(source: object) -> str:
    return (
        "the archive bytes" if isinstance(source, bytes | bytearray | memoryview) else str(source)
    )


def write_archive(
    path: str | Path, members: Mapping[str, bytes], *, version: int = ARCHIVE_VERSION
) -> Path:
    """Write ``members`` to a zip archive at ``path``, atomically.

    The archive is written to a temporary file beside ``path`` and renamed
    into place, so an interrupted write never leaves a half-written file. It
    starts with ``format.json``, which lists every member's size and SHA-256.

    Parameters
    ----------
    path : str or pathlib.Path
        Destination; missing folders are created.
    members : mapping of str to bytes
        Member name -> content. Names must be allowed by ``version``
        (:data:`MEMBER_PATTERNS`).
    version : int
        Archive format version.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ModelBundleError
        If a name is unsafe or not declared by the format, or a content is not bytes.
    """
    path = Path(path)
    if version not in MEMBER_PATTERNS:
        raise ModelBundleError(f"Unknown archive format version {version}; use {ARCHIVE_VERSION}.")
    listing: dict[str, dict[str, Any]] = {}
    for name, data in members.items():
        if not isinstance(data, bytes):
            raise ModelBundleError(
                f"Archive member {name!r} for {path} must be bytes, got {type(data).__name__}."
            )
        reason = _unsafe_reason(name)
        if reason is not None or name == FORMAT_MEMBER or not _allowed(name, version):
            raise ModelBundleError(
                f"Cannot write member {name!r} to {path}: archive format {version} does not "
                "declare that name."
            )
        listing[name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    header = {"format": ARCHIVE_FORMAT, "format_version": version, "members": listing}
    header_bytes = (json.dumps(header, indent=1, sort_keys=True) + "\n").encode("utf-8")
    with atomic_write(path) as handle, zipfile.ZipFile(handle, "w") as archive:
        for name, data in [(FORMAT_MEMBER, header_bytes), *members.items()]:
            info = zipfile.ZipInfo(name, date_time=_DATE_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return path


def _read_source(source: str | Path | bytes | bytearray | memoryview, limit: int) -> bytes:
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    else:
        path = Path(source)
        try:
            with path.open("rb") as handle:
                data = handle.read(limit + 1)
        except FileNotFoundError:
            raise ModelBundleError(
                f"Model archive {path} not found; check the path or train a model first."
            ) from None
        except OSError as exc:
            raise ModelBundleError(f"Model archive {path} cannot be read ({exc}).") from None
    if len(data) > limit:
        raise ModelBundleError(
            f"{_where(source)} is larger than {limit} bytes; refusing to read it as a model "
            "archive."
        )
    return data


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: str, limit: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    with archive.open(info) as handle:
        while block := handle.read(1 << 20):
            total += len(block)
            if total > min(info.file_size, limit):
                raise ModelBundleError(
                    f"Member {info.filename!r} of {where} decompresses to more than its declared "
                    f"{info.file_size} bytes; refusing a malformed archive."
                )
            chunks.append(block)
    return b"".join(chunks)


def _check_infos(infos: list[zipfile.ZipInfo], where: str, member_limit: int, total_limit: int):
    counts = Counter(info.filename for info in infos)
    duplicate = next((name for name, n in counts.items() if n > 1), None)
    if duplicate is not None:
        raise ModelBundleError(
            f"{where} holds member {duplicate!r} {counts[duplicate]} times; refusing an archive "
            "with duplicate names."
        )
    total = 0
    for info in infos:
        name = info.filename
        reason = _unsafe_reason(name)
        if reason is not None:
            raise ModelBundleError(
                f"{where} has a member named {name!r} ({reason}); refusing a path that could "
                "escape its folder."
            )
        if info.is_dir():
            raise ModelBundleError(f"{where} holds a folder entry {name!r}; refusing it.")
        if info.flag_bits & 0x1:
            raise ModelBundleError(f"Member {name!r} of {where} is encrypted; refusing it.")
        if info.compress_type not in _COMPRESSIONS:
            raise ModelBundleError(
                f"Member {name!r} of {where} uses compression method {info.compress_type}; "
                "only stored and deflate members are read."
            )
        if info.file_size > member_limit:
            raise ModelBundleError(
                f"Member {name!r} of {where} declares {info.file_size} bytes, more than the "
                f"{member_limit}-byte limit; refusing it."
            )
        total += info.file_size
        if total > total_limit:
            raise ModelBundleError(
                f"The members of {where} declare more than {total_limit} bytes together; "
                "refusing the archive."
            )


def _read_format(archive: zipfile.ZipFile, infos: dict[str, zipfile.ZipInfo], where: str):
    info = infos.get(FORMAT_MEMBER)
    if info is None:
        raise ModelBundleError(
            f"{where} is not an mlmicro archive (no {FORMAT_MEMBER}); pass a file made by mlmicro."
        )
    try:
        header = json.loads(_read_member(archive, info, where, _MAX_FORMAT_BYTES))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ModelBundleError(f"{FORMAT_MEMBER} of {where} is not valid JSON.") from None
    if not isinstance(header, dict) or header.get("format") != ARCHIVE_FORMAT:
        raise ModelBundleError(
            f"{where} is not an mlmicro archive; pass a file made by mlmicro train."
        )
    version = header.get("format_version")
    if isinstance(version, bool) or version not in MEMBER_PATTERNS:
        raise ModelBundleError(
            f"{where} uses archive format {version!r}; this mlmicro reads format(s) "
            f"{', '.join(map(str, MEMBER_PATTERNS))}. Upgrade mlmicro or retrain the model."
        )
    listing = header.get("members")
    if not isinstance(listing, dict) or not all(
        isinstance(v, dict) and isinstance(v.get("size"), int) and isinstance(v.get("sha256"), str)
        for v in listing.values()
    ):
        raise ModelBundleError(f"{FORMAT_MEMBER} of {where} has no valid member listing.")
    return version, listing


def read_archive(
    source: str | Path | bytes | bytearray | memoryview,
    *,
    max_member_bytes: int = MAX_MEMBER_BYTES,
    max_total_bytes: int = MAX_TOTAL_BYTES,
    where: str | None = None,
) -> dict[str, bytes]:
    """Read every member of an archive made by :func:`write_archive`.

    The file is read once, into memory; every check below is done on those
    bytes, and they are the bytes returned. Nothing is extracted to disk and
    nothing in the archive is executed.

    Parameters
    ----------
    source : str, pathlib.Path or bytes
        The archive file, or its content.
    max_member_bytes, max_total_bytes : int
        Limits on one member and on all members together (decompressed); the
        archive file itself may not exceed ``max_total_bytes`` either.
    where : str, optional
        Names the archive in error messages (default: the path, or "the archive bytes").

    Returns
    -------
    dict of str to bytes
        Member name -> content, without ``format.json``.

    Raises
    ------
    ModelBundleError
        If the file is missing, not a zip archive, or breaks any rule of the
        module docstring.
    """
    where = where or _where(source)
    data = _read_source(source, max_total_bytes)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError):
        raise ModelBundleError(
            f"{where} is not a zip archive (truncated or corrupt); save the model again."
        ) from None
    with archive:
        infos = archive.infolist()
        _check_infos(infos, where, max_member_bytes, max_total_bytes)
        by_name = {info.filename: info for info in infos}
        try:
            version, listing = _read_format(archive, by_name, where)
            unknown = sorted(n for n in by_name if n != FORMAT_MEMBER and not _allowed(n, version))
            if unknown:
                raise ModelBundleError(
                    f"{where} holds member {unknown[0]!r}, which archive format {version} does "
                    "not declare; refusing the archive."
                )
            actual = set(by_name) - {FORMAT_MEMBER}
            if actual != set(listing):
                odd = sorted(actual.symmetric_difference(listing))[0]
                raise ModelBundleError(
                    f"Member {odd!r} of {where} is not both listed in {FORMAT_MEMBER} and "
                    "present; refusing the archive."
                )
            members: dict[str, bytes] = {}
            for name in sorted(actual):
                content = _read_member(archive, by_name[name], where, max_member_bytes)
                expected = listing[name]
                if (
                    len(content) != expected["size"]
                    or hashlib.sha256(content).hexdigest() != expected["sha256"]
                ):
                    raise ModelBundleError(
                        f"Member {name!r} of {where} does not match the size and SHA-256 in "
                        f"{FORMAT_MEMBER}; the archive was changed or damaged."
                    )
                members[name] = content
        except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
            raise ModelBundleError(
                f"{where} is a damaged zip archive ({type(exc).__name__}: {exc}); "
                "save the model again."
            ) from None
    return members


# ---------------------------------------------------------------------------
# Member codecs: numeric arrays as .npy, tables as Parquet
# ---------------------------------------------------------------------------


def array_to_npy(array: np.ndarray, *, name: str = "array") -> bytes:
    """Return ``array`` as ``.npy`` bytes; only boolean and numeric dtypes are allowed.

    Raises
    ------
    ModelBundleError
        If the array holds objects, strings or a structured dtype.
    """
    array = np.asarray(array)
    if array.dtype.kind not in _ARRAY_KINDS or array.dtype.fields is not None:
        raise ModelBundleError(
            f"Array {name!r} has dtype {array.dtype}; only boolean and numeric arrays are stored."
        )
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def npy_to_array(data: bytes, *, name: str = "array") -> np.ndarray:
    """Parse ``.npy`` bytes written by :func:`array_to_npy`, never unpickling.

    The header is read first: an array whose dtype is not boolean or numeric
    (object arrays would need pickle), or whose declared shape does not
    match the bytes that follow, is refused before any data is read.

    Raises
    ------
    ModelBundleError
        If the bytes are not such a ``.npy`` array.
    """
    buffer = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(buffer)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(buffer)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(buffer)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except (ValueError, OSError, EOFError, SyntaxError, TypeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelBundleError(
            f"{name} is not a plain .npy array ({reason}); refusing it."
        ) from None
    if dtype.kind not in _ARRAY_KINDS or dtype.fields is not None or dtype.hasobject:
        raise ModelBundleError(
            f"{name} holds dtype {dtype}; only boolean and numeric arrays are read (an object "
            "array would need pickle)."
        )
    expected = math.prod(shape) * dtype.itemsize
    if len(data) - buffer.tell() != expected:
        raise ModelBundleError(
            f"{name} declares shape {shape} ({expected} bytes) but holds "
            f"{len(data) - buffer.tell()} bytes of data; refusing it."
        )
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:  # pragma: no cover - header checked above
        raise ModelBundleError(f"{name} is not a plain .npy array ({exc}).") from None


def frame_to_parquet(frame: pd.DataFrame) -> bytes:
    """Return ``frame`` as Parquet bytes (index kept)."""
    buffer = io.BytesIO()
    frame.to_parquet(buffer, engine="pyarrow", index=True)
    return buffer.getvalue()


def parquet_to_frame(data: bytes, *, name: str = "table") -> pd.DataFrame:
    """Parse Parquet bytes written by :func:`frame_to_parquet`.

    Raises
    ------
    ModelBundleError
        If the bytes are not a readable Parquet table.
    """
    try:
        return pd.read_parquet(io.BytesIO(data), engine="pyarrow")
    except (OSError, ValueError, TypeError, KeyError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelBundleError(f"{name} is not a readable Parquet table ({reason}).") from None
