"""``gen-tests --deterministic`` without time-machine refuses, as snapshot mode without syrupy.

Found on jinja2's own suite: ``gen-tests jinja2.filters:do_random -o ... --deterministic`` wrote a
module, and every case then skipped ("deterministic replay freezes the clock with time-machine,
which is not installed"): a suite that could only skip, which gen-tests otherwise refuses.
"""

from __future__ import annotations

import io
import random
import sys
from pathlib import Path

import pytest

from snapy_capture import capture_args, cli, flush


@capture_args()
def pick(options: list[str]) -> str:
    return random.choice(options)


def gen(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), stdout=out, stderr=err, stdin=io.StringIO())
    return code, out.getvalue(), err.getvalue()


def test_refused_with_the_install_command_when_time_machine_is_missing(
    tmp_path: Path, capture_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pick(["a", "b", "c"])
    assert flush(10)
    monkeypatch.setitem(sys.modules, "time_machine", None)  # as if it were not installed
    output = tmp_path / "test_pick.py"
    code, out, err = gen("gen-tests", "pick", "-o", str(output), "--deterministic")
    assert (code, out) == (1, "")
    [line] = err.splitlines()
    assert line.startswith("snapy-capture: error: --deterministic replays freeze the clock")
    assert "pip install 'snapy-capture[time]'" in line
    assert not output.exists()
    monkeypatch.delitem(sys.modules, "time_machine")
    assert gen("gen-tests", "pick", "-o", str(output), "--deterministic")[0] == 0
    assert output.exists()
