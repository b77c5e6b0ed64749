"""Our frames on a captured call's path: as few as wrapt allows, and skipped by frame walkers.

A captured function that warns with ``stacklevel=2`` or logs with ``stacklevel=2`` must still
name its caller (a DeprecationWarning attributed to ``__main__`` is shown by default; one
attributed to our wrapper is not). A disabled capture adds no frame of ours at all.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from snapy_capture import capture_args, flush

MODES = [
    pytest.param({}, id="sync"),
    pytest.param({"async_storage": True}, id="async"),
    pytest.param({"record_result": True}, id="result"),
    pytest.param({"enabled": False}, id="disabled"),
]


def _depth(func: Callable[[int, list[int]], Any]) -> int:
    reached = [0]
    with contextlib.suppress(RecursionError):
        func(0, reached)
    return reached[0]


def _bare(k: int, reached: list[int]) -> Any:
    reached[0] = k
    return _bare(k + 1, reached)


def test_a_disabled_capture_adds_no_frame_of_ours() -> None:
    """Half the bare recursion depth is wrapt's C call; there was a third before."""

    @capture_args(enabled=False)
    def recurse(k: int, reached: list[int]) -> Any:
        reached[0] = k
        return recurse(k + 1, reached)

    assert _depth(recurse) >= 0.45 * _depth(_bare)


@pytest.mark.parametrize("options", MODES)
def test_warnings_with_stacklevel_name_the_callers_line(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    """``warnings.warn(stacklevel=2)`` inside a captured function points at its caller."""

    @capture_args(retention=None, **options)
    def old_api(x: int) -> int:
        warnings.warn("old_api is deprecated", DeprecationWarning, stacklevel=2)
        return x

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = sys._getframe().f_lineno + 1
        assert old_api(1) == 1
    assert flush(timeout=30)
    assert [(w.filename, w.lineno) for w in caught] == [(__file__, line)]


@pytest.mark.parametrize("options", MODES)
def test_logging_with_stacklevel_names_the_callers_line(
    capture_dir: Path, options: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    """``logger.info(..., stacklevel=2)`` inside a captured function records its caller."""
    logger = logging.getLogger("host_app")

    @capture_args(retention=None, **options)
    def helper(x: int) -> int:
        logger.warning("called with %s", x, stacklevel=2)
        return x

    with caplog.at_level(logging.WARNING, logger="host_app"):
        line = sys._getframe().f_lineno + 1
        helper(2)
    assert flush(timeout=30)
    [record] = [r for r in caplog.records if r.name == "host_app"]
    assert (record.pathname, record.lineno) == (__file__, line)


def test_a_deprecation_warning_for_main_is_still_shown(tmp_path: Path) -> None:
    """Python shows DeprecationWarnings attributed to __main__: under the runner too."""
    (tmp_path / "lib.py").write_text(
        textwrap.dedent(
            """
            import warnings

            def old_api():
                warnings.warn("old_api is deprecated", DeprecationWarning, stacklevel=2)
                return 1
            """
        )
    )
    (tmp_path / "app.py").write_text("import lib\nprint(lib.old_api())\n")
    (tmp_path / "capture.yaml").write_text("version: 1\ntargets:\n  - lib:old_api\n")
    env = {**os.environ, "SNAP_CAPTURE_DEFAULT_PATH": str(tmp_path / "captures")}
    env.pop("PYTHONWARNINGS", None)
    outputs = [
        subprocess.run(
            [sys.executable, *runner, "app.py"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=True,
        )
        for runner in ([], ["-m", "snapy_capture.run", "--config", "capture.yaml"])
    ]
    plain, captured = outputs
    assert "app.py:2: DeprecationWarning: old_api is deprecated" in plain.stderr
    assert captured.stderr == plain.stderr
    assert captured.stdout == plain.stdout == "1\n"
    assert list((tmp_path / "captures").rglob("*.cap"))


def test_a_traceback_through_a_captured_call_shows_every_source_line(capture_dir: Path) -> None:
    """Our hidden frames still show their source line in a traceback."""
    import traceback

    @capture_args(retention=None)
    def fails() -> None:
        raise ValueError("boom")

    try:
        fails()
    except ValueError as exc:
        frames = traceback.extract_tb(exc.__traceback__)
    assert all(frame.line for frame in frames), frames
