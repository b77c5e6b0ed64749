"""``show`` never hangs on a captured object whose own ``__repr__`` never returns.

Found by a bad-input review: the pytest plugin had a time budget for building snapshots, but
``snapy-capture show`` ran a loaded object's ``__repr__`` without one, and a looping one
hung the command for ever. The value is shown as a placeholder naming its class instead.
"""

from __future__ import annotations

import faulthandler
import io
import json
import sys
import time
from pathlib import Path

import pytest

from snapy_capture import CaptureStorage, cli
from snapy_capture.cli import _format

LOOPING = """
class Looping:
    def __repr__(self):
        while True:
            pass


def handle(item, count):
    return count
"""


def test_a_value_whose_repr_never_returns_is_shown_as_a_placeholder(
    capture_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "loopmod.py").write_text(LOOPING, encoding="utf-8")
    sys.path.insert(0, str(project))
    try:
        from loopmod import Looping  # type: ignore[import-not-found]

        CaptureStorage(capture_dir, retention=None).save(
            {
                "function_name": "handle",
                "module": "loopmod",
                "qualname": "handle",
                "timestamp": "2026-01-01T00:00:00.000000Z",
                "args": [Looping(), 3],
                "kwargs": {},
                "metadata": {"call_depth": 0, "thread_id": "MainThread", "pid": 1},
            }
        )
    finally:
        sys.path.remove(str(project))
        sys.modules.pop("loopmod", None)
    monkeypatch.chdir(project)
    monkeypatch.setattr(_format, "REPR_SECONDS", 0.3)
    out, err = io.StringIO(), io.StringIO()
    started = time.monotonic()
    argv = ["show", "loopmod:handle", "--import-path", "."]
    # It used to never return: a regression ends this process (a failed run) within a minute
    # rather than hang the suite.
    faulthandler.dump_traceback_later(60, exit=True)
    try:
        code = cli.main(argv, stdout=out, stderr=err, stdin=io.StringIO())
    finally:
        faulthandler.cancel_dump_traceback_later()
    assert time.monotonic() - started < 30
    assert code == 0, err.getvalue()
    shown = out.getvalue()
    assert "[0] <a Looping whose repr did not return within 0.3 s>" in shown
    assert "[1] 3" in shown  # the other arguments are shown as usual
    sys.modules.pop("loopmod", None)


COUNTING = """
class Looping:
    entered = 0

    def __repr__(self):
        Looping.entered += 1
        while True:
            pass


def handle(item, count):
    return count
"""


@pytest.mark.parametrize("command", [["show", "--json"], ["export"]])
def test_json_output_never_hangs_on_such_a_value_either(
    capture_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    """``show --json`` and ``export`` fell back to the object's repr with no budget: they hung
    for ever. Once one value of a class ran past the budget, the others of that class are not
    tried: an export of many such values costs one budget, not one each."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "loopmod.py").write_text(COUNTING, encoding="utf-8")
    sys.path.insert(0, str(project))
    try:
        from loopmod import Looping

        storage = CaptureStorage(capture_dir, retention=None)
        for count in range(3):
            storage.save(
                {
                    "function_name": "handle",
                    "module": "loopmod",
                    "qualname": "handle",
                    "timestamp": f"2026-01-01T00:00:0{count}.000000Z",
                    "args": [Looping(), count],
                    "kwargs": {},
                    "metadata": {"call_depth": 0, "thread_id": "MainThread", "pid": 1},
                }
            )
    finally:
        sys.path.remove(str(project))
        sys.modules.pop("loopmod", None)
    monkeypatch.chdir(project)
    monkeypatch.setattr(_format, "REPR_SECONDS", 0.3)
    out, err = io.StringIO(), io.StringIO()
    argv = [command[0], "loopmod:handle", *command[1:], "--import-path", "."]
    faulthandler.dump_traceback_later(60, exit=True)  # it used to hang: end, do not hang
    try:
        code = cli.main(argv, stdout=out, stderr=err, stdin=io.StringIO())
    finally:
        faulthandler.cancel_dump_traceback_later()
    assert code == 0, err.getvalue()
    data = json.loads(out.getvalue())
    captures = [data["capture"]] if command[0] == "show" else data
    placeholder = {
        "__repr__": "<a Looping whose repr did not return within 0.3 s>",
        "__type__": "loopmod:Looping",
    }
    assert [c["args"][0] for c in captures] == [placeholder] * len(captures)
    assert sys.modules["loopmod"].Looping.entered == 1
    sys.modules.pop("loopmod", None)
