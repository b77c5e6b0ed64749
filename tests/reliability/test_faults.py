"""Faults: killed writers, full or read-only disks, broken lock and state files, a bad clock.

Each test injects one fault the way the operating system would report it (``ENOSPC`` from a
real ``/dev/full`` write, ``EACCES``/``EROFS`` from the call that would fail) and checks what a
user would notice: the captured call still returns its result, the capture is dropped and
counted, one warning is logged per function, and the storage stays consistent afterwards.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import snapy_capture.storage as storage_mod
from snapy_capture import CaptureLoader, CaptureStorage, capture_args, flush, load_capture
from snapy_capture.capture import Clock, set_clock, stats
from snapy_capture.storage import FileOperations, function_dirname

# --- helpers ------------------------------------------------------------------------------


def _cap_seqs(directory: Path) -> list[int]:
    return sorted(int(p.stem) for p in directory.glob("*.cap"))


def _load_strict(root: Path, name: str) -> list[dict[str, Any]]:
    """Every capture of ``name``; a skipped (corrupt) file fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return CaptureLoader(root).load_all(name)


def _warnings_for(caplog: pytest.LogCaptureFixture, qualname: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "snapy_capture" and r.levelno >= logging.WARNING and qualname in r.getMessage()
    ]


class _Faults(FileOperations):
    """A storage's file operations, one of which fails as the OS would while ``on``:
    ``where`` names it (``None``: none fails)."""

    def __init__(self, where: str | None = None) -> None:
        super().__init__()
        self.where = where
        self.on = True
        self.hits = 0

    def _fails(self, where: str) -> bool:
        if self.on and self.where == where:
            self.hits += 1
            return True
        return False

    def open_temp(self, directory: str) -> tuple[int, str | None]:
        if self._fails("eacces-tempfile"):
            raise OSError(errno.EACCES, os.strerror(errno.EACCES), directory)
        fd, path = super().open_temp(directory)
        if not self._fails("enospc-data"):
            return fd, path
        if not os.path.exists("/dev/full"):  # pragma: no cover - Linux has it
            os.close(fd)
            if path is not None:
                os.unlink(path)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
        # A real ENOSPC: the temp file exists, but its data cannot be written.
        os.close(fd)
        return os.open("/dev/full", os.O_WRONLY), path

    def write_state(self, directory: str, nxt: int, floor: int, fd: int | None) -> None:
        if self._fails("enospc-seq"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), directory)
        super().write_state(directory, nxt, floor, fd)

    def make_dirs(self, path: Path) -> None:
        if self._fails("erofs-mkdir"):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        super().make_dirs(path)


FAULTS = ["enospc-data", "eacces-tempfile", "erofs-mkdir"]


# --- disk full / read-only ------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("prepared", [False, True], ids=["first-write", "later-write"])
@pytest.mark.parametrize("where", FAULTS)
def test_write_fault_drops_and_counts_capture(
    capture_dir: Path,
    caplog: pytest.LogCaptureFixture,
    where: str,
    prepared: bool,
    mode: str,
) -> None:
    """The call returns its result, each capture is dropped and counted, one warning in all."""
    caplog.set_level(logging.DEBUG, logger="snapy_capture")
    fault = _Faults()
    storage = CaptureStorage(capture_dir, files=fault)

    @capture_args(
        storage=storage, retention=None, async_storage=mode == "async", record_result=True
    )
    def price(amount: int, rate: float) -> float:
        if amount < 0:
            raise ValueError("negative amount")
        return amount * rate

    if prepared:
        assert price(1, 2.0) == 2.0  # the function's directory exists before the disk fills
        flush()
    directory = capture_dir / function_dirname(price.__module__, price.__qualname__)
    before = stats()
    # A prepared directory is never made again: a failing mkdir is not reached there.
    fault.where = "enospc-data" if where == "erofs-mkdir" and prepared else where

    assert [price(n, 0.5) for n in range(10)] == [n * 0.5 for n in range(10)]
    with pytest.raises(ValueError, match="negative amount"):
        price(-1, 0.5)  # the function's own exception is untouched by the storage failure
    flush()
    after = stats()
    assert fault.hits >= 11
    assert after["dropped"] - before["dropped"] == 11
    assert after["errors"] - before["errors"] == 11
    assert after["captured"] == before["captured"]
    messages = _warnings_for(caplog, "price")
    assert len(messages) == 1, messages
    assert "storage failed" in messages[0]
    assert _cap_seqs(directory) == ([0] if prepared else [])
    # A failed write leaves no temporary file behind (nothing for prune to clean up).
    if directory.exists():
        assert list(directory.glob(".tmp-*")) == []

    # Once the disk has room again, capturing resumes by itself, without another warning.
    fault.on = False
    assert price(3, 2.0) == 6.0
    flush()
    records = _load_strict(capture_dir, "price")
    assert records[0]["args"] == [3, 2.0]
    assert records[0]["result"] == {"value": 6.0}
    assert len(_warnings_for(caplog, "price")) == 1


@pytest.mark.parametrize("retention", [None, 4])
def test_numbering_state_unwritable_still_stores_every_capture_in_order(
    tmp_path: Path, retention: int | None
) -> None:
    """``.seq`` cannot be written (disk full as it is updated): the captures themselves are
    placed, numbered in order without reuse, retention still holds, the newest loads first,
    and once the state can be written again it catches up."""
    fault = _Faults()
    storage = CaptureStorage(tmp_path, retention=retention, files=fault)
    storage.save({"module": "m", "qualname": "f", "args": [0], "kwargs": {}})
    directory = tmp_path / function_dirname("m", "f")
    fault.where = "enospc-seq"
    for n in range(1, 8):
        storage.save({"module": "m", "qualname": "f", "args": [n], "kwargs": {}})
    assert fault.hits == 7
    expected = list(range(8)) if retention is None else list(range(4, 8))
    assert _cap_seqs(directory) == expected
    assert [r["args"][0] for r in _load_strict(tmp_path, "f")] == expected[::-1]
    assert load_capture("m:f", tmp_path)[0][0] == 7
    fault.on = False
    storage.save({"module": "m", "qualname": "f", "args": [8], "kwargs": {}})
    floor = 0 if retention is None else 5  # 4 deleted by this write
    assert [int(part) for part in (directory / ".seq").read_text().split()] == [9, floor]
    assert _cap_seqs(directory) == list(range(floor, 9))


def test_state_neither_writable_nor_removable_drops_the_capture_it_would_misnumber(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If ``.seq`` can be neither updated nor removed, the capture just placed is removed and
    the failure reported: files and state keep agreeing, later writes number correctly."""
    fault = _Faults()
    storage = CaptureStorage(tmp_path, retention=2, files=fault)
    for n in range(3):
        storage.save({"module": "m", "qualname": "f", "args": [n], "kwargs": {}})
    directory = tmp_path / function_dirname("m", "f")
    fault.where = "enospc-seq"
    real_unlink = os.unlink

    def unlink(path: Any, *args: Any, **kwargs: Any) -> None:
        if str(path).endswith(".seq"):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", unlink)
    with pytest.raises(PermissionError):
        storage.save({"module": "m", "qualname": "f", "args": [3], "kwargs": {}})
    monkeypatch.undo()
    fault.on = False
    # The unrecorded capture is gone (retention had already let the oldest go: one capture
    # fewer until the next write, in a failure that needs two at once).
    assert _cap_seqs(directory) == [2]
    storage.save({"module": "m", "qualname": "f", "args": [4], "kwargs": {}})
    assert _cap_seqs(directory) == [2, 3]
    assert [r["args"][0] for r in _load_strict(tmp_path, "f")] == [4, 2]


def test_one_warning_per_function(capture_dir: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Two functions failing on a full disk: one warning each, not one per call."""
    caplog.set_level(logging.WARNING, logger="snapy_capture")
    storage = CaptureStorage(capture_dir, files=_Faults("enospc-data"))

    @capture_args(storage=storage)
    def first(x: int) -> int:
        return x

    @capture_args(storage=storage)
    def second(x: int) -> int:
        return -x

    for n in range(20):
        assert first(n) == n
        assert second(n) == -n
    assert len(_warnings_for(caplog, "first")) == 1
    assert len(_warnings_for(caplog, "second")) == 1
    assert len([r for r in caplog.records if r.name == "snapy_capture"]) == 2


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0,
    reason="root bypasses directory permissions; the simulated EACCES tests cover this",
)
def test_real_read_only_directory(
    capture_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:  # pragma: no cover - CI runs as root here
    """A capture directory made read-only (0500): calls succeed, captures are dropped."""
    caplog.set_level(logging.WARNING, logger="snapy_capture")

    @capture_args(retention=None)
    def ro(x: int) -> int:
        return x + 1

    assert ro(1) == 2
    directory = capture_dir / function_dirname(ro.__module__, ro.__qualname__)
    directory.chmod(0o500)
    try:
        before = stats()["dropped"]
        assert [ro(n) for n in range(5)] == [1, 2, 3, 4, 5]
        assert stats()["dropped"] - before == 5
        assert len(_warnings_for(caplog, "ro")) == 1
    finally:
        directory.chmod(0o700)
    assert _cap_seqs(directory) == [0]


# --- a writer killed in the middle ----------------------------------------------------------

KILLED = textwrap.dedent(
    """
    import sys, threading
    from snapy_capture import capture_args

    root, size = sys.argv[1], int(sys.argv[2])
    payload = b"x" * size  # bytes: written as is, no PII scan, so writes come fast

    @capture_args(path=root, retention=5, async_storage=sys.argv[3] == "async")
    def ingest(thread, n, blob):
        return len(blob)

    def run(thread):
        n = 0
        while True:
            ingest(thread, n, payload)
            n += 1

    for t in range(2):
        threading.Thread(target=run, args=(t,), daemon=True).start()
    threading.Event().wait()
    """
)


def _kill_while_writing(root: Path, mode: str, rng: random.Random) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED, str(root), "300000", mode], stderr=subprocess.PIPE
    )
    directory = root / function_dirname("__main__", "ingest")
    before = max(_cap_seqs(directory), default=-1)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and max(_cap_seqs(directory), default=-1) <= before:
            time.sleep(0.002)
        time.sleep(rng.uniform(0.0, 0.1))  # somewhere in the middle of a write
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        _, err = proc.communicate(timeout=30)
    assert b"Traceback" not in err, err.decode()


@pytest.mark.parametrize(
    "rounds",
    [pytest.param(3, id="3-kills"), pytest.param(15, id="15-kills", marks=pytest.mark.slow)],
)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_repeated_kills_never_expose_partial_captures(
    tmp_path: Path, mode: str, rounds: int
) -> None:
    """SIGKILL of a decorated program mid-write, again and again: what remains loads fully,
    retention is exact once a healthy writer follows, and prune removes the leftovers."""
    root = tmp_path / "store"
    rng = random.Random(rounds)
    for _ in range(rounds):
        _kill_while_writing(root, mode, rng)
        storage = CaptureStorage(root)
        [info] = storage.functions()
        assert len(_cap_seqs(info.directory)) >= 1
        for record in _load_strict(root, "ingest"):
            assert len(record["args"][2]) == 300000
    # A healthy process writing after the crashes: numbering continues, retention holds.
    directory = info.directory
    highest = max(_cap_seqs(directory))
    healthy = CaptureStorage(root)
    for n in range(3):
        healthy.save(
            {"module": "__main__", "qualname": "ingest", "args": ["healthy", n, ""], "kwargs": {}},
            retention=5,
        )
    seqs = _cap_seqs(directory)
    # Exactly the newest five, numbered without gaps (a number is taken by placing a
    # capture, so a kill cannot leave one unused), after every number the dead used.
    assert seqs == list(range(seqs[0], seqs[0] + 5))
    assert seqs[-3] > highest
    assert [r["args"][0] for r in _load_strict(root, "ingest")[:3]] == ["healthy"] * 3
    for temp in directory.glob(".tmp-*"):
        os.utime(temp, (0, 0))  # temp files of the dead writer, once old enough
    storage.prune()
    assert list(directory.glob(".tmp-*")) == []


class _Crash(BaseException):
    """Stands for the process dying at this point (nothing after it runs)."""


class _CrashOnce(FileOperations):
    """File operations of a writer that dies once, at ``point``."""

    def __init__(self) -> None:
        super().__init__()
        self.point: str | None = None

    def _crash(self, point: str) -> None:
        if self.point == point:
            self.point = None
            raise _Crash

    def link(self, fd: int, temp: str | None, final: str) -> None:
        self._crash("before-link")
        super().link(fd, temp, final)

    def unlink(self, path: str) -> int:
        self._crash("after-link")  # retention's first deletion: the capture is in place
        return super().unlink(path)

    def write_state(self, directory: str, nxt: int, floor: int, fd: int | None) -> None:
        self._crash("before-state")
        super().write_state(directory, nxt, floor, fd)


@pytest.mark.parametrize("point", ["before-link", "after-link", "before-state"])
def test_crash_inside_write_does_not_break_retention(tmp_path: Path, point: str) -> None:
    """A writer dying anywhere between placing a capture and recording the state: loading
    still finds the newest capture, and later writes leave exactly ``retention`` captures,
    the newest, numbered without gaps (no capture escapes retention for ever)."""
    files = _CrashOnce()
    storage = CaptureStorage(tmp_path, retention=3, files=files)
    for n in range(5):
        storage.save({"module": "m", "qualname": "f", "args": [n], "kwargs": {}})
    directory = tmp_path / function_dirname("m", "f")
    assert _cap_seqs(directory) == [2, 3, 4]

    files.point = point
    with pytest.raises(_Crash):
        storage.save({"module": "m", "qualname": "f", "args": [5], "kwargs": {}})
    placed = point != "before-link"
    assert load_capture("m:f", tmp_path)[0][0] == (5 if placed else 4)
    for n in range(6, 10):
        CaptureStorage(tmp_path, retention=3).save(  # the next processes
            {"module": "m", "qualname": "f", "args": [n], "kwargs": {}}
        )
    seqs = _cap_seqs(directory)
    assert seqs == list(range(seqs[0], seqs[0] + 3))
    assert [r["args"][0] for r in _load_strict(tmp_path, "f")] == [9, 8, 7]


# --- lock and state files -------------------------------------------------------------------


def _save_n(root: Path, n: int, retention: int | None, tag: str = "") -> None:
    storage = CaptureStorage(root, retention=retention)
    for i in range(n):
        storage.save({"module": "m", "qualname": "f", "args": [tag, i], "kwargs": {}})


DAEMON = textwrap.dedent(
    """
    import os, sys
    from snapy_capture import capture_args

    root, host = sys.argv[1], sys.argv[2]

    @capture_args(path=root, retention=None)
    def work(n):
        return n

    work(1)  # opens and keeps the lock and numbering files of the directory
    os.closerange(3, 4096)  # the program daemonizes: every descriptor closed
    # ... and opens its own files, which get the numbers the lock files had
    files = [open(os.path.join(host, f"host{i}.txt"), "w+") for i in range(8)]
    for f in files:
        f.write("host data\\n")
        f.flush()
    work(2)
    work(3)
    for f in files:
        f.seek(0)
        assert f.read() == "host data\\n", f.name
    print("ok")
    """
)


def test_daemon_closing_every_descriptor_keeps_its_files_and_the_captures(
    tmp_path: Path,
) -> None:
    """A program that closes every descriptor after a capture (daemonizing) and reuses the
    numbers: its files are never locked, written or closed by us, and capture goes on."""
    (tmp_path / "host").mkdir()
    done = subprocess.run(
        [sys.executable, "-c", DAEMON, str(tmp_path / "caps"), str(tmp_path / "host")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "ok\n", "")
    for host in (tmp_path / "host").iterdir():
        assert host.read_text() == "host data\n"
    assert sorted(r["args"][0] for r in CaptureLoader(tmp_path / "caps").load_all("work")) == [
        1,
        2,
        3,
    ]


def test_lock_file_deleted_between_writes(tmp_path: Path) -> None:
    """Deleting ``.lock`` between writes (a cleanup script): numbering and retention hold."""
    directory = tmp_path / function_dirname("m", "f")
    storage = CaptureStorage(tmp_path, retention=4)
    for i in range(12):
        storage.save({"module": "m", "qualname": "f", "args": [i], "kwargs": {}})
        (directory / ".lock").unlink(missing_ok=True)
    assert _cap_seqs(directory) == [8, 9, 10, 11]
    assert [r["args"] for r in CaptureLoader(tmp_path).load_all("m:f")] == [[11], [10], [9], [8]]


SAVER = textwrap.dedent(
    """
    import sys, threading
    from snapy_capture import CaptureStorage
    root, retention, tag = sys.argv[1], sys.argv[2], sys.argv[3]
    store = CaptureStorage(root, retention=None if retention == "none" else int(retention))
    def work(thread):
        for n in range(40):
            store.save({"module": "m", "qualname": "f", "args": [tag, thread, n], "kwargs": {}})
    pool = [threading.Thread(target=work, args=(t,)) for t in range(2)]
    for t in pool: t.start()
    for t in pool: t.join()
    """
)


@pytest.mark.parametrize("retention", ["none", "7"])
def test_lock_and_seq_deleted_while_processes_write(tmp_path: Path, retention: str) -> None:
    """A cleanup job deleting ``.lock`` and ``.seq`` again and again while three processes write:
    no capture is lost or numbered twice, and retention stays exact."""
    _save_n(tmp_path, 1, None, "seed")  # the directory exists before the writers start
    directory = tmp_path / function_dirname("m", "f")
    procs = [
        subprocess.Popen([sys.executable, "-c", SAVER, str(tmp_path), retention, f"p{i}"])
        for i in range(3)
    ]
    deletions = 0
    while any(p.poll() is None for p in procs):
        for name in (".lock", ".seq"):
            with contextlib.suppress(FileNotFoundError):
                (directory / name).unlink()
                deletions += 1
        time.sleep(0.001)
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0]
    assert deletions > 0
    seqs = _cap_seqs(directory)
    records = _load_strict(tmp_path, "m:f")
    if retention == "none":
        assert len(seqs) == 1 + 3 * 2 * 40
        calls = {tuple(r["args"]) for r in records}
        assert calls >= {(f"p{p}", t, n) for p in range(3) for t in range(2) for n in range(40)}
    else:
        assert len(seqs) == 7
        assert len({tuple(r["args"]) for r in records}) == 7


GARBLED = [
    pytest.param(b"", id="empty"),
    pytest.param(b"\x00\xff garbage \xfe", id="binary"),
    pytest.param(b"12", id="one-number"),
    pytest.param(b"-5 -9\n", id="negative"),
    pytest.param(b"3 7\n", id="floor-above-next"),
    pytest.param(b"00000000000000000002 00000000000000000000\n", id="behind"),
    pytest.param(None, id="deleted"),
]


@pytest.mark.parametrize("content", GARBLED)
def test_garbled_or_missing_seq_file(tmp_path: Path, content: bytes | None) -> None:
    """A corrupt, stale or missing ``.seq``: no capture is overwritten, numbering continues
    after the newest, and retention still keeps exactly N."""
    _save_n(tmp_path, 6, None, "old")
    directory = tmp_path / function_dirname("m", "f")
    seq = directory / ".seq"
    if content is None:
        seq.unlink()
    else:
        seq.write_bytes(content)
    _save_n(tmp_path, 3, None, "new")
    assert _cap_seqs(directory) == list(range(9))
    records = _load_strict(tmp_path, "m:f")
    assert [tuple(r["args"]) for r in records] == [
        *[("new", i) for i in (2, 1, 0)],
        *[("old", i) for i in (5, 4, 3, 2, 1, 0)],
    ]
    seq.write_bytes(content or b"")
    _save_n(tmp_path, 1, 4, "last")
    assert _cap_seqs(directory) == [6, 7, 8, 9]


HOLDER = textwrap.dedent(
    """
    import sys, time
    from filelock import FileLock
    lock = FileLock(sys.argv[1], mode=0o600)
    lock.acquire()
    with open(sys.argv[1], "w") as handle:
        handle.write("pid 12345 garbage")
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
    """
)


def _hold_lock(path: Path, seconds: float) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), str(seconds)], stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"held\n"
    proc.stdout.close()
    return proc


def _in_thread(func: Callable[[], Any], timeout: float) -> tuple[bool, Any]:
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = func()
        except BaseException as exc:  # reported to the test
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    if "error" in box:
        raise box["error"]
    return not thread.is_alive(), box.get("value")


def test_lock_left_by_dead_process(tmp_path: Path) -> None:
    """A process killed while holding the lock leaves ``.lock`` behind: writers carry on."""
    _save_n(tmp_path, 2, 3)
    directory = tmp_path / function_dirname("m", "f")
    holder = _hold_lock(directory / ".lock", 60)
    holder.kill()
    holder.wait(timeout=30)
    assert (directory / ".lock").exists()
    done, _ = _in_thread(lambda: _save_n(tmp_path, 3, 3, "after"), timeout=20)
    assert done, "a write blocked on the lock of a dead process"
    assert _cap_seqs(directory) == [2, 3, 4]


def test_lock_held_by_live_process_is_waited_for(tmp_path: Path) -> None:
    """Another process holding the lock briefly: the write waits and then succeeds."""
    _save_n(tmp_path, 1, None)
    directory = tmp_path / function_dirname("m", "f")
    holder = _hold_lock(directory / ".lock", 0.5)
    done, _ = _in_thread(lambda: _save_n(tmp_path, 1, None, "after"), timeout=20)
    holder.wait(timeout=30)
    assert done
    assert _cap_seqs(directory) == [0, 1]


def test_lock_held_by_stuck_process_does_not_hang_the_call(
    capture_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A process stuck while holding the lock (stopped, debugged, hung mount): captured calls
    elsewhere give up on that capture after a bounded wait, count it and warn once."""
    caplog.set_level(logging.WARNING, logger="snapy_capture")
    monkeypatch.setattr(storage_mod, "LOCK_TIMEOUT", 0.3)

    @capture_args(retention=None)
    def stuck(x: int) -> int:
        return x * 3

    assert stuck(1) == 3
    directory = capture_dir / function_dirname(stuck.__module__, stuck.__qualname__)
    holder = _hold_lock(directory / ".lock", 120)
    try:
        before = stats()["dropped"]
        done, value = _in_thread(lambda: [stuck(n) for n in range(3)], timeout=20)
        assert done, "a captured call hung on a lock held by a stuck process"
        assert value == [0, 3, 6]
        assert stats()["dropped"] - before == 3
        assert len(_warnings_for(caplog, "stuck")) == 1
    finally:
        holder.kill()
        holder.wait(timeout=30)
    assert stuck(5) == 15
    assert [r["args"] for r in _load_strict(capture_dir, "stuck")] == [[5], [1]]


# --- the clock going backwards --------------------------------------------------------------


class _Clock(FileOperations):
    """A settable clock: the storage's (max-age), and the capture layer's (record timestamps)."""

    def __init__(self, now: float) -> None:
        super().__init__()
        self.at = now

    def now(self) -> float:
        return self.at

    def time(self) -> float:
        return self.at


@contextlib.contextmanager
def _fake_clock(now: float) -> Iterator[_Clock]:
    clock = _Clock(now)
    previous = set_clock(Clock(time=clock.time))
    try:
        yield clock
    finally:
        set_clock(previous)


def test_clock_going_backwards_keeps_order_and_retention(capture_dir: Path) -> None:
    """Each call an hour 'earlier' than the last: newest-first is still the call order, and
    retention keeps the last calls made, not the ones with the latest timestamps."""
    with _fake_clock(time.time()) as clock:

        @capture_args(storage=CaptureStorage(capture_dir, files=clock), retention=4, max_age="1d")
        def tick(n: int) -> int:
            return n

        for n in range(10):
            assert tick(n) == n
            clock.at -= 3600
    records = _load_strict(capture_dir, "tick")
    assert [r["args"] for r in records] == [[9], [8], [7], [6]]
    stamps = [r["timestamp"] for r in records]
    assert stamps == sorted(stamps)  # the timestamps did go backwards


def test_clock_jumping_forward_then_back(capture_dir: Path) -> None:
    """A clock a day ahead expires older captures (they look old) but never the newest; when it
    comes back, captures are kept again and retention holds."""
    real = time.time()
    with _fake_clock(real) as clock:

        @capture_args(storage=CaptureStorage(capture_dir, files=clock), retention=5, max_age=3600)
        def tock(n: int) -> int:
            return n

        for n in range(3):
            tock(n)
        clock.at = real + 86400
        tock(3)
        assert [r["args"] for r in _load_strict(capture_dir, "tock")] == [[3]]
        clock.at = real - 86400
        for n in range(4, 12):
            tock(n)
    records = _load_strict(capture_dir, "tock")
    assert [r["args"][0] for r in records] == [11, 10, 9, 8, 7]


def test_files_from_the_future_are_not_lost(tmp_path: Path) -> None:
    """Capture files dated in the future (written while the clock was ahead) survive max_age
    pruning, and retention by count still applies to them."""
    _save_n(tmp_path, 6, None)
    directory = tmp_path / function_dirname("m", "f")
    future = time.time() + 10 * 86400
    for path in directory.glob("*.cap"):
        os.utime(path, (future, future))
    storage = CaptureStorage(tmp_path)
    assert storage.prune(max_age=60) == 0
    assert storage.prune(retention=2) == 4
    assert [r["args"][1] for r in _load_strict(tmp_path, "m:f")] == [5, 4]
