"""Ctrl-C under ``python -m snapy_capture.run`` ends the process as it ends plain python."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from snapy_capture import load_capture_dict

RUN = [sys.executable, "-m", "snapy_capture.run"]

PROGRAM = """
import atexit, os, signal

def work(n):
    return n * 2

atexit.register(lambda: print("atexit ran", flush=True))
work(21)
os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C at the terminal sends
"""


def _default_sigint() -> None:
    # A shell starts background jobs with SIGINT ignored, and an ignored signal stays ignored
    # in children: Python would then install no handler and the kill would do nothing.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=cwd,
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
        check=False,
        preexec_fn=_default_sigint,
    )


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_kills_the_runner_by_sigint_as_it_kills_python(
    tmp_path: Path, capture_dir: Path
) -> None:
    """Same exit (killed by SIGINT, which a shell loop sees), output and traceback as
    ``python prog.py``; atexit handlers ran and the capture taken before it was written."""
    (tmp_path / "prog.py").write_text(PROGRAM, encoding="utf-8")
    (tmp_path / "capture.yaml").write_text("targets: ['prog:work']\n", encoding="utf-8")
    plain = _run([sys.executable, "prog.py"], tmp_path)
    captured = _run([*RUN, "prog.py"], tmp_path)
    assert plain.returncode == -signal.SIGINT
    assert (captured.returncode, captured.stdout, captured.stderr) == (
        plain.returncode,
        plain.stdout,
        plain.stderr,
    )
    assert captured.stderr.rstrip().endswith("KeyboardInterrupt")
    assert load_capture_dict("prog:work")["args"] == [21]
