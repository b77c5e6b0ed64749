"""A URL's network location on its own keeps no password.

``user:password@`` was masked only after a ``://``. A parsed URL holds it without one:
``urllib.parse.urlsplit(url).netloc`` (the fields of ``SplitResult``/``ParseResult``, a
namedtuple stored field by field), yarl's ``URL`` (pickled as those five parts: an async
capture stored the password), or a DSN's host part passed alone (``"admin:pw@db:5432"``).
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from _modes import CAPTURE_MODES
from snapy_capture import CaptureLoader, capture_args, flush

SECRET = "Zq8-unlikely-pw-41"
URL = f"postgresql://app:{SECRET}@db.internal:5432/orders"


def _on_disk(root: Path) -> bytes:
    assert flush(timeout=30)
    return b"".join(path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file())


@pytest.mark.parametrize("options", CAPTURE_MODES)
def test_parsed_urls_and_network_locations_keep_no_password(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    @capture_args(retention=None, **options)
    def connect(split: Any, parsed: Any, location: str) -> None:
        return None

    connect(
        urllib.parse.urlsplit(URL),
        urllib.parse.urlparse(URL),
        f"admin:{SECRET}@db.internal:5432",
    )
    assert SECRET.encode() not in _on_disk(capture_dir)
    [record] = CaptureLoader(capture_dir).load_all("connect")
    assert record["args"][0].netloc == "[FILTERED: pii]@db.internal:5432"
    assert record["args"][0].path == "/orders"
    assert record["args"][2] == "[FILTERED: pii]@db.internal:5432"


@pytest.mark.parametrize("options", CAPTURE_MODES)
def test_a_yarl_url_keeps_no_password(capture_dir: Path, options: dict[str, Any]) -> None:
    yarl = pytest.importorskip("yarl")

    @capture_args(retention=None, **options)
    def fetch(url: Any) -> None:
        return None

    fetch(yarl.URL(URL))
    assert SECRET.encode() not in _on_disk(capture_dir)


def test_texts_shaped_like_other_things_are_kept() -> None:
    from snapy_capture.filters import ArgumentFilter

    kept = [
        "mailto:bob@example.com",
        "sip:alice@atlanta.example.com",
        "bob@example.com",
        "git@github.com:org/repo.git",
        "nginx:1.25@sha256:0123456789abcdef",
        "note: call me@home",
        "host:8080",
    ]
    flt = ArgumentFilter()
    assert [flt.filter_value(text, "x")[0] for text in kept] == kept
