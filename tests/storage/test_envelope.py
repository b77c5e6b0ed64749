"""The capture file format: header, versions, old files, choosing the deserializer by file."""

from __future__ import annotations

import json
import platform
import shutil
from pathlib import Path
from typing import Any

import pytest

from snapy_capture import (
    CaptureFormatError,
    CaptureLoader,
    CaptureStorage,
    Redacted,
    SnapyCaptureWarning,
    __version__,
    capture_args,
    load_capture,
    load_capture_dict,
)
from snapy_capture.storage import _envelope

DATA = Path(__file__).resolve().parents[1] / "data"
FORMAT0 = DATA / "format0_capture.cap"
RECORD = {
    "function_name": "f",
    "module": "tgt_env",
    "qualname": "f",
    "args": [1, (2, 3)],
    "kwargs": {"k": {4, 5}},
    "metadata": {"call_depth": 0},
}


def header_of(path: Path) -> dict[str, Any]:
    first = path.read_bytes().split(b"\n", 1)[0]
    assert first.startswith(_envelope.MAGIC)
    header: dict[str, Any] = json.loads(first[len(_envelope.MAGIC) :])
    return header


def test_header_describes_the_file(tmp_path: Path) -> None:
    """Every capture names its format, serializer, library and Python versions; the call's
    circumstances (here its depth) are in the header, not in the payload, and come back."""
    storage = CaptureStorage(tmp_path)
    path = storage.save(RECORD)
    header = header_of(path)
    assert header == {
        "format": _envelope.UNSIGNED_FORMAT,
        "serializer": "pickle",
        "library": __version__,
        "python": platform.python_version(),
        "call": {"metadata": {"call_depth": 0}},
    }
    assert storage.read(path) == RECORD


def test_old_format_fixture_still_loads(tmp_path: Path) -> None:
    """A format-0 file (bare pickle, no header) committed in tests/data loads as before."""
    storage = CaptureStorage(tmp_path)
    storage.write("legacy_billing", "legacy_total", FORMAT0.read_bytes())
    args, kwargs = load_capture("legacy_total", tmp_path)
    assert args == ([1, 2, 3],)
    assert kwargs == {"currency": "EUR", "rounding": (2, "half-up")}
    assert load_capture_dict("legacy_billing:legacy_total", tmp_path)["timestamp"] == (
        "2023-09-15T10:30:00Z"
    )


def test_old_format_is_refused_when_a_signing_key_is_set(tmp_path: Path) -> None:
    """Format 0 carries no signature, so a storage with a key refuses it."""
    copy = tmp_path / "old.cap"
    shutil.copy(FORMAT0, copy)
    with pytest.raises(CaptureFormatError, match="unsigned capture refused"):
        CaptureStorage(tmp_path, signing_key="k").read(copy)


def test_newer_format_is_refused_with_advice(tmp_path: Path) -> None:
    """A file from a future version says which version wrote it and to upgrade."""
    storage = CaptureStorage(tmp_path)
    future = (
        _envelope.MAGIC
        + json.dumps({"format": 99, "serializer": "pickle", "library": "9.0.0"}).encode()
        + b"\n\x80\x05N."
    )
    path = storage.write("tgt_env", "f", future)
    with pytest.raises(CaptureFormatError, match=r"format 99 by snapy_capture 9\.0\.0.*upgrade"):
        storage.read(path)
    with pytest.warns(SnapyCaptureWarning, match="upgrade snapy_capture"):
        assert CaptureLoader(tmp_path).load_all("f") == []


def test_loader_picks_the_serializer_from_each_file(tmp_path: Path) -> None:
    """JSON and pickle captures of one function load whatever the configured serializer is."""
    CaptureStorage(tmp_path, serializer="json").save({**RECORD, "args": ["json"]})
    CaptureStorage(tmp_path, serializer="pickle").save({**RECORD, "args": ["pickle"]})
    CaptureStorage(tmp_path, serializer="jsonpickle").save({**RECORD, "args": ["jsonpickle"]})
    records = CaptureLoader(tmp_path).load_all("tgt_env:f")
    assert [r["args"] for r in records] == [["jsonpickle"], ["pickle"], ["json"]]
    assert all(r["kwargs"] == {"k": {4, 5}} for r in records)


def test_decorator_serializer_option_writes_json(capture_dir: Path) -> None:
    """capture_args(serializer='json') writes readable JSON that the default loader reads."""

    @capture_args(serializer="json")
    def greet(name: str, *, times: int = 1) -> str:
        return name * times

    greet("hi", times=2)
    (path,) = capture_dir.rglob("*.cap")
    assert header_of(path)["serializer"] == "json"
    assert json.loads(path.read_bytes().split(b"\n", 1)[1])["args"] == ["hi"]
    assert load_capture("greet") == (("hi",), {"times": 2})


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file"),
        (_envelope.MAGIC + b'{"format": 1, "serializer": "pickle"}', "truncated header"),
        (_envelope.MAGIC + b"{not json}\n", "unreadable header"),
        (_envelope.MAGIC + b'{"format": "1", "serializer": "pickle"}\n', "unreadable header"),
        (_envelope.MAGIC + b'{"format": 1}\n', "unreadable header"),
        (b"\x80\x05not a pickle", "cannot deserialize"),
        (_envelope.pack(b"\x80\x05N.", "pickle"), "not a capture record"),
        (_envelope.pack(b"\xff\xfe", "custom:X", text=True), "cannot deserialize"),
        (_envelope.pack(b"{}", "yaml"), "serializer 'yaml', which this storage does not know"),
    ],
)
def test_bad_files_raise_format_errors(tmp_path: Path, data: bytes, message: str) -> None:
    """Corrupt, truncated or foreign files raise CaptureFormatError naming the problem."""
    path = tmp_path / "bad.cap"
    path.write_bytes(data)
    with pytest.raises(CaptureFormatError, match=message):
        CaptureStorage(tmp_path).read(path)


@pytest.mark.parametrize(
    ("version", "message"),
    [(1, "format 1, whose signature does not bind"), (2, "signature mismatch")],
)
def test_non_ascii_signature_is_a_format_error(tmp_path: Path, version: int, message: str) -> None:
    """A forged non-ASCII 'hmac' value is refused cleanly (not a TypeError)."""
    data = (
        _envelope.MAGIC
        + json.dumps(
            {"format": version, "serializer": "pickle", "hmac": "é"}, ensure_ascii=False
        ).encode()
        + b"\n\x80\x05N."
    )
    path = CaptureStorage(tmp_path).write("tgt_env", "f", data)
    with pytest.raises(CaptureFormatError, match=message):
        CaptureStorage(tmp_path, signing_key="k").read(path)


class Rot13:
    """A user serializer object without a ``name``."""

    def dumps(self, obj: Any) -> bytes:
        return json.dumps(obj).encode()[::-1]

    def loads(self, data: bytes) -> Any:
        return json.loads(data[::-1])


def test_custom_serializer_object_round_trips_and_is_named(tmp_path: Path) -> None:
    """A serializer object is recorded by class; other storages say how to load it."""
    record = {**RECORD, "args": [1], "kwargs": {}}
    path = CaptureStorage(tmp_path, serializer=Rot13()).save(record)
    assert header_of(path)["serializer"] == "test_envelope.Rot13"
    assert CaptureStorage(tmp_path, serializer=Rot13()).read(path)["args"] == [1]
    with pytest.raises(CaptureFormatError, match=r"serializer=<that serializer>"):
        CaptureStorage(tmp_path).read(path)


FLAT_LAYOUT = DATA / "flat_layout_capture.cap"


def test_a_capture_written_before_the_layer_folders_still_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files name ``snapy_capture.filters.Redacted`` and ``snapy_capture.serializers.
    _load_main_global`` (a ``__main__`` class): both still resolve after the package moved."""
    monkeypatch.syspath_prepend(str(DATA))  # the script's importable module: flat_layout_main
    storage = CaptureStorage(tmp_path, retention=None)
    storage.write("flat_layout_main", "move", FLAT_LAYOUT.read_bytes())
    [record] = CaptureLoader(tmp_path).load_all("flat_layout_main:move")
    point, given = record["args"]
    assert (type(point).__module__, type(point).__qualname__) == ("flat_layout_main", "Point")
    assert (point.x, point.y) == (1, 2)
    assert given["user"] == "bob"
    assert isinstance(given["password"], Redacted)
    assert given["password"].reason == "name:password"
