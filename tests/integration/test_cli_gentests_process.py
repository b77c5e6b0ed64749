"""``snapy-capture gen-tests`` as a user runs it, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

APP = """
from snapy_capture import capture_args

@capture_args()
def price(amount, rate=20):
    return amount * (100 + rate) / 100

price(10)
"""


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
