"""Signed captures: with a key, nothing unsigned or altered is ever unpickled.

Each malicious file below carries a pickle whose loading creates a directory (``os.mkdir``).
The control test shows the payload is live; the other tests show it never runs.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

import pytest

from snapy_capture import (
    CaptureConfig,
    CaptureFormatError,
    CaptureLoader,
    CaptureStorage,
    SnapyCaptureWarning,
    _envelope,
    capture_args,
    config,
    load_capture,
    set_global_config,
)

KEY = "correct horse battery staple"


class Payload:
    """Pickles to ``os.mkdir(marker)``: loading it has a visible side effect."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return os.mkdir, (str(self.marker),)


def evil_pickle(marker: Path) -> bytes:
    record = {
        "function_name": "pay",
        "module": "tgt_bank",
        "qualname": "pay",
        "args": [Payload(marker)],
        "kwargs": {},
        "metadata": {},
    }
    return pickle.dumps(record)


def plant(root: Path, data: bytes) -> Path:
    """Put ``data`` in the capture directory as the newest capture of tgt_bank:pay."""
    return CaptureStorage(root, signing_key=b"unused").write("tgt_bank", "pay", data)


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "payload-ran"


def test_control_the_payload_runs_without_a_key(tmp_path: Path, marker: Path) -> None:
    """Without a key an unsigned pickle is trusted: the payload really runs (see README)."""
    path = plant(tmp_path / "caps", evil_pickle(marker))
    CaptureStorage(tmp_path / "caps", signing_key=None).read(path)
    assert marker.exists()


def assert_refused(root: Path, path: Path, marker: Path, message: str) -> None:
    with pytest.raises(CaptureFormatError, match=message):
        CaptureStorage(root, signing_key=KEY).read(path)
    with pytest.warns(SnapyCaptureWarning, match=message):
        assert CaptureLoader(storage=CaptureStorage(root, signing_key=KEY)).load_all("pay") == []
    assert not marker.exists()


def test_unsigned_old_format_pickle_is_refused(tmp_path: Path, marker: Path) -> None:
    """A bare pickle dropped into the capture directory is never unpickled."""
    root = tmp_path / "caps"
    path = plant(root, evil_pickle(marker))
    assert_refused(root, path, marker, "unsigned capture refused")


def test_unsigned_current_format_pickle_is_refused(tmp_path: Path, marker: Path) -> None:
    """A well-formed header without a signature is refused too."""
    root = tmp_path / "caps"
    path = plant(root, _envelope.pack(evil_pickle(marker), "pickle"))
    assert_refused(root, path, marker, "unsigned capture refused")


def test_tampered_signed_capture_is_refused(tmp_path: Path, marker: Path) -> None:
    """A signed capture whose payload was swapped fails its signature before unpickling."""
    root = tmp_path / "caps"
    signed = CaptureStorage(root, signing_key=KEY).save(
        {"module": "tgt_bank", "qualname": "pay", "args": [10], "kwargs": {}, "metadata": {}}
    )
    header = signed.read_bytes().split(b"\n", 1)[0]
    signed.write_bytes(header + b"\n" + evil_pickle(marker))
    assert_refused(root, signed, marker, "signature mismatch")


def test_relabelled_serializer_is_refused(tmp_path: Path, marker: Path) -> None:
    """The signature covers the header: switching 'json' to 'pickle' breaks it."""
    root = tmp_path / "caps"
    path = CaptureStorage(root, signing_key=KEY, serializer="json").save(
        {"module": "tgt_bank", "qualname": "pay", "args": [1], "kwargs": {}, "metadata": {}}
    )
    first, _ = path.read_bytes().split(b"\n", 1)
    header = json.loads(first[len(_envelope.MAGIC) :])
    header["serializer"] = "pickle"
    path.write_bytes(_envelope.MAGIC + json.dumps(header).encode() + b"\n" + evil_pickle(marker))
    assert_refused(root, path, marker, "signature mismatch")


def test_capture_signed_with_another_key_is_refused(tmp_path: Path, marker: Path) -> None:
    """An attacker's own key does not help."""
    root = tmp_path / "caps"
    path = plant(root, _envelope.pack(evil_pickle(marker), "pickle", key=b"attacker key"))
    assert_refused(root, path, marker, "signature mismatch")


def test_environment_key_signs_and_verifies_end_to_end(
    capture_dir: Path, monkeypatch: pytest.MonkeyPatch, marker: Path
) -> None:
    """SNAP_CAPTURE_SIGNING_KEY signs decorator captures; the loader then refuses the rest."""
    monkeypatch.setenv("SNAP_CAPTURE_SIGNING_KEY", KEY)
    config.reload_environment()

    @capture_args()
    def pay(amount: int, *, currency: str) -> int:
        return amount

    pay(10, currency="EUR")
    (path,) = capture_dir.rglob("*.cap")
    assert "hmac" in json.loads(path.read_bytes().split(b"\n", 1)[0][len(_envelope.MAGIC) :])
    assert load_capture("pay") == ((10,), {"currency": "EUR"})

    # A planted file newer than the genuine one is skipped with a warning; the genuine loads.
    info = CaptureLoader().resolve("pay")
    module, qualname = info.split(":")
    CaptureStorage(capture_dir).write(module, qualname, evil_pickle(marker))
    with pytest.warns(SnapyCaptureWarning, match="unsigned capture refused"):
        assert load_capture("pay") == ((10,), {"currency": "EUR"})
    assert not marker.exists()


def test_global_config_key_binds_custom_storages(tmp_path: Path) -> None:
    """A storage built without a key uses the configured one, so it signs and verifies."""
    set_global_config(CaptureConfig(signing_key=KEY.encode()))
    storage = CaptureStorage(tmp_path)
    assert storage.signing_key == KEY.encode()
    path = storage.save({"module": "m", "qualname": "f", "args": [], "kwargs": {}, "metadata": {}})
    assert b'"hmac"' in path.read_bytes().split(b"\n", 1)[0]
    with pytest.raises(CaptureFormatError, match="signature mismatch"):
        CaptureStorage(tmp_path, signing_key="another").read(path)
