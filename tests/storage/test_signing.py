"""Signed captures: with a key, nothing unsigned or altered is ever unpickled.

Each malicious file below carries a pickle whose loading creates a directory (``os.mkdir``).
The control test shows the payload is live; the other tests show it never runs.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import shutil
from pathlib import Path
from typing import Any

import pytest

from snapy_capture import (
    CaptureConfig,
    CaptureFormatError,
    CaptureLoader,
    CaptureStorage,
    ConfigError,
    SnapyCaptureWarning,
    capture_args,
    cli,
    config,
    load_capture,
    set_global_config,
)
from snapy_capture.storage import FileOperations, _envelope

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


# --- a set-but-empty key (issue 15, item 3) -------------------------------------------------


@pytest.fixture(params=["", "  \t"], ids=["empty", "blank"])
def empty_key(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """SNAP_CAPTURE_SIGNING_KEY set to nothing (CI on a fork's pull request) or to blanks."""
    value: str = request.param
    monkeypatch.setenv("SNAP_CAPTURE_SIGNING_KEY", value)
    config.reload_environment()
    return value


def test_empty_key_refuses_to_load_and_runs_no_code(
    tmp_path: Path, marker: Path, empty_key: str
) -> None:
    """An empty key is not "no key": a planted pickle is never unpickled, and the error is
    one line naming the variable."""
    root = tmp_path / "caps"
    plant(root, evil_pickle(marker))
    plant(root, _envelope.pack(evil_pickle(marker), "pickle"))
    for load in (
        lambda: load_capture("pay", root),
        lambda: CaptureLoader(root).load_all("pay"),
        lambda: CaptureStorage(root).read(next(root.rglob("*.cap"))),
    ):
        with pytest.raises(ConfigError, match="SNAP_CAPTURE_SIGNING_KEY is set but empty"):
            load()
    assert not marker.exists()


@pytest.mark.parametrize("command", [["show", "pay"], ["export", "pay"], ["list"]])
def test_empty_key_cli_refuses_with_one_line(
    tmp_path: Path, marker: Path, empty_key: str, command: list[str]
) -> None:
    """Every command that reads captures exits 1 with one line, and runs nothing."""
    root = tmp_path / "caps"
    plant(root, evil_pickle(marker))
    out, err = io.StringIO(), io.StringIO()
    code = cli.main([*command, "--path", str(root)], stdout=out, stderr=err)
    assert code == 1
    lines = err.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert "SNAP_CAPTURE_SIGNING_KEY is set but empty" in lines[0]
    assert out.getvalue() == ""
    assert not marker.exists()


def test_empty_key_in_code_is_refused_too(tmp_path: Path, marker: Path) -> None:
    """signing_key='' passed in code refuses as well (naming the argument, not the variable)."""
    root = tmp_path / "caps"
    path = plant(root, evil_pickle(marker))
    with pytest.raises(ConfigError, match=r"signing key \(signing_key\) is empty"):
        CaptureStorage(root, signing_key="").read(path)
    with pytest.raises(ConfigError, match="is empty"):
        CaptureStorage(root, signing_key=b" ").save(
            {"module": "m", "qualname": "f", "args": [], "kwargs": {}}
        )
    assert not marker.exists()


def test_empty_key_in_the_host_drops_captures_with_one_warning(
    capture_dir: Path, empty_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The host keeps running; nothing is written (never unsigned); one warning says why."""

    @capture_args()
    def pay(amount: int) -> int:
        return amount * 2

    with caplog.at_level("WARNING", logger="snapy_capture"):
        assert [pay(n) for n in range(3)] == [0, 2, 4]
    assert list(capture_dir.rglob("*.cap")) == []
    warned = [r for r in caplog.records if "SNAP_CAPTURE_SIGNING_KEY" in r.getMessage()]
    assert len(warned) == 1


# --- signatures bind the function and the number (issue 15, item 13) ------------------------


def _signed(
    root: Path, qualname: str, *amounts: int, files: FileOperations | None = None
) -> list[Path]:
    storage = CaptureStorage(root, signing_key=KEY, files=files)
    return [
        storage.save({"module": "app", "qualname": qualname, "args": [a], "kwargs": {}})
        for a in amounts
    ]


def test_signed_capture_copied_to_another_function_is_refused(tmp_path: Path) -> None:
    """A validly signed capture of app:refund placed as app:transfer's newest is refused."""
    root = tmp_path / "caps"
    [refund] = _signed(root, "refund", 999)
    [transfer] = _signed(root, "transfer", 10)
    copy = transfer.with_name(f"{int(transfer.name[:12]) + 1:012d}.cap")
    shutil.copy(refund, copy)
    loader = CaptureLoader(storage=CaptureStorage(root, signing_key=KEY))
    with pytest.warns(SnapyCaptureWarning, match=f"skipping {copy}"):
        assert loader.load_latest("app:transfer") == ((10,), {})


def test_signature_covers_the_function_name(tmp_path: Path) -> None:
    """Checked on the envelope alone: a signature made for refund fails for transfer."""
    root = tmp_path / "caps"
    [refund] = _signed(root, "refund", 999)
    data = refund.read_bytes()
    seq = int(refund.name[:12])
    assert _envelope.unpack(data, key=KEY.encode(), function="app:refund", seq=seq)
    with pytest.raises(CaptureFormatError, match="not capture 0 of app:transfer"):
        _envelope.unpack(data, key=KEY.encode(), function="app:transfer", seq=seq)


def test_renumbered_signed_capture_is_refused(tmp_path: Path) -> None:
    """An old capture renamed to a newer number does not pass for the newest one."""
    root = tmp_path / "caps"
    first, second = _signed(root, "transfer", 1, 2)
    renamed = second.with_name(f"{int(second.name[:12]) + 1:012d}.cap")
    shutil.copy(first, renamed)
    loader = CaptureLoader(storage=CaptureStorage(root, signing_key=KEY))
    with pytest.warns(SnapyCaptureWarning, match="copied or renumbered"):
        assert loader.load_latest("app:transfer") == ((2,), {})


def test_format_1_signed_capture_needs_no_key_to_load_and_is_refused_with_one(
    tmp_path: Path,
) -> None:
    """A capture signed by an older version (format 1) does not bind its function: refused
    where signatures are required, with a message saying so; still loads without a key."""
    root = tmp_path / "caps"
    payload = pickle.dumps({"module": "app", "qualname": "old", "args": [7], "kwargs": {}})
    header: dict[str, Any] = {"format": 1, "serializer": "pickle", "library": "0.1.0"}
    header["hmac"] = _envelope._mac_v1(KEY.encode(), header, payload)
    data = _envelope.MAGIC + json.dumps(header).encode() + b"\n" + payload
    path = CaptureStorage(root).write("app", "old", data)
    assert load_capture("app:old", root) == ((7,), {})
    with pytest.raises(CaptureFormatError, match=r"format 1 by snapy_capture 0\.1\.0, whose"):
        CaptureStorage(root, signing_key=KEY).read(path)


def test_signing_with_named_temporary_files(tmp_path: Path) -> None:
    """Where O_TMPFILE is unavailable the signature is written through the temp file's name."""
    root = tmp_path / "caps"
    _signed(root, "transfer", 1, 2, files=FileOperations(unnamed_temps=False))
    loader = CaptureLoader(storage=CaptureStorage(root, signing_key=KEY))
    assert [r["args"] for r in loader.load_all("app:transfer")] == [[2], [1]]
