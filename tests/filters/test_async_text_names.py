"""Keys and pair names that are ``str`` subclasses name their values in async captures too.

An async capture filters an inert copy of the arguments, where a ``str`` subclass is a copy
of its pickled form, not text. Its text was not read as a name: aiohttp's headers
(``multidict.CIMultiDict``, keys ``istr``) kept an ``X-Auth-Token`` or a ``Cookie`` under a
case-insensitive key, stored in full, where a synchronous capture redacted them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from _modes import CAPTURE_MODES
from snapy_capture import capture_args, flush

SECRET = "Zq8-unlikely-pw-41"


class Header(str):
    """A header name that pickles as its class called on its text, as ``istr`` does."""

    __slots__ = ()

    def __reduce__(self) -> tuple[Any, ...]:
        return (Header, (str.__str__(self),))


def _on_disk(root: Path) -> bytes:
    assert flush(timeout=30)
    return b"".join(path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file())


@pytest.mark.parametrize("options", CAPTURE_MODES)
def test_str_subclass_keys_and_pair_names_redact_their_values(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    @capture_args(retention=None, **options)
    def send(headers: Any, pairs: Any) -> None:
        return None

    send({Header("X-Auth-Token"): SECRET, "Accept": "text/html"}, [(Header("Cookie"), SECRET)])
    assert SECRET.encode() not in _on_disk(capture_dir)


@pytest.mark.parametrize("options", CAPTURE_MODES)
def test_aiohttp_style_headers_keep_no_credential(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    multidict = pytest.importorskip("multidict")

    @capture_args(retention=None, **options)
    def request(headers: Any) -> None:
        return None

    request(multidict.CIMultiDict([("X-Auth-Token", SECRET), ("Accept", "text/html")]))
    assert SECRET.encode() not in _on_disk(capture_dir)
