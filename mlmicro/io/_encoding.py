"""Turn the bytes of a text table, in whatever encoding it was saved, into UTF-8.

* A byte-order mark decides: UTF-8 (``EF BB BF``, Excel's "CSV UTF-8"),
  UTF-16 LE / BE (``FF FE`` / ``FE FF``, Excel's "Unicode text" and R's
  ``fileEncoding="UTF-16"``) and UTF-32 LE / BE. The mark is removed.
* Without a mark, a start whose every other byte is NUL is UTF-16 without
  one.
* Otherwise the text should be UTF-8. If it is not, it is read as Windows
  cp1252 (latin-1 where cp1252 leaves a byte undefined) with a
  :class:`TextEncodingWarning` naming the file and the first byte that is not
  UTF-8. A warning rather than an error: the bytes only ever spell names
  (values are ASCII digits), such files are common (Excel on Windows,
  older pipelines), and the warning tells the user to check those names.
"""

from __future__ import annotations

import codecs
import warnings

from mlmicro.exceptions import InputFileError

__all__ = [
    "TextEncodingWarning",
    "sniff_encoding",
    "bom_length",
    "decode_head",
    "to_utf8",
    "stream_encoding",
]

#: Byte-order marks, longest first (the UTF-32 LE mark starts with the UTF-16 LE one).
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_BOM_LENGTH = {name: len(bom) for bom, name in _BOMS}
_PROBE = 512
_VALIDATE_BLOCK = 1 << 22


class TextEncodingWarning(UserWarning):
    """A text file is not UTF-8 and was read in a guessed encoding (cp1252 / latin-1)."""


def sniff_encoding(head: bytes) -> str:
    """Return the encoding of a text file from its first bytes.

    Parameters
    ----------
    head : bytes
        The start of the (decompressed) file.

    Returns
    -------
    str
        ``"utf-8"`` (no mark: maybe not UTF-8 at all, see :func:`to_utf8`),
        ``"utf-8-sig"``, ``"utf-16-le"``, ``"utf-16-be"``, ``"utf-32-le"`` or
        ``"utf-32-be"``; the ``utf-16`` / ``utf-32`` names mean a mark was
        found unless :func:`bom_length` says 0.

    Examples
    --------
    >>> sniff_encoding("a,b".encode("utf-16")), sniff_encoding(b"a,b")
    ('utf-16-le', 'utf-8')
    """
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    probe = head[:_PROBE]
    if len(probe) >= 4 and b"\x00" in probe:
        odd, even = probe[1::2], probe[0::2]
        if odd.count(0) == len(odd) and 0 not in even:
            return "utf-16-le"
        if even.count(0) == len(even) and 0 not in odd:
            return "utf-16-be"
    return "utf-8"


def bom_length(data: bytes, encoding: str) -> int:
    """Return the length of the byte-order mark ``data`` starts with (0 if none)."""
    bom = next((b for b, name in _BOMS if name == encoding), b"")
    return len(bom) if bom and data.startswith(bom) else 0


def decode_head(head: bytes) -> str:
    """Decode the start of a text file for sniffing: never fails, mark removed."""
    encoding = sniff_encoding(head)
    text = head[bom_length(head, encoding) :]
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    return text.decode(codec, errors="replace").removeprefix("\ufeff")


def to_utf8(data: bytes, where: str) -> bytes:
    """Return the text ``data`` as UTF-8 bytes without a byte-order mark.

    Parameters
    ----------
    data : bytes
        The whole (decompressed) file.
    where : str
        The file, for messages.

    Returns
    -------
    bytes
        UTF-8 text; ``data`` itself when it already was (no copy).

    Raises
    ------
    InputFileError
        If a file marked (or recognised) as UTF-16 / UTF-32 is not valid in
        that encoding (for example cut short).

    Warns
    -----
    TextEncodingWarning
        If the file is not UTF-8 and was read as cp1252 / latin-1.
    """
    encoding = sniff_encoding(data[:_PROBE])
    start = bom_length(data, encoding)
    if encoding.startswith(("utf-16", "utf-32")):
        try:
            return data[start:].decode(encoding).encode("utf-8")
        except UnicodeDecodeError as err:
            label = encoding.upper().replace("-LE", " LE").replace("-BE", " BE")
            raise InputFileError(
                f"{where} looks like {label} text but byte {err.start + start} is not valid "
                f"{label} ({err.reason}); the file may be cut short, so save or download it "
                "again (as UTF-8 if you can)."
            ) from None
    body = data[start:] if start else data
    if body.isascii():
        return body
    bad = _first_invalid_utf8(body)
    if bad is None:
        return body
    try:
        text, used = body.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        text, used = body.decode("latin-1"), "latin-1"
    _warn_not_utf8(where, body, bad, used)
    return text.encode("utf-8")


def stream_encoding(head: bytes, where: str) -> str:
    """Return the codec to read a whole text file with, judged from its first bytes.

    For readers that stream a file rather than read it whole: a byte-order
    mark or UTF-16 decides; a start that is not UTF-8 means cp1252, with a
    :class:`TextEncodingWarning`. Bytes past ``head`` are not looked at.

    Parameters
    ----------
    head : bytes
        The start of the (decompressed) file.
    where : str
        The file, for the warning.

    Returns
    -------
    str
        A Python codec name.
    """
    encoding = sniff_encoding(head)
    if encoding.startswith(("utf-16", "utf-32")):
        return encoding[:6] if bom_length(head, encoding) else encoding
    if encoding == "utf-8-sig" or head.isascii():
        return encoding
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(head, final=False)  # a character cut by the end of head is fine
    except UnicodeDecodeError as err:
        _warn_not_utf8(where, head, err.start, "cp1252")
        return "cp1252"
    return "utf-8"


_CODEC_NAMES = {"cp1252": "cp1252 (Windows Western European)", "latin-1": "latin-1 (ISO-8859-1)"}


def _warn_not_utf8(where: str, data: bytes, bad: int, used: str) -> None:
    line = data.count(b"\n", 0, bad) + 1
    warnings.warn(
        f"{where} is not UTF-8 text (line {line} has the byte {data[bad : bad + 1]!r}), so it "
        f"was read as {_CODEC_NAMES[used]}; check the sample and taxon names with accents, and "
        "save the file as UTF-8 to avoid this warning.",
        TextEncodingWarning,
        stacklevel=4,
    )


def _first_invalid_utf8(data: bytes) -> int | None:
    """Return the offset of the first byte that is not valid UTF-8, or ``None``."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    for offset in range(0, len(data), _VALIDATE_BLOCK):
        block = view[offset : offset + _VALIDATE_BLOCK]
        try:
            decoder.decode(block, final=offset + _VALIDATE_BLOCK >= len(data))
        except UnicodeDecodeError as err:
            # the decoder may hold back up to 3 bytes of a character cut by the block end
            return offset + err.start - len(decoder.getstate()[0])
    return None
