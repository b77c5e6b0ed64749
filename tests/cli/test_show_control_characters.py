"""``show`` writes no control character a capture holds: a terminal would act on it.

A captured exception's message (``ValueError(f"bad header {value}")``), a ``**kwargs`` key, a
receiver's attribute name (an object built from a request's JSON) or a redaction path is the
program's data, which may come from whoever sent it a request. ``show`` printed those as
they were: an escape sequence in them cleared the developer's screen, wrote their clipboard
(OSC 52) or forged lines of the output ("result: returned True"). Values were reprs already.
"""

from __future__ import annotations

import io
import types
from pathlib import Path

import pytest

from snapy_capture import CaptureStorage, cli

HOSTILE = "\x1b]52;c;cHduZWQ=\x07\x1b[2J\r\nresult: returned True"


def test_show_escapes_control_characters_of_captured_text(capture_dir: Path) -> None:
    receiver = types.SimpleNamespace()
    setattr(receiver, f"attr{HOSTILE}", 1)
    CaptureStorage(capture_dir, retention=None).save(
        {
            "function_name": "handle",
            "module": "hostile",
            "qualname": "handle",
            "timestamp": "2026-01-01T00:00:00.000000Z",
            "args": [],
            "kwargs": {f"key{HOSTILE}": 1},
            "self": receiver,
            "result": {
                "exception": {"type": "ValueError", "module": "builtins", "message": HOSTILE}
            },
            "metadata": {
                "call_depth": 0,
                "thread_id": "MainThread",
                "pid": 1,
                "redactions": [{"path": f"opts['{HOSTILE}']['token']", "reason": "name:token"}],
            },
        }
    )
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(
        ["show", "hostile:handle", "--path", str(capture_dir)],
        stdout=out,
        stderr=err,
        stdin=io.StringIO(),
    )
    assert code == 0, err.getvalue()
    shown = out.getvalue()
    assert not any(char in shown for char in "\x1b\x07\r"), shown
    assert "result: returned True" not in shown.splitlines()  # no forged line
    escaped = r"\x1b]52;c;cHduZWQ=\x07\x1b[2J\r\nresult: returned True"
    assert f"result: raised ValueError: {escaped}" in shown
    assert f"  key{escaped} = 1" in shown
    assert f"  .attr{escaped} = 1" in shown
    assert f"  opts['{escaped}']['token']: name:token" in shown


def _raises_key_error(text: str) -> None:
    raise KeyError(text)


def _returns(text: str) -> str:
    return text


def test_replay_failures_escape_control_characters_of_recorded_text() -> None:
    """A replay that does not match quotes the recorded message (and a multi-line text's
    lines) in the failure pytest prints: as a terminal shows them too."""
    from snapy_capture.pytest_plugin import assert_replay_matches

    base = {"module": "m", "qualname": "f", "timestamp": "2026-01-01T00:00:00.000000Z"}
    raised = {
        **base,
        "args": ["x"],
        "kwargs": {},
        "metadata": {},
        "result": {"exception": {"type": "ValueError", "module": "builtins", "message": HOSTILE}},
    }
    with pytest.raises(AssertionError) as failed:
        assert_replay_matches(_raises_key_error, raised)
    assert not any(char in str(failed.value) for char in "\x1b\x07\r"), str(failed.value)
    assert r"ValueError: \x1b]52;c;cHduZWQ=\x07\x1b[2J" in str(failed.value)

    lines = {**base, "args": ["a\nb\nc"], "kwargs": {}, "metadata": {}}
    lines["result"] = {"value": f"a\n{HOSTILE}\nc"}
    with pytest.raises(AssertionError) as failed:
        assert_replay_matches(_returns, lines)
    assert not any(char in str(failed.value) for char in "\x1b\x07"), str(failed.value)
