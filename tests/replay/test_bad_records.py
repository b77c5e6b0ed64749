"""A value that is not a capture record, handed to the replay helpers, is refused naming it.

It used to fail deep inside (``'int' object has no attribute 'get'``, ``'int' object is not
iterable``). Found by review "attack4" (2026-12-05).
"""

from __future__ import annotations

from typing import Any

import pytest

from snapy_capture.replay import assert_replay_matches, replay_and_compare, replay_outcome


def add(a: int, b: int = 1) -> int:
    return a + b


@pytest.mark.parametrize(
    "record",
    [None, 5, "args", {"args": 5, "kwargs": {}}, {"args": [1], "kwargs": [("b", 2)]}],
    ids=["none", "int", "str", "args-int", "kwargs-list"],
)
@pytest.mark.parametrize("helper", [replay_and_compare, replay_outcome, assert_replay_matches])
def test_not_a_record_is_a_type_error_naming_the_record(helper: Any, record: Any) -> None:
    with pytest.raises(TypeError) as info:
        helper(add, record)
    message = str(info.value)
    assert message.startswith("record must be a capture record")
    assert len(message.splitlines()) == 1


def test_a_record_still_replays() -> None:
    record = {"args": [1], "kwargs": {"b": 2}, "result": {"value": 3}}
    assert replay_outcome(add, record) == 3
    assert replay_and_compare(add, record).matches
