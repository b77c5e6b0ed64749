"""Replay: loading captures back, replay cases for pytest, comparison, and gen-tests.

``replay.loader`` is also importable as ``snapy_capture.loader``, its documented path.
"""

from __future__ import annotations

from snapy_capture.replay._budget import SnapshotTimeout, set_snapshot_seconds
from snapy_capture.replay._call import CannotReplayError
from snapy_capture.replay._cases import Case, Cases, Where, collect_cases
from snapy_capture.replay._compare import (
    ReplayResult,
    assert_replay_matches,
    replay_and_compare,
    replay_outcome,
)
from snapy_capture.replay._determinism import deterministic
from snapy_capture.replay._gentests import generate_test_module
from snapy_capture.replay._state import Shown, SnapshotTooLarge, snapshot_state, state_view
from snapy_capture.replay._substitutes import (
    clear_default_substitutes,
    load_substitutes,
    set_default_substitutes,
)
from snapy_capture.replay.loader import (
    CaptureLoader,
    has_capture,
    load_capture,
    load_capture_dict,
)

__all__ = [
    "CannotReplayError",
    "CaptureLoader",
    "Case",
    "Cases",
    "ReplayResult",
    "Shown",
    "SnapshotTimeout",
    "SnapshotTooLarge",
    "Where",
    "assert_replay_matches",
    "clear_default_substitutes",
    "collect_cases",
    "deterministic",
    "generate_test_module",
    "has_capture",
    "load_capture",
    "load_capture_dict",
    "load_substitutes",
    "replay_and_compare",
    "replay_outcome",
    "set_default_substitutes",
    "set_snapshot_seconds",
    "snapshot_state",
    "state_view",
]
