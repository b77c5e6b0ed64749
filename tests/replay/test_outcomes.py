"""Outcomes to snapshot: exceptions, generators, and deterministic replay (clock and random)."""

from __future__ import annotations

import datetime
import json
import random
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from snapy_capture.pytest_plugin import assert_replay_matches, replay_outcome
from snapy_capture.replay import CannotReplayError
from snapy_capture.replay import replay_outcome as plain_replay_outcome


def _record(*args: Any, **fields: Any) -> dict[str, Any]:
    return {
        "module": "m",
        "qualname": "f",
        "timestamp": "2026-12-01T10:00:00.250000Z",
        "args": list(args),
        "kwargs": {},
        "metadata": {},
        **fields,
    }


def test_a_call_that_raises_gives_its_type_and_message_to_snapshot() -> None:
    """json.loads('{') is snapshotted as what it raised, not a test error."""
    assert replay_outcome(json.loads, _record("{")) == {
        "raised": "json.decoder.JSONDecodeError",
        "message": "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
    }
    assert replay_outcome(int, _record("x")) == {
        "raised": "ValueError",
        "message": "invalid literal for int() with base 10: 'x'",
    }


def countdown(n: int) -> Iterator[int]:
    for value in range(n, 0, -1):
        if value == 1:
            raise RuntimeError("lift-off failed")
        yield value


async def ticks(n: int) -> AsyncIterator[int]:
    for value in range(n):
        yield value


async def halve(n: int) -> float:
    return n / 2


def test_generators_are_drained_in_both_modes_an_exception_included() -> None:
    """Items before an exception are kept with it; async generators and coroutines run."""
    assert replay_outcome(countdown, _record(3)) == {
        "items": [3, 2],
        "raised": "RuntimeError",
        "message": "lift-off failed",
    }
    assert replay_outcome(ticks, _record(3)) == [0, 1, 2]
    assert replay_outcome(halve, _record(3)) == 1.5
    assert_replay_matches(ticks, _record(2, result={"value": [0, 1]}))
    recorded_error = {"type": "RuntimeError", "module": "builtins", "message": "lift-off failed"}
    assert_replay_matches(countdown, _record(3, result={"exception": recorded_error}))


def stamp(label: str) -> dict[str, Any]:
    return {"label": label, "at": time.time(), "roll": random.randint(1, 10**9)}


def test_deterministic_replay_freezes_the_clock_and_seeds_random() -> None:
    """The clock reads the capture's time; random is the same each run and per case."""
    pytest.importorskip("time_machine")
    record = _record("a")
    first = replay_outcome(stamp, record, deterministic=True)
    second = replay_outcome(stamp, record, deterministic=True)
    assert first == second
    captured_at = datetime.datetime(2026, 12, 1, 10, 0, 0, 250000, tzinfo=datetime.timezone.utc)
    assert first["at"] == captured_at.timestamp()
    later = {**record, "timestamp": "2026-12-01T10:00:01.000000Z"}
    assert replay_outcome(stamp, later, deterministic=True)["roll"] != first["roll"]
    assert time.time() != first["at"]  # the real clock is back after the replay


def test_without_time_machine_deterministic_replay_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The case is skipped naming the missing extra, rather than running with the real clock."""
    monkeypatch.setitem(sys.modules, "time_machine", None)  # import fails as if not installed
    with pytest.raises(pytest.skip.Exception, match=r"time-machine.*snapy-capture\[time\]"):
        replay_outcome(stamp, _record("a"), deterministic=True)
    with pytest.raises(CannotReplayError, match="not installed"):
        plain_replay_outcome(stamp, _record("a"), deterministic=True)
