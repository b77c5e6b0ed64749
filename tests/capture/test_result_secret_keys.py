"""A secret a call was given never reaches the disk as a dict key, in one, or in a bytearray
of its result or of its receiver after the call.

The masking of a call's secrets (``result_filter``) ran on values only: ``{password: user}``
returned, or a bytearray holding the password, was stored as it was.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from snapy_capture import capture_args, flush, load_capture_dict

SECRET = "correct-horse-battery-staple-42"


def _on_disk(capture_dir: Path) -> bytes:
    return b"".join(path.read_bytes() for path in capture_dir.rglob("*") if path.is_file())


@capture_args(record_result=True, async_storage=False, dedupe=False)
def login(user: str, password: str) -> dict[Any, Any]:
    return {password: user, f"seen:{password}": 1, "raw": bytearray(password.encode())}


class Session:
    def __init__(self) -> None:
        self.users: dict[Any, Any] = {}
        self.buffer = bytearray()

    @capture_args(record_result=True, async_storage=False, dedupe=False)
    def open(self, password: str) -> int:
        self.users = {password: "alice", password.encode(): "bob"}
        self.buffer = bytearray(b"auth " + password.encode())
        return 1


def test_a_secret_as_a_key_or_in_a_bytearray_of_the_result_is_masked(capture_dir: Path) -> None:
    assert login("alice", SECRET)[SECRET] == "alice"  # the caller's own result is untouched
    assert flush(10)
    assert SECRET.encode() not in _on_disk(capture_dir)
    result = load_capture_dict("login", capture_dir)["result"]["value"]
    assert result == {
        "[FILTERED: key #0]": "alice",
        "seen:[FILTERED: name:password]": 1,
        "raw": bytearray(b"[FILTERED: name:password]"),
    }


def test_a_secret_as_a_key_or_in_a_bytearray_of_the_receiver_after_is_masked(
    capture_dir: Path,
) -> None:
    session = Session()
    session.open(SECRET)
    assert session.users[SECRET] == "alice"
    assert flush(10)
    assert SECRET.encode() not in _on_disk(capture_dir)
    after = load_capture_dict("Session.open", capture_dir)["self_after"]
    assert after.users == {"[FILTERED: key #0]": "alice", b"[FILTERED: name:password]": "bob"}
    assert after.buffer == bytearray(b"auth [FILTERED: name:password]")


@capture_args(record_result=True, async_storage=False, dedupe=False)
def unlock(password: str) -> dict[str, Any]:
    as_bytes = password.encode("utf-8", "surrogateescape")
    return {"message": f"unlocked with {password}", "blob": b"key=" + as_bytes}


def test_a_secret_holding_a_lone_surrogate_is_masked_and_the_call_captured(
    capture_dir: Path,
) -> None:
    """A password read with ``surrogateescape`` (a file name, an environment variable of bytes
    that are not UTF-8): the call was not captured at all (``capture failed`` warning)."""
    secret = b"pa\xffss-word".decode("utf-8", "surrogateescape")
    assert unlock(secret)["message"] == f"unlocked with {secret}"
    assert flush(10)
    stored = _on_disk(capture_dir)
    for errors in ("surrogateescape", "surrogatepass", "backslashreplace"):
        assert secret.encode("utf-8", errors) not in stored
    record = load_capture_dict("unlock", capture_dir)
    assert record["result"]["value"] == {
        "message": "unlocked with [FILTERED: name:password]",
        "blob": b"key=[FILTERED: name:password]",
    }
