"""A receiver holding a secret no longer makes each recorded call walk it with the masking
filter, and a secret it echoes is still masked.

With ``record_result``, the instance after the call and the result are filtered with a filter
that also masks every secret the call was given (the receiver's ``api_key``): that filter has
a custom filter, so no fast path and no cache, and ran its function on every value of the
instance, on every call. Found on a legacy scheduler (python-dateutil app): 264 ms instead of
208 ms for 57 calls; on a class holding a 200-row table, 7.5 ms a call instead of 1.7 ms
(now ~1.9 ms). The instance is now filtered by the fast path, and walked with the masking
filter only when a secret's text is in what would be stored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from snapy_capture import capture_args, flush, load_capture_dict
from snapy_capture.capture import _pipeline

KEY = "sk-live-Zq81pLm0XcV3nB7tR4yW"
#: A secret of no known shape: only its name tells, so only the masking filter finds it echoed.
PLAIN_KEY = "correct-horse-battery-staple-42"
MASKED: list[Any] = []


class Client:
    def __init__(self, api_key: str, echo: bool = False) -> None:
        self.api_key = api_key
        self.rows = {f"r{i}": [i, str(i) * 3, {"n": i}] for i in range(50)}
        self.log: list[str] = []
        self.echo = echo
        self.blob = b""

    @capture_args(record_result=True)
    def fetch(self, n: int) -> dict[str, Any]:
        if self.echo:
            self.log.append(f"GET /rows/{n} with key {self.api_key}")
            self.blob = self.api_key.encode()
        return {"n": n, "row": self.rows.get(f"r{n}")}


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Counts the values the masking filter is run on (it keeps what it knows of itself)."""
    real = _pipeline.result_filter
    MASKED.clear()

    def counting(*args: Any, **kwargs: Any) -> Any:
        flt = real(*args, **kwargs)
        if flt.custom_filters:
            mask = flt.custom_filters[-1]

            def wrapper(path: str, name: str | None, value: Any) -> Any:
                MASKED.append(value)
                return mask(path, name, value)

            wrapper.__dict__.update(mask.__dict__)
            flt.custom_filters[-1] = wrapper
        return flt

    monkeypatch.setattr(_pipeline, "result_filter", counting)
    return MASKED


def test_the_instance_after_the_call_is_not_walked_with_the_masking_filter(
    capture_dir: Path, counted: list[Any]
) -> None:
    client = Client(KEY)
    for n in range(3):
        assert client.fetch(n)["n"] == n
    assert flush(10)
    # The result's few values only: before, every value of the instance too (hundreds).
    assert 0 < len(counted) < 40, len(counted)
    record = load_capture_dict("Client.fetch", capture_dir)
    assert record["self_after"].api_key == "[FILTERED: name:api_key]"
    assert record["self_after"].rows["r2"] == [2, "222", {"n": 2}]
    assert KEY.encode() not in b"".join(p.read_bytes() for p in capture_dir.rglob("*.cap"))


def test_a_secret_the_instance_echoes_is_still_masked(
    capture_dir: Path, counted: list[Any]
) -> None:
    client = Client(PLAIN_KEY, echo=True)
    client.fetch(1)
    assert flush(10)
    assert len(counted) > 40  # walked with the masking filter: the key is in the instance
    record = load_capture_dict("Client.fetch", capture_dir)
    after = record["self_after"]
    assert after.log == ["GET /rows/1 with key [FILTERED: name:api_key]"]
    assert after.blob == b"[FILTERED: name:api_key]"
    assert PLAIN_KEY.encode() not in b"".join(p.read_bytes() for p in capture_dir.rglob("*.cap"))
