"""``None`` and booleans under a sensitive name are stored as they are: no secret is in them.

urllib3's ``parse_url`` returns ``Url(..., auth=None, ...)``: the recorded result held
``auth='[FILTERED: name:auth]'``, so every result-mode case failed (``'[FILTERED: name:auth]'
!= None``), and a call passing ``auth=None`` was skipped as "filtered at capture time".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import pytest

from snapy_capture import CaptureLoader, capture_args, flush
from snapy_capture.pytest_plugin import assert_replay_matches, replay_records


class Url(NamedTuple):
    host: str
    auth: str | None
    password: str | None


@capture_args(retention=None, record_result=True)
def parse(text: str, auth: Any = None, password: Any = None, token: Any = None) -> Url:
    host, _, rest = text.partition("/")
    return Url(host, auth, password)


MODES = [
    pytest.param({}, id="sync"),
    pytest.param({"async_storage": True}, id="async"),
]


@pytest.mark.parametrize("options", MODES)
def test_none_and_booleans_under_sensitive_names_are_kept(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    @capture_args(retention=None, record_result=True, **options)
    def login(user: str, password: Any, api_key: Any, settings: dict[str, Any]) -> dict[str, Any]:
        return {"user": user, "token": None, "secret": False}

    login("ada", None, True, {"auth": None, "password": "Zq8-unlikely-pw-55"})
    assert flush(timeout=30)
    [record] = CaptureLoader(capture_dir).load_all("login")
    assert record["args"] == [
        "ada",
        None,
        True,
        {"auth": None, "password": "[FILTERED: name:password]"},
    ]
    assert record["result"] == {"value": {"user": "ada", "token": None, "secret": False}}
    assert [r["path"] for r in record["metadata"]["redactions"]] == ["settings['password']"]


def test_a_result_holding_none_under_a_sensitive_name_replays_green(capture_dir: Path) -> None:
    assert parse("example.org/x", auth=None) == Url("example.org", None, None)
    assert parse("example.org/y", None, False, token=None) == Url("example.org", None, False)
    assert flush(timeout=30)
    cases = replay_records(f"{__name__}:parse", path=capture_dir, with_result=True)
    assert len(cases) == 2
    for case in cases:
        [record] = case.values
        assert not case.marks  # not skipped as filtered
        assert_replay_matches(parse, record)
