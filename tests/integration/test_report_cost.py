"""The runner says which targets made the program slow, and the report says what each cost.

Found on tomlkit's own test suite (3.8 s bare, 314 s captured): half of the time went to one
target whose receiver grows with every call, and nothing told the user which target it was.
The time the program's threads spend capturing is counted per capture site (where the
process-wide ``capture_ns`` is counted); at exit, when it is at least a second and a fifth of
the run, one line names the costliest targets, and ``--report`` gives every target's share.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from snapy_capture.hook import _report

MODULE = '''
class Ledger:
    """A receiver that is costly to capture: thousands of objects read on every call."""

    def __init__(self):
        self.rows = [Row(i) for i in range(3000)]

    def total(self, extra):
        return len(self.rows) + extra


class Row:
    def __init__(self, number):
        self.number = number
        self.label = f"row {number}"


def cheap(x):
    return x + 1
'''
# Calls the costly method until capture has taken over 1.5 s (measured by capture's own
# counter, so the test holds on a fast or a loaded machine), the cheap function a few times.
APP = """
import tgt_ledger
from snapy_capture.capture import stats
ledger = tgt_ledger.Ledger()
calls = 0
while stats()["capture_ns"] < 1.5e9 and calls < 5000:
    ledger.total(calls)
    calls += 1
for i in range(5):
    tgt_ledger.cheap(i)
print("done")
"""
RUN = (sys.executable, "-m", "snapy_capture.run", "--config", "capture.yaml")


def _run(tmp_path: Path, app: str, *extra: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "tgt_ledger.py").write_text(MODULE, encoding="utf-8")
    (tmp_path / "app.py").write_text(app, encoding="utf-8")
    (tmp_path / "capture.yaml").write_text(
        "defaults: {dedupe: false}\ntargets: ['tgt_ledger:Ledger.total', 'tgt_ledger:cheap']\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAP_CAPTURE_")}
    env["SNAP_CAPTURE_DEFAULT_PATH"] = str(tmp_path / "captures")
    return subprocess.run(
        [*RUN, *extra, "app.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_runner_names_the_target_that_made_the_program_slow(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    result = _run(tmp_path, APP, "--report", str(report))
    assert (result.stdout, result.returncode) == ("done\n", 0), result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert line.startswith("snapy_capture: capturing took ")
    assert "tgt_ledger:Ledger.total " in line
    assert "tgt_ledger:cheap" not in line  # a few microseconds: not worth naming
    assert "capture_self: false" in line
    data = json.loads(report.read_text(encoding="utf-8"))
    costly, cheap = data["targets"]
    assert costly["capture_ms"] >= 1500 > cheap["capture_ms"]
    assert data["capture_ms"] >= costly["capture_ms"]
    function = costly["functions"]["tgt_ledger:Ledger.total"]
    assert function["capture_ns"] >= 1.5e9
    assert f"({costly['captured']} calls, " in line


def test_no_line_when_capture_cost_little(tmp_path: Path) -> None:
    cheap_app = "import tgt_ledger\nprint(sum(tgt_ledger.cheap(i) for i in range(50)))\n"
    report = tmp_path / "report.json"
    result = _run(tmp_path, cheap_app, "--report", str(report))
    assert (result.stdout, result.returncode) == ("1275\n", 0), result.stderr
    # The one line at exit names the target that captured nothing, and nothing else.
    assert result.stderr.splitlines() == [
        f"snapy_capture: 1 of 2 targets captured nothing: tgt_ledger:Ledger.total (see {report})"
    ]
    data = json.loads(report.read_text(encoding="utf-8"))
    assert 0 < data["targets"][1]["capture_ms"] < 1000
    assert data["targets"][0]["capture_ms"] == 0


def test_the_line_gives_the_cost_of_a_cheap_but_frequent_capture() -> None:
    """A target costing a few µs a call, called a million times: the line said "0.0 ms each"."""
    built = {
        "capture_ms": 6000.0,
        "targets": [
            {"target": "app:tick", "capture_ms": 6000.0, "captured": 980_000, "dropped": 0}
        ],
    }
    line = _report.costly(built, 10.0)
    assert line is not None
    assert "app:tick 6.0 s (980000 calls, 0.00612 ms each)" in line


def test_the_line_says_when_the_time_was_spent_in_several_processes() -> None:
    """Children's capture time adds up past the run's: say so rather than "12.0 s of the
    program's 5.0 s"."""
    built = {
        "processes": 4,
        "capture_ms": 12000.0,
        "targets": [{"target": "app:work", "capture_ms": 12000.0, "captured": 400, "dropped": 0}],
    }
    line = _report.costly(built, 5.0)
    assert line is not None
    assert line.startswith(
        "snapy_capture: capturing took 12.0 s in 4 processes (the program ran 5.0 s): "
    )
