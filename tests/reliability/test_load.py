"""Load: many processes and threads capturing one function through the real decorator.

Every process runs a small program whose function is decorated with ``@capture_args``; the
test then checks the storage as a user would: the exact number of captures, every one of them
readable, every call present once, and sequence numbers without gaps or duplicates.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

from snapy_capture import CaptureLoader, CaptureStorage, capture_args

MODULE = "rel_load_target"

# The captured function lives in a real module, as in a host program; options come from argv.
TARGET = textwrap.dedent(
    """
    import atexit, json, sys, threading
    from snapy_capture.capture import capture_args, stats

    root, retention, use_async = sys.argv[1], sys.argv[2], sys.argv[3] == "async"
    threads, per_thread = int(sys.argv[4]), int(sys.argv[5])
    tag = sys.argv[6]

    # Registered before the first capture, so it runs after the writer's exit flush (LIFO).
    atexit.register(lambda: print(json.dumps(stats()), flush=True))

    @capture_args(path=root, retention=None if retention == "none" else int(retention),
                  async_storage=use_async)
    def work(process, thread, n):
        return n * 2

    def run(thread):
        for n in range(per_thread):
            assert work(tag, thread, n) == n * 2

    pool = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    """
)


def _run_writers(
    tmp_path: Path, root: Path, retention: str, mode: str, procs: int, threads: int, per: int
) -> list[dict[str, int]]:
    module = tmp_path / f"{MODULE}.py"
    module.write_text(TARGET)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    running = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                MODULE,
                str(root),
                retention,
                mode,
                str(threads),
                str(per),
                f"p{i}",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i in range(procs)
    ]
    outputs = [p.communicate(timeout=300) for p in running]
    for proc, (_, err) in zip(running, outputs, strict=True):
        assert proc.returncode == 0, err.decode()
        assert err == b"", err.decode()  # no warning, no traceback from the library
    return [json.loads(out.decode().strip().splitlines()[-1]) for out, _ in outputs]


def _check(root: Path, retention: int | None, procs: int, threads: int, per: int) -> None:
    total = procs * threads * per
    storage = CaptureStorage(root)
    files = storage.capture_files(MODULE, "work")
    seqs = sorted(int(path.stem) for path in files)
    expected = total if retention is None else retention
    # Every write got its own number, with no gap: the survivors are exactly the newest numbers.
    assert seqs == list(range(total - expected, total))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a corrupt file would be skipped with a warning
        records = CaptureLoader(root).load_all(f"{MODULE}:work")
    assert len(records) == expected
    calls = {tuple(r["args"]) for r in records}
    assert len(calls) == expected  # no call stored twice
    if retention is None:
        assert calls == {
            (f"p{p}", t, n) for p in range(procs) for t in range(threads) for n in range(per)
        }
    assert all(r["metadata"]["call_depth"] == 0 for r in records)


LOADS = [
    pytest.param(4, 4, 25, id="4x4x25"),
    pytest.param(8, 4, 100, id="8x4x100", marks=pytest.mark.slow),
]


@pytest.mark.parametrize(("procs", "threads", "per"), LOADS)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_every_capture_kept_without_retention(
    tmp_path: Path, mode: str, procs: int, threads: int, per: int
) -> None:
    """Retention off: every call of every thread of every process is stored once, readable."""
    root = tmp_path / "store"
    counters = _run_writers(tmp_path, root, "none", mode, procs, threads, per)
    assert [c["captured"] for c in counters] == [threads * per] * procs
    assert [c["dropped"] for c in counters] == [0] * procs
    _check(root, None, procs, threads, per)


@pytest.mark.parametrize(("procs", "threads", "per"), LOADS)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_retention_exact_under_load(
    tmp_path: Path, mode: str, procs: int, threads: int, per: int
) -> None:
    """Retention N: exactly the newest N captures remain, whatever the interleaving."""
    root = tmp_path / "store"
    counters = _run_writers(tmp_path, root, "7", mode, procs, threads, per)
    assert sum(c["captured"] for c in counters) == procs * threads * per
    _check(root, 7, procs, threads, per)


@pytest.mark.parametrize("tasks", [pytest.param(1000, id="1000")])
def test_call_depth_per_asyncio_task(capture_dir: Path, tasks: int) -> None:
    """1,000 interleaved tasks: each outer call has depth 0 and its inner call depth 1."""

    @capture_args(retention=None)
    async def inner(task: int) -> int:
        await asyncio.sleep(0)
        return task

    @capture_args(retention=None)
    async def outer(task: int) -> int:
        await asyncio.sleep(0)  # let every other task start before this one goes deeper
        value = await inner(task)
        await asyncio.sleep(0)
        return value

    async def main() -> list[int]:
        return await asyncio.gather(*(outer(i) for i in range(tasks)))

    assert asyncio.run(main()) == list(range(tasks))
    loader = CaptureLoader(capture_dir)
    for name, depth in (("outer", 0), ("inner", 1)):
        records = loader.load_all(name)
        assert sorted(r["args"][0] for r in records) == list(range(tasks))
        assert {r["metadata"]["call_depth"] for r in records} == {depth}
