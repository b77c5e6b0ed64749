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


HIDE_SYRUPY = (
    "import sys; sys.modules['syrupy'] = None; "  # as if syrupy were not installed
    "from snapy_capture.cli import main; sys.exit(main(sys.argv[1:]))"
)


def test_gen_tests_says_when_syrupy_is_missing(tmp_path: Path, capture_dir: Path) -> None:
    """Snapshot tests without syrupy fail with "fixture 'snapshot' not found": gen-tests says
    so when it writes them, and how to get it; with syrupy there, nothing is said."""
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
    assert missing.returncode == 0
    assert missing.stdout == "Wrote test_a.py.\n"
    assert missing.stderr.startswith("snapy-capture: note: syrupy is not installed here")
    assert 'pip install "snapy-capture[pytest]"' in missing.stderr
    result_mode = gen("gen-tests", "price", "-o", "test_b.py", "--mode", "result", hide=True)
    assert (result_mode.returncode, result_mode.stderr) == (0, "")
    present = gen("gen-tests", "price", "-o", "test_c.py", hide=False)
    assert (present.returncode, present.stderr) == (0, "")
