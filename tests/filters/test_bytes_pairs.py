"""A ``(name, value)`` pair whose name is bytes: the headers of an ASGI scope
(``scope["headers"]``: ``[(b"x-api-key", b"...")]``), of raw HTTP clients (h11, httpcore).

The pair's second item is checked by the name the first gives, as for a ``str`` name: it was
not, and an API key of no known shape was stored in clear (and echoed in a recorded result).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from _modes import CAPTURE_MODES
from snapy_capture import capture_args, flush, load_capture_dict

SECRET = b"glx-hunter2-zebra-91"  # no known shape: found by its name only


def _on_disk(path: Path) -> bytes:
    return b"".join(item.read_bytes() for item in path.rglob("*") if item.is_file())


@pytest.mark.parametrize("options", CAPTURE_MODES)
def test_an_asgi_header_named_by_bytes_is_masked(tmp_path: Path, options: dict[str, Any]) -> None:
    @capture_args(path=tmp_path, **options)
    def app(scope: dict[str, Any]) -> bytes:
        return b"key was " + dict(scope["headers"])[b"x-api-key"]

    scope = {
        "type": "http",
        "path": "/items",
        "headers": [(b"host", b"example.com"), (b"x-api-key", SECRET), [b"cookie", SECRET]],
    }
    assert app(scope) == b"key was " + SECRET
    flush()
    assert b"hunter2" not in _on_disk(tmp_path)
    record = load_capture_dict("app", path=tmp_path)
    headers = record["args"][0]["headers"]
    assert headers[0] == (b"host", b"example.com")
    assert headers[1][0] == b"x-api-key"
    assert headers[2][0] == b"cookie"
    assert record["args"][0]["path"] == "/items"


@pytest.mark.parametrize(
    "options", [{"record_result": True}, {"async_storage": True, "record_result": True}]
)
def test_a_secret_under_a_bytes_key_is_masked_in_the_result(
    tmp_path: Path, options: dict[str, Any]
) -> None:
    @capture_args(path=tmp_path, **options)
    def lookup(form: dict[bytes, bytes]) -> bytes:
        return b"got " + form[b"password"]

    assert lookup({b"user": b"bob", b"password": SECRET}) == b"got " + SECRET
    flush()
    assert b"hunter2" not in _on_disk(tmp_path)
