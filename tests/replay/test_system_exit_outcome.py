"""A call that ends the program (``sys.exit``, argparse's usage error, a click command's
``main``) is replayed as what it did: capture records the ``SystemExit`` as the call's
exception, so the replay's ``SystemExit`` is its outcome to snapshot or compare.

It used to escape the replay and fail (or end) the test run.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from snapy_capture import capture_args, load_capture_dict
from snapy_capture.pytest_plugin import assert_replay_matches, replay_outcome


def parse(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="tool")
    parser.add_argument("--count", type=int, required=True)
    return vars(parser.parse_args(argv))


def test_a_call_that_exits_replays_as_its_exit(tmp_path: Path) -> None:
    captured = capture_args(path=tmp_path, record_result=True)(parse)
    with pytest.raises(SystemExit):
        captured(["--count", "many"])
    record = load_capture_dict("parse", path=tmp_path)
    assert record["result"]["exception"]["type"] == "SystemExit"

    assert replay_outcome(parse, record) == {"raised": "SystemExit", "message": "2"}
    assert_replay_matches(parse, record)  # the recorded exit, as it ran

    def changed(argv: list[str]) -> dict[str, Any]:
        raise SystemExit(3)

    with pytest.raises(AssertionError):
        assert_replay_matches(changed, record)


def test_a_generator_that_exits_midway_keeps_its_items() -> None:
    def lines(n: int) -> Any:
        yield "first"
        raise SystemExit(n)

    record = {"module": "m", "qualname": "lines", "args": [4], "kwargs": {}, "metadata": {}}
    assert replay_outcome(lines, record) == {
        "items": ["first"],
        "raised": "SystemExit",
        "message": "4",
    }
