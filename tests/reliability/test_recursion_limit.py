"""A captured call made a few frames short of the recursion limit is still made.

Capture costs a call one frame of ours (and, on 3.10/3.11, wrapt's C call): that much less
room is documented. Nearer than the capture itself needs, the capture fails with
``RecursionError`` and is dropped; reporting that failure (counting it, logging it) then
failed too, and that second ``RecursionError`` left our handler: the function was not called
at depths where it fits, or, with ``record_result``, a result it returned was lost.

Reading and setting the call depth (a context variable) can fail too: CPython's context map
compares a variable with another filed in the same slot, and a comparison counts as one
recursion level. With such a variable of the host's in its context (pytest's own process
has three: ``decimal_context`` and syrupy's two), capture cost one level more than
documented, and the call at the deepest depth that fits was not made: about one pytest
process in eleven, by the variables' hashes (addresses).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextvars import Context, ContextVar
from pathlib import Path
from typing import Any

import pytest

from _modes import CAPTURE_MODES
from snapy_capture import capture_args, flush
from snapy_capture.capture._context import DEPTH


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


def _check_near_the_limit(options: dict[str, Any]) -> None:
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
    measured = f"bare call works to depth {bare_deepest}, captured to {deepest}, holes {holes}"
    assert holes == [], f"calls that fit failed: the capture's own failure escaped ({measured})"
    # wrapt's C call (3.10/3.11) and our handler: the documented cost, no more.
    assert deepest >= bare_deepest - 2, measured
    assert len(made) == deepest - start + 1, measured  # every call that returned was made once
    assert flush(timeout=30)


@pytest.mark.parametrize("options", CAPTURE_MODES)
def test_a_call_near_the_recursion_limit_is_made_and_returns(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    _check_near_the_limit(options)


def _slot(var: ContextVar[Any]) -> int:
    """Where CPython's context map (a HAMT) files ``var`` first: the low five bits of its
    hash folded to 32 bits (``hamt_hash``, ``hamt_mask`` in Python/hamt.c)."""
    folded = hash(var) & 0xFFFF_FFFF_FFFF_FFFF
    return ((folded & 0xFFFF_FFFF) ^ (folded >> 32)) & 0x1F


@pytest.mark.parametrize("options", CAPTURE_MODES)
def test_a_context_variable_of_the_hosts_beside_ours_costs_no_frame(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    # Distinct names and all kept: a variable's hash is its name's XOR its address.
    candidates = [ContextVar(f"host_{n}") for n in range(1000)]
    beside = next(var for var in candidates if _slot(var) == _slot(DEPTH))

    def in_the_hosts_context() -> None:
        beside.set(1)  # the host's only variable: filed in the slot ours is filed in
        _check_near_the_limit(options)

    Context().run(in_the_hosts_context)
