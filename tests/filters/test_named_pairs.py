"""``(name, value)`` pairs under a sensitive name keep their shape: only the values go.

requests' ``CaseInsensitiveDict`` keeps ``{"authorization": ("Authorization", "Basic ...")}``:
the dict key redacted the whole pair into one placeholder string, so the stored headers could
not be iterated and nothing holding them could replay. Lists of header or cookie pairs under
a sensitive name (``cookies=[("sessionid", ...), ("theme", ...)]``) were one placeholder too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from _modes import CAPTURE_MODES
from snapy_capture import CaptureLoader, capture_args, flush

SECRET = "Zq8-unlikely-pw-77"


class Headers:
    """The shape of requests' CaseInsensitiveDict: lower-cased key -> (key as given, value)."""

    def __init__(self, items: dict[str, str]) -> None:
        self._store = {key.lower(): (key, value) for key, value in items.items()}

    def __iter__(self) -> Iterator[str]:
        return (key for key, _ in self._store.values())

    def names(self) -> list[str]:
        return sorted(self)


def _on_disk(root: Path) -> bytes:
    assert flush(timeout=30)
    return b"".join(path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file())


@pytest.mark.parametrize("options", CAPTURE_MODES)
def test_header_pairs_keep_their_shape_and_replay(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    @capture_args(retention=None, **options)
    def header_names(headers: Headers) -> list[str]:
        return headers.names()

    @capture_args(retention=None, **options)
    def send(url: str, cookies: list[tuple[str, str]], authorization: tuple[str, str]) -> int:
        return len(cookies)

    headers = Headers({"Authorization": "Basic " + SECRET, "Accept": "json"})
    expected = header_names(headers)
    send(
        "https://example.test/",
        [("sessionid", SECRET), ("theme", "dark")],
        ("Authorization", SECRET),
    )

    assert SECRET.encode() not in _on_disk(capture_dir)
    loader = CaptureLoader(capture_dir)
    [record] = loader.load_all("header_names")
    stored = record["args"][0]
    # The stored object works as the original did (on base: a string in place of the pair).
    assert header_names.__wrapped__(stored) == expected == ["Accept", "Authorization"]
    assert stored._store["authorization"] == ("Authorization", "[FILTERED: name:authorization]")
    assert stored._store["accept"] == ("Accept", "json")
    [sent] = loader.load_all("send")
    assert sent["args"][1] == [
        ("sessionid", "[FILTERED: name:session_id]"),
        ("theme", "[FILTERED: name:cookie]"),
    ]
    assert sent["args"][2] == ("Authorization", "[FILTERED: name:authorization]")
    assert send.__wrapped__(*sent["args"]) == 2


def test_pairs_whose_first_item_may_be_a_secret_are_still_redacted_whole(capture_dir: Path) -> None:
    @capture_args(retention=None)
    def login(auth: Any, password: Any, passwords: Any, credentials: Any) -> None:
        return None

    login(
        ("bob-" + SECRET, SECRET),
        ("old-password-" + SECRET, "new"),  # looks like a sensitive name: still a secret
        [("alice", SECRET), ("bob", SECRET)],  # no sensitive name among the firsts
        [(SECRET + " with spaces", "x"), ("api_key", SECRET)],  # a first item no name
    )
    assert SECRET.encode() not in _on_disk(capture_dir)
    [record] = CaptureLoader(capture_dir).load_all("login")
    assert record["args"] == [
        "[FILTERED: name:auth]",
        "[FILTERED: name:password]",
        "[FILTERED: name:password]",
        "[FILTERED: name:credential]",
    ]
