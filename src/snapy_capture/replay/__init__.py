"""Replay: loading captures back, replay cases for pytest, comparison, and gen-tests.

``replay.loader`` is also importable as ``snapy_capture.loader``, its documented path.
"""

from __future__ import annotations

from snapy_capture.replay._cases import (
    Case,
    Cases,
    ReplayResult,
    Where,
    assert_replay_matches,
    collect_cases,
    replay_and_compare,
)
from snapy_capture.replay._gentests import generate_test_module
from snapy_capture.replay.loader import (
    CaptureLoader,
    has_capture,
    load_capture,
    load_capture_dict,
)

__all__ = [
    "CaptureLoader",
    "Case",
    "Cases",
    "ReplayResult",
    "Where",
    "assert_replay_matches",
    "collect_cases",
    "generate_test_module",
    "has_capture",
    "load_capture",
    "load_capture_dict",
    "replay_and_compare",
]
