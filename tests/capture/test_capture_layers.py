"""The capture layer reads bottom to top, and a fork child is set up by one registry."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

import snapy_capture

PACKAGE = Path(snapy_capture.__file__).parent
CAPTURE = PACKAGE / "capture"


def _capture_imports(path: Path) -> set[str]:
    """The capture modules ``path`` imports anywhere: at the top, in a function, under
    ``TYPE_CHECKING``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module is not None:
            module = node.module
            if module == "snapy_capture.capture":
                found.update(alias.name for alias in node.names if alias.name.startswith("_"))
            elif module.startswith("snapy_capture.capture."):
                found.add(module.rsplit(".", 1)[1])
        elif isinstance(node, ast.Import):
            found.update(
                alias.name.rsplit(".", 1)[1]
                for alias in node.names
                if alias.name.startswith("snapy_capture.capture.")
            )
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        for imported in sorted(graph.get(module, ())):
            cycle = visit(imported, [*path, module])
            if cycle is not None:
                return cycle
        done.add(module)
        return None

    for module in sorted(graph):
        cycle = visit(module, [])
        if cycle is not None:
            return cycle
    return None


def test_capture_modules_import_one_another_in_one_direction() -> None:
    """No import cycle between the modules of capture/, deferred imports included."""
    graph = {path.stem: _capture_imports(path) for path in CAPTURE.glob("_*.py")}
    assert len(graph) > 5
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_only_the_fork_registry_registers_at_fork_hooks() -> None:
    """Every after-fork reset of the package goes through ``_forksafe``, one hook in order."""
    registering = sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "register_at_fork" in path.read_text(encoding="utf-8")
    )
    assert registering == ["_forksafe.py"]


FORK_AFTER_A_HELD_LOCK = """
import os, threading, warnings
from snapy_capture._forksafe import after_fork_in_child, fork_safe

lock = fork_safe(threading.Lock())
taken = []
after_fork_in_child(lambda: taken.append(lock.acquire(timeout=5)))
holding, release = threading.Event(), threading.Event()

def hold():
    with lock:
        holding.set()
        release.wait()

holder = threading.Thread(target=hold)
holder.start()
holding.wait()
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork with threads
    pid = os.fork()
if pid == 0:
    os._exit(0 if taken == [True] else 3)
release.set()
holder.join()
raise SystemExit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_after_fork_callbacks_run_once_the_locks_are_released() -> None:
    """A child's reset may take our locks: held by another parent thread at the fork, they are
    released before the callbacks run."""
    done = subprocess.run(
        [sys.executable, "-c", FORK_AFTER_A_HELD_LOCK],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


FORK_WHILE_A_THREAD_IMPORTS_LOGGING = """
import importlib.machinery, os, sys, threading, time, warnings
from snapy_capture._forksafe import after_fork_in_child

assert "logging" not in sys.modules
importing, release = threading.Event(), threading.Event()

class SlowLogging:
    # Another thread of the program is importing logging at the instant of the fork: it
    # holds logging's module lock, which the child inherits held by a thread it lacks.
    def find_spec(self, name, path=None, target=None):
        return importlib.machinery.ModuleSpec(name, self) if name == "logging" else None
    def create_module(self, spec):
        return None
    def exec_module(self, module):
        importing.set()
        release.wait()

sys.meta_path.insert(0, SlowLogging())
def fail():
    raise RuntimeError("a reset that fails")
after_fork_in_child(fail)
importer = threading.Thread(target=lambda: __import__("logging"), daemon=True)
importer.start()
importing.wait()
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork with threads
    pid = os.fork()
if pid == 0:
    os._exit(0)
release.set()
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        raise SystemExit(os.waitstatus_to_exitcode(status))
    time.sleep(0.05)
os.kill(pid, 9)
os.waitpid(pid, 0)
raise SystemExit("the fork child hung")
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_failing_after_fork_callback_imports_nothing_in_the_child() -> None:
    """A reset that fails in a fork child was logged by importing logging there: if another
    parent thread was importing logging at the fork, the child waited for ever on logging's
    module lock (held by a thread the child does not have) before the program's code resumed."""
    done = subprocess.run(
        [sys.executable, "-c", FORK_WHILE_A_THREAD_IMPORTS_LOGGING],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
