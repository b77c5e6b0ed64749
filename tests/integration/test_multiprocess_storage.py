"""Storage across real processes: exact retention, and no partial capture after a kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from snapy_capture import CaptureStorage

WRITER = textwrap.dedent(
    """
    import sys, threading
    from snapy_capture import CaptureStorage
    root, retention = sys.argv[1], sys.argv[2]
    per_thread, threads = int(sys.argv[3]), int(sys.argv[4])
    store = CaptureStorage(root, retention=None if retention == "none" else int(retention))
    payload = "x" * int(sys.argv[5]) if len(sys.argv) > 5 else ""
    def work(tag):
        for n in range(per_thread):
            store.save({"function_name": "f", "module": "load", "qualname": "f",
                        "args": [tag, n, payload], "kwargs": {}, "metadata": {}})
    ts = [threading.Thread(target=work, args=(f"{i}",)) for i in range(threads)]
    for t in ts: t.start()
    for t in ts: t.join()
    """
)


def _spawn(
    root: Path, retention: str, per_thread: int, threads: int, *extra: str
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(root), retention, str(per_thread), str(threads), *extra],
    )


def test_retention_exact_across_processes_and_threads(tmp_path: Path) -> None:
    """4 processes x 4 threads writing one function: exactly N captures remain, all readable."""
    procs = [_spawn(tmp_path, "7", 15, 4) for _ in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    store = CaptureStorage(tmp_path)
    files = store.capture_files("load", "f")
    assert len(files) == 7
    assert all(store.read(path)["module"] == "load" for path in files)


def test_no_retention_keeps_every_capture_across_processes(tmp_path: Path) -> None:
    """With retention off, every capture of every process is present exactly once."""
    procs = [_spawn(tmp_path, "none", 10, 4) for _ in range(3)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    store = CaptureStorage(tmp_path)
    records = [store.read(path) for path in store.capture_files("load", "f")]
    assert len(records) == 120
    assert len({(r["args"][0], r["args"][1], i) for i, r in enumerate(records)}) == 120


def test_killed_writer_leaves_no_partial_capture(tmp_path: Path) -> None:
    """SIGKILL in the middle of writes: every capture file present loads completely."""
    proc = _spawn(tmp_path, "none", 100000, 2, "200000")
    deadline = time.monotonic() + 30
    directory = None
    while time.monotonic() < deadline:
        dirs = [p for p in tmp_path.iterdir() if p.is_dir()] if tmp_path.exists() else []
        if dirs and len(list(dirs[0].glob("*.cap"))) >= 5:
            directory = dirs[0]
            break
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert directory is not None
    store = CaptureStorage(tmp_path)
    files = store.capture_files("load", "f")
    assert files
    for path in files:
        assert len(store.read(path)["args"][2]) == 200000
    # Leftover temp files are invisible to loading and removed by prune once stale.
    for temp in directory.glob(".tmp-*"):
        os.utime(temp, (0, 0))
    store.prune(retention=None)
    assert list(directory.glob(".tmp-*")) == []
