"""``make demo`` (examples/demo.py) end to end: the legacy app captured with no edits and the
same output, generated tests green, a behaviour change caught with syrupy's diff."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "examples" / "legacy_app"


def run_demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "examples/demo.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_the_demo_walks_capture_gen_tests_green_then_a_change_caught(tmp_path: Path) -> None:
    before = {path: path.read_bytes() for path in APP.rglob("*") if path.is_file()}
    done = run_demo("--work-dir", str(tmp_path))
    out = done.stdout
    assert done.returncode == 0, done.stderr + out[-3000:]
    assert done.stderr == ""

    # 1. plain and under the runner, from the copy, with the same output
    app = tmp_path.resolve() / "legacy_app"
    assert f"$ cd {app}\n" in out
    assert "$ python app.py --discount 10 < orders.txt\n" in out
    assert (
        "$ python -m snapy_capture.run --config capture.yaml app.py --discount 10 < orders.txt\n"
    ) in out
    assert "identical output: same stdout, stderr and exit code as plain python" in out
    assert out.count("    2 lines for ACME Corp, total 49.12 EUR\n") == 2
    # 2. the password was filtered
    assert "[1] '[FILTERED: name:password]'" in out
    # 3. one module per captured function, methods and constructors included
    assert "$ snapy-capture gen-tests legacy_shop.orders:OrderService.add -o " in out
    assert "$ snapy-capture gen-tests legacy_shop.orders:OrderService.__init__ -o " in out
    assert "assert replay_outcome(OrderService.add, record) == snapshot" in out
    # gen-tests refuses the all-filtered functions, naming what to give; login gets its
    # password from --substitutes, send_receipt (a card number) is left out on purpose
    assert "the filters removed password; give SUBSTITUTES" in out
    assert "the filters removed card_number; give SUBSTITUTES" in out
    assert "--substitutes login-substitutes.json" in out
    assert '    "password": "correct horse",' in out
    # 4. green, nothing skipped
    green, red = out.split("=== 5.")
    assert "without its instance" not in out
    assert "could not be stored" not in out
    assert "'role': 'clerk'," in green
    final = re.findall(r"^    (\d+) passed in ", green, re.MULTILINE)
    assert len(final) == 2
    assert int(final[-1]) >= 20
    # 5. the change is caught, with syrupy's diff
    assert "FAILED tests/test_orderservice_add.py::" in red
    # syrupy's diff lines (indented by the snapshot's nesting).
    assert re.search(r"^\s*E\s+-\s+'price': 23\.987999999999996,$", red, re.M), red
    assert re.search(r"^\s*E\s+\+\s+'price': 23\.99,$", red, re.M), red
    assert re.search(r"^    1 failed, \d+ passed in ", red, re.MULTILINE)
    assert "every step behaved as expected" in red

    # the repository's legacy app is untouched; the work is in the copy
    assert {path: path.read_bytes() for path in APP.rglob("*") if path.is_file()} == before
    assert (app / "captures").is_dir()
    assert "round(amount * (1 + rate), 2)" in (app / "legacy_shop" / "pricing.py").read_text()


def test_a_step_that_fails_exits_1_with_one_line(tmp_path: Path) -> None:
    """The demo is a check: a step that cannot do what it shows is a non-zero exit."""
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    done = run_demo("--work-dir", str(blocked))
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("demo: step 0 (setup) did not behave as expected: ")
