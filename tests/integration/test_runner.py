"""``python -m snapy_capture.run``: real subprocesses of a legacy app the tests never edit."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _process import run

from snapy_capture import CaptureLoader, load_capture_dict

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "examples" / "legacy_app"
RUN = [sys.executable, "-m", "snapy_capture.run"]
EXPECTED = {
    "app:parse_line",
    "legacy_shop.pricing:apply_discount",
    "legacy_shop.auth:login",
    "legacy_shop.notify:send_receipt",
    "legacy_shop.ledger:record_entry",
    "legacy_shop.orders:OrderService.__init__",
    "legacy_shop.orders:OrderService.add",
    "legacy_shop.orders:OrderService.from_config",
    "legacy_shop.orders:OrderService.round_cents",
    "legacy_shop.orders:OrderService.summary",
    "legacy_shop.orders:OrderService.total",
    "legacy_shop.orders:OrderService.Line.__init__",
    "legacy_shop.orders:OrderService.Line.subtotal",
}


def test_legacy_app_runs_identically_and_captures_exactly_the_targets(capture_dir: Path) -> None:
    """Same stdout, stderr and exit code as plain python; captures for exactly the targets,
    including a `from m import f` binding, methods, async and a child process."""
    args = ["app.py", "--discount", "10"]
    stdin = "A:2:10\nB:x:1\nC:1:2.5\n"
    plain = run([sys.executable, *args], APP, stdin=stdin)
    captured = run([*RUN, *args], APP, stdin=stdin)
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
    plain = run([sys.executable, *command], tmp_path, stdin="input text")
    captured = run([*RUN, *command], tmp_path, stdin="input text")
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


@pytest.mark.parametrize("targets", ["targets:\n", "targets: []\n"])
def test_a_target_file_naming_no_targets_is_said_and_the_program_runs(
    tmp_path: Path, targets: str
) -> None:
    """``targets:`` left empty ran the program capturing nothing, saying nothing (and the line
    at exit names targets that captured nothing: there were none). One warning now; the
    program runs as ever (emptying the list is a way to stop capturing)."""
    config = tmp_path / "capture.yaml"
    config.write_text(f"version: 1\n{targets}", encoding="utf-8")
    (tmp_path / "prog.py").write_text("print('ran')\n", encoding="utf-8")
    result = run([*RUN, "prog.py"], tmp_path)
    assert (result.returncode, result.stdout) == (0, "ran\n")
    assert result.stderr.splitlines() == [
        f"python -m snapy_capture.run: warning: {config} names no targets: nothing will be captured"
    ]


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
        "defaults: {retention: 100, dedupe: false}\ntargets: ['mp_work:square']\n",
        encoding="utf-8",
    )
    result = run([*RUN, "mp_main.py"], tmp_path)
    assert result.stdout == "fork [4, 9]\nspawn [4, 9]\n", result.stderr
    records = CaptureLoader(capture_dir).load_all("mp_work:square")
    assert sorted(r["args"][0] for r in records) == [2, 2, 3, 3]
    assert len({r["metadata"]["pid"] for r in records}) == 2


# --- hostile or self-referencing target files (issue 15, item 12) ---------------------------

PAY = "def pay(amount):\n    return amount * 2\n\nprint('paid', pay(3))\nprint('after')\n"


def write_config(tmp_path: Path, text: str) -> Path:
    config = tmp_path / "capture.yaml"
    config.write_text(text)
    (tmp_path / "app.py").write_text(PAY)
    return config


@pytest.mark.parametrize("named", ["sys:exit", "os:abort", "builtins:exit", "os:getcwd"])
def test_arg_filter_naming_a_non_filter_runs_nothing_and_the_program_finishes(
    tmp_path: Path, capture_dir: Path, named: str
) -> None:
    """`arg_filter: 'sys:exit'` must not exit the host, nor 'os:abort' kill it."""
    config = write_config(
        tmp_path,
        f"version: 1\ndefaults: {{arg_filter: '{named}', async_storage: false}}\n"
        f"targets:\n  - app:pay\n",
    )
    done = run([*RUN, "--config", str(config), "app.py"], tmp_path)
    assert (done.returncode, done.stdout) == (0, "paid 6\nafter\n"), done.stderr
    assert f"arg_filter {named!r} is the callable" in done.stderr
    assert "not an ArgumentFilter" in done.stderr
    assert not list(capture_dir.rglob("*.cap"))  # no filter, no capture: nothing unfiltered


def test_runner_refuses_targets_inside_snapy_capture_with_one_line_each(tmp_path: Path) -> None:
    """Targets in snapy_capture itself are an error of the file, before the program runs."""
    config = write_config(
        tmp_path,
        "version: 1\ntargets:\n  - app:pay\n  - snapy_capture.capture._pipeline:*\n"
        "  - snapy_capture.storage:CaptureStorage.*\n",
    )
    done = run([*RUN, "--config", str(config), "app.py"], tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""  # the program did not run
    lines = done.stderr.splitlines()
    assert len(lines) == 2, done.stderr
    for line, name in zip(
        lines, ["snapy_capture.capture._pipeline:*", "snapy_capture.storage:"], strict=True
    ):
        assert line.startswith("python -m snapy_capture.run: error: ")
        assert name in line
        assert "snapy_capture's own capture machinery" in line
        assert "refused" in line


HOST = """
import warnings
import snapy_capture
warnings.simplefilter("always")
snapy_capture.install_import_hook(config={config!r})
import app_host
store = snapy_capture.CaptureStorage({root!r})
print("storage", type(store).__name__)
print("paid", app_host.pay(3))
snapy_capture.flush()
"""


@pytest.mark.parametrize(
    "refused", ["snapy_capture.storage:CaptureStorage.*", "snapy_capture.capture._pipeline:*"]
)
def test_host_warns_about_snapy_capture_targets_and_installs_the_rest(
    tmp_path: Path, capture_dir: Path, refused: str
) -> None:
    """In a host program: a warning; the host's own CaptureStorage(...) does not deadlock,
    install_import_hook raises nothing, and the other target is captured."""
    (tmp_path / "app_host.py").write_text("def pay(amount):\n    return amount * 2\n")
    config = tmp_path / "capture.yaml"
    config.write_text(f"version: 1\ntargets:\n  - '{refused}'\n  - app_host:pay\n")
    host = HOST.format(config=str(config), root=str(tmp_path / "own"))
    try:
        done = subprocess.run(
            [sys.executable, "-c", host],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(tmp_path)},
            timeout=30,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the host program hung with target {refused}")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "storage CaptureStorage\npaid 6\n"
    assert f"target '{refused}' is part of snapy_capture's own capture machinery" in done.stderr
    assert CaptureLoader(capture_dir).functions() == ["app_host:pay"]


def test_runner_refuses_a_huge_target_file_quickly_naming_the_limit(tmp_path: Path) -> None:
    """1.5 million targets: one line naming the size limit, at once (was 38 s and 1.2 GB)."""
    config = write_config(tmp_path, "")
    with config.open("w") as out:
        out.write("version: 1\ntargets:\n")
        out.writelines(f"  - m:f{i}\n" for i in range(1_500_000))
    started = time.perf_counter()
    done = run([*RUN, "--config", str(config), "app.py"], tmp_path)
    assert time.perf_counter() - started < 15  # interpreter start-up included; reading: ~0
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"python -m snapy_capture.run: error: {config}: ")
    assert "larger than 1 MiB" in line


def test_a_filter_module_that_captures_while_imported_does_not_deadlock(
    tmp_path: Path, capture_dir: Path
) -> None:
    """The arg_filter module's import calls a captured function using that same filter."""
    (tmp_path / "tgt_reent.py").write_text(
        "from snapy_capture import ArgumentFilter, capture_args\n"
        "def make() -> ArgumentFilter:\n"
        "    return ArgumentFilter(ignore_args=['pin'])\n"
        "@capture_args(arg_filter='tgt_reent:make', async_storage=False)\n"
        "def setup(pin):\n"
        "    return pin\n"
        "setup('1234')\n"
    )
    (tmp_path / "main.py").write_text(
        "from snapy_capture import capture_args\n"
        "@capture_args(arg_filter='tgt_reent:make', async_storage=False)\n"
        "def pay(pin):\n"
        "    return pin\n"
        "print(pay('9'))\n"
    )
    try:
        done = subprocess.run(
            [sys.executable, "main.py"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("resolving the arg_filter deadlocked on its own lock")
    assert (done.returncode, done.stdout) == (0, "9\n"), done.stderr
    assert load_capture_dict("main:pay")["args"] == ["[FILTERED: name:pin]"]
