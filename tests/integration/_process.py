"""A program run as a test's subprocess, plainly and under the runner, to compare the two."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from snapy_capture.run import BOOTSTRAP_DIR

RUNNER = (sys.executable, "-m", "snapy_capture.run")


def run(
    args: list[str], cwd: Path, *, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    """``args`` in ``cwd`` (``stdin`` its input, empty by default: it never waits on a
    terminal; text output captured, ``env`` added to ours, two minutes at most)."""
    return subprocess.run(
        args,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
        check=False,
    )


def plain_and_captured(
    argv: list[str], cwd: Path, *, stdin: str = ""
) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    """``python *argv`` and ``python -m snapy_capture.run *argv``, in ``cwd``."""
    plain = run([sys.executable, *argv], cwd, stdin=stdin)
    return plain, run([*RUNNER, *argv], cwd, stdin=stdin)


def captured_by(how: str, argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python *argv`` under capture with ``cwd/capture.yaml``: by the runner (``how`` is
    ``"runner"``), or by autoload (the bootstrap directory first on ``PYTHONPATH``)."""
    if how == "runner":
        return run([*RUNNER, *argv], cwd)
    pythonpath = os.pathsep.join([BOOTSTRAP_DIR, os.environ.get("PYTHONPATH", "")])
    return run(
        [sys.executable, *argv],
        cwd,
        SNAP_CAPTURE_CONFIG=str(cwd / "capture.yaml"),
        PYTHONPATH=pythonpath,
    )
