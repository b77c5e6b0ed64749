"""A value named by the format string it is passed with: ``LogRecord("password=%s", (pw,))``.

logging keeps a message and its arguments apart until a handler formats them: a logging
handler's ``emit(record)`` as a target stored ``record.args`` as an unnamed tuple, the
password in it as it was. The items of a ``msg`` format string's ``args`` are now named by
what the string writes before each conversion.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from _modes import CAPTURE_MODES
from snapy_capture import CaptureLoader, capture_args, flush

PW = "Zq8-unlikely-pw-55"
TOKEN = "Zq8-unlikely-token-56"
BEARER = "glx-hunter2-zebra-91"  # no sensitive word in it (see _record's pairs)


def _on_disk(root: Path) -> bytes:
    assert flush(timeout=30)
    return b"".join(path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file())


@pytest.mark.parametrize("options", CAPTURE_MODES)
def test_log_record_arguments_are_named_by_the_message(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    @capture_args(retention=None, **options)
    def emit(record: logging.LogRecord) -> None:
        return None

    emit(
        logging.LogRecord(
            "app", logging.INFO, "app.py", 1, "login %s password=%s", ("bob", PW), None
        )
    )
    emit(
        logging.LogRecord(
            "app", logging.INFO, "app.py", 2, "%d%% done, token: %r", (50, TOKEN), None
        )
    )
    emit(logging.LogRecord("app", logging.INFO, "app.py", 3, "user=%s size=%d", ("bob", 3), None))

    on_disk = _on_disk(capture_dir)
    assert PW.encode() not in on_disk
    assert TOKEN.encode() not in on_disk
    records = sorted(
        (r["args"][0] for r in CaptureLoader(capture_dir).load_all("emit")), key=lambda r: r.lineno
    )
    assert [record.args for record in records] == [
        ("bob", "[FILTERED: name:password]"),
        (50, "[FILTERED: name:token]"),
        ("bob", 3),
    ]
    # The stored record still formats (what a replay of the handler does).
    assert records[0].getMessage() == "login bob password=[FILTERED: name:password]"


@pytest.mark.parametrize("options", CAPTURE_MODES[3:])  # the modes recording results
def test_a_log_record_argument_formatted_into_the_result_is_masked(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    """A formatter's ``format(record)`` returns the message with the secret in it: masked as
    every secret the call was given by name is (a text no value pattern knows)."""

    @capture_args(retention=None, **options)
    def render(record: logging.LogRecord) -> str:
        return record.getMessage()

    record = logging.LogRecord(
        "app", logging.INFO, "app.py", 1, "user %s, credentials: %s", ("bob", PW), None
    )
    assert render(record) == f"user bob, credentials: {PW}"

    assert PW.encode() not in _on_disk(capture_dir)
    [stored] = CaptureLoader(capture_dir).load_all("render")
    assert stored["result"]["value"] == "user bob, credentials: [FILTERED: name:credential]"


@pytest.mark.parametrize("options", CAPTURE_MODES)
def test_an_auth_scheme_between_the_name_and_the_value_still_names_it(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    """``log.debug("Authorization: Bearer %s", token)``: the scheme word hid the name."""

    @capture_args(retention=None, **options)
    def emit(record: logging.LogRecord) -> None:
        return None

    emit(
        logging.LogRecord(
            "http",
            logging.DEBUG,
            "http.py",
            1,
            "Authorization: Bearer %s (%s)",
            (BEARER, "x"),
            None,
        )
    )
    emit(logging.LogRecord("http", logging.DEBUG, "http.py", 2, "auth=Basic %s", (PW,), None))

    on_disk = _on_disk(capture_dir)
    assert BEARER.encode() not in on_disk
    assert PW.encode() not in on_disk
    records = sorted(
        (r["args"][0] for r in CaptureLoader(capture_dir).load_all("emit")), key=lambda r: r.lineno
    )
    assert [record.args for record in records] == [
        ("[FILTERED: name:authorization]", "x"),
        ("[FILTERED: name:auth]",),
    ]
