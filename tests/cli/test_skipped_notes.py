"""``show`` and ``export`` say once why captures were skipped, not once per capture.

Found as a new user on a legacy scheduler (python-dateutil): ``snapy-capture show
scheduler:Scheduler.add`` from the project's directory printed seven identical notes, each
advising ``snapy-capture migrate`` (the class had not moved: the working directory is just
not imported from), before the one line that said what to do (``--import-path .``).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from snapy_capture import CaptureStorage, cli


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), stdout=out, stderr=err, stdin=io.StringIO())
    return code, out.getvalue(), err.getvalue()


def record(text: str, instance: object) -> dict[str, object]:
    return {
        "function_name": "add",
        "module": "scheduler",
        "qualname": "Scheduler.add",
        "timestamp": "2026-01-01T00:00:00.000000Z",
        "args": [text],
        "kwargs": {},
        "metadata": {"call_depth": 0, "thread_id": "MainThread", "pid": 1, "redactions": []},
        "self": instance,
    }


@pytest.mark.parametrize("command", ["show", "export"])
def test_captures_skipped_for_one_reason_are_one_note(
    command: str, capture_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "scheduler.py").write_text("class Scheduler:\n    owner = 'ada'\n")
    sys.path.insert(0, str(project))
    try:
        from scheduler import Scheduler  # type: ignore[import-not-found]

        store = CaptureStorage(capture_dir, retention=None)
        for when in ("10:00", "11:00", "12:00", "13:00", "14:00"):
            store.save(record(when, Scheduler()))
    finally:
        sys.path.remove(str(project))
        sys.modules.pop("scheduler", None)
    monkeypatch.chdir(project)
    code, out, err = run(command, "scheduler:Scheduler.add")
    assert (code, out) == (1, "")
    lines = err.splitlines()
    assert len(lines) == 3, err
    assert lines[0].startswith("snapy-capture: note: skipping ")
    assert "No module named 'scheduler'" in lines[0]
    assert lines[1] == "snapy-capture: note: 4 more capture(s) skipped for the same reason"
    assert "scheduler is in the working directory" in lines[2]
    assert "--import-path ." in lines[2]
