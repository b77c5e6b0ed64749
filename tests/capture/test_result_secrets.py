"""A secret redacted from the arguments never reaches the disk through the recorded result.

The value may come back under a harmless name in a return value, an attribute, an exception
message, or as the whole result; wherever it was in the arguments (a parameter, a dict key, an
attribute, a ``("password", value)`` pair), the bytes on disk never hold it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from snapy_capture import CaptureLoader, capture_args, flush

PW = "Zq8-unlikely-pw-41"

MODES = [
    pytest.param({}, id="sync-pickle"),
    pytest.param({"async_storage": True}, id="async-pickle"),
    pytest.param({"async_storage": True, "lazy_serialization": True}, id="lazy-pickle"),
    pytest.param({"serializer": "json", "fallback_serializer": "pickle"}, id="sync-json"),
    pytest.param(
        {"serializer": "json", "fallback_serializer": "pickle", "async_storage": True},
        id="async-json",
    ),
    pytest.param({"serializer": "jsonpickle"}, id="sync-jsonpickle"),
    pytest.param({"serializer": "jsonpickle", "async_storage": True}, id="async-jsonpickle"),
]


@dataclasses.dataclass
class Credentials:
    user: str
    secret: str


class Session:
    def __init__(self, key: str) -> None:
        self.opened_with = key  # a harmless attribute name echoing the secret


def _on_disk(root: Path) -> bytes:
    assert flush(timeout=30)
    return b"".join(path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file())


@pytest.mark.parametrize("options", MODES)
def test_secrets_echoed_by_results_never_reach_the_disk(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    """Return values, attributes and exception messages are masked; other data is kept."""

    @capture_args(retention=None, record_result=True, **options)
    def connect(config: dict[str, Any]) -> list[str]:
        return [config["host"], config["password"]]

    @capture_args(retention=None, record_result=True, **options)
    def login(account: Credentials) -> str:
        raise PermissionError(f"bad secret {account.secret!r} for {account.user}")

    @capture_args(retention=None, record_result=True, **options)
    def open_session(headers: dict[str, str]) -> Session:
        return Session(headers["Authorization"])

    @capture_args(retention=None, record_result=True, **options)
    def check(secret_code: str, attempts: int) -> str:
        return f"pin {secret_code} ok after {attempts}"

    assert connect({"host": "db", "password": PW}) == ["db", PW]
    with pytest.raises(PermissionError):
        login(Credentials("bob", PW))
    assert open_session({"Authorization": PW, "Accept": "text/plain"}).opened_with == PW
    assert check("739", 2) == "pin 739 ok after 2"

    data = _on_disk(capture_dir)
    assert PW.encode() not in data
    assert b"pin 739" not in data
    loader = CaptureLoader(capture_dir)
    [record] = loader.load_all("connect")
    assert record["result"]["value"][0] == "db"
    [record] = loader.load_all("check")
    assert "ok after 2" in record["result"]["value"]
    [record] = loader.load_all("login")
    assert "for bob" in record["result"]["exception"]["message"]


@pytest.mark.parametrize("options", MODES[:3])
def test_a_short_secret_returned_whole_is_replaced(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    """A PIN returned as the whole value is replaced, whatever its length or type."""

    @capture_args(retention=None, record_result=True, **options)
    def echo(secret: int) -> int:
        return secret

    assert echo(7) == 7
    assert flush(timeout=30)
    [record] = CaptureLoader(capture_dir).load_all("echo")
    assert str(record["result"]["value"]).startswith("[FILTERED: name:")
