"""Re-entrant calls and fork: capture never waits on a lock the interrupted code holds.

A captured function may be called while this thread is already running our capture code: by a
signal handler, by an argument's ``__reduce_ex__``, or by our own storage code calling a
standard-library function the import hook wrapped. Such a call runs exactly once, uncaptured,
and is counted as ``skipped``. And a process forked while another thread held one of our locks
captures in the child as if nothing had happened.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

import pytest

from snapy_capture import CaptureLoader, CaptureProfiler, CaptureStorage, capture_args, flush
from snapy_capture.capture import stats

needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def _run(script: str, *args: str, cwd: Path, timeout: float = 120) -> dict[str, Any]:
    """Run ``script`` in a fresh interpreter; the JSON object it printed last."""
    path = cwd / "reentrancy_script.py"
    path.write_text(textwrap.dedent(script), encoding="utf-8")
    try:
        done = subprocess.run(
            [sys.executable, str(path), *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the program hung (still running after {timeout} s): {exc.stderr!r}")
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return report


def _captures(root: Path, name: str) -> list[dict[str, Any]]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return CaptureLoader(root).load_all(name)


# --- interrupted while resolving the configuration ---------------------------------------


@pytest.mark.parametrize("raised", [KeyboardInterrupt, SystemExit])
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_call_interrupted_while_its_configuration_resolves_is_still_made_once(
    capture_dir: Path, monkeypatch: pytest.MonkeyPatch, raised: type[BaseException], mode: str
) -> None:
    """Ctrl-C landing while the first call reads the configuration: the function is called
    exactly once all the same (as when a capture is interrupted), a KeyboardInterrupt comes
    out after it, and the next call resolves and captures."""
    from snapy_capture.capture import _pipeline

    real = _pipeline.resolve_config
    interrupts = [raised]

    def interrupted(overrides: dict[str, Any]) -> Any:
        if interrupts:
            raise interrupts.pop()()
        return real(overrides)

    monkeypatch.setattr(_pipeline, "resolve_config", interrupted)
    calls = []

    @capture_args(retention=None, async_storage=mode == "async")
    def work(x: int) -> int:
        calls.append(x)
        return x * 2

    if raised is KeyboardInterrupt:
        with pytest.raises(KeyboardInterrupt):
            work(1)
    else:
        assert work(1) == 2
    assert calls == [1]
    assert work(2) == 4
    assert calls == [1, 2]
    assert flush(timeout=30)
    assert [r["args"] for r in CaptureLoader().load_all("work")] == [[2]]


# --- signal handlers ----------------------------------------------------------------------

SIGNAL_SCRIPT = """
    import itertools, json, signal, sys, time
    from pathlib import Path
    from snapy_capture import capture_args, flush
    from snapy_capture.capture import stats

    root, mode = sys.argv[1], sys.argv[2]

    @capture_args(root, retention=None, async_storage=mode == "async", dedupe=False)
    def work(i):
        return i * 2

    handled, longest, tickets = [], [0.0], itertools.count()

    def handler(signum, frame):
        start = time.monotonic()
        n = next(tickets)  # a handler may be interrupted by the next signal
        handled.append((n, work(n)))
        longest[0] = max(longest[0], time.monotonic() - start)

    signal.signal(signal.SIGALRM, handler)
    total = calls = 0
    deadline = time.monotonic() + 30
    # Until some signals landed inside our capture code (skipped) and some outside (captured).
    while time.monotonic() < deadline:
        signal.setitimer(signal.ITIMER_REAL, 0.0005, 0.0005)
        for _ in range(300):
            total += work(calls)
            calls += 1
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
        if stats()["skipped"] >= 3 and len(handled) - stats()["skipped"] >= 3:
            break
    flush(30)
    print(json.dumps({
        "main_ok": total == calls * (calls - 1),
        "handler_ok": sorted(handled) == [(i, 2 * i) for i in range(len(handled))],
        "calls": calls + len(handled),
        "longest": longest[0],
        "stats": stats(),
        "files": len(list(Path(root).rglob("*.cap"))),
    }))
"""


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_signal_handler_calling_a_captured_function_never_waits_on_our_locks(
    tmp_path: Path, mode: str
) -> None:
    """Sync, the handler used to wait 10 s on the directory's lock; async, it deadlocked."""
    report = _run(SIGNAL_SCRIPT, str(tmp_path / "captures"), mode, cwd=tmp_path, timeout=90)
    assert report["main_ok"]
    assert report["handler_ok"]
    assert report["longest"] < 5.0  # a capture's own time, not LOCK_TIMEOUT (10 s)
    counted = report["stats"]
    assert counted["skipped"] >= 3
    assert counted["errors"] == 0
    # Every call was captured once, or skipped, or (async, queue full) dropped; never twice.
    assert report["files"] == counted["captured"]
    assert report["calls"] == counted["captured"] + counted["skipped"] + counted["dropped"]


# --- arguments' own hooks -----------------------------------------------------------------


@pytest.mark.parametrize("mode", ["sync", "async", "record_result"])
def test_an_argument_whose_pickling_calls_a_captured_function(capture_dir: Path, mode: str) -> None:
    """The nested call runs once per time the hook calls it, uncaptured, counted as skipped;
    the outer capture is stored, and captures go on normally afterwards."""
    options: dict[str, Any] = {
        "retention": None,
        "async_storage": mode == "async",
        "record_result": mode == "record_result",
    }
    calls: list[int] = []

    @capture_args(**options)
    def audit(x: int) -> int:
        calls.append(x)
        return x + 1

    class Ledger:
        reduced = 0

        def __init__(self, total: int) -> None:
            self.total = total

        def __reduce_ex__(self, protocol: Any) -> Any:
            type(self).reduced += 1
            assert audit(self.total) == self.total + 1
            return (int, (self.total,))

    @capture_args(**options)
    def book(ledger: Any, amount: int) -> str:
        return f"booked {amount}"

    before = stats()["skipped"]
    with CaptureProfiler() as profiler:
        assert book(Ledger(7), 3) == "booked 3"
    assert flush(timeout=30)
    assert Ledger.reduced >= 1
    assert calls == [7] * Ledger.reduced
    assert stats()["skipped"] - before == Ledger.reduced
    assert profiler.skipped == Ledger.reduced
    assert [c["args"] for c in _captures(capture_dir, "book")] == [[7, 3]]
    # The guard does not outlive the capture: a call of its own is captured.
    assert audit(41) == 42
    assert flush(timeout=30)
    assert [c["args"] for c in _captures(capture_dir, "audit")] == [[41]]


# --- our own calls to functions the import hook wrapped -------------------------------------

HOOK_PROGRAM = """\
import json, os
print(os.fspath("/srv/app"))
print(json.dumps({"k": [1, 2]}))
"""


@pytest.mark.parametrize("async_storage", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize(
    ("target", "serializer", "args"),
    [("os:fspath", "pickle", ["/srv/app"]), ("json:dumps", "json", [{"k": [1, 2]}])],
    ids=["os.fspath", "json.dumps"],
)
def test_a_hooked_function_our_own_code_uses_is_captured_once_per_host_call(
    tmp_path: Path, target: str, serializer: str, args: list[Any], async_storage: bool
) -> None:
    """``os:fspath`` used to give 690 captures for one host call (our storage code calls it),
    ``json:dumps`` 106 and a RecursionError."""
    (tmp_path / "app.py").write_text(HOOK_PROGRAM, encoding="utf-8")
    (tmp_path / "targets.yaml").write_text(
        f"version: 1\ndefaults:\n  retention: null\n  serializer: {serializer}\n"
        f"  async_storage: {str(async_storage).lower()}\ntargets:\n  - '{target}'\n",
        encoding="utf-8",
    )
    root = tmp_path / "captures"
    done = subprocess.run(
        [sys.executable, "-m", "snapy_capture.run", "--config", "targets.yaml", "app.py"],
        cwd=tmp_path,
        # Not measured by coverage (`make test` measures subprocesses): coverage holds its own
        # reference to os.fspath, which the hook would rightly warn about.
        env={
            **{k: v for k, v in os.environ.items() if k != "COVERAGE_PROCESS_CONFIG"},
            "SNAP_CAPTURE_DEFAULT_PATH": str(root),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, '/srv/app\n{"k": [1, 2]}\n', "")
    assert [c["args"] for c in _captures(root, target)] == [args]


# --- fork ---------------------------------------------------------------------------------

FORK_WHILE_CAPTURING = """
    import json, os, sys, threading, time
    from snapy_capture import CaptureProfiler, capture_args, flush
    from snapy_capture.capture import stats

    root, mode, forks = sys.argv[1], sys.argv[2], int(sys.argv[3])
    sys.setswitchinterval(1e-5)  # threads preempted often, inside our locks too

    @capture_args(root, retention=3, async_storage=mode == "async")
    def work(i):
        return i

    stop = threading.Event()

    def hammer():
        i = 0
        while not stop.is_set():
            work(i)
            i += 1

    threads = [threading.Thread(target=hammer) for _ in range(3)]
    profiler = CaptureProfiler().__enter__()  # every capture takes the counters' lock
    for thread in threads:
        thread.start()
    outcomes = []
    for _ in range(forks):
        pid = os.fork()
        if pid == 0:
            before = stats()["captured"]
            work(-1)
            flush(10)
            os._exit(0 if stats()["captured"] == before + 1 else 3)
        deadline = time.monotonic() + 15
        while not (done := os.waitpid(pid, os.WNOHANG))[0] and time.monotonic() < deadline:
            time.sleep(0.002)
        if not done[0]:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            outcomes.append("hung")
            break
        else:
            outcomes.append(os.waitstatus_to_exitcode(done[1]))
    stop.set()
    for thread in threads:
        thread.join()
    print(json.dumps(outcomes))
"""


@needs_fork
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_children_forked_while_threads_capture_capture_too(tmp_path: Path, mode: str) -> None:
    """Async, 14 of 20 children used to hang (the counters' lock held by a thread at fork)."""
    path = tmp_path / "fork_script.py"
    path.write_text(textwrap.dedent(FORK_WHILE_CAPTURING), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(path), str(tmp_path / "captures"), mode, "50"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [0] * 50


@needs_fork
def test_children_forked_while_threads_sign_captures_sign_theirs(tmp_path: Path) -> None:
    """With a signing key (whose modules, hmac and OpenSSL's hashlib, are imported as the
    capture layer loads when the variable is set, not at a first capture), children forked
    while threads capture and sign capture and sign too; every capture verifies."""
    path = tmp_path / "fork_script.py"
    path.write_text(textwrap.dedent(FORK_WHILE_CAPTURING), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(path), str(tmp_path / "captures"), "sync", "30"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "SNAP_CAPTURE_SIGNING_KEY": "fork-k3y"},
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [0] * 30
    signed = CaptureStorage(tmp_path / "captures", signing_key="fork-k3y")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one refused (unsigned, altered) would warn
        records = CaptureLoader(storage=signed).load_all("fork_script:work")
    assert records


FORK_WHILE_HELD = """
    import json, os, sys, threading, time
    from snapy_capture import CaptureStorage, capture_args, flush, uninstall_import_hook
    from snapy_capture.filters import _filterspec
    from snapy_capture.hook import _finder as _importhook
    from snapy_capture.capture import _state as _sitestate, _stats, _writer
    from snapy_capture import config
    from snapy_capture.config import _resolve as _config_resolve
    from snapy_capture.capture import stats
    from snapy_capture.storage.serializers import JSONSerializer

    root = sys.argv[1]
    own = CaptureStorage(os.path.join(root, "own"), retention=None)

    class Point:
        pass

    def shared(x):
        return x

    def private(x):
        return x

    def queued(x):
        return x

    def child(n):
        # Everything a child may do that takes one of our locks.
        before = stats()["captured"]
        config.reload_environment()
        JSONSerializer.register(Point, "point", lambda p: 0, lambda d: Point())
        uninstall_import_hook()
        spec = "snapy_capture.filters:ArgumentFilter"  # resolved in the child only
        capture_args(os.path.join(root, f"new{n}"), retention=None, arg_filter=spec)(shared)(1)
        capture_args(storage=own, retention=None)(private)(2)
        capture_args(os.path.join(root, "queued"), retention=None, async_storage=True)(queued)(3)
        flush(10)
        return stats()["captured"] == before + 3

    locks = {
        "counters": _stats._lock,
        "writer": _writer._lock,
        "shared storages": _sitestate._storages_lock,
        "a storage's directories": own._guard,
        "filter specs": _filterspec._resolved_lock,
        "configuration": _config_resolve._lock,
        "JSON codecs": JSONSerializer._codecs_lock,
        "import hook": _importhook._lock,
    }
    outcomes = {}
    for n, (name, lock) in enumerate(locks.items()):
        held, release = threading.Event(), threading.Event()

        def hold():
            with lock:
                held.set()
                release.wait()

        holder = threading.Thread(target=hold)
        holder.start()
        held.wait()
        pid = os.fork()
        if pid == 0:
            os._exit(0 if child(n) else 3)
        deadline = time.monotonic() + 10
        while not (done := os.waitpid(pid, os.WNOHANG))[0] and time.monotonic() < deadline:
            time.sleep(0.002)
        if not done[0]:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            outcomes[name] = "hung"
        else:
            outcomes[name] = os.waitstatus_to_exitcode(done[1])
        release.set()
        holder.join()
    print(json.dumps(outcomes))
"""


@needs_fork
def test_a_child_forked_while_another_thread_holds_a_lock_of_ours_captures(
    tmp_path: Path,
) -> None:
    """Forked at the worst moment on purpose, for each lock: all but the writer's used to
    hang the child for ever."""
    report = _run(FORK_WHILE_HELD, str(tmp_path / "captures"), cwd=tmp_path, timeout=300)
    assert report == dict.fromkeys(report, 0)
    assert len(report) == 8
