"""A captured program's objects are finalized at exit as without capture (runner and autoload).

Plain ``python`` frees the script's ``__main__``, and the modules only it held, in its last
garbage collection, globals intact: a ``__del__`` of a module-level object still sees its
module's names, and can call the program's functions. The import hook held those modules
(and so their globals, and its own modules' globals, were set to ``None`` first): the
finalizers failed on their globals, or on ours when they called a target.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from _process import captured_by, run

HELPER = """\
import sys


def scale(x, factor=2):
    return x * factor


class Account:
    def __init__(self, name):
        self.name = name

    def close(self):
        return f"closed {self.name}"

    def __del__(self):
        print("helper account", self.close(), scale(3), flush=True)


REGISTRY = {"scale": scale}
leftover = Account("helper")
"""

APP = """\
import atexit
import sys

import helper


def total(items, password=None):
    return sum(items)


class Buffer:
    def __init__(self):
        self.lines = ["a"]

    def flush(self):
        return f"{len(self.lines)} lines"

    def __del__(self):
        print("app buffer", self.flush(), total([1, 2]), helper.scale(4), flush=True)


class Node:
    def __del__(self):
        print("app node", total([5]), flush=True)


buffer = Buffer()
node = Node()
node.me = node  # a cycle: freed by the collector, not by its reference count
atexit.register(lambda: print("atexit", total([7]), flush=True))
print("result", total([1, 2, 3], password="pw"), helper.REGISTRY["scale"](5), flush=True)
"""

CONFIG = """\
defaults:
  path: captures
targets:
  - "app:*"
  - "helper:*"
"""


def _project(tmp_path: Path) -> Path:
    (tmp_path / "helper.py").write_text(HELPER, encoding="utf-8")
    (tmp_path / "app.py").write_text(APP, encoding="utf-8")
    (tmp_path / "capture.yaml").write_text(CONFIG, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("how", ["runner", "autoload"])
def test_module_level_finalizers_run_at_exit_as_without_capture(tmp_path: Path, how: str) -> None:
    project = _project(tmp_path)
    plain = run([sys.executable, "app.py"], project)
    assert plain.returncode == 0, plain.stderr
    assert plain.stderr == ""
    captured = captured_by(how, ["app.py"], project)
    # The collector's order among the finalizers is its own: the same lines, no error.
    assert sorted(captured.stdout.splitlines()) == sorted(plain.stdout.splitlines())
    assert "app buffer 1 lines 3 8" in captured.stdout
    assert captured.stderr == plain.stderr
    assert captured.returncode == 0
    # The program's calls before its exit were captured as usual.
    functions = {path.name for path in (project / "captures").iterdir()}
    assert {"app%3Atotal", "helper%3Ascale"} <= functions


DECORATED = """\
import sys

from snapy_capture import capture_args


@capture_args("captures", async_storage=sys.argv[1] == "async")
def double(x, password=None):
    return x * 2


class Holder:
    def __init__(self, value):
        self.value = value

    def __del__(self):
        print("finalized", double(self.value, password="pw"), flush=True)


kept = Holder(9)
looped = Holder(11)
looped.me = looped
print("result", double(1))
"""


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_target_called_by_a_finalizer_at_exit_adds_no_line(tmp_path: Path, mode: str) -> None:
    """Nothing can be captured while the interpreter tears its modules down (pickle finds no
    module): the call is made, counted as dropped, and no warning is added to the program's
    exit."""
    (tmp_path / "prog.py").write_text(DECORATED, encoding="utf-8")
    plain = run([sys.executable, "prog.py", mode], tmp_path, SNAP_CAPTURE_ENABLED="false")
    captured = run([sys.executable, "prog.py", mode], tmp_path)
    assert plain.stdout.splitlines() == ["result 2", "finalized 18", "finalized 22"]
    assert (captured.stdout, captured.stderr, captured.returncode) == (plain.stdout, "", 0)
    assert [path.name for path in (tmp_path / "captures").iterdir()] == ["prog%3Adouble"]
