"""The runner reports at exit what the whole program captured, as python ends it.

Plain ``python`` waits for the program's non-daemon threads once the script's last line has
run, then runs its ``atexit`` handlers. The runner used to count and report right after the
script returned: a worker thread still running then (a server, a queue consumer), or an
``atexit`` handler, captured after the report was made, which said those targets "captured
nothing".
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import warnings
from pathlib import Path

import pytest
from _process import RUNNER, plain_and_captured
from _process import run as run_process

from snapy_capture import run
from snapy_capture.capture import _writer
from snapy_capture.run import BOOTSTRAP_DIR

MODULE = """
def handle(x):
    return x * 2

def at_exit(x):
    return x + 1
"""
APP = """
import atexit, threading, time
import work

def worker():
    time.sleep(0.3)  # still running when the script's last line returns
    for i in range(3):
        work.handle(i)
    print("worker done", flush=True)

atexit.register(work.at_exit, 5)
threading.Thread(target=worker).start()
print("main done", flush=True)
"""


def test_calls_of_a_worker_thread_and_an_atexit_handler_are_in_the_report(
    tmp_path: Path,
) -> None:
    (tmp_path / "work.py").write_text(MODULE, encoding="utf-8")
    (tmp_path / "app.py").write_text(APP, encoding="utf-8")
    (tmp_path / "capture.yaml").write_text(
        "targets: ['work:handle', 'work:at_exit']\n", encoding="utf-8"
    )
    report = tmp_path / "report.json"
    result = run_process(
        [*RUNNER, "--report", str(report), "app.py"],
        tmp_path,
        SNAP_CAPTURE_DEFAULT_PATH=str(tmp_path / "captures"),
    )
    assert (result.stdout, result.returncode) == ("main done\nworker done\n", 0), result.stderr
    assert result.stderr == ""  # no "targets captured nothing" line
    built = json.loads(report.read_text(encoding="utf-8"))
    captured = {item["target"]: item["captured"] for item in built["targets"]}
    assert captured == {"work:handle": 3, "work:at_exit": 1}
    assert built["captured_nothing"] == []


def test_ctrl_c_while_finishing_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ctrl-C while the runner waits at exit for queued captures: one line saying what is
    lost, no traceback of ours (the program's exit code is left as it was)."""

    def interrupted(timeout: float | None = None) -> bool:
        raise KeyboardInterrupt

    monkeypatch.setattr(run, "flush", interrupted)
    run._finish(object(), "capture.yaml", None, "", pid=-1)  # type: ignore[arg-type]
    assert capsys.readouterr().err == (
        "snapy_capture: interrupted at exit; captures still queued are lost\n"
    )


@pytest.mark.skipif(sys.platform == "win32", reason="fork")
def test_a_fork_of_the_program_leaves_its_counts_for_the_runner(tmp_path: Path) -> None:
    """A child forked by the program that ends normally (its atexit handlers run) counts its
    own captures for the runner, as before the report moved to exit."""
    (tmp_path / "work.py").write_text(MODULE, encoding="utf-8")
    (tmp_path / "app.py").write_text(
        "import os, work\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    work.handle(1)\n"
        "else:\n"
        "    os.waitpid(pid, 0)\n",
        encoding="utf-8",
    )
    (tmp_path / "capture.yaml").write_text("targets: ['work:handle']\n", encoding="utf-8")
    report = tmp_path / "report.json"
    result = run_process(
        [*RUNNER, "--report", str(report), "app.py"],
        tmp_path,
        SNAP_CAPTURE_DEFAULT_PATH=str(tmp_path / "captures"),
    )
    assert (result.stdout, result.stderr, result.returncode) == ("", "", 0)
    built = json.loads(report.read_text(encoding="utf-8"))
    assert [(t["target"], t["captured"]) for t in built["targets"]] == [("work:handle", 1)]
    assert built["processes"] == 2


def test_ctrl_c_while_the_writer_drains_at_exit_is_one_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The background writer's exit flush (async_storage) waits on the queue too: Ctrl-C
    there was "Exception ignored in atexit callback" and a traceback of ours."""

    class Stuck:
        thread = threading.current_thread()

        def flush(self, timeout: float | None = None) -> bool:
            raise KeyboardInterrupt

        def pending(self) -> int:
            return 3

    monkeypatch.setattr(_writer, "_writer", Stuck())
    monkeypatch.setattr(_writer, "_closed", False)
    with caplog.at_level(logging.WARNING, logger="snapy_capture"):
        _writer._flush_at_exit()
    assert [r.getMessage() for r in caplog.records] == [
        "snapy_capture: interrupted at exit; 3 queued captures are lost"
    ]


EXIT_WITH = {
    "a message, stderr closed": "sys.stderr.close()\nsys.exit('bye')",
    "a message, stderr None": "sys.stderr = None\nsys.exit('bye')",
    "an object whose str fails": (
        "class Code:\n    def __str__(self):\n        raise ValueError\nsys.exit(Code())"
    ),
    "a message": "sys.exit('bye')",
}


@pytest.mark.parametrize("how", list(EXIT_WITH))
def test_sys_exit_with_a_message_ends_as_under_python(tmp_path: Path, how: str) -> None:
    """The interpreter prints a non-int exit code itself (to its own stderr when sys.stderr
    is None, nothing when it is closed, a blank line when str() fails); the runner printed
    it with its own code: "lost sys.stderr" (a fatal error dump), nothing, a traceback."""
    (tmp_path / "work.py").write_text(MODULE, encoding="utf-8")
    (tmp_path / "app.py").write_text(
        f"import sys, work\nwork.handle(1)\n{EXIT_WITH[how]}\n", encoding="utf-8"
    )
    (tmp_path / "capture.yaml").write_text("targets: ['work:handle']\n", encoding="utf-8")
    plain, captured = plain_and_captured(["app.py"], tmp_path)
    assert plain.returncode == 1
    assert (captured.stdout, captured.stderr, captured.returncode) == (
        plain.stdout,
        plain.stderr,
        plain.returncode,
    )


def test_ctrl_c_while_autoload_finishes_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Autoload's exit handler waits on the queue too (60 s at most): Ctrl-C there was
    "Exception ignored in atexit callback" and a traceback of ours."""
    from snapy_capture import autoload
    from snapy_capture.hook import _startup

    def interrupted(timeout: float | None = None) -> bool:
        raise KeyboardInterrupt

    class Hook:
        forgotten = False

        def forget_program(self) -> None:
            Hook.forgotten = True

    monkeypatch.setattr(_startup, "flush", interrupted)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        autoload._at_exit(Hook(), "capture.yaml", None, None, os.getpid())
    assert [str(w.message) for w in caught] == [
        "snapy_capture: interrupted at exit; captures still queued are lost"
    ]
    assert Hook.forgotten  # the program's modules are still let go of


def test_autoload_does_not_overwrite_a_users_file_named_as_its_report(tmp_path: Path) -> None:
    """``SNAP_CAPTURE_REPORT=capture.yaml``: autoload cannot refuse to start (it never stops
    a program), so at exit it says it did not write the report, and the file is intact."""
    (tmp_path / "work.py").write_text(MODULE, encoding="utf-8")
    target_file = "targets: ['work:handle']\n"
    (tmp_path / "capture.yaml").write_text(target_file, encoding="utf-8")
    result = run_process(
        [sys.executable, "-c", "import work; work.handle(1)"],
        tmp_path,
        SNAP_CAPTURE_CONFIG=str(tmp_path / "capture.yaml"),
        SNAP_CAPTURE_REPORT="capture.yaml",
        SNAP_CAPTURE_DEFAULT_PATH=str(tmp_path / "captures"),
        PYTHONPATH=os.pathsep.join([BOOTSTRAP_DIR, os.environ.get("PYTHONPATH", "")]),
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "capture.yaml").read_text(encoding="utf-8") == target_file
    assert result.stderr == (
        "snapy_capture: cannot write the report capture.yaml: exists and is not a report of "
        "ours; not overwritten\n"
    )
