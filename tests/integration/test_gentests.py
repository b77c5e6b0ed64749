"""The test generator: its modules are clean, pass on current code and fail after a change."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _pytester import pytest_ini

from snapy_capture import GenerateError
from snapy_capture.replay import generate_test_module, load_capture_dict
from snapy_capture.storage import CaptureStorage

pytest_plugins = ["pytester"]

SHOP = """
from snapy_capture import capture_args

RATE = {rate}


@capture_args(record_result=True)
def total(items, discount=0):
    if discount < 0:
        raise ValueError(f"negative discount {{discount}}")
    return round(sum(items) * RATE - discount, 2)


def untouched(x):
    return x


@capture_args()
def describe(items):
    return {{"count": len(items), "sum": sum(items) * RATE}}


class Cart:
    def __init__(self):
        self.rate = RATE

    @capture_args()
    def price(self, n):
        return n * self.rate

    @staticmethod
    @capture_args()
    def label(n):
        return f"{{n}} items"


@capture_args()
async def fetch(n):
    return [n] * 2


@capture_args()
def countdown(n):
    yield from range(n, 0, -1)
"""

RECORD = """
import asyncio
import tgt_gen

tgt_gen.total([1, 2, 3])
tgt_gen.total([10], discount=2)
try:
    tgt_gen.total([1], discount=-1)
except ValueError:
    pass
tgt_gen.describe([1, 2])
tgt_gen.describe([])
tgt_gen.Cart().price(4)
tgt_gen.Cart.label(3)
asyncio.run(tgt_gen.fetch(5))
list(tgt_gen.countdown(3))
"""

RUFF = Path(sys.executable).with_name("ruff")


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A project with captures of several kinds of callables, made by a script."""
    monkeypatch.delenv("SNAP_CAPTURE_DEFAULT_PATH", raising=False)
    for name in list(os.environ):
        if name.startswith("PYTEST_XDIST") or name == "PYTEST_ADDOPTS":
            monkeypatch.delenv(name)
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    pytester.makefile(".ini", pytest=pytest_ini())
    pytester.makepyfile(tgt_gen=SHOP.format(rate="1.0"), record=RECORD)
    recorded = pytester.run(sys.executable, "record.py", timeout=60)
    assert recorded.ret == 0, recorded.stderr.str()
    return pytester


def _store(root: Path, *names: str) -> None:
    """One capture of each ``module:qualname`` (``x`` as its one argument)."""
    storage = CaptureStorage(root)
    for name in names:
        module, _, qualname = name.partition(":")
        storage.save(
            {
                "module": module,
                "qualname": qualname,
                "function_name": qualname.rsplit(".", 1)[-1],
                "timestamp": "2026-12-01T10:00:00.000000Z",
                "args": ["x"],
                "kwargs": {},
                "metadata": {"redactions": []},
            }
        )


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(*args, timeout=120)


def _ruff(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(RUFF),
            "check",
            "--isolated",
            "--no-cache",
            "--select",
            "E,W,F,I,B,UP,PT,SIM",
            "--line-length",
            "100",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=path.parent.parent,
    )


def test_snapshot_module_is_clean_passes_then_catches_a_change(project: pytest.Pytester) -> None:
    """The generated snapshot module lints clean, records, passes, and fails after a change."""
    output = project.path / "tests" / "test_describe.py"
    source = generate_test_module("describe", path=project.path / "captures", output=output)
    assert output.read_text() == source
    assert 'replay_records("tgt_gen:describe", path=CAPTURES, substitutes=SUBSTITUTES)' in source
    # Frozen: the captures replayed are copied next to the module, which reads them there.
    assert 'CAPTURES = Path(__file__).parent / "snapy_captures"' in source
    assert "    assert replay_outcome(describe, record) == snapshot\n" in source
    linted = _ruff(output)
    assert linted.returncode == 0, linted.stdout + linted.stderr

    first = _run(project, "--snapshot-update", "-v")
    first.assert_outcomes(passed=2)
    first.stdout.fnmatch_lines(["*test_describe_replays_captured_calls?capture-1? PASSED*"])
    _run(project).assert_outcomes(passed=2)
    frozen = sorted((project.path / "tests" / "snapy_captures").rglob("*.cap"))
    assert [p.parent.name for p in frozen] == ["tgt_gen%3Adescribe"] * 2
    shutil.rmtree(project.path / "captures")  # `snapy-capture clear`: the suite is unchanged
    _run(project).assert_outcomes(passed=2)
    project.makepyfile(tgt_gen=SHOP.format(rate="3.0"))
    changed = _run(project)
    changed.assert_outcomes(passed=1, failed=1)  # the empty list still sums to 0
    changed.stdout.fnmatch_lines(["*'sum': 3.0*", "*'sum': 9.0*"])


def test_result_module_compares_with_recorded_values_and_exceptions(
    project: pytest.Pytester,
) -> None:
    """Result mode passes on the recorded results (values and exceptions), then shows a diff."""
    output = project.path / "tests" / "test_total.py"
    source = generate_test_module(
        "tgt_gen:total", path=project.path / "captures", output=output, mode="result"
    )
    assert (
        'replay_records("tgt_gen:total", path=CAPTURES, with_result=True, substitutes=SUBSTITUTES)'
        in source
    )
    assert "    assert_replay_matches(total, record)\n" in source
    linted = _ruff(output)
    assert linted.returncode == 0, linted.stdout + linted.stderr
    _run(project).assert_outcomes(passed=3)
    project.makepyfile(tgt_gen=SHOP.format(rate="2.0"))
    changed = _run(project)
    changed.assert_outcomes(passed=1, failed=2)  # the ValueError is unchanged
    changed.stdout.fnmatch_lines(
        ["*the result differs (- recorded, + replayed)*", "*-6.0*", "*+12.0*"]
    )


def test_methods_static_methods_coroutines_and_generators(project: pytest.Pytester) -> None:
    """Each kind of callable gets a module that runs; a method captured without its instance
    is skipped saying so, never replayed on a blank Cart()."""
    tests = project.path / "tests"
    method = generate_test_module("Cart.price", output=tests / "test_price.py")
    assert "Cart()" not in method
    assert "def instance" not in method
    assert "assert replay_outcome(Cart.price, record) == snapshot" in method
    static = generate_test_module("Cart.label", output=tests / "test_label.py")
    assert "assert replay_outcome(Cart.label, record) == snapshot" in static
    coroutine = generate_test_module("fetch", output=tests / "test_fetch.py", limit=5)
    assert "assert replay_outcome(fetch, record) == snapshot" in coroutine
    assert (
        'replay_records("tgt_gen:fetch", path=CAPTURES, limit=5, substitutes=SUBSTITUTES)'
        in coroutine
    )
    generator = generate_test_module("countdown", output=tests / "test_countdown.py")
    assert "assert replay_outcome(countdown, record) == snapshot" in generator
    for path in tests.glob("test_*.py"):
        linted = _ruff(path)
        assert linted.returncode == 0, linted.stdout + linted.stderr
    result = _run(project, "--snapshot-update", "-v", "-rs")
    if "self" in load_capture_dict("Cart.price", project.path / "captures"):
        result.assert_outcomes(passed=4)
        assert "4.0" in (tests / "__snapshots__" / "test_price.ambr").read_text()
    else:  # captured by a version that did not store the instance
        result.assert_outcomes(passed=3, skipped=1)
        result.stdout.fnmatch_lines(
            ["SKIPPED*tgt_gen:Cart.price*captured without its instance (capture_self off*"]
        )
    assert (
        "list([\n    3,\n    2,\n    1,\n  ])"
        in (tests / "__snapshots__" / "test_countdown.ambr").read_text()
    )
    assert "'3 items'" in (tests / "__snapshots__" / "test_label.ambr").read_text()


def test_result_mode_of_a_generator_function_is_refused_saying_why(
    project: pytest.Pytester,
) -> None:
    """A generator function has no recorded results: a result-mode module would only skip
    (it used to be written, its one case skipping), so nothing is written and the error says
    why and what to use instead."""
    output = project.path / "tests" / "test_countdown.py"
    with pytest.raises(
        GenerateError,
        match=r"no captures of tgt_gen:countdown with a recorded result .*never for generator "
        r"functions: use --mode snapshot\); searched: ",
    ):
        generate_test_module("countdown", output=output, mode="result")
    assert not output.exists()


def test_target_without_captures_is_refused_naming_the_directories(
    project: pytest.Pytester,
) -> None:
    """module:qualname with no captures used to generate a module that only skipped."""
    output = project.path / "tests" / "test_new.py"
    with pytest.raises(GenerateError, match=r"no captures of 'tgt_gen:untouched'; searched: .*"):
        generate_test_module("tgt_gen:untouched", output=output, path="captures")
    assert not output.exists()


def test_a_suite_whose_captures_stop_loading_fails_naming_each_file(
    project: pytest.Pytester,
) -> None:
    """Captures that no longer load (here: overwritten) used to turn the suite into one
    "no captures" skip plus warnings; now each is a failing case naming its file and why."""
    generate_test_module("describe", output=project.path / "tests" / "test_describe.py")
    assert _run(project, "--snapshot-update").ret == 0
    broken = sorted((project.path / "tests" / "snapy_captures").rglob("*describe*/*.cap"))
    assert len(broken) == 2
    for stored in broken:
        stored.write_bytes(b"garbage")
    result = _run(project, "-rfs")
    result.assert_outcomes(failed=2)
    assert "no captures" not in result.stdout.str()
    result.stdout.fnmatch_lines_random(
        [f"*snapy_capture: cannot load {stored}: cannot deserialize*" for stored in broken]
    )


def test_bad_requests_raise_one_clear_error(project: pytest.Pytester) -> None:
    """Unknown names, scripts' __main__, local functions, bad modes and existing files."""
    with pytest.raises(GenerateError, match=r"no captures of 'nothing'; searched: "):
        generate_test_module("nothing")
    _store(
        project.path / "captures",
        "__main__:describe",
        "tgt_gen:never",
        "tgt_gen:outer.<locals>.inner",
    )
    with pytest.raises(GenerateError, match=r"__main__.*import_path"):
        generate_test_module("__main__:describe")
    with pytest.raises(GenerateError, match=r"cannot import module 'tgt_app'.*--import-path"):
        generate_test_module("__main__:describe", import_path="tgt_app")
    source = generate_test_module("__main__:describe", import_path="tgt_gen")
    assert "from tgt_gen import describe" in source
    with pytest.raises(GenerateError, match="tgt_gen has no attribute 'never'"):
        generate_test_module("tgt_gen:never")
    with pytest.raises(GenerateError, match="defined inside a function"):
        generate_test_module("tgt_gen:outer.<locals>.inner")
    with pytest.raises(GenerateError, match="mode must be"):
        generate_test_module("tgt_gen:total", mode="golden")
    existing = project.makepyfile(test_existing="")
    with pytest.raises(GenerateError, match="already exists"):
        generate_test_module("total", output=existing)
    assert existing.read_text() == ""
    generate_test_module("total", output=existing, overwrite=True)
    assert "replay_records" in existing.read_text()


def test_generated_imports_lint_clean_for_stdlib_installed_and_project_targets(
    project: pytest.Pytester,
) -> None:
    """The target's import sits in isort's section for it: stdlib, installed, or the project."""
    tests = project.path / "tests"
    _store(project.path / "captures", "textwrap:TextWrapper.wrap", "yaml:safe_load")
    for name, file in (
        ("textwrap:TextWrapper.wrap", "test_wrap.py"),
        ("yaml:safe_load", "test_yaml.py"),
        ("tgt_gen:total", "test_total.py"),
    ):
        generate_test_module(name, output=tests / file, path="captures")
        linted = _ruff(tests / file)
        assert linted.returncode == 0, linted.stdout + linted.stderr
    assert (
        "from pathlib import Path\nfrom textwrap import TextWrapper\n"
        in (tests / "test_wrap.py").read_text()
    )
