"""``snapy-capture check`` of a target file written for the test: its exit code and each
target's errors (``check --json``), for the tests of what check resolves from sources."""

from __future__ import annotations

import io
import json
from pathlib import Path

from snapy_capture.cli import main


def check(root: Path, *targets: str) -> tuple[int, dict[str, str]]:
    """Write ``targets`` to ``root/capture.yaml`` and check it: the exit code and, per
    target, its errors joined ("" when it resolves)."""
    config = root / "capture.yaml"
    config.write_text("version: 1\ntargets:\n" + "".join(f"  - '{t}'\n" for t in targets))
    out, err = io.StringIO(), io.StringIO()
    code = main(["check", str(config), "--json"], stdout=out, stderr=err, stdin=io.StringIO())
    assert out.getvalue(), err.getvalue()
    data = json.loads(out.getvalue())
    return code, {t["target"]: " ".join(t["errors"]) for t in data["targets"]}
