"""A redaction's path keeps no secret of the call.

``handle(password=P, opts={P: {"token": 1}})``: the token under the key ``P`` is redacted by
its name, and the key itself masked (it is the password, given again), but the redaction's
path, stored in ``metadata["redactions"]`` (and counted in the runner's report), named the
key as it was: ``opts['<the password>']['token']``, on disk in every mode.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from _modes import CAPTURE_MODES
from snapy_capture import CaptureLoader, capture_args, flush

PASSWORD = "Hunter2-Zq8-unlikely"


def _on_disk(root: Path) -> bytes:
    assert flush(timeout=30)
    return b"".join(path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file())


@pytest.mark.parametrize("options", CAPTURE_MODES)
def test_a_path_through_a_key_that_is_a_given_secret_is_masked(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    @capture_args(retention=None, **options)
    def handle(password: str, opts: dict[str, Any]) -> None:
        return None

    handle(PASSWORD, {PASSWORD: {"token": 1}, "plain": {"api_key": "k"}})
    assert PASSWORD.encode() not in _on_disk(capture_dir)
    [record] = CaptureLoader(capture_dir).load_all("handle")
    paths = [entry["path"] for entry in record["metadata"]["redactions"]]
    assert "opts['[FILTERED: name:password]']['token']" in paths
    assert "opts['plain']['api_key']" in paths  # other paths as they were


class Sessions:
    def __init__(self) -> None:
        self.sessions: dict[str, dict[str, int]] = {}

    def login(self, password: str) -> bool:
        self.sessions[password] = {"token": 1}
        return True


#: One class per mode, at module level: a receiver is stored only when its class is found by
#: its name (a class local to the test would be an "unstorable" placeholder).
SERVICES = {}
for _number, _mode in enumerate(CAPTURE_MODES):
    _name = f"Service{_number}"
    SERVICES[_mode.id] = globals()[_name] = type(
        _name,
        (Sessions,),
        {
            "__module__": __name__,
            "login": capture_args(retention=None, dedupe=False, **_mode.values[0])(Sessions.login),
        },
    )


@pytest.mark.parametrize("mode", list(SERVICES))
def test_a_given_secret_in_the_receiver_as_called_is_masked(capture_dir: Path, mode: str) -> None:
    """The receiver as called (``self``) was filtered without the call's secrets: a second
    ``login(password)`` stored ``self.sessions['<the password>']`` (key and path)."""
    service = SERVICES[mode]()
    service.login(PASSWORD)
    service.login(PASSWORD)
    assert PASSWORD.encode() not in _on_disk(capture_dir)
    records = CaptureLoader(capture_dir).load_all("Sessions.login")
    assert len(records) == 2
    assert all(
        not isinstance(record["self"], str) for record in records
    )  # stored, not a placeholder
