"""A value whose name is passed as another argument is judged by that name.

``setitem("password", pw)``, ``setattr(obj, "api_key", key)``, marshmallow's
``Field.deserialize(value, attr="password")``: the secret's parameter (``value``) is harmless
and the name was in another argument, so the secret was stored as it was.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from snapy_capture import CaptureLoader, capture_args, flush

PW = "Zq8-unlikely-pw-63"


def _on_disk(root: Path) -> bytes:
    assert flush(timeout=30)
    return b"".join(path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file())


def test_a_scalar_beside_a_naming_argument_is_judged_by_that_name(capture_dir: Path) -> None:
    store: dict[str, Any] = {}

    @capture_args(retention=None)
    def setitem(key: str, value: Any) -> None:
        store[key] = value

    @capture_args(retention=None)
    def deserialize(value: Any, attr: str, data: Any = None) -> Any:
        return value

    @capture_args(retention=None)
    def set_option(section: str, option: str, value: str) -> None:
        store[option] = value

    setitem("password", PW)
    setitem("colour", "red")
    deserialize(PW + "-2", "password")
    deserialize(PW + "-3", "api_token", None)
    set_option("database", "password", PW + "-4")
    set_option("database", "host", "db.example")

    assert PW.encode() not in _on_disk(capture_dir)
    loader = CaptureLoader(capture_dir)
    assert sorted(r["args"][1] for r in loader.load_all("setitem")) == [
        "[FILTERED: name:password]",
        "red",
    ]
    assert sorted(r["args"][0] for r in loader.load_all("deserialize")) == [
        "[FILTERED: name:password]",
        "[FILTERED: name:token]",
    ]
    options = {r["args"][1]: r for r in loader.load_all("set_option")}
    assert options["password"]["args"] == ["database", "password", "[FILTERED: name:password]"]
    assert options["password"]["metadata"]["redactions"] == [
        {"path": "value", "reason": "name:password"}
    ]
    assert options["host"]["args"] == ["database", "host", "db.example"]
