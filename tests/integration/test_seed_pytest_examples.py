"""The seed's "pytest Integration" examples, run as written in a real pytest project."""

from __future__ import annotations

import os
import sys

import pytest
from _pytester import pytest_ini

pytest_plugins = ["pytester"]

SERVICES = """
from snapy_capture import capture_args


@capture_args()
def user_authentication(username, password, remember=False):
    return {"user": username, "ok": len(password) > 3, "remember": remember}


@capture_args()
def payment_processing(amount, currency="EUR"):
    return {"charged": round(amount * FACTOR, 2), "currency": currency}


FACTOR = 1.0
"""

RECORD = """
from tgt_services import payment_processing, user_authentication

user_authentication("ann", "hunter22", remember=True)
for amount in (10, 20.5, 99.99):
    payment_processing(amount, currency="USD")
"""

# The two examples of seed.md, "pytest Integration", verbatim below the imports.
SEED_TESTS = """
import pytest
from snapy_capture import CaptureLoader, load_capture
from tgt_services import payment_processing, user_authentication


@pytest.fixture
def captured_user_args():
    return load_capture("user_authentication")

def test_authentication(captured_user_args, snapshot):
    args, kwargs = captured_user_args
    result = user_authentication(*args, **kwargs)
    assert result == snapshot


@pytest.mark.parametrize("capture_index", range(3))
def test_multiple_scenarios(capture_index, snapshot):
    loader = CaptureLoader()
    args, kwargs = loader.load_by_index("payment_processing", capture_index)
    result = payment_processing(*args, **kwargs)
    assert result == snapshot
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A project with captures made by running the decorated functions in a script."""
    monkeypatch.delenv("SNAP_CAPTURE_DEFAULT_PATH", raising=False)
    for name in list(os.environ):
        if name.startswith("PYTEST_XDIST") or name == "PYTEST_ADDOPTS":
            monkeypatch.delenv(name)
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    pytester.makefile(".ini", pytest=pytest_ini())
    pytester.makepyfile(tgt_services=SERVICES, record=RECORD, test_seed=SEED_TESTS)
    recorded = pytester.run(sys.executable, "record.py", timeout=60)
    assert recorded.ret == 0, recorded.stderr.str()
    return pytester


def test_seed_examples_snapshot_then_pass_then_catch_a_change(project: pytest.Pytester) -> None:
    """Both seed examples record snapshots, pass on rerun, and fail after a behaviour change."""
    first = project.runpytest_subprocess("--snapshot-update", timeout=120)
    first.assert_outcomes(passed=4)
    first.stdout.fnmatch_lines(["*4 snapshots generated*"])
    snapshots = (project.path / "__snapshots__" / "test_seed.ambr").read_text()
    assert "'user': 'ann'" in snapshots
    assert "'charged': 99.99" in snapshots

    project.runpytest_subprocess(timeout=120).assert_outcomes(passed=4)

    project.makepyfile(tgt_services=SERVICES.replace("FACTOR = 1.0", "FACTOR = 1.1"))
    changed = project.runpytest_subprocess(timeout=120)
    changed.assert_outcomes(passed=1, failed=3)
    changed.stdout.fnmatch_lines(["*FAILED test_seed.py::test_multiple_scenarios[[]0[]]*"])
