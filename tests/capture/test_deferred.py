"""The caller's side of async captures: what a queued capture holds, and what it costs to queue."""

from __future__ import annotations

import collections
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from snapy_capture import CaptureLoader, CaptureProfiler, capture_args, flush
from snapy_capture.capture import _writer, stats

ASYNC_MODES = [
    pytest.param({"async_storage": True}, id="async"),
    pytest.param({"async_storage": True, "lazy_serialization": True}, id="lazy"),
]


@pytest.fixture(autouse=True)
def _drained() -> Iterator[None]:
    assert flush(timeout=30)
    yield
    assert flush(timeout=30)


class _CountingEvent(threading.Event):
    def __init__(self) -> None:
        super().__init__()
        self.sets = 0

    def set(self) -> None:
        self.sets += 1
        super().set()


class _AsleepWriter:
    """Stands in for a writer thread that went idle and has not run since."""

    def __init__(self) -> None:
        self.jobs: collections.deque[Any] = collections.deque()
        self.idle = True
        self.wake = _CountingEvent()
        self.queued_bytes = 0
        lock = threading.Lock()
        self.acquire, self.release = lock.acquire, lock.release


def test_a_burst_of_captures_wakes_the_idle_writer_once(
    capture_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Until the woken writer gets the GIL back it still looks idle: the rest of the burst must
    not pay for waking it again (an Event.set() each, which made a burst 30% slower)."""

    @capture_args(retention=None, async_storage=True)
    def burst(i: int) -> int:
        return i

    asleep = _AsleepWriter()
    monkeypatch.setattr(_writer, "_writer", asleep)
    try:
        results = [burst(i) for i in range(50)]
    finally:
        monkeypatch.undo()
    assert results == list(range(50))
    assert len(asleep.jobs) == 50
    assert asleep.wake.sets == 1
    for entry in asleep.jobs:  # what the real writer would have done
        entry[0](entry)
    assert sorted(r["args"][0] for r in CaptureLoader().load_all("burst")) == list(range(50))


def test_a_writer_that_does_not_keep_up_holds_at_most_max_queued_bytes(
    capture_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Snapshots up to SMALL_JOB count that much each (by the queue's length, no lock), larger
    ones their size on top; past MAX_QUEUED_BYTES new captures are dropped and counted, long
    before queue_size (10,000) is reached."""
    monkeypatch.setattr(_writer, "MAX_QUEUED_BYTES", 16 * _writer.SMALL_JOB)

    @capture_args(retention=None, async_storage=True)
    def small(i: int) -> int:
        return i

    @capture_args(retention=None, async_storage=True)
    def large(i: int, blob: str) -> int:
        return i

    asleep = _AsleepWriter()
    monkeypatch.setattr(_writer, "_writer", asleep)
    before = stats()["dropped"]
    assert [small(i) for i in range(30)] == list(range(30))
    assert len(asleep.jobs) == 16  # 16 x 1 KiB
    assert stats()["dropped"] - before == 14
    assert asleep.queued_bytes == 0  # counted by number

    jobs = list(asleep.jobs)
    asleep.jobs.clear()
    blob = "x" * (5 * _writer.SMALL_JOB)
    assert [large(i, blob) for i in range(5)] == list(range(5))
    assert len(asleep.jobs) == 2  # (1 KiB + 5 KiB) x 2 fit in 16 KiB, a third does not
    assert asleep.queued_bytes > 10 * _writer.SMALL_JOB
    assert stats()["dropped"] - before == 14 + 3
    jobs += asleep.jobs
    monkeypatch.undo()
    for entry in jobs:  # what the real writer would have done
        entry[0](entry)
    assert [r["args"][0] for r in CaptureLoader().load_all("large")] == [1, 0]
    assert len(CaptureLoader().load_all("small")) == 16


def test_captures_too_large_to_snapshot_count_their_encoded_size(
    capture_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Arguments past the snapshot limit are filtered and encoded on the caller's thread and
    queued encoded: those bytes count against MAX_QUEUED_BYTES too (they counted 1 KiB).

    The arguments' size budget is an estimate (an item 4 bytes; a float pickles to 9): distinct
    floats pass the 1 MiB snapshot limit pickled and stay within the budget, stored whole."""
    monkeypatch.setattr(_writer, "MAX_QUEUED_BYTES", 4 * 1024 * 1024)

    @capture_args(retention=None, async_storage=True)
    def bulky(i: int, blob: list[float]) -> int:
        return i

    blob = [i + 0.5 for i in range(170_000)]  # 1.5 MiB pickled, past the snapshot limit
    asleep = _AsleepWriter()
    monkeypatch.setattr(_writer, "_writer", asleep)
    before = stats()["dropped"]
    assert [bulky(i, blob) for i in range(5)] == list(range(5))
    assert len(asleep.jobs) == 2  # 1.5 MiB each: a third would pass 4 MiB
    assert stats()["dropped"] - before == 3
    jobs = list(asleep.jobs)
    monkeypatch.undo()
    for entry in jobs:
        entry[0](entry)
    assert [r["args"][0] for r in CaptureLoader().load_all("bulky")] == [1, 0]


def test_a_capture_larger_than_the_whole_bound_still_goes_into_an_empty_queue(
    capture_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its bytes are in memory already, and a synchronous capture would write it: it is queued
    when nothing else is; behind other captures it is dropped like any that does not fit."""
    monkeypatch.setattr(_writer, "MAX_QUEUED_BYTES", 1024 * 1024)

    @capture_args(retention=None, async_storage=True)
    def oversized(i: int, blob: list[float]) -> int:
        return i

    asleep = _AsleepWriter()
    monkeypatch.setattr(_writer, "_writer", asleep)
    before = stats()["dropped"]
    blob = [i + 0.5 for i in range(170_000)]  # 1.5 MiB pickled, within the size budget
    assert [oversized(i, blob) for i in range(3)] == [0, 1, 2]
    assert len(asleep.jobs) == 1
    assert stats()["dropped"] - before == 2
    jobs = list(asleep.jobs)
    monkeypatch.undo()
    for entry in jobs:
        entry[0](entry)
    assert [r["args"][0] for r in CaptureLoader().load_all("oversized")] == [0]


def test_the_writer_gives_back_the_bytes_it_has_written(capture_dir: Path) -> None:
    """Large snapshots are counted while queued and uncounted once written."""

    @capture_args(retention=None, async_storage=True, dedupe=False)
    def large(blob: str) -> int:
        return len(blob)

    for _ in range(5):
        large("y" * (10 * _writer.SMALL_JOB))
    assert flush(timeout=30)
    writer = _writer._writer
    assert writer is not None
    assert writer.queued_bytes == 0
    assert len(CaptureLoader().load_all("large")) == 5


class Service:
    @capture_args(retention=None, async_storage=True)
    def method(self, x: int) -> int:
        return x + 1

    @classmethod
    @capture_args(retention=None, async_storage=True, lazy_serialization=True)
    def inner_classmethod(cls, x: int) -> str:
        return f"{cls.__name__}{x}"

    @capture_args(retention=None, async_storage=True)
    @classmethod
    def outer_classmethod(cls, x: int) -> str:
        return f"{cls.__name__}{x}"

    @staticmethod
    @capture_args(retention=None, async_storage=True, lazy_serialization=True)
    def static(x: int) -> int:
        return x * 2


@pytest.mark.parametrize(
    ("call", "name", "expected_result", "expected_args"),
    [
        (lambda: Service().method(1), "Service.method", 2, [1]),
        (lambda: Service.method(Service(), 5), "Service.method", 6, [5]),
        (lambda: Service.inner_classmethod(2), "inner_classmethod", "Service2", [2]),
        (lambda: Service().outer_classmethod(3), "outer_classmethod", "Service3", [3]),
        (lambda: Service.static(4), "Service.static", 8, [4]),
    ],
)
def test_async_method_captures_do_not_store_self_or_cls(
    call: Any, name: str, expected_result: Any, expected_args: list[Any]
) -> None:
    """The queued capture knows whether self/cls was bound, as the synchronous one does."""
    assert call() == expected_result
    assert flush(timeout=30)
    record = CaptureLoader().load_all(name)[0]
    assert record["args"] == expected_args
    assert record["kwargs"] == {}


@pytest.mark.parametrize("options", ASYNC_MODES)
def test_each_capture_has_the_thread_name_at_its_call(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    """The thread is looked up once per thread, its name at every capture."""

    @capture_args(retention=None, **options)
    def tagged(i: int) -> int:
        return i

    def worker() -> None:
        tagged(1)
        threading.current_thread().name = "renamed"
        tagged(2)

    thread = threading.Thread(target=worker, name="first-name")
    thread.start()
    thread.join()
    assert flush(timeout=30)
    names = {r["args"][0]: r["metadata"]["thread_id"] for r in CaptureLoader().load_all("tagged")}
    assert names == {1: "first-name", 2: "renamed"}


@pytest.mark.parametrize("options", ASYNC_MODES)
def test_caller_time_is_counted_with_and_without_a_profiler(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    """stats()["capture_ns"] counts the callers' time on every capture; a profiler's
    capture_time_ms only in its block."""

    @capture_args(retention=None, **options)
    def timed(i: int) -> int:
        return i

    before = stats()["capture_ns"]
    for i in range(20):
        timed(i)
    outside = stats()["capture_ns"] - before
    assert outside > 0
    assert flush(timeout=30)  # those are written outside the block
    with CaptureProfiler() as profiler:
        for i in range(20):
            timed(i)
    assert profiler.capture_time_ms > 0
    assert stats()["capture_ns"] - before > outside
    assert profiler.captures == 20


@pytest.mark.parametrize("options", ASYNC_MODES)
def test_recorded_results_of_async_captures(capture_dir: Path, options: dict[str, Any]) -> None:
    """A result waits for its call to return, then is queued with the arguments; a secret the
    call was given is masked in it, as in a synchronous capture."""

    @capture_args(retention=None, record_result=True, **options)
    def login(user: str, password: str) -> str:
        if user == "eve":
            raise PermissionError(f"bad password {password!r}")
        return f"welcome {user}, your password is {password}"

    assert login("bob", "hunter22") == "welcome bob, your password is hunter22"
    with pytest.raises(PermissionError):
        login("eve", "swordfish")
    assert flush(timeout=30)
    failed, ok = CaptureLoader().load_all("login")
    assert ok["args"] == ["bob", "[FILTERED: name:password]"]
    assert ok["result"] == {"value": "welcome bob, your password is [FILTERED: name:password]"}
    assert failed["result"]["exception"]["type"] == "PermissionError"
    assert "swordfish" not in failed["result"]["exception"]["message"]
