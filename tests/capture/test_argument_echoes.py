"""A secret redacted by its name in one argument never reaches the disk through another.

marshmallow's ``Field._deserialize(value, attr, data)`` gets a password as ``value`` and again
as ``data["password"]``: the second is redacted by its key, the first had no name to be
recognised by, and was stored as it was.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from snapy_capture import CaptureLoader, capture_args, flush

PW = "Zq8-unlikely-pw-77"

MODES = [
    pytest.param({}, id="sync-pickle"),
    pytest.param({"record_result": True}, id="sync-result"),
    pytest.param({"async_storage": True}, id="async-pickle"),
    pytest.param({"async_storage": True, "lazy_serialization": True}, id="lazy-pickle"),
    pytest.param({"async_storage": True, "record_result": True}, id="async-result"),
    pytest.param({"serializer": "json", "fallback_serializer": "pickle"}, id="sync-json"),
]


def _on_disk(root: Path) -> bytes:
    assert flush(timeout=30)
    return b"".join(path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file())


@pytest.mark.parametrize("options", MODES)
def test_a_secret_passed_twice_is_masked_in_both_arguments(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    @capture_args(retention=None, **options)
    def deserialize(value: str, attr: str, data: dict[str, Any], note: str = "") -> str:
        return value.upper()

    assert deserialize(PW, "field_1", {"password": PW, "user": "bob"}) == PW.upper()
    assert deserialize("bob", "user", {"password": PW, "user": "bob"}, note=f"bob:{PW}") == "BOB"
    assert deserialize("plain", "user", {"user": "plain"}) == "PLAIN"

    assert PW.encode() not in _on_disk(capture_dir)
    loader = CaptureLoader(capture_dir)
    records = {r["args"][0]: r for r in loader.load_all("deserialize")}
    echoed = records["[FILTERED: name:password]"]
    masked = {"password": "[FILTERED: name:password]", "user": "bob"}
    assert echoed["args"][1:] == ["field_1", masked]
    assert records["bob"]["kwargs"]["note"] == "bob:[FILTERED: name:password]"
    # A call holding no secret is stored as it was called.
    assert records["plain"]["args"] == ["plain", "user", {"user": "plain"}]
    assert records["plain"]["metadata"]["redactions"] == []
