"""A captured call made a few frames short of the recursion limit is still made.

Capture costs a call one frame of ours (and, on 3.10/3.11, wrapt's C call): that much less
room is documented. Nearer than the capture itself needs, the capture fails with
``RecursionError`` and is dropped; reporting that failure (counting it, logging it) then
failed too, and that second ``RecursionError`` left our handler: the function was not called
at depths where it fits, or, with ``record_result``, a result it returned was lost.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from _modes import CAPTURE_MODES
from snapy_capture import capture_args, flush


def _at_depth(depth: int, call: Callable[[int], int]) -> int:
    if depth == 0:
        return call(1)
    return _at_depth(depth - 1, call)


def _deepest(call: Callable[[int], int], start: int) -> tuple[int, list[int]]:
    """The deepest depth from ``start`` at which ``call`` works, and the depths below it at
    which it failed."""
    worked, failed = -1, []
    for depth in range(start, sys.getrecursionlimit()):
        try:
            assert _at_depth(depth, call) == 2
        except RecursionError:
            failed.append(depth)
            continue
        worked = depth
    return worked, [depth for depth in failed if depth < worked]


@pytest.mark.parametrize("options", CAPTURE_MODES)
def test_a_call_near_the_recursion_limit_is_made_and_returns(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    made: list[int] = []

    def bare(x: int) -> int:
        made.append(x)
        return x + 1

    captured = capture_args(retention=None, **options)(bare)
    assert captured(1) == 2  # resolved: the first call's own frames are not measured here
    bare_deepest, _ = _deepest(bare, 0)
    start = bare_deepest - 80
    made.clear()
    deepest, holes = _deepest(captured, start)
    assert holes == [], "calls that fit failed: the capture's own failure escaped"
    # wrapt's C call (3.10/3.11) and our handler: the documented cost, no more.
    assert deepest >= bare_deepest - 2
    assert len(made) == deepest - start + 1  # every call that returned was made once
    assert flush(timeout=30)
