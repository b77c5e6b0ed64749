"""Secrets the value patterns missed because of how they were held.

- A PEM private key passed as its lines (``pem.splitlines()``, ``f.readlines()``): the BEGIN
  line was masked, the base64 lines of the key were stored.
- Text in UTF-16 or UTF-32: ``array("u", text)`` (pickled as UTF-32 bytes), text encoded for
  Windows or Java (``text.encode("utf-16")``): its bytes were scanned as Latin-1 only, where
  a zero byte between every letter hides every pattern.
"""

from __future__ import annotations

import array
from pathlib import Path
from typing import Any

import pytest

from _modes import CAPTURE_MODES
from snapy_capture import CaptureLoader, capture_args, flush

BODY = ["MIIEowIBAAKCAQEAzq8unlikelyKeyBodyLine1xx", "Zq8unlikelyKeyBodyLine2yyQWERTYUIOPasdf"]
PEM = ["-----BEGIN RSA PRIVATE KEY-----", *BODY, "-----END RSA PRIVATE KEY-----"]
TOKEN = "ghp_" + "Zq8unlikely" * 3  # a GitHub token's shape
TEXT = f"deploy with {TOKEN} please"


def _on_disk(root: Path) -> bytes:
    assert flush(timeout=30)
    return b"".join(path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file())


@pytest.mark.parametrize("options", CAPTURE_MODES)
def test_a_private_key_given_as_lines_never_reaches_the_disk(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    @capture_args(retention=None, **options)
    def load_key(lines: Any, raw: Any, after: Any) -> int:
        return len(lines)

    load_key(
        [line + "\n" for line in PEM],
        tuple(line.encode() for line in ["# key", *PEM, "tail"]),
        ["header", *PEM, "footer"],
    )
    on_disk = _on_disk(capture_dir)
    for line in BODY:
        assert line.encode() not in on_disk
    [record] = CaptureLoader(capture_dir).load_all("load_key")
    # What is outside the key is kept.
    assert record["args"][1][0] == b"# key"
    assert record["args"][1][-1] == b"tail"
    assert record["args"][2][0] == "header"
    assert record["args"][2][-1] == "footer"


@pytest.mark.parametrize("options", CAPTURE_MODES)
def test_secrets_in_utf16_and_utf32_text_never_reach_the_disk(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    @capture_args(retention=None, **options)
    def send(chars: Any, wide: Any, big_endian: Any, wider: Any, plain: bytes) -> None:
        return None

    plain = bytes(range(256)) * 4 + b"\x00" * 64  # binary data: kept as it is
    send(
        array.array("u", TEXT),
        TEXT.encode("utf-16"),
        TEXT.encode("utf-16-be"),
        TEXT.encode("utf-32"),
        plain,
    )
    on_disk = _on_disk(capture_dir)
    for encoding in ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"):
        assert TOKEN.encode(encoding) not in on_disk
    [record] = CaptureLoader(capture_dir).load_all("send")
    assert record["args"][4] == plain
