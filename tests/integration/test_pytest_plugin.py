"""The pytest plugin in real pytest runs (pytester subprocesses): options, ini keys, syrupy."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from _pytester import pytest_ini

from snapy_capture import CaptureStorage, config
from snapy_capture.replay import loader

pytest_plugins = ["pytester"]

SHOP = """
from snapy_capture import capture_args

RATE = {rate}


@capture_args(retention=5)
def total(items, discount=0):
    return round(sum(items) * RATE - discount, 2)
"""

RECORD = """
import tgt_shop
tgt_shop.total([1, 2, 3])
tgt_shop.total([10], discount=2)
"""

REPLAY_TEST = """
import pytest
from snapy_capture.pytest_plugin import replay_cases
from tgt_shop import total


@pytest.mark.parametrize("args, kwargs", replay_cases("total"))
def test_total(args, kwargs, snapshot):
    assert total(*args, **kwargs) == snapshot
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytest project whose captures live in its own ./captures (the library default)."""
    monkeypatch.delenv("SNAP_CAPTURE_DEFAULT_PATH", raising=False)
    for name in list(os.environ):  # an outer xdist run must not leak into the inner one
        if name.startswith("PYTEST_XDIST") or name == "PYTEST_ADDOPTS":
            monkeypatch.delenv(name)
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")  # edited modules must be re-read
    pytester.makefile(".ini", pytest=pytest_ini())
    pytester.makepyfile(tgt_shop=SHOP.format(rate="1.0"), record=RECORD)
    return pytester


def _record(pytester: pytest.Pytester) -> None:
    result = pytester.run(sys.executable, "record.py", timeout=60)
    assert result.ret == 0, result.stderr.str()


def _captures(pytester: pytest.Pytester) -> dict[str, bytes]:
    root = pytester.path / "captures"
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.cap"))}


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(*args, timeout=120)


def test_capturing_is_off_during_tests_unless_enabled(project: pytest.Pytester) -> None:
    """Calling a decorated function in a test writes nothing, unless the option or ini says so."""
    project.makepyfile(
        test_calls="""
        from tgt_shop import total

        def test_call():
            assert total([2, 2]) == 4
    """
    )
    result = _run(project)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["snapy_capture: capturing off (replay only)*"])
    assert _captures(project) == {}

    _run(project, "--snapy-capture-enable").assert_outcomes(passed=1)
    assert len(_captures(project)) == 1

    project.makefile(".ini", pytest=pytest_ini("snapy_capture_enabled = true"))
    _run(project).assert_outcomes(passed=1)
    (stored,) = _captures(project)  # the same call again: counted on the same capture
    assert (
        CaptureStorage(project.path / "captures").calls(project.path / "captures" / stored)[0] == 2
    )


def test_replaying_never_rewrites_the_captures_being_replayed(project: pytest.Pytester) -> None:
    """A replay run leaves the capture files exactly as they were."""
    _record(project)
    before = _captures(project)
    project.makepyfile(
        test_replay=REPLAY_TEST.replace(", snapshot", "").replace("== snapshot", "is not None")
    )
    _run(project).assert_outcomes(passed=2)
    assert _captures(project) == before


def test_syrupy_snapshots_record_pass_then_catch_a_behaviour_change(
    project: pytest.Pytester,
) -> None:
    """--snapshot-update records one snapshot per capture; a changed result then fails."""
    _record(project)
    project.makepyfile(test_replay=REPLAY_TEST)
    first = _run(project, "--snapshot-update", "-v")
    first.assert_outcomes(passed=2)
    first.stdout.fnmatch_lines(
        [
            "*test_total?capture-1? PASSED*",
            "*test_total?capture-0? PASSED*",
            "*2 snapshots generated*",
        ]
    )
    snapshot_file = project.path / "__snapshots__" / "test_replay.ambr"
    assert "test_total[capture-0]" in snapshot_file.read_text()

    _run(project).assert_outcomes(passed=2)

    project.makepyfile(tgt_shop=SHOP.format(rate="2.0"))
    changed = _run(project)
    changed.assert_outcomes(failed=2)
    changed.stdout.fnmatch_lines(["*- 6.0*", "*+ 12.0*"])


def test_snapshot_names_do_not_churn_when_new_captures_arrive(project: pytest.Pytester) -> None:
    """A new capture adds one new case; the existing snapshots still pass under their names."""
    _record(project)
    project.makepyfile(test_replay=REPLAY_TEST)
    _run(project, "--snapshot-update").assert_outcomes(passed=2)
    project.makepyfile(record="import tgt_shop\ntgt_shop.total([7])\n")
    _record(project)
    result = _run(project, "-v")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*test_total?capture-2? FAILED*"])  # no snapshot yet
    result.stdout.no_fnmatch_line("*test_total?capture-[01]? FAILED*")


def test_no_captures_skip_names_function_and_path_and_require_fails(
    project: pytest.Pytester,
) -> None:
    """Without captures the case is skipped with a clear reason; require mode fails it."""
    project.makepyfile(test_replay=REPLAY_TEST.replace('"total"', '"tgt_shop:total"'))
    skipped = _run(project, "-rs")
    skipped.assert_outcomes(skipped=1)
    where = project.path / "captures"
    skipped.stdout.fnmatch_lines([f"*no captures of tgt_shop:total; searched: {where}*"])

    required = _run(project, "--snapy-capture-require")
    required.assert_outcomes(failed=1)
    required.stdout.fnmatch_lines(["*no captures of tgt_shop:total*snapy-capture-require*"])
    required.stdout.no_fnmatch_line("*Traceback*")

    project.makefile(".ini", pytest=pytest_ini("snapy_capture_require = true"))
    _run(project).assert_outcomes(failed=1)


def test_path_option_and_ini_feed_the_fixture_and_default_loading(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The path option and ini key are searched by the fixture and by load_capture."""
    project.makepyfile(
        record="""
        from snapy_capture import capture_args

        @capture_args(path="elsewhere/caps")
        def tgt_far(x):
            return x

        tgt_far(41)
    """
    )
    _record(project)
    project.makepyfile(
        test_paths="""
        import os
        from snapy_capture import load_capture

        HERE = os.path.dirname(os.path.abspath(__file__))

        def test_loader(capture_loader):
            assert os.path.join(HERE, "elsewhere", "caps") in capture_loader.paths
            assert capture_loader.load_latest("tgt_far") == ((41,), {})

        def test_default_loading():
            assert load_capture("tgt_far") == ((41,), {})
    """
    )
    _run(project).assert_outcomes(failed=2)
    result = _run(project, "--snapy-capture-path", "elsewhere/caps")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["snapy_capture: capturing off*captures from *elsewhere/caps"])

    # An ini path is relative to the ini file, whatever directory pytest starts in.
    project.makefile(".ini", pytest=pytest_ini("snapy_capture_path = elsewhere/caps"))
    (project.path / "sub").mkdir()
    monkeypatch.chdir(project.path / "sub")
    _run(
        project, str(project.path / "test_paths.py"), "-c", str(project.path / "pytest.ini")
    ).assert_outcomes(passed=2)


def test_monkeypatched_environment_takes_effect_per_test(project: pytest.Pytester) -> None:
    """SNAP_CAPTURE_* set with monkeypatch applies in that test and is gone in the next."""
    project.makepyfile(
        test_env="""
        import pytest
        from tgt_shop import total

        @pytest.fixture
        def other_dir(monkeypatch, tmp_path):
            monkeypatch.setenv("SNAP_CAPTURE_DEFAULT_PATH", str(tmp_path / "other"))
            return tmp_path / "other"

        def test_first(other_dir):
            total([1])
            assert len(list(other_dir.rglob("*.cap"))) == 1

        def test_second():
            total([2])
    """
    )
    _run(project, "--snapy-capture-enable").assert_outcomes(passed=2)
    assert len(_captures(project)) == 1  # only test_second wrote to ./captures


def test_bad_name_is_a_one_line_collection_error(project: pytest.Pytester) -> None:
    """An ambiguous name fails collection with the candidates listed and no traceback."""
    project.makepyfile(
        record="""
        from snapy_capture import CaptureStorage
        store = CaptureStorage("captures")
        for module in ("tgt_a", "tgt_b"):
            store.save({"module": module, "qualname": "run", "args": [], "kwargs": {},
                        "metadata": {}})
    """
    )
    _record(project)
    project.makepyfile(
        test_bad="""
        import pytest
        from snapy_capture.pytest_plugin import replay_cases

        @pytest.mark.parametrize("args, kwargs", replay_cases("run"))
        def test_run(args, kwargs):
            pass
    """
    )
    result = _run(project)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*'run' matches several captured functions: tgt_a:run, tgt_b:run*"]
    )
    result.stdout.no_fnmatch_line("*_replay.py*")


def test_works_under_xdist(project: pytest.Pytester) -> None:
    """Workers collect identical ids and the snapshots pass with -n 2."""
    _record(project)
    project.makepyfile(test_replay=REPLAY_TEST)
    _run(project, "--snapshot-update").assert_outcomes(passed=2)
    result = _run(project, "-n", "2")
    result.assert_outcomes(passed=2)
    assert result.ret == 0


def test_session_end_restores_global_state(pytester: pytest.Pytester) -> None:
    """An in-process run leaves capture switched as before and removes its search path."""
    pytester.makefile(".ini", pytest=pytest_ini("snapy_capture_path = caps"))
    pytester.makepyfile(
        test_x="""
        from snapy_capture import config

        def test_suspended():
            assert config.is_suspended()
    """
    )
    assert not config.is_suspended()
    pytester.runpytest_inprocess().assert_outcomes(passed=1)
    assert not config.is_suspended()
    assert str(Path(pytester.path, "caps")) not in loader._search_paths
