"""``python -m snapy_capture.run``: real subprocesses of a legacy app the tests never edit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from snapy_capture import CaptureLoader, load_capture_dict

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "examples" / "legacy_app"
RUN = [sys.executable, "-m", "snapy_capture.run"]
EXPECTED = {
    "app:parse_line",
    "legacy_shop.pricing:apply_discount",
    "legacy_shop.notify:send_receipt",
    "legacy_shop.ledger:record_entry",
    "legacy_shop.orders:OrderService.__init__",
    "legacy_shop.orders:OrderService.add",
    "legacy_shop.orders:OrderService.from_config",
    "legacy_shop.orders:OrderService.round_cents",
    "legacy_shop.orders:OrderService.total",
    "legacy_shop.orders:OrderService.Line.__init__",
    "legacy_shop.orders:OrderService.Line.subtotal",
}


def run(
    args: list[str], cwd: Path, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
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


def test_legacy_app_runs_identically_and_captures_exactly_the_targets(capture_dir: Path) -> None:
    """Same stdout, stderr and exit code as plain python; captures for exactly the targets,
    including a `from m import f` binding, methods, async and a child process."""
    args = ["app.py", "--discount", "10"]
    stdin = "A:2:10\nB:x:1\nC:1:2.5\n"
    plain = run([sys.executable, *args], APP, stdin)
    captured = run([*RUN, *args], APP, stdin)
    assert plain.returncode == 3, plain.stderr
    assert (captured.stdout, captured.stderr, captured.returncode) == (
        plain.stdout,
        plain.stderr,
        plain.returncode,
    )
    assert "skipping malformed line 'B:x:1'" in captured.stdout

    loader = CaptureLoader(capture_dir)
    assert set(loader.functions()) == EXPECTED
    assert [r["args"] for r in loader.load_all("app:parse_line")] == [
        ["C:1:2.5"],
        ["B:x:1"],
        ["A:2:10"],
    ]
    receipt = load_capture_dict("legacy_shop.notify:send_receipt")
    assert receipt["args"] == ["ACME Corp", 24.3]
    assert "4111" not in str(receipt["kwargs"]["card_number"])
    discount = load_capture_dict("legacy_shop.pricing:apply_discount")
    assert discount["args"] == [pytest.approx(27.0), 10.0]
    assert discount["result"]["value"] == pytest.approx(24.3)
    child = load_capture_dict("legacy_shop.ledger:record_entry")
    assert child["metadata"]["pid"] != receipt["metadata"]["pid"]


SCRIPT = """
import json, os, sys
def dump():
    main = sys.modules["__main__"]
    spec = main.__spec__
    return {
        "argv": sys.argv, "path0": sys.path[0], "name": __name__, "file": __file__,
        "spec": spec and [spec.name, spec.origin, spec.parent], "package": __package__,
        "loader": type(__loader__).__name__, "globals": sorted(globals()),
        "doc": __doc__, "stdin": sys.stdin.read(), "main_is_us": main.dump is dump,
    }
print(json.dumps(dump()))
if "boom" in sys.argv:
    raise ValueError("boom")
if "exit" in sys.argv:
    sys.exit("custom exit message")
sys.exit(int(sys.argv[-1]) if sys.argv[-1].isdigit() else 0)
"""


@pytest.mark.parametrize("args", [["7"], ["boom"], ["exit"]])
def test_script_sees_what_the_interpreter_gives_it(
    tmp_path: Path, capture_dir: Path, args: list[str]
) -> None:
    """argv, sys.path[0], __main__ attributes, stdin, exit codes and tracebacks match."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "prog.py").write_text(SCRIPT, encoding="utf-8")
    (tmp_path / "capture.yaml").write_text("targets: ['prog:dump']\n", encoding="utf-8")
    command = ["sub/prog.py", "--flag", *args]
    plain = run([sys.executable, *command], tmp_path, "input text")
    captured = run([*RUN, *command], tmp_path, "input text")
    assert (captured.stdout, captured.stderr, captured.returncode) == (
        plain.stdout,
        plain.stderr,
        plain.returncode,
    )
    assert plain.returncode in (7, 1)
    assert load_capture_dict("prog:dump")["args"] == []
    if "boom" in args:
        assert "snapy_capture" not in captured.stderr
        assert captured.stderr.startswith("Traceback (most recent call last):\n  File ")


def test_module_mode_sees_what_python_m_gives_it(tmp_path: Path, capture_dir: Path) -> None:
    """``-m package.module`` gets the same __spec__, argv[0] and sys.path[0] as python -m."""
    package = tmp_path / "tool"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "cli.py").write_text(SCRIPT, encoding="utf-8")
    (tmp_path / "capture.yaml").write_text("targets: ['tool.cli:dump']\n", encoding="utf-8")
    plain = run([sys.executable, "-m", "tool.cli", "a", "3"], tmp_path)
    captured = run([*RUN, "-m", "tool.cli", "a", "3"], tmp_path)
    assert (captured.stdout, captured.stderr, captured.returncode) == (
        plain.stdout,
        plain.stderr,
        3,
    )
    assert load_capture_dict("tool.cli:dump")["args"] == []


def test_broken_config_is_one_line_naming_the_file_and_exit_2(tmp_path: Path) -> None:
    """No traceback: the file, the line and the problem, and a non-zero exit."""
    config = tmp_path / "capture.yaml"
    config.write_text("targets:\n  - target: m:f\n    retention: lots\n", encoding="utf-8")
    (tmp_path / "prog.py").write_text("print('ran')\n", encoding="utf-8")
    result = run([*RUN, "prog.py"], tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert f"{config}:3: targets[0]: invalid value for option 'retention'" in lines[0]

    missing = run([*RUN, "--config", "nope.yaml", "prog.py"], tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.strip().endswith("nope.yaml: target file not found")


MP_WORK = "def square(x):\n    return x * x\n"
MP_SCRIPT = """
import multiprocessing, sys
import mp_work

if __name__ == "__main__":
    for method in ("fork", "spawn"):
        with multiprocessing.get_context(method).Pool(1) as pool:
            print(method, pool.map(mp_work.square, [2, 3]))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_multiprocessing_fork_and_spawn_workers_are_captured(
    tmp_path: Path, capture_dir: Path
) -> None:
    """Pool workers started with fork and with spawn capture their calls too."""
    (tmp_path / "mp_work.py").write_text(MP_WORK, encoding="utf-8")
    (tmp_path / "mp_main.py").write_text(MP_SCRIPT, encoding="utf-8")
    (tmp_path / "capture.yaml").write_text(
        "defaults: {retention: 100}\ntargets: ['mp_work:square']\n", encoding="utf-8"
    )
    result = run([*RUN, "mp_main.py"], tmp_path)
    assert result.stdout == "fork [4, 9]\nspawn [4, 9]\n", result.stderr
    records = CaptureLoader(capture_dir).load_all("mp_work:square")
    assert sorted(r["args"][0] for r in records) == [2, 2, 3, 3]
    assert len({r["metadata"]["pid"] for r in records}) == 2
