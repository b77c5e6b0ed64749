"""The runner's end-of-run report counts the calls of a module imported more than once.

Found on python-dateutil's own suite: its import tests delete ``dateutil.*`` from
``sys.modules`` and import them again, so each target is wrapped twice. The report kept only
the newest wrapper's counts, and said "5 of 5 targets captured nothing ... never called" over
77 captures standing for 1788 calls. ``importlib.reload`` (autoreloaders, notebooks) does
the same.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

MODULE = "def area(w, h):\n    return w * h\n"
APP = """
import importlib, sys
import tgt_geometry
print(tgt_geometry.area(2, 3), tgt_geometry.area(4, 5))
del sys.modules["tgt_geometry"]
import tgt_geometry as again  # a fresh module, wrapped again; called once
print(again.area(1, 1))
importlib.reload(again)  # and once more, never called
"""


RUN = (sys.executable, "-m", "snapy_capture.run", "--config", "capture.yaml")


def test_calls_before_a_reimport_still_count(tmp_path: Path) -> None:
    (tmp_path / "tgt_geometry.py").write_text(MODULE, encoding="utf-8")
    (tmp_path / "app.py").write_text(APP, encoding="utf-8")
    (tmp_path / "capture.yaml").write_text(
        "targets: ['tgt_geometry:area', 'tgt_geometry:volume']\n", encoding="utf-8"
    )
    report = tmp_path / "report.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAP_CAPTURE_")}
    env["SNAP_CAPTURE_DEFAULT_PATH"] = str(tmp_path / "captures")
    result = subprocess.run(
        [*RUN, "--report", str(report), "app.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (result.stdout, result.returncode) == ("6 20\n1\n", 0), result.stderr
    # Only the target that is not there is named, not the one called three times.
    assert "1 of 2 targets captured nothing: tgt_geometry:volume " in result.stderr
    area = json.loads(report.read_text(encoding="utf-8"))["targets"][0]
    assert (area["target"], area["status"]) == ("tgt_geometry:area", "captured")
    assert area["captured"] == 3
    assert area["functions"]["tgt_geometry:area"]["called"] is True
    assert area["functions"]["tgt_geometry:area"]["captured"] == 3
