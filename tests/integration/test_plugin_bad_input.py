"""The pytest plugin under bad input: a clear one-line reason, and the session goes on.

Found by review "attack4" (2026-12-05).
"""

from __future__ import annotations

import os

import pytest
from _pytester import pytest_ini

pytest_plugins = ["pytester"]

UNREADABLE = """
import pytest
from snapy_capture import CaptureStorage
from snapy_capture.pytest_plugin import replay_cases, replay_records


class Unlistable(CaptureStorage):
    # What a capture directory this user may not list, or an object store that does not
    # answer, does to a reader.
    def functions(self):
        raise PermissionError(13, "Permission denied", "/srv/captures")


STORE = Unlistable("captures")


@pytest.mark.parametrize("args, kwargs", replay_cases("price", storage=STORE))
def test_cases(args, kwargs):
    pass


@pytest.mark.parametrize("record", replay_records("price", storage=STORE))
def test_records(record):
    pass


def test_other():
    pass
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("SNAP_CAPTURE_DEFAULT_PATH", raising=False)
    for name in list(os.environ):  # an outer xdist run must not leak into the inner one
        if name.startswith("PYTEST_XDIST") or name == "PYTEST_ADDOPTS":
            monkeypatch.delenv(name)
    pytester.makefile(".ini", pytest=pytest_ini())
    return pytester


def test_captures_that_cannot_be_read_fail_their_test_not_the_session(
    project: pytest.Pytester,
) -> None:
    """A storage that cannot be listed (PermissionError; an object store without
    credentials raised ObjectStoreError the same way) made replay_cases raise at import: a
    collection error showing a traceback through the plugin, and "Interrupted: 1 error during
    collection", so no test of the session ran. Now each such test fails naming why."""
    project.makepyfile(test_unreadable=UNREADABLE)
    result = project.runpytest_subprocess("-p", "no:randomly", timeout=120)
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        ["*snapy_capture: cannot read the captures of 'price': *Permission denied*/srv/captures*"]
    )
    result.stdout.no_fnmatch_line("*Interrupted*")
    result.stdout.no_fnmatch_line("*pytest_plugin.py*")


def test_a_bad_boolean_ini_key_is_named(project: pytest.Pytester) -> None:
    """pytest's own message, "invalid truth value 'maybe'", did not say which key."""
    project.makepyfile(test_x="def test_x():\n    pass\n")
    result = project.runpytest_subprocess("-o", "snapy_capture_require=maybe", timeout=120)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: ini snapy_capture_require: invalid truth value 'maybe'"])


def test_a_broken_yaml_substitutes_file_is_one_line(project: pytest.Pytester) -> None:
    """A YAML error spans several lines; the usage error showed all of them."""
    project.makepyfile(test_x="def test_x():\n    pass\n")
    (project.path / "subs.yaml").write_text("password: [\n")
    result = project.runpytest_subprocess("--snapy-capture-substitutes", "subs.yaml", timeout=120)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if line.strip()]
    assert len(errors) == 1, result.stderr.str()
    assert errors[0].startswith("ERROR: substitutes file ")
    assert "subs.yaml" in errors[0]
