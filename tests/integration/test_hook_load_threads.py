"""Threads importing target modules while another thread loads the capture layer.

The first target module imported loads the capture layer (tens of ms). A thread importing
another target module meanwhile did not wait: its module was left to the loading thread,
wrapped once the load was done, and its calls until then were not captured. Workers started
together, each importing its module and calling it at once, had every call of all but one
uncaptured, and the exit line said "5 of 6 targets captured nothing". They now wait for the
load (boundedly: the loading thread may need a module lock such a thread holds).
"""

from __future__ import annotations

import json
from pathlib import Path

from _process import RUNNER, run

# The load is made slow (it is fast, and the race narrow) by the program itself: the hook's
# parsing of the target file sleeps first.
SLOW_LOAD = """
import time
from snapy_capture.hook import _finder

_parsed = _finder.ImportHook._parsed

def slow(self):
    time.sleep(0.5)
    return _parsed(self)

_finder.ImportHook._parsed = slow
_finder._LOAD_WAIT = 60.0  # the bound is not what this test is about: a loaded machine
"""

WORKERS = (
    SLOW_LOAD
    + """
import importlib, threading

seen = {}

def work(i):
    module = importlib.import_module(f"tgt_worker{i}")
    seen[i] = (type(module.handle).__name__ != "function", sum(module.handle(k) for k in range(5)))

threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
for thread in threads:
    thread.start()
    time.sleep(0.05)  # the first is loading the capture layer when the others import
for thread in threads:
    thread.join()
print(sorted(seen.items()))
"""
)


def _project(tmp_path: Path, program: str, count: int) -> None:
    for i in range(count):
        (tmp_path / f"tgt_worker{i}.py").write_text(
            f"def handle(x):\n    return x + {i}\n", encoding="utf-8"
        )
    targets = ", ".join(f"tgt_worker{i}:handle" for i in range(count))
    (tmp_path / "capture.yaml").write_text(
        f"defaults: {{dedupe: false}}\ntargets: [{targets}]\n", encoding="utf-8"
    )
    (tmp_path / "app.py").write_text(program, encoding="utf-8")


def test_threads_importing_targets_during_the_load_have_their_calls_captured(
    tmp_path: Path,
) -> None:
    _project(tmp_path, WORKERS, 4)
    report = tmp_path / "report.json"
    result = run(
        [*RUNNER, "--report", str(report), "app.py"],
        tmp_path,
        SNAP_CAPTURE_DEFAULT_PATH=str(tmp_path / "captures"),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{[(i, (True, 10 + 5 * i)) for i in range(4)]}\n"
    assert result.stderr == ""
    built = json.loads(report.read_text(encoding="utf-8"))
    assert [t["captured"] for t in built["targets"]] == [5, 5, 5, 5]


# A thread importing a target module holds the import lock of what imports it (here
# ``tgt_shared``), which the load itself needs: that thread must not wait for the load for
# ever. It waits a bounded time, then leaves its module to the loading thread, as before.
LOCK_CYCLE_PROGRAM = """
import threading, time
from snapy_capture.hook import _finder

_parsed = _finder.ImportHook._parsed
started = threading.Event()

def needs_shared(self):
    started.set()
    time.sleep(0.3)  # the other thread is importing tgt_shared by now
    import tgt_shared  # noqa: F401 - held by that thread while it waits for this load
    return _parsed(self)

_finder.ImportHook._parsed = needs_shared

def other():
    started.wait()
    import tgt_shared  # noqa: F401 - imports tgt_worker1 in its body

thread = threading.Thread(target=other)
thread.start()
import tgt_worker0
thread.join()
import tgt_shared, tgt_worker1
print(*(type(m.handle).__name__ != "function" for m in (tgt_worker0, tgt_worker1)))
"""


def test_a_thread_holding_a_lock_the_load_needs_does_not_deadlock(tmp_path: Path) -> None:
    _project(tmp_path, LOCK_CYCLE_PROGRAM, 2)
    (tmp_path / "tgt_shared.py").write_text("import tgt_worker1\n", encoding="utf-8")
    result = run(
        [*RUNNER, "app.py"], tmp_path, SNAP_CAPTURE_DEFAULT_PATH=str(tmp_path / "captures")
    )
    assert (result.stdout, result.returncode) == ("True True\n", 0), result.stderr
