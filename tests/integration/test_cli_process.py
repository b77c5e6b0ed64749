"""The command line as a user runs it: the console script and ``python -m snapy_capture``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).parent / "snapy-capture"

APP = textwrap.dedent(
    """
    from snapy_capture import capture_args

    class Order:
        def __init__(self, sku, qty):
            self.sku, self.qty = sku, qty

        def __repr__(self):
            return f"Order({self.sku!r}, qty={self.qty})"

    @capture_args(record_result=True)
    def checkout(order, card_number, coupon=None):
        return order.qty * 10

    if __name__ == "__main__":
        checkout(Order("book", 2), "4111 1111 1111 1111", coupon="SPRING")
        checkout(Order("pen", 5), "4111 1111 1111 1111")
    """
)


def run(
    argv: list[str], cwd: Path, stdin: int | None = subprocess.DEVNULL
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        cwd=cwd,
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
        check=False,
    )


@pytest.fixture
def project(tmp_path: Path, capture_dir: Path) -> Path:
    """A project whose program has been run once, leaving two captures of ``checkout``."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "shop_app.py").write_text(APP)
    # Import the module (not run it as __main__) so captures name `shop_app`, which the
    # command line must then import to unpickle `Order`.
    done = run(
        [
            sys.executable,
            "-c",
            "import shop_app as m; "
            "m.checkout(m.Order('book', 2), '4111 1111 1111 1111', coupon='SPRING'); "
            "m.checkout(m.Order('pen', 5), '4111 1111 1111 1111')",
        ],
        root,
    )
    assert done.returncode == 0, done.stderr
    return root


@pytest.fixture
def script() -> Path:
    if not SCRIPT.exists():
        pytest.skip("the snapy-capture console script is not installed in this environment")
    return SCRIPT


def test_console_script_lists_and_shows_a_real_programs_captures(
    project: Path, script: Path, capture_dir: Path
) -> None:
    """list and show work on captures a real program wrote; ``--import-path .`` makes the
    project's classes importable to unpickle them (nothing is added by default)."""
    listed = run([str(script), "list", "--json"], project)
    assert listed.returncode == 0, listed.stderr
    (entry,) = json.loads(listed.stdout)["functions"]
    assert (entry["name"], entry["count"], entry["corrupt"]) == ("shop_app:checkout", 2, 0)

    shown = run([str(script), "show", "checkout", "--import-path", "."], project)
    assert shown.returncode == 0, shown.stderr
    assert "[0] Order('pen', qty=5)" in shown.stdout  # the class was imported to unpickle
    assert "4111" not in shown.stdout
    assert "result: returned 50" in shown.stdout
    assert shown.stderr == ""


def test_python_dash_m_matches_the_console_script(project: Path, script: Path) -> None:
    """`python -m snapy_capture` is the same command line."""
    via_m = run(
        [
            sys.executable,
            "-m",
            "snapy_capture",
            "show",
            "checkout",
            "-i",
            "1",
            "--import-path",
            ".",
        ],
        project,
    )
    via_script = run([str(script), "show", "checkout", "-i", "1", "--import-path", "."], project)
    assert via_m.returncode == via_script.returncode == 0
    assert via_m.stdout == via_script.stdout
    assert "coupon = 'SPRING'" in via_m.stdout


def test_errors_are_one_line_without_traceback(project: Path, script: Path) -> None:
    """Unknown names, usage errors and a refused clear exit 1/2 with one stderr line."""
    unknown = run([str(script), "show", "refund"], project)
    assert unknown.returncode == 1
    assert unknown.stderr.count("\n") == 1
    assert unknown.stderr.startswith("snapy-capture: error: no capture found for 'refund'")

    usage = run([sys.executable, "-m", "snapy_capture", "show"], project)
    assert usage.returncode == 2
    assert usage.stderr.startswith("snapy-capture: error: ")
    assert "Traceback" not in usage.stderr

    refused = run([str(script), "clear", "--all"], project)  # stdin is not a terminal
    assert refused.returncode == 2
    assert "pass --yes" in refused.stderr
    assert json.loads(run([str(script), "list", "--json"], project).stdout)["functions"]

    cleared = run([str(script), "clear", "--all", "--yes"], project)
    assert cleared.returncode == 0
    assert "Deleted 2 capture file(s)" in cleared.stdout


def test_export_corrupt_and_empty(project: Path, capture_dir: Path, tmp_path: Path) -> None:
    """export skips a corrupt file with a note; an empty directory lists as empty."""
    (newest, _) = sorted(capture_dir.glob("*/*.cap"), reverse=True)
    newest.write_bytes(b"\x80\x05garbage")
    exported = run(
        [
            sys.executable,
            "-m",
            "snapy_capture",
            "export",
            "checkout",
            "--format=jsonl",
            "--import-path=.",
        ],
        project,
    )
    assert exported.returncode == 0, exported.stderr
    (line,) = exported.stdout.splitlines()
    assert json.loads(line)["kwargs"] == {"coupon": "SPRING"}
    assert "note: skipping" in exported.stderr

    empty = run(
        [sys.executable, "-m", "snapy_capture", "list", "--path", str(tmp_path / "none")], project
    )
    assert empty.returncode == 0
    assert "No captures in" in empty.stdout


def test_check_imports_modules_but_runs_no_program(project: Path, capture_dir: Path) -> None:
    """check resolves targets in the project; a script's main block never runs."""
    (project / "capture.yaml").write_text(
        "version: 1\ntargets:\n  - shop_app:checkout\n  - shop_app:Order.*\n  - shop_app:refund\n"
    )
    before = sorted(p.name for p in capture_dir.rglob("*.cap"))
    result = run([sys.executable, "-m", "snapy_capture", "check", "capture.yaml"], project)
    assert result.returncode == 1
    assert "'refund' not found in shop_app" in result.stdout
    # __repr__ is left out, as the import hook leaves it unwrapped.
    assert "matches 1: Order.__init__" in result.stdout
    assert sorted(p.name for p in capture_dir.rglob("*.cap")) == before

    (project / "broken.yaml").write_text("version: 1\ntargets:\n  - [unclosed\n")
    broken = run([sys.executable, "-m", "snapy_capture", "check", "broken.yaml"], project)
    assert broken.returncode == 1
    assert broken.stderr.startswith("snapy-capture: error: broken.yaml:")
    assert broken.stderr.count("\n") == 1


def test_show_of_a_planted_json_capture_runs_no_planted_module(
    script: Path, capture_dir: Path, tmp_path: Path
) -> None:
    """Issue 15 (4): `show` from the captures' parent directory imports nothing they name."""
    from snapy_capture import CaptureStorage

    marker = tmp_path / "marker"
    store = CaptureStorage(capture_dir, retention=None, serializer="json")
    record = {
        "function_name": "pay",
        "module": "app",
        "qualname": "pay",
        "timestamp": "2026-01-01T00:00:00Z",
        "args": [2],
        "kwargs": {},
        "metadata": {"call_depth": 0},
    }
    path = store.save(record)
    tagged = b'[{"__snapy__": "enum", "value": 1, "type": "captures.evil:Color"}]'
    path.write_bytes(path.read_bytes().replace(b"[\n  2\n ]", tagged))
    assert tagged in path.read_bytes()
    (capture_dir / "evil.py").write_text(
        f"import pathlib, enum\npathlib.Path({str(marker)!r}).write_text('ran')\n"
        f"class Color(enum.Enum):\n    RED = 1\n"
    )
    for argv in ([str(script)], [sys.executable, "-m", "snapy_capture"]):
        shown = run([*argv, "show", "pay"], tmp_path)
        assert not marker.exists(), argv
        assert shown.returncode == 1, shown.stderr  # the only capture is unreadable
        assert "module 'captures.evil' is not imported" in shown.stderr


def test_show_of_a_pickle_capture_imports_nothing_from_the_working_directory(
    script: Path, capture_dir: Path, tmp_path: Path
) -> None:
    """Issue 15 (4): nothing is put on sys.path unless given with ``--import-path``: a capture
    naming a module planted in the working directory does not import it."""
    from snapy_capture import CaptureStorage

    marker = tmp_path / "marker"
    (tmp_path / "planted.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\nclass Order:\n    pass\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        import planted  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(tmp_path))
    marker.unlink()
    CaptureStorage(capture_dir, retention=None).save(
        {
            "function_name": "pay",
            "module": "app",
            "qualname": "pay",
            "timestamp": "2026-01-01T00:00:00Z",
            "args": [planted.Order()],
            "kwargs": {},
            "metadata": {"call_depth": 0},
        }
    )
    for argv in ([str(script)], [sys.executable, "-m", "snapy_capture"]):
        shown = run([*argv, "show", "pay", "--path", str(capture_dir)], tmp_path)
        assert not marker.exists(), argv
        assert shown.returncode == 1
        assert "No module named 'planted'" in shown.stderr
        assert "--import-path" in shown.stderr
    shown = run(
        [str(script), "show", "pay", "--path", str(capture_dir), "--import-path", "."], tmp_path
    )
    assert shown.returncode == 0, shown.stderr
    assert marker.exists()  # asked for: the project's own module is imported to unpickle
