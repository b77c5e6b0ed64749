"""``snapy-capture gen-tests`` as a user runs it, in a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

APP = """
from snapy_capture import capture_args

@capture_args(record_result=True)
def price(amount, rate=20):
    return amount * (100 + rate) / 100

price(10)
"""


def _pytest_update(
    target: str, *, cwd: Path, project: Path, **env: str
) -> subprocess.CompletedProcess[str]:
    """``pytest --snapshot-update target`` in a subprocess, with ``project`` importable."""
    options = ["-q", "-p", "no:randomly", "-p", "no:cacheprovider", "--snapshot-update"]
    return subprocess.run(
        [sys.executable, "-m", "pytest", *options, target],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(project), **env},
        timeout=120,
        check=False,
    )


def _cli(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "snapy_capture", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=dict(os.environ),
        timeout=60,
        check=False,
    )


def test_gen_tests_onto_an_existing_file_names_the_cli_flag_only(
    tmp_path: Path, capture_dir: Path
) -> None:
    """The refusal names --force (the CLI's word), not the Python ``overwrite=True``, and
    leaves the file as it was."""
    (tmp_path / "shop.py").write_text(APP, encoding="utf-8")
    made = subprocess.run(
        [sys.executable, "shop.py"], cwd=tmp_path, env=dict(os.environ), check=False
    )
    assert made.returncode == 0
    target = tmp_path / "test_price.py"
    target.write_text("# edited by hand\n", encoding="utf-8")

    again = _cli("gen-tests", "price", "-o", str(target), cwd=tmp_path)

    assert again.returncode == 1
    assert (
        again.stderr
        == f"snapy-capture: error: {target} already exists (pass --force to replace it)\n"
    )
    assert target.read_text(encoding="utf-8") == "# edited by hand\n"
    forced = _cli("gen-tests", "price", "-o", str(target), "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert "def test_price" in target.read_text(encoding="utf-8")


HIDE_SYRUPY = (
    "import sys; sys.modules['syrupy'] = None; "  # as if syrupy were not installed
    "from snapy_capture.cli import main; sys.exit(main(sys.argv[1:]))"
)


def test_gen_tests_refuses_snapshot_mode_without_syrupy(tmp_path: Path, capture_dir: Path) -> None:
    """Snapshot tests without syrupy fail with "fixture 'snapshot' not found": gen-tests
    exits 1 with the install command and writes nothing (it used to write the module and
    only note it); result mode and an installed syrupy are fine."""
    (tmp_path / "shop.py").write_text(APP, encoding="utf-8")
    subprocess.run([sys.executable, "shop.py"], cwd=tmp_path, env=dict(os.environ), check=True)

    def gen(*argv: str, hide: bool) -> subprocess.CompletedProcess[str]:
        command = ["-c", HIDE_SYRUPY, *argv] if hide else ["-m", "snapy_capture", *argv]
        return subprocess.run(
            [sys.executable, *command],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env=dict(os.environ),
            timeout=60,
            check=False,
        )

    missing = gen("gen-tests", "price", "-o", "test_a.py", hide=True)
    assert missing.returncode == 1
    assert missing.stdout == ""
    [line] = missing.stderr.splitlines()
    assert line.startswith("snapy-capture: error: syrupy is not installed here")
    assert 'pip install "snapy-capture[pytest]"' in line
    assert not (tmp_path / "test_a.py").exists()
    result_mode = gen("gen-tests", "price", "-o", "test_b.py", "--mode", "result", hide=True)
    assert (result_mode.returncode, result_mode.stderr) == (0, "")
    present = gen("gen-tests", "price", "-o", "test_c.py", hide=False)
    assert (present.returncode, present.stderr) == (0, "")


def _one_error(done: subprocess.CompletedProcess[str], written: Path) -> str:
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith("snapy-capture: error: ")
    assert not written.exists()
    return line


def test_gen_tests_refuses_a_module_it_cannot_import_naming_import_path(
    tmp_path: Path, capture_dir: Path
) -> None:
    """The captured module is gone (renamed): gen-tests used to write a test that then
    failed with ModuleNotFoundError; now exit 1, naming the module and --import-path, and
    --import-path with the new name works."""
    (tmp_path / "shop.py").write_text(APP, encoding="utf-8")
    subprocess.run([sys.executable, "shop.py"], cwd=tmp_path, env=dict(os.environ), check=True)
    (tmp_path / "shop.py").rename(tmp_path / "store.py")
    output = tmp_path / "test_price.py"

    line = _one_error(_cli("gen-tests", "price", "-o", str(output), cwd=tmp_path), output)
    assert "cannot import module 'shop' (ModuleNotFoundError" in line
    assert "--import-path MODULE" in line
    fixed = _cli("gen-tests", "price", "-o", str(output), "--import-path", "store", cwd=tmp_path)
    assert fixed.returncode == 0, fixed.stderr
    assert "from store import price" in output.read_text(encoding="utf-8")


def test_gen_tests_refuses_a_function_without_captures_naming_the_directories(
    tmp_path: Path, capture_dir: Path
) -> None:
    """module:qualname with no captures used to write a module whose one case skips (rc 0);
    now exit 1 naming the directories searched."""
    (tmp_path / "shop.py").write_text(APP, encoding="utf-8")
    subprocess.run([sys.executable, "shop.py"], cwd=tmp_path, env=dict(os.environ), check=True)
    (tmp_path / "shop.py").write_text(APP + "\ndef unused(x):\n    return x\n", encoding="utf-8")
    output = tmp_path / "test_unused.py"

    line = _one_error(_cli("gen-tests", "shop:unused", "-o", str(output), cwd=tmp_path), output)
    assert line.startswith("snapy-capture: error: no captures of 'shop:unused'; searched: ")
    assert str(capture_dir) in line


LOGIN = """
from snapy_capture import capture_args

@capture_args()
def login(user, password):
    return f"{user}:{len(password)}"

login("ann", "hunter2")
login("bob", "pa55")
"""


def test_gen_tests_refuses_when_every_capture_needs_substitutes(
    tmp_path: Path, capture_dir: Path
) -> None:
    """Every capture had its password filtered: the module would only skip. gen-tests says
    which paths need SUBSTITUTES; given with --substitutes, they are written into the module
    and its cases run."""
    (tmp_path / "auth.py").write_text(LOGIN, encoding="utf-8")
    subprocess.run([sys.executable, "auth.py"], cwd=tmp_path, env=dict(os.environ), check=True)
    tests = tmp_path / "tests"
    output = tests / "test_login.py"

    line = _one_error(_cli("gen-tests", "login", "-o", str(output), cwd=tmp_path), output)
    assert "every capture of auth:login (2) would be skipped" in line
    assert "the filters removed password; give SUBSTITUTES" in line
    assert "hunter2" not in line
    # A suite-wide file: the other functions' test values stay out of this module.
    subs = '{"password": "test-pw", "self.api_key": "test-key", "card": "4000"}'
    (tmp_path / "subs.json").write_text(subs, encoding="utf-8")
    given = _cli(
        "gen-tests", "login", "-o", str(output), "--substitutes", "subs.json", cwd=tmp_path
    )
    assert given.returncode == 0, given.stderr
    module = output.read_text(encoding="utf-8")
    assert '    "password": "test-pw",\n' in module
    assert "test-key" not in module
    assert "4000" not in module
    ran = _pytest_update(str(output), cwd=tmp_path, project=tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "2 passed" in ran.stdout
    assert "'bob:7'" in (tests / "__snapshots__" / "test_login.ambr").read_text()
    refresh = ("gen-tests", "login", "-o", str(output), "--refresh")
    assert "give SUBSTITUTES" in _cli(*refresh, cwd=tmp_path).stderr
    refreshed = _cli(*refresh, "--substitutes", "subs.json", cwd=tmp_path)
    assert refreshed.returncode == 0, refreshed.stderr


def test_gen_tests_refuses_when_no_capture_loads(tmp_path: Path, capture_dir: Path) -> None:
    """Every capture file is unreadable: exit 1 naming a file and why, nothing written."""
    (tmp_path / "shop.py").write_text(APP, encoding="utf-8")
    subprocess.run([sys.executable, "shop.py"], cwd=tmp_path, env=dict(os.environ), check=True)
    [stored] = list(capture_dir.rglob("*.cap"))
    stored.write_bytes(b"garbage")
    output = tmp_path / "test_price.py"

    line = _one_error(_cli("gen-tests", "price", "-o", str(output), cwd=tmp_path), output)
    assert f"none of the 1 capture(s) of shop:price would run: cannot load {stored}: " in line


SHOP = """
def price(amount, rate=20):
    return amount * (100 + rate) / 100


def label(n):
    return f"{n} items"


def never(x):
    return x


class Cart:
    def __init__(self, items):
        self.items = items

    def total(self):
        return sum(self.items)

    def count(self):
        return len(self.items)
"""

TARGETS = """
version: 1
targets:
  - target: shop:price
    record_result: true
  - shop:label
  - shop:never
  - shop:Cart.*
"""

DRIVER = """
import shop

shop.price(10)
shop.price(5, rate=0)
shop.label(3)
cart = shop.Cart([1, 2])
cart.total()
cart.count()
"""


def test_gen_tests_for_a_whole_target_file(tmp_path: Path, capture_dir: Path) -> None:
    """--config FILE -o DIR: one module per captured function of the file's targets (a glob
    target gives one per method), result mode where results were recorded, one skip line
    for a target without captures; the modules pass under pytest."""
    (tmp_path / "shop.py").write_text(SHOP, encoding="utf-8")
    (tmp_path / "driver.py").write_text(DRIVER, encoding="utf-8")
    (tmp_path / "capture.yaml").write_text(TARGETS, encoding="utf-8")
    ran = subprocess.run(
        [sys.executable, "-m", "snapy_capture.run", "--config", "capture.yaml", "driver.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=60,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr

    made = _cli(
        "gen-tests",
        "--config",
        "capture.yaml",
        "-o",
        "tests/replay",
        "--mode",
        "result",
        cwd=tmp_path,
    )

    assert made.returncode == 0, made.stdout + made.stderr
    assert made.stderr == ""
    lines = made.stdout.splitlines()
    replay = Path("tests/replay")
    assert sorted(lines) == sorted(
        [
            f"wrote {replay / 'test_shop_price.py'} (result mode)",
            f"wrote {replay / 'test_shop_label.py'} (snapshot mode, no recorded results)",
            f"skip  shop:never: no captures (searched: {capture_dir})",
            f"wrote {replay / 'test_shop_cart_init.py'} (snapshot mode, no recorded results)",
            f"wrote {replay / 'test_shop_cart_count.py'} (snapshot mode, no recorded results)",
            f"wrote {replay / 'test_shop_cart_total.py'} (snapshot mode, no recorded results)",
        ]
    )
    written = sorted(p.name for p in (tmp_path / "tests" / "replay").glob("*.py"))
    assert written == [
        "test_shop_cart_count.py",
        "test_shop_cart_init.py",
        "test_shop_cart_total.py",
        "test_shop_label.py",
        "test_shop_price.py",
    ]
    assert "assert_replay_matches(price, record)" in (
        tmp_path / "tests" / "replay" / "test_shop_price.py"
    ).read_text(encoding="utf-8")
    tested = _pytest_update("tests/replay", cwd=tmp_path, project=tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "6 passed" in tested.stdout  # price 2, label, __init__, total, count
    again = _cli("gen-tests", "--config", "capture.yaml", "-o", "tests/replay", cwd=tmp_path)
    assert again.returncode == 1
    assert f"error shop:price: {replay / 'test_shop_price.py'} already exists" in again.stdout


PRICES = """
import sys
from snapy_capture import capture_args

@capture_args()
def price(amount, rate=20):
    return amount * (100 + rate) / 100

if __name__ == "__main__":
    price(int(sys.argv[1]))
"""


def test_generated_suite_is_frozen_until_refreshed(tmp_path: Path, capture_dir: Path) -> None:
    """The captures replayed are copied next to the module: the suite runs from another
    directory, ignores new captures and a cleared capture directory, and --refresh (which
    leaves the module as it is) brings the new captures in."""
    (tmp_path / "shop.py").write_text(PRICES, encoding="utf-8")
    env = dict(os.environ)

    def program(amount: int) -> None:
        subprocess.run([sys.executable, "shop.py", str(amount)], cwd=tmp_path, env=env, check=True)

    def pytest_from(cwd: Path) -> str:
        done = _pytest_update(str(tmp_path / "tests" / "test_price.py"), cwd=cwd, project=tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    program(10)
    module = tmp_path / "tests" / "test_price.py"
    made = _cli("gen-tests", "price", "-o", "tests/test_price.py", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    source = module.read_text(encoding="utf-8")
    assert 'CAPTURES = Path(__file__).parent / "snapy_captures"' in source
    assert len(list((tmp_path / "tests" / "snapy_captures").rglob("*.cap"))) == 1
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert "1 passed" in pytest_from(elsewhere)

    program(20)
    assert "1 passed" in pytest_from(elsewhere)  # a new capture: the suite is unchanged
    refreshed = _cli("gen-tests", "price", "-o", "tests/test_price.py", "--refresh", cwd=tmp_path)
    assert refreshed.returncode == 0, refreshed.stderr
    assert refreshed.stdout.endswith(": 2 capture(s).\n")
    assert module.read_text(encoding="utf-8") == source
    shutil.rmtree(capture_dir)  # as `snapy-capture clear` leaves it
    assert "2 passed" in pytest_from(elsewhere)


def test_a_frozen_suite_of_signed_captures_stays_signed(
    tmp_path: Path, capture_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Signed captures are frozen as they are: the suite replays them under the key, and a
    run with another key refuses them (a failing case naming the file, never a silent pass)."""
    monkeypatch.setenv("SNAP_CAPTURE_SIGNING_KEY", "k" * 32)
    (tmp_path / "shop.py").write_text(PRICES, encoding="utf-8")
    program = [sys.executable, "shop.py", "10"]
    subprocess.run(program, cwd=tmp_path, env=dict(os.environ), check=True, timeout=60)
    made = _cli("gen-tests", "price", "-o", "tests/test_price.py", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    frozen = list((tmp_path / "tests" / "snapy_captures").rglob("*.cap"))
    stored = list(capture_dir.rglob("*.cap"))
    assert [p.read_bytes() for p in frozen] == [p.read_bytes() for p in stored]

    def pytest_with(key: str) -> subprocess.CompletedProcess[str]:
        module = str(tmp_path / "tests" / "test_price.py")
        return _pytest_update(module, cwd=tmp_path, project=tmp_path, SNAP_CAPTURE_SIGNING_KEY=key)

    signed = pytest_with("k" * 32)
    assert signed.returncode == 0, signed.stdout + signed.stderr
    assert "1 passed" in signed.stdout
    forged = pytest_with("x" * 32)
    assert forged.returncode == 1, forged.stdout + forged.stderr
    assert "cannot load" in forged.stdout
