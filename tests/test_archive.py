"""The model archive (mlmicro.model.archive) and its signatures (mlmicro.model.signing).

Every malicious archive here carries a pickle payload that would create a
marker folder if anything unpickled it; each test checks the folder is absent.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import re
import struct
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from mlmicro.exceptions import ConfigError, ModelBundleError
from mlmicro.model.archive import (
    FORMAT_MEMBER,
    array_to_npy,
    frame_to_parquet,
    npy_to_array,
    parquet_to_frame,
    read_archive,
    write_archive,
)
from mlmicro.model.persist import dump_pipeline, load_pipeline
from mlmicro.model.signing import (
    KEY_ENV,
    KEY_FILE_ENV,
    SIGNATURE_MEMBER,
    SignatureInfo,
    key_id,
    load_signing_key,
    parse_key,
    signature_member,
    verify,
)
from mlmicro.transforms import Closure, PrevalenceFilter

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))


class Payload:
    """Unpickling this creates the marker folder: proof that code ran."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.fixture
def marker(tmp_path):
    return tmp_path / "code-ran"


@pytest.fixture
def payload(marker):
    return pickle.dumps(Payload(marker))


def test_payload_runs_when_unpickled(payload, marker):
    """The payload is live: if any loader below unpickled it, the marker would exist."""
    pickle.loads(payload)
    assert marker.is_dir()


def one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert message and "\n" not in message
    return message


@pytest.fixture(scope="module")
def pipeline():
    rng = np.random.default_rng(0)
    table = pd.DataFrame(rng.random((12, 4)) + 0.1, columns=[f"g__{c}" for c in "ABCD"])
    return Pipeline([("closure", Closure()), ("filter", PrevalenceFilter())]).fit(table)


@pytest.fixture
def members(pipeline):
    return {**dump_pipeline(pipeline), "card.json": b'{"name": "test"}\n'}


def craft(entries, *, listing=None) -> bytes:
    """A zip with ``format.json`` listing ``entries`` (or ``listing``), as an attacker would."""
    if listing is None:
        listing = {
            name: {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for name, data in entries
        }
    header = {"format": "mlmicro-archive", "format_version": 1, "members": listing}
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns on duplicate names
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(FORMAT_MEMBER, json.dumps(header))
            for name, data in entries:
                archive.writestr(zipfile.ZipInfo(name), data)
    return buffer.getvalue()


def patch_central(data: bytes, name: str, offset: int, fmt: str, value: int) -> bytes:
    """Overwrite a field of ``name``'s central directory entry."""
    out = bytearray(data)
    start = 0
    while (start := out.find(b"PK\x01\x02", start)) != -1:
        length = struct.unpack_from("<H", out, start + 28)[0]
        if out[start + 46 : start + 46 + length].decode() == name:
            struct.pack_into(fmt, out, start + offset, value)
            return bytes(out)
        start += 4
    raise AssertionError(name)


# ---------------------------------------------------------------------------
# writing and reading
# ---------------------------------------------------------------------------


def test_round_trip_from_path_and_bytes(members, pipeline, tmp_path):
    path = write_archive(tmp_path / "sub" / "model.zip", members)
    assert read_archive(path) == members
    assert read_archive(path.read_bytes()) == members
    names = zipfile.ZipFile(path).namelist()
    assert names[0] == FORMAT_MEMBER
    table = pd.DataFrame(np.ones((2, 4)), columns=[f"g__{c}" for c in "ABCD"])
    rebuilt = load_pipeline(read_archive(path))
    assert np.array_equal(rebuilt.transform(table), pipeline.transform(table))


def test_same_model_same_bytes(members, tmp_path):
    first = write_archive(tmp_path / "a.zip", members).read_bytes()
    second = write_archive(tmp_path / "b.zip", members).read_bytes()
    assert first == second


def test_write_is_atomic_and_refuses_undeclared_names(members, tmp_path):
    path = write_archive(tmp_path / "model.zip", members)
    before = path.read_bytes()
    for bad in ("model.pkl", "../x.json", FORMAT_MEMBER, "pipeline/arrays/a/b.npy"):
        with pytest.raises(ModelBundleError, match="declare") as exc:
            write_archive(path, {**members, bad: b"x"})
        one_line(exc)
    with pytest.raises(ModelBundleError, match="bytes"):
        write_archive(path, {"card.json": "text"})
    assert path.read_bytes() == before  # the old archive is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.zip"]  # no temporary left


def test_not_an_archive(tmp_path):
    with pytest.raises(ModelBundleError, match="not found") as exc:
        read_archive(tmp_path / "missing.zip")
    one_line(exc)
    for data in (b"", b"PK\x03\x04 not really", pickle.dumps([1, 2])):
        with pytest.raises(ModelBundleError, match="not a zip") as exc:
            read_archive(data)
        one_line(exc)
    plain = io.BytesIO()
    with zipfile.ZipFile(plain, "w") as archive:
        archive.writestr("card.json", "{}")
    with pytest.raises(ModelBundleError, match="no format.json"):
        read_archive(plain.getvalue())


# ---------------------------------------------------------------------------
# malicious archives
# ---------------------------------------------------------------------------


def test_pickle_member_is_refused(members, payload, marker):
    data = craft([*members.items(), ("model.pkl", payload)])
    with pytest.raises(ModelBundleError, match="'model.pkl'.*not declare") as exc:
        read_archive(data)
    one_line(exc)
    assert not marker.exists()


def test_object_npy_is_refused_unread(members, marker):
    smuggled = io.BytesIO()
    np.save(smuggled, np.array([Payload(marker)], dtype=object), allow_pickle=True)
    name = "pipeline/arrays/model.filter.support_.npy"
    assert name in members
    data = craft([*{**members, name: smuggled.getvalue()}.items()])
    loaded = read_archive(data)  # the container is well formed ...
    with pytest.raises(ModelBundleError, match="support_") as exc:
        load_pipeline(loaded)  # ... but its array would need pickle
    one_line(exc)
    with pytest.raises(ModelBundleError, match="would need pickle"):
        npy_to_array(smuggled.getvalue())
    assert not marker.exists()


def test_pickle_in_any_member_never_runs(members, payload, marker):
    for name in [n for n in members if n.startswith("pipeline/")]:
        data = craft([*{**members, name: payload}.items()])
        with pytest.raises(ModelBundleError) as exc:
            load_pipeline(read_archive(data))
        one_line(exc)
    assert not marker.exists()


@pytest.mark.parametrize(
    "name",
    [
        "../evil.json",
        "pipeline/../../evil.json",
        "/etc/cron.d/evil",
        "pipeline\\state.json",
        "C:/evil.json",
        "pipeline//state.json",
        "./card.json",
    ],
)
def test_zip_slip_names_are_refused(members, payload, marker, name):
    data = craft([*members.items(), (name, payload)])
    with pytest.raises(ModelBundleError, match="escape") as exc:
        read_archive(data)
    one_line(exc)
    assert not marker.exists()


def test_duplicate_names_are_refused(members, payload, marker):
    data = craft([*members.items(), ("card.json", payload)])
    with pytest.raises(ModelBundleError, match="duplicate") as exc:
        read_archive(data)
    one_line(exc)
    assert not marker.exists()


def test_huge_declared_size_is_refused_before_reading(members):
    data = craft([*members.items()])
    bomb = patch_central(data, "card.json", 24, "<I", 0xF0000000)
    with pytest.raises(ModelBundleError, match="declares 4026531840 bytes") as exc:
        read_archive(bomb)
    one_line(exc)


def test_zip_bomb_over_the_limits_is_refused(members, tmp_path):
    zeros = bytes(20 << 20)  # 20 MiB of zeros: about 20 KiB deflated
    path = write_archive(tmp_path / "bomb.zip", {**members, "training/zeros.npy": zeros})
    assert path.stat().st_size < 1 << 20
    with pytest.raises(ModelBundleError, match="more than the 1048576-byte limit") as exc:
        read_archive(path, max_member_bytes=1 << 20)
    one_line(exc)
    with pytest.raises(ModelBundleError, match="together") as exc:
        read_archive(path, max_total_bytes=2 << 20)
    one_line(exc)
    with pytest.raises(ModelBundleError, match="larger than"):
        read_archive(path, max_total_bytes=1 << 10)  # the file itself


def test_member_larger_than_declared_is_refused(members):
    data = craft([*members.items(), ("training/zeros.npy", bytes(100_000))])
    lying = patch_central(data, "training/zeros.npy", 24, "<I", 1000)
    with pytest.raises(ModelBundleError) as exc:
        read_archive(lying)
    assert "damaged" in one_line(exc) or "does not match" in one_line(exc)


def test_encrypted_member_is_refused(members):
    data = craft([*members.items()])
    encrypted = patch_central(data, "card.json", 8, "<H", 0x1)
    with pytest.raises(ModelBundleError, match="encrypted") as exc:
        read_archive(encrypted)
    one_line(exc)


def test_unlisted_and_tampered_members_are_refused(members, payload, marker):
    entries = list(members.items())
    listing = {n: {"size": len(d), "sha256": hashlib.sha256(d).hexdigest()} for n, d in entries[1:]}
    with pytest.raises(ModelBundleError, match="not both listed") as exc:
        read_archive(craft(entries, listing=listing))
    one_line(exc)
    honest = {n: {"size": len(d), "sha256": hashlib.sha256(d).hexdigest()} for n, d in entries}
    swapped = [(n, payload if n == "card.json" else d) for n, d in entries]
    with pytest.raises(ModelBundleError, match="SHA-256") as exc:
        read_archive(craft(swapped, listing=honest))
    one_line(exc)
    assert not marker.exists()


def test_unknown_format_version_is_refused(members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            FORMAT_MEMBER, json.dumps({"format": "mlmicro-archive", "format_version": 9})
        )
    with pytest.raises(ModelBundleError, match="format 9") as exc:
        read_archive(buffer.getvalue())
    one_line(exc)


# ---------------------------------------------------------------------------
# member codecs
# ---------------------------------------------------------------------------


def test_npy_codec():
    for array in (
        np.arange(6, dtype=np.int32).reshape(2, 3),
        np.array([True, False]),
        np.linspace(0, 1, 5),
    ):
        back = npy_to_array(array_to_npy(array))
        assert back.dtype == array.dtype and np.array_equal(back, array)
    for bad in (
        np.array(["a", "b"]),
        np.array([{"a": 1}], dtype=object),
        np.zeros(2, dtype=[("x", "f8")]),
    ):
        with pytest.raises(ModelBundleError, match="dtype") as exc:
            array_to_npy(bad)
        one_line(exc)
    with pytest.raises(ModelBundleError, match="not a plain"):
        npy_to_array(b"\x93NUMPY garbage")


def npy_header(shape, descr="<f8") -> bytes:
    buffer = io.BytesIO()
    header = {"descr": descr, "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue()


def test_npy_header_is_checked_before_any_data(payload, marker):
    cases = {
        "declares shape": npy_header((10**12,)) + bytes(32),  # would allocate 8 TB
        "declares shape (4,)": npy_header((4,)) + bytes(8),  # truncated data
        "object": npy_header((1,), "|O") + payload,
    }
    for message, data in cases.items():
        with pytest.raises(ModelBundleError, match=re.escape(message)):
            npy_to_array(data)
    assert not marker.exists()


def test_parquet_codec():
    frame = pd.DataFrame(
        {"auc": [0.5, 0.75], "fold": [1, 2], "sample": ["s1", "s2"]},
        index=pd.Index(["a", "b"], name="repeat"),
    )
    back = parquet_to_frame(frame_to_parquet(frame))
    pd.testing.assert_frame_equal(back, frame)
    with pytest.raises(ModelBundleError, match="Parquet") as exc:
        parquet_to_frame(b"PAR1 nope")
    one_line(exc)


# ---------------------------------------------------------------------------
# signatures
# ---------------------------------------------------------------------------


def signed(members, key=KEY):
    return {**members, SIGNATURE_MEMBER: signature_member(members, key)}


def test_signed_archive_verifies_and_names_its_key(members, tmp_path):
    path = write_archive(tmp_path / "model.zip", signed(members))
    loaded = read_archive(path)
    assert verify(loaded, KEY) == SignatureInfo(signed=True, key_id=key_id(KEY), verified=True)
    unverified = verify(loaded, None)
    assert unverified == SignatureInfo(signed=True, key_id=key_id(KEY), verified=False)
    assert key_id(KEY) in unverified.describe()
    assert verify(members, None) == SignatureInfo(signed=False, key_id=None, verified=False)
    assert verify(members, None).describe() == "unsigned"


def test_tampered_signed_archive_is_refused(members, payload, marker, tmp_path):
    original = signed(members)
    state = json.loads(original["pipeline/state.json"])
    state["root"]["children"][1][1]["params"]["min_prevalence"] = 0.9
    forged = {**original, "pipeline/state.json": json.dumps(state).encode()}
    path = write_archive(tmp_path / "forged.zip", forged)  # listing recomputed by the forger
    with pytest.raises(ModelBundleError, match="does not match its content") as exc:
        verify(read_archive(path), KEY, where=str(path))
    assert str(path) in one_line(exc)
    for extra in ({"card.json": payload}, {"training/extra.json": b"{}"}):
        with pytest.raises(ModelBundleError, match="does not match its content"):
            verify({**original, **extra}, KEY)
    assert not marker.exists()


def test_wrong_key_and_stripped_signature_are_refused(members):
    with pytest.raises(ModelBundleError) as exc:
        verify(signed(members), OTHER_KEY)
    message = one_line(exc)
    assert key_id(KEY) in message and key_id(OTHER_KEY) in message
    with pytest.raises(ModelBundleError, match="not signed") as exc:
        verify(members, KEY)  # a forger cannot drop the signature either
    one_line(exc)
    bad = {**members, SIGNATURE_MEMBER: b'{"algorithm": "md5"}'}
    with pytest.raises(ModelBundleError, match="hmac-sha256"):
        verify(bad, None)


def test_signing_key_from_environment_or_file(tmp_path):
    hex_key = KEY.hex()
    assert load_signing_key(environ={KEY_ENV: hex_key}) == KEY
    assert load_signing_key(environ={KEY_ENV: f"  {hex_key}\n"}) == KEY
    assert load_signing_key(environ={KEY_ENV: "a passphrase of some length"}) == (
        b"a passphrase of some length"
    )
    assert load_signing_key(environ={}) is None
    text_file = tmp_path / "key.txt"
    text_file.write_text(hex_key + "\n")
    assert load_signing_key(environ={KEY_FILE_ENV: str(text_file)}) == KEY
    binary_file = tmp_path / "key.bin"
    binary_file.write_bytes(b"\xff\x00 " + bytes(range(200, 230)))
    assert load_signing_key(binary_file, environ={}) == binary_file.read_bytes()
    with pytest.raises(ConfigError, match="at least 16") as exc:
        parse_key("short")
    one_line(exc)
    with pytest.raises(ConfigError, match="cannot be read"):
        load_signing_key(tmp_path / "missing.key", environ={})
    assert key_id(KEY) == hashlib.sha256(KEY).hexdigest()[:8]
