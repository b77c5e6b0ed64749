"""``python DIR`` and ``python app.pyz`` run the ``__main__`` module in them; so does the runner.

The runner opened the path as a script: a directory was "can't open file ... Is a directory"
(exit 2), a zipapp (``python -m zipapp``, shiv, pex) a ``SyntaxError`` on its bytes (exit 1).
"""

from __future__ import annotations

import zipapp
from pathlib import Path

import pytest
from _process import plain_and_captured

MAIN = """\
import sys


def greet(name):
    return f"hello {name}"


print(greet(sys.argv[1]), sys.argv[0], sys.path[0] == sys.argv[2], __name__, __package__)
"""

CONFIG = 'defaults:\n  path: captures\ntargets:\n  - "__main__:greet"\n'


@pytest.mark.parametrize("kind", ["directory", "zipapp"])
def test_a_directory_or_a_zipapp_runs_its_main_module(tmp_path: Path, kind: str) -> None:
    source = tmp_path / "app"
    source.mkdir()
    (source / "__main__.py").write_text(MAIN, encoding="utf-8")
    (tmp_path / "capture.yaml").write_text(CONFIG, encoding="utf-8")
    target = "app"
    if kind == "zipapp":
        zipapp.create_archive(source, tmp_path / "app.pyz")
        target = "app.pyz"
    expected_path0 = str(tmp_path / target)
    plain, captured = plain_and_captured([target, "ada", expected_path0], tmp_path)
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout == f"hello ada {target} True __main__ \n"
    assert (captured.stdout, captured.returncode) == (plain.stdout, 0), captured.stderr
    assert (tmp_path / "captures" / "__main__%3Agreet").is_dir()


def test_a_directory_without_a_main_module_is_reported_as_the_interpreter_does(
    tmp_path: Path,
) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "capture.yaml").write_text(CONFIG, encoding="utf-8")
    plain, captured = plain_and_captured(["empty"], tmp_path)
    assert plain.returncode == captured.returncode == 1
    assert captured.stderr.splitlines()[0] == plain.stderr.splitlines()[0]


def test_a_program_read_from_stdin_runs_as_the_interpreter_runs_it(tmp_path: Path) -> None:
    """``python - args``: the runner said "can't open file '-'" (exit 2)."""
    program = "import sys\n\ndef greet(name):\n    return f'hello {name}'\n\n"
    program += "print(greet(sys.argv[1]), sys.argv[0], repr(sys.path[0]), __file__)\n"
    (tmp_path / "capture.yaml").write_text(CONFIG, encoding="utf-8")
    plain, captured = plain_and_captured(["-", "ada"], tmp_path, stdin=program)
    assert (plain.stdout, plain.returncode) == ("hello ada - '' <stdin>\n", 0)
    assert (captured.stdout, captured.returncode) == (plain.stdout, 0), captured.stderr
    assert (tmp_path / "captures" / "__main__%3Agreet").is_dir()
