"""Snapshots that cannot hang: the value's own code run while building one has a time budget.

A value kept by its own ``__repr__`` has that repr called once when its snapshot is built; one
that never returns used to hang its case (and the run). The budget is a ``SIGALRM`` timer in
the main thread, composed with any timer already set (pytest-timeout's signal method).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from snapy_capture.cli import main as cli_main
from snapy_capture.replay import (
    SnapshotTimeout,
    replay_and_compare,
    replay_outcome,
    snapshot_state,
)

pytest_plugins = ["pytester"]

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "setitimer"), reason="the budget needs SIGALRM (POSIX)"
)


class Forever:
    """Kept by its own ``__eq__`` and ``__repr__``, which never returns."""

    def __eq__(self, other: object) -> bool:
        return self is other

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        while True:
            pass


class Stubborn(Forever):
    """Its repr catches whatever it can and carries on."""

    def __repr__(self) -> str:
        while True:
            try:
                while True:
                    pass
            except Exception:  # noqa: S110 - what a careless __repr__ does
                pass


class OuterTimeout(BaseException):
    """What pytest-timeout's handler raises (pytest.fail's exception is a BaseException)."""


def forever() -> Forever:
    return Forever()


def _record() -> dict[str, Any]:
    return {
        "module": "m",
        "qualname": "f",
        "timestamp": "2026-12-01T10:00:00.000000Z",
        "args": [],
        "kwargs": {},
        "metadata": {},
    }


@pytest.fixture
def alarm_restored() -> Any:
    """Whatever a test does to SIGALRM is undone after it."""
    handler = signal.getsignal(signal.SIGALRM)
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, handler)


def test_a_repr_that_never_returns_fails_naming_the_type_and_the_budget(
    alarm_restored: None,
) -> None:
    with pytest.raises(SnapshotTimeout) as raised:
        replay_outcome(forever, _record(), max_seconds=0.3)
    message = str(raised.value)
    assert message.startswith("capture of m:f from 2026-12-01")
    assert "building the snapshot took longer than 0.3 s (the snapshot time budget)" in message
    assert f"the code of a {__name__}.Forever value did not return" in message
    assert "stopped in Forever.__repr__" in message
    assert "--snapy-capture-snapshot-timeout" in message
    # Nothing of the budget is left behind.
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, None, signal.default_int_handler)


def test_a_repr_that_catches_the_alarm_is_stopped_all_the_same(alarm_restored: None) -> None:
    with pytest.raises(SnapshotTimeout, match=r"Stubborn value did not return"):
        snapshot_state({"deep": [Stubborn()]}, max_seconds=0.3)


def test_a_timer_set_before_survives_with_its_remaining_time(alarm_restored: None) -> None:
    fired: list[float] = []
    handler = lambda signum, frame: fired.append(time.monotonic())  # noqa: E731
    signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 5.0)
    start = time.monotonic()
    with pytest.raises(SnapshotTimeout):
        snapshot_state(Forever(), max_seconds=0.3)
    elapsed = time.monotonic() - start
    remaining, interval = signal.getitimer(signal.ITIMER_REAL)
    assert signal.getsignal(signal.SIGALRM) is handler
    assert fired == []
    assert interval == 0.0
    # What was left of 5 s, less the time spent building the snapshot (at least 0.3 s).
    assert 0.0 < remaining <= 5.0 - elapsed + 0.01
    signal.setitimer(signal.ITIMER_REAL, 0.05)
    time.sleep(0.5)
    assert len(fired) == 1


def test_an_interval_timer_keeps_its_interval(alarm_restored: None) -> None:
    signal.signal(signal.SIGALRM, lambda signum, frame: None)
    signal.setitimer(signal.ITIMER_REAL, 30.0, 7.0)
    assert snapshot_state([1, "a"], max_seconds=2) == [1, "a"]
    remaining, interval = signal.getitimer(signal.ITIMER_REAL)
    assert interval == 7.0
    assert 0.0 < remaining <= 30.0


def test_a_timer_due_first_fires_and_its_exception_wins(alarm_restored: None) -> None:
    """pytest-timeout's timer runs out before the budget: its handler runs, as it would have,
    and what it raises (the test's timeout) is what the case gets."""

    def timeout(signum: int, frame: object) -> None:
        raise OuterTimeout("Timeout >0.3s")

    signal.signal(signal.SIGALRM, timeout)
    signal.setitimer(signal.ITIMER_REAL, 0.3)
    with pytest.raises(OuterTimeout, match="Timeout"):
        snapshot_state(Forever(), max_seconds=30)
    assert signal.getsignal(signal.SIGALRM) is timeout
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_outside_the_main_thread_the_budget_is_not_enforced_and_breaks_nothing() -> None:
    """signal.signal only works in the main thread: elsewhere the view is built unguarded."""
    results: list[Any] = []
    thread = threading.Thread(
        target=lambda: results.append(snapshot_state({"a": 1}, max_seconds=0.5))
    )
    thread.start()
    thread.join(10)
    assert results == [{"a": 1}]


DRIVER = """\
import loopy

values = [loopy.build(2), loopy.build(1)]  # the newest, replayed first, hangs
"""
LOOPY = '''\
"""A module whose values print themselves forever."""


class Loop:
    def __init__(self, n):
        self.n = n

    def __eq__(self, other):
        return isinstance(other, Loop) and other.n == self.n

    __hash__ = object.__hash__

    def __repr__(self):
        if self.n == 1:
            while True:
                pass
        return f"Loop({self.n})"


def build(n):
    return Loop(n)
'''
# pytest-timeout's signal method, as it sets up and tears down around each test; the timer
# it finds at teardown is written down for the outer test to check.
CONFTEST = """\
import json, signal, time

import pytest


@pytest.fixture(autouse=True)
def outer_timeout(request):
    seconds = float(request.config.getini("outer_timeout") or 0)
    if not seconds:
        yield
        return

    def handler(signum, frame):
        pytest.fail(f"Timeout >{seconds}s")

    signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    start = time.monotonic()
    yield
    left = signal.getitimer(signal.ITIMER_REAL)[0]
    with open("timers.jsonl", "a") as out:
        out.write(json.dumps({"test": request.node.name, "left": left,
                              "elapsed": time.monotonic() - start,
                              "handler": signal.getsignal(signal.SIGALRM) is handler}) + "\\n")
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, signal.SIG_DFL)


def pytest_addoption(parser):
    parser.addini("outer_timeout", "seconds", default="")
"""


@pytest.fixture
def generated(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Captures of loopy.build(1) and (2) taken by the runner, and gen-tests' snapshot module."""
    for name in list(os.environ):
        if name.startswith(("PYTEST_XDIST", "SNAP_CAPTURE_")) or name == "PYTEST_ADDOPTS":
            monkeypatch.delenv(name)
    monkeypatch.chdir(pytester.path)
    pytester.makepyfile(loopy=LOOPY, driver=DRIVER, conftest=CONFTEST)
    Path("targets.yaml").write_text(
        "version: 1\ndefaults:\n  path: captures\ntargets:\n  - loopy:build\n", encoding="utf-8"
    )
    ran = subprocess.run(
        [sys.executable, "-m", "snapy_capture.run", "--config", "targets.yaml", "driver.py"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    code = cli_main(["gen-tests", "--path", "captures", "-o", "test_loopy.py", "loopy:build"])
    assert code == 0
    return pytester.path


def _ini(pytester: pytest.Pytester, extra: str = "") -> None:
    pytester.makefile(
        ".ini",
        pytest="[pytest]\npythonpath = .\naddopts = -p no:cacheprovider -p no:randomly\n" + extra,
    )


def test_a_generated_case_whose_value_never_prints_fails_and_the_next_one_runs(
    pytester: pytest.Pytester, generated: Path
) -> None:
    _ini(pytester, "snapy_capture_snapshot_timeout = 1\n")
    result = pytester.runpytest_subprocess("--snapshot-update", "-v", timeout=90)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_build_replays_captured_calls?capture-1? FAILED*",
            "*test_build_replays_captured_calls?capture-0? PASSED*",
            "*SnapshotTimeout: capture of loopy:build from * building the snapshot took longer"
            " than 1 s (the snapshot time budget): the code of a loopy.Loop value did not"
            " return (stopped in Loop.__repr__ at *loopy.py:*)*",
        ]
    )
    snapshots = (generated / "__snapshots__" / "test_loopy.ambr").read_text()
    assert "Loop(2)" in snapshots


def test_the_budget_composes_with_a_pytest_timeout_style_timer(
    pytester: pytest.Pytester, generated: Path
) -> None:
    """The test's own SIGALRM timer (30 s) is there after the failed case, less the time
    spent; with a timer shorter than the budget, that timer's failure is the case's."""
    _ini(pytester, "snapy_capture_snapshot_timeout = 1\nouter_timeout = 30\n")
    result = pytester.runpytest_subprocess("--snapshot-update", timeout=90)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*SnapshotTimeout: capture of loopy:build*"])
    timers = [json.loads(line) for line in (generated / "timers.jsonl").read_text().splitlines()]
    assert [timer["handler"] for timer in timers] == [True, True]
    for timer in timers:
        assert 0.0 < timer["left"] <= 30.0 - timer["elapsed"] + 0.01
    assert timers[0]["elapsed"] >= 1.0  # the case that hung ran its budget out

    (generated / "timers.jsonl").unlink()
    _ini(pytester, "snapy_capture_snapshot_timeout = 60\nouter_timeout = 1\n")
    result = pytester.runpytest_subprocess("--snapshot-update", timeout=90)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*Failed: Timeout >1.0s*"])
    result.stdout.no_fnmatch_line("*SnapshotTimeout*")


def test_a_bad_budget_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_nothing="def test_x():\n    pass\n")
    result = pytester.runpytest_subprocess("--snapy-capture-snapshot-timeout", "soon", timeout=60)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--snapy-capture-snapshot-timeout: expected a number of seconds >= 0, got 'soon'*"]
    )


def test_a_result_mode_diff_of_a_value_that_never_prints_fails_within_the_budget(
    alarm_restored: None,
) -> None:
    """Result mode shows a mismatch by the values' reprs: the same budget holds there."""
    record = {**_record(), "result": {"value": 1}}
    with pytest.raises(SnapshotTimeout) as raised:
        replay_and_compare(forever, record, max_seconds=0.3)
    assert "comparing with the recorded result took longer than 0.3 s" in str(raised.value)
    assert f"{__name__}.Forever" in str(raised.value)
