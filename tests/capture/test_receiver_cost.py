"""What reading a receiver costs the caller: one pickling, bounded by the snapshot limit.

A receiver holding what pickle refuses (a lock, a socket, a file, a generator) is snapshotted in
one pass, the refused objects written as stand-ins that the filters turn into their
``unstorable`` placeholders (before: a failed pickling, then the whole receiver filtered live on
the caller's thread, ~10x the cost). A receiver larger than the snapshot limit is pickled up to
the limit once and stored as a ``too large`` placeholder (before: pickled up to the limit three
or four times, walked by the filters twice, then stored whole).
"""

from __future__ import annotations

import io
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from _modes import CAPTURE_MODES
from snapy_capture import CaptureLoader, capture_args, flush, load_capture_dict

MODES = CAPTURE_MODES

READS: list[str] = []


class Marker:
    """Counts how often its owner's state is read: each pickling, or each live filtering,
    asks it to reduce itself once."""

    def __reduce__(self) -> Any:
        READS.append("read")
        return (Marker, ())


class Guarded:
    """A service object as programs write them: a lock, a socket, a stream, some data."""

    def __init__(self, **extra: Any) -> None:
        self.lock = threading.Lock()
        self.name = "svc"
        self.items = [1, 2, 3]
        self.marker = Marker()
        self.__dict__.update(extra)

    def handle(self, x: int) -> int:
        return x + len(self.items)

    def take(self, rows: list[int]) -> int:
        return len(rows)


@pytest.fixture
def guarded(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[Guarded]]:
    READS.clear()
    yield Guarded
    READS.clear()


def _captured(options: dict[str, Any]) -> Any:
    return capture_args(retention=None, **options)(vars(Guarded)["handle"])


def _expected_reads(options: dict[str, Any]) -> int:
    # "self" and, with the result recorded, "self_after": one pickling each.
    return 2 if options.get("record_result") else 1


@pytest.mark.parametrize("options", MODES)
def test_a_receiver_holding_a_lock_a_socket_and_a_stream_is_read_in_one_pickling(
    capture_dir: Path,
    guarded: type[Guarded],
    monkeypatch: pytest.MonkeyPatch,
    options: dict[str, Any],
) -> None:
    with socket.socket() as sock:
        stream = io.TextIOWrapper(io.BufferedReader(io.BytesIO(b"data")))
        obj = guarded(sock=sock, stream=stream, gen=(n for n in range(3)))
        monkeypatch.setattr(Guarded, "handle", _captured(options))
        assert obj.handle(1) == 4
        assert obj.handle(2) == 5
        assert flush(timeout=30)
        READS.clear()
        assert obj.handle(3) == 6
        assert flush(timeout=30)
    # Before: a failed pickling, then the filters read it again (its __reduce_ex__) live.
    assert ["read"] * _expected_reads(options) == READS
    [record] = [r for r in CaptureLoader().load_all("Guarded.handle") if r["args"] == [3]]
    stored = vars(record["self"])
    assert (stored["name"], stored["items"]) == ("svc", [1, 2, 3])
    placeholders = {k: str(v) for k, v in stored.items() if k not in ("name", "items", "marker")}
    assert placeholders == {
        "lock": "[FILTERED: unstorable:lock]",
        "sock": "[FILTERED: unstorable:socket]",
        "stream": "[FILTERED: unstorable:TextIOWrapper]",
        "gen": "[FILTERED: unstorable:generator]",
    }
    paths = {r["path"]: r["reason"] for r in record["metadata"]["redactions"]}
    assert paths["self.lock"] == "unstorable:lock"
    assert paths["self.sock"] == "unstorable:socket"


@pytest.mark.parametrize("options", MODES)
def test_a_receiver_over_the_snapshot_limit_is_pickled_once_and_stored_as_a_placeholder(
    capture_dir: Path,
    guarded: type[Guarded],
    monkeypatch: pytest.MonkeyPatch,
    options: dict[str, Any],
) -> None:
    """2 MiB of state: neither walked by the filters on the caller's thread nor stored."""
    obj = guarded(rows=list(range(400_000)))  # pickles to ~2 MiB, twice the limit
    monkeypatch.setattr(Guarded, "handle", _captured(options))
    assert obj.handle(1) == 4
    assert flush(timeout=60)
    assert ["read"] * _expected_reads(options) == READS
    record = load_capture_dict("Guarded.handle", capture_dir)
    assert record["args"] == [1]
    assert str(record["self"]) == "[FILTERED: unstorable: too large (over 1048576 bytes)]"
    assert {"path": "self", "reason": "snapshot_limit"} in record["metadata"]["redactions"]
    if options.get("record_result"):
        assert str(record["self_after"]) == str(record["self"])
        assert record["result"] == {"value": 4}
    [file] = list(capture_dir.rglob("*.cap"))
    assert file.stat().st_size < 4096  # before: the whole 2 MiB, once per capture


@pytest.mark.parametrize("options", MODES)
def test_large_arguments_with_a_small_receiver_keep_the_receiver(
    capture_dir: Path,
    guarded: type[Guarded],
    monkeypatch: pytest.MonkeyPatch,
    options: dict[str, Any],
) -> None:
    """The call's snapshot passed the limit because of its arguments: the receiver, small,
    is stored as it is, not as a placeholder (a guard: true before too). Distinct floats:
    1.5 MiB pickled, within the arguments' size budget (an estimate: 4 bytes an item)."""
    obj = guarded()
    monkeypatch.setattr(Guarded, "take", capture_args(retention=None, **options)(Guarded.take))
    rows = [i + 0.5 for i in range(170_000)]
    assert obj.take(rows) == 170_000
    assert flush(timeout=60)
    record = load_capture_dict("Guarded.take", capture_dir)
    assert record["args"] == [rows]
    assert vars(record["self"])["items"] == [1, 2, 3]
    assert str(vars(record["self"])["lock"]) == "[FILTERED: unstorable:lock]"


@pytest.mark.parametrize("options", MODES)
def test_an_argument_holding_a_lock_is_stored_with_its_placeholder(
    capture_dir: Path, guarded: type[Guarded], options: dict[str, Any]
) -> None:
    """A plain function's arguments are pickled plainly first, with the stand-ins only when
    that fails: same capture as the live filtering gave (a guard: true before too)."""

    @capture_args(retention=None, **options)
    def serve(service: Guarded, n: int) -> int:
        return n

    assert serve(guarded(), 7) == 7
    assert flush(timeout=30)
    record = load_capture_dict("serve", capture_dir)
    stored = vars(record["args"][0])
    assert (str(stored["lock"]), stored["items"], record["args"][1]) == (
        "[FILTERED: unstorable:lock]",
        [1, 2, 3],
        7,
    )
    assert {"path": "service.lock", "reason": "unstorable:lock"} in record["metadata"]["redactions"]
