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
from types import FrameType
from typing import Any

import pytest
import wrapt

from snapy_capture import (
    CaptureConfig,
    CaptureLoader,
    capture_args,
    flush,
    load_capture,
    set_global_config,
)
from snapy_capture.capture import seed_sampler

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


def _frames_between(inner: FrameType, outer: FrameType) -> list[str]:
    """The code names of the frames between a function's frame and its caller's."""
    names = []
    frame = inner.f_back
    while frame is not None and frame is not outer:
        names.append(frame.f_code.co_name)
        frame = frame.f_back
    assert frame is outer
    return names


FRAME_MODES = [
    *MODES[:2],
    pytest.param({"async_storage": True, "lazy_serialization": True}, id="lazy"),
    pytest.param({"sample_rate": 1e-12}, id="sampled-out"),
    pytest.param({"record_result": True}, id="result"),
    pytest.param({"record_result": True, "async_storage": True}, id="result-async"),
    pytest.param(
        {"record_result": True, "async_storage": True, "lazy_serialization": True},
        id="result-lazy",
    ),
]


@pytest.mark.parametrize("options", FRAME_MODES)
def test_a_captured_call_runs_one_frame_of_ours(capture_dir: Path, options: dict[str, Any]) -> None:
    """Between a captured function and its caller there is one frame of ours, no more: what
    ``sys._getframe(1)`` and frame walkers without our file filter see."""

    @capture_args(retention=None, **options)
    def probe(x: int) -> FrameType:
        return sys._getframe()

    for x in range(3):  # the first call resolves the configuration: one more frame, once
        between = _frames_between(probe(x), sys._getframe())
    assert len(between) == 1, between
    assert flush(timeout=30)
    if "sample_rate" not in options:
        assert load_capture("probe") == ((2,), {})


class Counter:
    """Picklable (module level): its state is stored as ``self`` and ``self_after``."""

    def __init__(self) -> None:
        self.count = 0

    def bump(self, by: int) -> FrameType:
        self.count += by
        return sys._getframe()


@pytest.mark.parametrize("options", FRAME_MODES[-3:])
def test_a_method_recording_its_result_runs_one_frame_of_ours(
    capture_dir: Path, monkeypatch: pytest.MonkeyPatch, options: dict[str, Any]
) -> None:
    """With its receiver's state after the call and its result recorded too."""
    captured = capture_args(retention=None, **options)(vars(Counter)["bump"])
    monkeypatch.setattr(Counter, "bump", captured)
    counter = Counter()
    for by in range(1, 4):
        between = _frames_between(counter.bump(by), sys._getframe())
    assert len(between) == 1, between
    assert flush(timeout=30)
    [record] = [r for r in CaptureLoader().load_all("Counter.bump") if r["args"] == [3]]
    assert (record["self"].count, record["self_after"].count) == (3, 6)


def test_a_method_bound_before_its_first_call_runs_one_frame_of_ours(capture_dir: Path) -> None:
    """A bound method kept (a callback, ``map(obj.method, ...)``) calls what the site
    resolved later, not a wrapper it was bound with."""

    class Service:
        @capture_args(retention=None)
        def handle(self, x: int) -> FrameType:
            return sys._getframe()

    handle = Service().handle
    for x in range(3):
        between = _frames_between(handle(x), sys._getframe())
    assert len(between) == 1, between
    set_global_config(CaptureConfig(retention=None))  # resolved again on the next call
    between = _frames_between(handle(3), sys._getframe())
    between = _frames_between(handle(4), sys._getframe())
    assert len(between) == 1, between
    assert load_capture("Service.handle") == ((4,), {})


def test_a_kept_bound_method_follows_configuration_changes(capture_dir: Path) -> None:
    """Turning capture off and on again applies to a bound method made before the change."""

    class Service:
        @capture_args(retention=None)
        def handle(self, x: int) -> int:
            return x

    handle = Service().handle
    assert handle(1) == 1
    set_global_config(CaptureConfig(enabled=False))
    assert handle(2) == 2
    set_global_config(CaptureConfig(retention=None, sample_rate=0.5))
    seed_sampler(5)
    assert [handle(x) for x in range(100, 200)] == list(range(100, 200))
    set_global_config(None)
    assert handle(3) == 3
    stored = sorted(record["args"][0] for record in CaptureLoader().load_all("Service.handle"))
    sampled = [x for x in stored if x >= 100]
    assert [x for x in stored if x < 100] == [1, 3]
    assert 25 <= len(sampled) <= 75


def _reference_wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    return wrapped(*args, **kwargs)


@pytest.mark.parametrize("options", FRAME_MODES)
def test_a_captured_recursive_function_reaches_the_depth_of_one_wrapper_frame(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    """Each captured call costs the recursion limit what a wrapt proxy with one Python
    wrapper function costs, the least a capturing wrapper can: a third of the bare depth on
    Python 3.10/3.11 (wrapt's C call counts too), half on 3.12+; a quarter and a third before.
    """

    def plain(k: int, reached: list[int]) -> Any:
        reached[0] = k
        return reference(k + 1, reached)

    reference = wrapt.FunctionWrapper(plain, _reference_wrapper)

    @capture_args(retention=3, **options)
    def recurse(k: int, reached: list[int]) -> Any:
        reached[0] = k
        return recurse(k + 1, reached)

    _depth(recurse)  # the first call resolves the configuration, one frame more, once
    depth, one_frame = _depth(recurse), _depth(reference)
    assert depth >= 0.97 * one_frame, (depth, one_frame, _depth(_bare))
    assert flush(timeout=60)


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
