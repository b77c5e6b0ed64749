"""A script run through a symbolic link imports its own modules, as under plain ``python``.

The interpreter puts the directory of the file a link leads to first on ``sys.path`` (a tool
linked into ``~/bin`` imports its sibling modules from its project); the runner put the
link's own directory there, so such a program failed with ``ModuleNotFoundError``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from _process import plain_and_captured

TOOL = """\
import sys

import settings


def run(x):
    return x * settings.FACTOR


print(sys.path[0] == sys.argv[1], run(2))
"""


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_a_linked_script_imports_from_where_it_really_is(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "tool.py").write_text(TOOL, encoding="utf-8")
    (project / "settings.py").write_text("FACTOR = 21\n", encoding="utf-8")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "tool.py").symlink_to(project / "tool.py")
    (bin_dir / "capture.yaml").write_text(
        'defaults:\n  path: captures\ntargets:\n  - "tool:run"\n', encoding="utf-8"
    )
    expected = str(project.resolve())
    plain, captured = plain_and_captured(["tool.py", expected], bin_dir)
    assert (plain.stdout, plain.returncode) == ("True 42\n", 0)
    assert (captured.stdout, captured.returncode) == (plain.stdout, 0), captured.stderr
    assert (bin_dir / "captures" / "tool%3Arun").is_dir()
