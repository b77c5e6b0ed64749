"""Sampling, the rate cap, the background writer, lazy serialization, production mode and
CaptureProfiler: what a user of each option can observe."""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import snapy_capture.storage as storage_mod
from snapy_capture import (
    ArgumentFilter,
    CaptureConfig,
    CaptureLoader,
    CaptureNotFoundError,
    CaptureProfiler,
    CaptureStorage,
    capture_args,
    flush,
    load_capture_dict,
    set_global_config,
)
from snapy_capture.capture import Clock, seed_sampler, set_clock, stats
from snapy_capture.config import reload_environment, resolve_config
from snapy_capture.filters import Redacted
from snapy_capture.storage import FileOperations


def _args(name: str, root: Path | None = None) -> list[list[Any]]:
    """The arguments of every capture of ``name``, newest first."""
    return [record["args"] for record in CaptureLoader(root).load_all(name)]


@contextlib.contextmanager
def writer_paused(capture_dir: Path) -> Iterator[None]:
    """Keep the background writer busy, so that captures wait in its queue: it is writing an
    async capture (under a root beside ``capture_dir``) whose file cannot be opened yet."""
    assert flush(timeout=30)
    started, release = threading.Event(), threading.Event()

    class Gated(FileOperations):
        def open_temp(self, directory: str) -> tuple[int, str | None]:
            started.set()
            release.wait(30)
            return super().open_temp(directory)

    @capture_args(
        storage=CaptureStorage(capture_dir.parent / "gate", files=Gated()), async_storage=True
    )
    def gate() -> None:
        pass

    gate()
    assert started.wait(10)
    try:
        yield
    finally:
        release.set()


class _Clock:
    """A settable ``monotonic()`` for the rate cap."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Iterator[_Clock]:
    fake = _Clock()
    previous = set_clock(Clock(monotonic=fake.monotonic))
    yield fake
    set_clock(previous)


@pytest.fixture(autouse=True)
def _drained() -> Iterator[None]:
    assert flush(timeout=30)
    seed_sampler(None)
    yield
    assert flush(timeout=30)
    seed_sampler(None)


# --- sampling ---------------------------------------------------------------------------------


class CountingFilter(ArgumentFilter):
    calls = 0

    def filter_call(self, *args: Any, **kwargs: Any) -> Any:
        type(self).calls += 1
        return super().filter_call(*args, **kwargs)


class Unpicklable:
    reduced = 0

    def __reduce__(self) -> Any:
        type(self).reduced += 1
        raise TypeError("not picklable")


def test_sampled_out_call_is_not_bound_filtered_or_serialized(capture_dir: Path) -> None:
    CountingFilter.calls = Unpicklable.reduced = 0

    @capture_args(sample_rate=1e-9, arg_filter=CountingFilter())
    def rarely(value: Any) -> str:
        return "done"

    seed_sampler(3)
    assert [rarely(Unpicklable()) for _ in range(200)] == ["done"] * 200
    assert CountingFilter.calls == 0
    assert Unpicklable.reduced == 0
    assert not capture_dir.exists() or not list(capture_dir.rglob("*.cap"))


def test_sample_rate_keeps_about_that_fraction_and_filters_only_those(capture_dir: Path) -> None:
    CountingFilter.calls = 0

    @capture_args(retention=None, sample_rate=0.25, arg_filter=CountingFilter())
    def half(i: int) -> int:
        return i

    seed_sampler(11)
    assert [half(i) for i in range(400)] == list(range(400))
    kept = len(_args("half"))
    assert 60 <= kept <= 140
    assert CountingFilter.calls == kept


def test_seeded_sampler_picks_the_same_calls(capture_dir: Path) -> None:
    @capture_args(retention=None, sample_rate=0.3)
    def pick(i: int) -> int:
        return i

    def run(seed: int) -> list[int]:
        CaptureStorage(capture_dir).clear()
        seed_sampler(seed)
        for i in range(80):
            pick(i)
        return sorted(args[0] for args in _args("pick"))

    first = run(42)
    assert 5 < len(first) < 60
    assert run(42) == first
    assert run(43) != first


# --- rate cap ---------------------------------------------------------------------------------


def test_rate_cap_keeps_at_most_n_per_second_per_function(capture_dir: Path, clock: _Clock) -> None:
    set_global_config(CaptureConfig(max_per_second=3, retention=None))

    @capture_args()
    def busy(i: int) -> int:
        return i * 2

    @capture_args()
    def other(i: int) -> int:
        return i

    assert [busy(i) for i in range(20)] == [i * 2 for i in range(20)]
    other(0)
    assert [a[0] for a in _args("busy")] == [2, 1, 0]
    clock.now += 0.5  # same one-second window
    busy(100)
    assert len(_args("busy")) == 3
    clock.now += 0.6  # a new window
    for i in range(200, 210):
        busy(i)
    assert [a[0] for a in _args("busy")][:3] == [202, 201, 200]
    assert len(_args("busy")) == 6
    assert len(_args("other")) == 1  # the cap is per function


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({}, id="sync"),
        pytest.param({"async_storage": True}, id="async"),
        pytest.param({"async_storage": True, "lazy_serialization": True}, id="lazy"),
        pytest.param({"async_storage": True, "record_result": True}, id="result"),
    ],
)
def test_set_clock_dates_the_next_capture_of_a_function_already_called(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    """The clock is bound when a function's configuration is resolved: set_clock makes every
    function resolve it again, so its very next capture is dated by the new clock."""

    @capture_args(retention=None, **options)
    def stamped(i: int) -> int:
        return i

    assert stamped(0) == 0  # resolved with the real clock
    previous = set_clock(Clock(time=lambda: 1_000_000_000.25))
    try:
        assert stamped(1) == 1
    finally:
        set_clock(previous)
    assert stamped(2) == 2
    assert flush(timeout=30)
    stamps = {r["args"][0]: r["timestamp"] for r in CaptureLoader().load_all("stamped")}
    assert stamps[1] == "2001-09-09T01:46:40.250000Z"
    assert "2001" not in (stamps[0][:4], stamps[2][:4])  # the real clock before and after


def test_set_clock_takes_only_a_clock() -> None:
    with pytest.raises(ValueError, match="set_clock expects a Clock or None, got 12"):
        set_clock(12)  # type: ignore[arg-type]


# --- background writer ------------------------------------------------------------------------


def test_async_capture_is_written_by_flush_with_the_callers_details(capture_dir: Path) -> None:
    @capture_args(retention=None, async_storage=True)
    def queued(x: int, *, tag: str) -> int:
        return x

    def in_thread() -> None:
        queued(2, tag="thread")
        # Renamed before the writer gets to the capture: the capture keeps the call's name.
        threading.current_thread().name = "renamed-after-the-call"

    with writer_paused(capture_dir):
        assert queued(1, tag="main") == 1
        worker = threading.Thread(target=in_thread, name="worker-7")
        worker.start()
        worker.join()
        assert not capture_dir.exists() or not list(capture_dir.rglob("*.cap"))
    assert flush(timeout=30)
    records = CaptureLoader().load_all("queued")
    assert [(r["args"], r["kwargs"]) for r in records] == [
        ([2], {"tag": "thread"}),
        ([1], {"tag": "main"}),
    ]
    assert records[0]["metadata"]["thread_id"] == "worker-7"
    assert records[1]["metadata"]["thread_id"] == threading.current_thread().name
    assert records[1]["metadata"]["pid"] == os.getpid()
    assert records[0]["timestamp"] >= records[1]["timestamp"]


def test_flush_times_out_while_the_writer_is_busy(capture_dir: Path) -> None:
    @capture_args(async_storage=True)
    def slow(x: int) -> int:
        return x

    with writer_paused(capture_dir):
        slow(1)
        started = time.monotonic()
        assert flush(timeout=0.1) is False
        assert time.monotonic() - started < 5
    assert flush(timeout=30) is True
    assert _args("slow") == [[1]]


def test_full_queue_drops_and_counts_without_blocking(
    capture_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="snapy_capture")
    set_global_config(CaptureConfig(queue_size=2, retention=None))

    @capture_args(async_storage=True)
    def flood(i: int) -> int:
        return i

    before = stats()["dropped"]
    with CaptureProfiler() as profiler, writer_paused(capture_dir):
        started = time.monotonic()
        assert [flood(i) for i in range(10)] == list(range(10))
        assert time.monotonic() - started < 5  # nobody waited for the writer
        assert stats()["dropped"] - before == 8
        assert profiler.dropped == 8
    assert flush(timeout=30)
    assert _args("flood") == [[1], [0]]
    full = [r for r in caplog.records if "queue is full" in r.getMessage()]
    assert len(full) == 1


def test_record_result_with_async_storage(capture_dir: Path) -> None:
    @capture_args(retention=None, async_storage=True, record_result=True)
    def divide(a: float, b: float) -> float:
        return a / b

    assert divide(6, 3) == 2
    with pytest.raises(ZeroDivisionError):
        divide(1, 0)
    assert flush(timeout=30)
    newest, oldest = CaptureLoader().load_all("divide")
    assert oldest["args"] == [6, 3]
    assert oldest["result"] == {"value": 2.0}
    assert newest["result"]["exception"]["type"] == "ZeroDivisionError"


def test_async_capture_of_unpicklable_or_oversized_arguments(capture_dir: Path) -> None:
    @capture_args(retention=None, async_storage=True, max_capture_size=2000)
    def odd(lock: Any, blob: bytes, n: int) -> int:
        return n

    assert odd(threading.Lock(), b"x" * 50_000, 7) == 7
    assert odd(None, b"small", 8) == 8  # the snapshot still works after a failed one
    assert flush(timeout=30)
    second, first = CaptureLoader().load_all("odd")
    lock, blob, n = first["args"]
    assert isinstance(lock, Redacted)
    assert isinstance(blob, Redacted)
    assert n == 7
    assert second["args"] == [None, b"small", 8]


def test_argument_whose_pickling_calls_a_captured_function(capture_dir: Path) -> None:
    """Called while the outer call's arguments are snapshotted: run, not captured (see
    tests/reliability/test_reentrancy.py)."""
    calls = []

    @capture_args(retention=None, async_storage=True)
    def inner(x: int) -> int:
        calls.append(x)
        return x

    class Reentrant:
        def __reduce__(self) -> Any:
            inner(1)
            return (int, (5,))

    @capture_args(retention=None, async_storage=True)
    def outer(value: Any, n: int) -> int:
        return n

    skipped = stats()["skipped"]
    assert outer(Reentrant(), 2) == 2
    assert flush(timeout=30)
    assert _args("outer") == [[5, 2]]
    assert calls == [1]
    assert stats()["skipped"] == skipped + 1
    with pytest.raises(CaptureNotFoundError):
        _args("inner")


EXIT_SCRIPT = textwrap.dedent(
    """
    import atexit, sys
    from snapy_capture import capture_args

    @capture_args(sys.argv[1], retention=None, async_storage=True, dedupe=False)
    def work(i):
        return i

    # Registered before the writer exists, so it runs after the writer's exit flush.
    atexit.register(lambda: work(-1))
    for i in range(int(sys.argv[2])):
        work(i)
    print("exiting", flush=True)
    """
)


def test_no_capture_is_lost_at_normal_exit(tmp_path: Path) -> None:
    root = tmp_path / "exit"
    done = subprocess.run(
        [sys.executable, "-c", EXIT_SCRIPT, str(root), "300"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "exiting\n"
    assert done.stderr == ""
    got = sorted(args[0] for args in _args("work", root))
    assert got == [-1, *range(300)]


CHILDREN_SCRIPT = textwrap.dedent(
    """
    import multiprocessing
    import os
    import sys

    from snapy_capture import capture_args

    @capture_args(sys.argv[1], retention=None, async_storage=True, dedupe=False)
    def work(i):
        return i

    def task(base):
        for i in range(3):
            work(base + i)  # queued as the child's task returns

    if __name__ == "__main__":
        if sys.argv[3:] == ["hook"]:  # the first capture before multiprocessing sets up a child
            os.register_at_fork(after_in_child=lambda: work(-1))
        context = multiprocessing.get_context(sys.argv[2])
        for base in (0, 10):
            process = context.Process(target=task, args=(base,))
            process.start()
            process.join(60)
            assert process.exitcode == 0, process.exitcode
    """
)


def _children_captures(tmp_path: Path, *options: str) -> list[int]:
    """Run CHILDREN_SCRIPT with ``options``; the arguments its children captured, sorted."""
    root = tmp_path / "children"
    (tmp_path / "children_main.py").write_text(CHILDREN_SCRIPT, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "children_main.py", str(root), *options],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return sorted(args[0] for args in _args("work", root))


@pytest.mark.parametrize("method", multiprocessing.get_all_start_methods())
def test_multiprocessing_children_write_what_they_queued_whatever_the_start_method(
    tmp_path: Path, method: str
) -> None:
    """forkserver children, too, leave through os._exit; the module was never imported in the
    server (it is on 3.11 and 3.12 unless preloaded), so it does not know it was forked."""
    assert _children_captures(tmp_path, method) == [0, 1, 2, 10, 11, 12]


@pytest.mark.skipif(not hasattr(os, "register_at_fork"), reason="needs os.register_at_fork")
def test_a_fork_childs_captures_are_written_when_the_first_came_from_an_at_fork_hook(
    tmp_path: Path,
) -> None:
    """A writer started before multiprocessing set the child up registered its flush in a
    registry multiprocessing then cleared; it is registered again after."""
    assert _children_captures(tmp_path, "fork", "hook") == [-1, -1, 0, 1, 2, 10, 11, 12]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_gets_its_own_writer_and_not_the_parents_queue(capture_dir: Path) -> None:
    @capture_args(retention=None, async_storage=True)
    def tagged(tag: str) -> str:
        return tag

    with writer_paused(capture_dir):
        tagged("parent")  # still queued in the parent when it forks
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork with threads
            pid = os.fork()
        if pid == 0:  # pragma: no cover - the child, measured by its exit code
            code = 1
            try:
                tagged("child")
                code = 0 if flush(timeout=20) else 2
            finally:
                os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert flush(timeout=30)
    assert sorted(args[0] for args in _args("tagged")) == ["child", "parent"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_multiprocessing_fork_children_write_what_they_queued_before_exiting(
    capture_dir: Path,
) -> None:
    """A multiprocessing child started by fork leaves through os._exit when its task returns
    (no atexit): the captures it queued just before are written all the same."""

    @capture_args(retention=None, async_storage=True)
    def task(i: int) -> int:
        return i

    def child(base: int) -> None:
        for i in range(3):
            task(base + i)

    task(-1)
    assert flush(timeout=30)  # the parent has a writer thread when it forks
    context = multiprocessing.get_context("fork")
    for base in (0, 10, 20):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork with threads
            process = context.Process(target=child, args=(base,))
            process.start()
        process.join(30)
        assert process.exitcode == 0
    assert sorted(args[0] for args in _args("task")) == [-1, 0, 1, 2, 10, 11, 12, 20, 21, 22]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_multiprocessing_childs_thread_capturing_after_its_task_returned_is_written(
    capture_dir: Path,
) -> None:
    """The child flushes when its task returns, then joins its other threads: a capture made
    after that flush (here the child's first) is written at once, not queued for nobody."""

    @capture_args(retention=None, async_storage=True)
    def late(i: int) -> int:
        return i

    def capture_later() -> None:
        time.sleep(0.2)
        for i in range(3):
            late(i)

    def child() -> None:
        threading.Thread(target=capture_later).start()  # not a daemon: joined before exit

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork with threads
        process = multiprocessing.get_context("fork").Process(target=child)
        process.start()
    process.join(30)
    assert process.exitcode == 0
    assert sorted(args[0] for args in _args("late")) == [0, 1, 2]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_records_its_own_pid(capture_dir: Path) -> None:
    """The pid is read once per process (no system call per capture): a child has its own."""

    @capture_args(retention=None)
    def tagged(tag: str) -> str:
        return tag

    tagged("parent")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork with threads
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child, measured by its exit code
        try:
            tagged("child")
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    records = CaptureLoader(capture_dir).load_all(f"{__name__}:{tagged.__qualname__}")
    assert {r["args"][0]: r["metadata"]["pid"] for r in records} == {
        "parent": os.getpid(),
        "child": pid,
    }


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_locks_with_its_own_descriptor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writers keep the lock file open; a child must not lock through the parent's copy
    (flock would then not exclude the two)."""
    ready_r, ready_w = os.pipe()
    done_r, done_w = os.pipe()

    class Pausing(FileOperations):
        """Holds the child's write under its lock until the parent is done."""

        pause = False

        def write_state(self, directory: str, nxt: int, floor: int, fd: int | None) -> None:
            if self.pause:
                os.write(ready_w, b"x")
                os.read(done_r, 1)
            super().write_state(directory, nxt, floor, fd)

    files = Pausing()
    storage = CaptureStorage(tmp_path, retention=None, files=files)
    record = {"module": "m", "qualname": "f", "args": [], "kwargs": {}}
    storage.save(record)
    monkeypatch.setattr(storage_mod, "LOCK_TIMEOUT", 0.3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child holds the lock until the parent is done
        try:
            os.close(done_w)
            files.pause = True
            storage.save(record)
        finally:
            os._exit(0)
    os.close(ready_w)
    os.close(done_r)
    assert os.read(ready_r, 1) == b"x"
    os.close(ready_r)
    try:
        with pytest.raises(TimeoutError):
            storage.save(record)
    finally:
        os.close(done_w)
        os.waitpid(pid, 0)
    storage.save(record)
    assert len(storage.capture_files("m", "f")) == 3  # the parent's two, the child's one


# --- lazy serialization -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        pytest.param({}, [1, 2], id="synchronous"),
        pytest.param({"async_storage": True}, [1, 2], id="async-default"),
        pytest.param({"async_storage": True, "lazy_serialization": True}, [1, 2, 3], id="lazy"),
        pytest.param({"lazy_serialization": True}, [1, 2, 3], id="lazy-alone"),
    ],
)
def test_argument_mutated_after_the_call(
    capture_dir: Path, options: dict[str, Any], expected: list[int]
) -> None:
    """By default a capture shows the arguments as they were at the call. With
    lazy_serialization it shows them as the writer finds them: here, mutated."""

    @capture_args(retention=None, **options)
    def total(items: list[int]) -> int:
        return sum(items)

    items = [1, 2]
    with writer_paused(capture_dir):
        assert total(items) == 3
        items.append(3)
    assert flush(timeout=30)
    assert _args("total") == [[expected]]


# --- production mode --------------------------------------------------------------------------


def _production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNAP_CAPTURE_PRODUCTION_MODE", "1")
    reload_environment()


def test_production_mode_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    _production(monkeypatch)
    config = resolve_config()
    assert config.minimal_capture is True
    assert config.max_per_second == 10
    assert config.async_storage is True
    assert config.ignore_large_objects is True
    assert config.max_capture_size == 65536
    assert config.lazy_serialization is False  # safe: arguments as called
    assert config.filter_pii is True
    # Anything set explicitly still wins over the production profile.
    assert resolve_config({"async_storage": False}).async_storage is False


def test_production_mode_capture_is_small_and_minimal(
    capture_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _production(monkeypatch)

    @capture_args(retention=None)
    def handle(payload: dict[str, int], lock: Any, blob: bytes) -> str:
        return "ok"

    assert [handle({"user": i}, threading.Lock(), b"x" * 1_000_000) for i in range(30)] == (
        ["ok"] * 30
    )
    assert flush(timeout=30)
    files = list(capture_dir.rglob("*.cap"))
    assert 1 <= len(files) <= 10  # max_per_second=10
    assert all(path.stat().st_size <= 65536 for path in files)
    record = load_capture_dict("handle")
    assert record["args"][0] == {"user": 0} or record["args"][0]["user"] < 30
    assert isinstance(record["args"][1], Redacted)
    assert isinstance(record["args"][2], Redacted)
    # No pid, thread or Python version; deduplication's count and last-seen time at most.
    assert set(record["metadata"]) <= {"call_depth", "redactions", "calls", "last_seen"}


def test_production_mode_never_raises_into_the_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="snapy_capture")
    _production(monkeypatch)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")

    @capture_args(path=blocker / "captures", retention=None)
    def charge(amount: Any) -> str:
        return "charged"

    class Hostile:
        def __reduce__(self) -> Any:
            raise RuntimeError("boom")

    assert [charge(i) for i in range(5)] == ["charged"] * 5
    assert charge(Hostile()) == "charged"
    assert flush(timeout=30)
    assert len([r for r in caplog.records if "charge" in r.getMessage()]) == 1


# --- CaptureProfiler --------------------------------------------------------------------------


@pytest.mark.parametrize("async_storage", [False, True], ids=["sync", "async"])
def test_profiler_counts_threads_started_in_the_block(
    capture_dir: Path, async_storage: bool
) -> None:
    @capture_args(retention=None, async_storage=async_storage, dedupe=False)
    def work(i: int) -> int:
        return i

    work(-1)
    assert flush(timeout=30)
    with CaptureProfiler() as profiler:
        threads = [threading.Thread(target=lambda: [work(i) for i in range(5)]) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    after = profiler.captures
    work(99)
    assert flush(timeout=30)
    assert after == profiler.captures == 15
    assert profiler.dropped == 0
    assert profiler.capture_time_ms > 0
    stored = list(
        CaptureStorage(capture_dir).read_captures(f"{work.__module__}:{work.__qualname__}")
    )
    assert len(stored) == 17
    in_block = [
        item.ref.path.stat().st_size
        for item in stored
        if item.record is not None and item.record["args"][0] in range(5)
    ]
    assert profiler.serialized_size_bytes == sum(in_block)
    if async_storage:
        assert profiler.write_time_ms > 0
    assert "captures=15" in repr(profiler)
