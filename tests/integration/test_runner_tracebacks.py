"""A program ending on an exception prints it as plain ``python`` does (runner and autoload).

The exception's traceback held our captured-call frames (the handler, and on a first call the
configuration's), and a script that does not compile was shown with the frames of our own
compile (``ast.parse``) in front of the interpreter's report.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from _process import captured_by, run

CHAINED = """\
def ratio(total, count):
    try:
        return total / count
    except ZeroDivisionError as exc:
        raise ValueError("no items") from exc


def report(rows):
    return ratio(sum(rows), len(rows))


print("start", report([2, 4]))
report([])
"""

BROKEN = """\
print("never")
def f(:
    pass
"""

CONFIG = """\
defaults:
  path: captures
  record_result: true
targets:
  - "app:*"
"""


def _program_lines(stderr: str) -> list[str]:
    """stderr without the runner's own summary (``snapy_capture: ...`` lines)."""
    return [line for line in stderr.splitlines() if not line.startswith("snapy_capture:")]


@pytest.mark.parametrize("how", ["runner", "autoload"])
@pytest.mark.parametrize("source", [CHAINED, BROKEN], ids=["chained-exception", "syntax-error"])
def test_an_uncaught_exception_prints_as_without_capture(
    tmp_path: Path, how: str, source: str
) -> None:
    (tmp_path / "app.py").write_text(source, encoding="utf-8")
    (tmp_path / "capture.yaml").write_text(CONFIG, encoding="utf-8")
    plain = run([sys.executable, "app.py"], tmp_path)
    assert plain.returncode == 1
    captured = captured_by(how, ["app.py"], tmp_path)
    assert (captured.stdout, captured.returncode) == (plain.stdout, plain.returncode)
    assert _program_lines(captured.stderr) == plain.stderr.splitlines()
    if source is CHAINED:
        assert (tmp_path / "captures").is_dir()  # the calls were captured all the same
