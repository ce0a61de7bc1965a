"""HMAC-SHA256 signatures over the members of an archive.

A signature proves that the members were written by someone holding the key:
any change to any member, an added or a removed member changes it. The
signature is stored as the ``signature.json`` member, with the key's id
(the first 8 hex digits of the key's SHA-256), so that a reader can say which
key signed a bundle without holding the key.

The key comes from the ``MLMICRO_SIGNING_KEY`` environment variable (hex
digits, or any other text used as raw bytes) or from a key file named by
``MLMICRO_SIGNING_KEY_FILE`` (same rule; a binary file is used as is).

Typical use::

    members[SIGNATURE_MEMBER] = signature_member(members, key)   # before write_archive
    info = verify(read_archive(path), load_signing_key())       # after read_archive
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mlmicro.exceptions import ConfigError, ModelBundleError

__all__ = [
    "KEY_ENV",
    "KEY_FILE_ENV",
    "SIGNATURE_MEMBER",
    "SignatureInfo",
    "key_id",
    "parse_key",
    "load_signing_key",
    "sign",
    "signature_member",
    "verify",
]

KEY_ENV = "MLMICRO_SIGNING_KEY"
KEY_FILE_ENV = "MLMICRO_SIGNING_KEY_FILE"
SIGNATURE_MEMBER = "signature.json"
_ALGORITHM = "hmac-sha256"
_DOMAIN = b"mlmicro-archive-signature-v1\n"
_MIN_KEY_BYTES = 16
_HEX = frozenset(string.hexdigits.encode("ascii"))


@dataclass(frozen=True)
class SignatureInfo:
    """Whether an archive was signed, by which key id, and whether that was checked.

    Attributes
    ----------
    signed : bool
        The archive holds a signature.
    key_id : str or None
        Id of the key that signed it.
    verified : bool
        The signature was checked against a key and matched.
    """

    signed: bool
    key_id: str | None
    verified: bool

    def describe(self) -> str:
        """Return one line for a model card or a log."""
        if not self.signed:
            return "unsigned"
        if self.verified:
            return f"signed by key {self.key_id}, verified"
        return f"signed by key {self.key_id}, not verified (no key given)"


def key_id(key: bytes) -> str:
    """Return the id of ``key``: the first 8 hex digits of its SHA-256.

    Examples
    --------
    >>> key_id(b"0123456789abcdef")
    '9f9f5111'
    """
    return hashlib.sha256(key).hexdigest()[:8]


def parse_key(text: str | bytes, *, where: str = KEY_ENV) -> bytes:
    """Turn a key as written in an environment variable or file into bytes.

    An even number (at least 32) of hex digits is decoded. Other text is used
    as its UTF-8 bytes, and a file that is not text byte for byte; leading and
    trailing whitespace of hex digits and text is not part of the key.

    Raises
    ------
    ConfigError
        If the key is shorter than 16 bytes.
    """
    raw = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    stripped = raw.strip()
    if len(stripped) >= 32 and len(stripped) % 2 == 0 and set(stripped) <= _HEX:
        key = bytes.fromhex(stripped.decode("ascii"))
    else:
        try:
            stripped.decode("utf-8")
            key = stripped  # text: surrounding whitespace and newlines are not part of it
        except UnicodeDecodeError:
            key = raw  # a binary key file is used byte for byte
    if len(key) < _MIN_KEY_BYTES:
        raise ConfigError(
            f"The signing key in {where} has {len(key)} bytes; use at least {_MIN_KEY_BYTES}, "
            "e.g. the output of: python -c 'import secrets; print(secrets.token_hex(32))'."
        )
    return key


def load_signing_key(
    path: str | Path | None = None, *, environ: Mapping[str, str] | None = None
) -> bytes | None:
    """Return the signing key, or ``None`` when none is configured.

    Parameters
    ----------
    path : str or pathlib.Path, optional
        A key file; takes precedence over the environment.
    environ : mapping, optional
        Environment to read (default :data:`os.environ`): ``MLMICRO_SIGNING_KEY``
        holds the key, else ``MLMICRO_SIGNING_KEY_FILE`` names a key file.

    Raises
    ------
    ConfigError
        If the key file cannot be read or the key is too short.
    """
    env = os.environ if environ is None else environ
    if path is None and env.get(KEY_ENV):
        return parse_key(env[KEY_ENV], where=KEY_ENV)
    if path is None and env.get(KEY_FILE_ENV):
        path = env[KEY_FILE_ENV]
    if path is None:
        return None
    try:
        content = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"Signing key file {path} cannot be read ({exc.strerror}).") from None
    return parse_key(content, where=str(path))


def _message(members: Mapping[str, bytes]) -> bytes:
    listing = sorted(
        (name, hashlib.sha256(data).hexdigest())
        for name, data in members.items()
        if name != SIGNATURE_MEMBER
    )
    return _DOMAIN + json.dumps(listing, separators=(",", ":")).encode("utf-8")


def sign(members: Mapping[str, bytes], key: bytes) -> str:
    """Return the HMAC-SHA256 (hex) of every member but ``signature.json``, names included."""
    return hmac.new(key, _message(members), hashlib.sha256).hexdigest()


def signature_member(members: Mapping[str, bytes], key: bytes) -> bytes:
    """Return the content of the ``signature.json`` member for ``members``."""
    record = {"algorithm": _ALGORITHM, "key_id": key_id(key), "signature": sign(members, key)}
    return (json.dumps(record, indent=1, sort_keys=True) + "\n").encode("utf-8")


def _read_record(members: Mapping[str, bytes], where: str) -> dict[str, str]:
    try:
        record = json.loads(members[SIGNATURE_MEMBER])
    except (json.JSONDecodeError, UnicodeDecodeError):
        record = None
    if (
        not isinstance(record, dict)
        or record.get("algorithm") != _ALGORITHM
        or not all(isinstance(record.get(k), str) for k in ("key_id", "signature"))
    ):
        raise ModelBundleError(
            f"{SIGNATURE_MEMBER} of {where} is not an {_ALGORITHM} signature; refusing the bundle."
        )
    return record


def verify(
    members: Mapping[str, bytes], key: bytes | None, *, where: str = "the bundle"
) -> SignatureInfo:
    """Check the signature of ``members`` against ``key``.

    With a key, the members must carry a valid signature made with that key
    (so stripping the signature does not help a forger). Without a key, a
    signature is reported but cannot be checked.

    Parameters
    ----------
    members : mapping of str to bytes
        As returned by :func:`mlmicro.model.archive.read_archive`.
    key : bytes or None
        The signing key (:func:`load_signing_key`).
    where : str
        Names the bundle in error messages.

    Returns
    -------
    SignatureInfo

    Raises
    ------
    ModelBundleError
        If a key is given and the bundle is unsigned, signed with another
        key, or its members changed after signing.
    """
    if SIGNATURE_MEMBER not in members:
        if key is not None:
            raise ModelBundleError(
                f"{where} is not signed but a signing key (id {key_id(key)}) is set; refusing "
                f"an unsigned bundle. Unset {KEY_ENV} to load unsigned bundles."
            )
        return SignatureInfo(signed=False, key_id=None, verified=False)
    record = _read_record(members, where)
    if key is None:
        return SignatureInfo(signed=True, key_id=record["key_id"], verified=False)
    if record["key_id"] != key_id(key):
        raise ModelBundleError(
            f"{where} was signed with key {record['key_id']}, but the key given is "
            f"{key_id(key)}; set {KEY_ENV} to the key that signed it."
        )
    if not hmac.compare_digest(record["signature"], sign(members, key)):
        raise ModelBundleError(
            f"The signature of {where} does not match its content: a member was changed, "
            "added or removed after signing; refusing to load it."
        )
    return SignatureInfo(signed=True, key_id=record["key_id"], verified=True)
