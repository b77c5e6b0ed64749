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


def test_the_keyword_form_names_the_value_beside_it(capture_dir: Path) -> None:
    """``set(key="password", value=pw)``, ``put(name="api_key", val=k)``, a naming argument
    passed by position and its value by keyword, and a ``_key``/``_value`` pair: the value is
    judged by the name, the naming text kept (the call replays with a substitute)."""
    store: dict[str, Any] = {}

    @capture_args(retention=None, record_result=True)
    def set_item(key: str, value: Any) -> Any:
        store[key] = value
        return value

    @capture_args(retention=None)
    def put(name: str, label: str = "", val: Any = None) -> None:
        store[name] = (label, val)

    @capture_args(retention=None)
    def add(_key: str, _value: Any) -> None:
        store[_key] = _value

    set_item(key="password", value=PW + "-1")
    set_item(value=PW + "-2", key="client_secret")
    set_item("password", value=PW + "-3")
    set_item(key="colour", value="red")
    put(name="api_key", label="The API key", val=PW + "-4")
    add("Authorization", "Bearer " + PW + "-5")

    assert PW.encode() not in _on_disk(capture_dir)
    loader = CaptureLoader(capture_dir)
    records = loader.load_all("set_item")
    stored = sorted(repr((r["args"], r["kwargs"], r["result"]["value"])) for r in records)
    assert stored == sorted(
        repr(record)
        for record in [
            (
                [],
                {"key": "password", "value": "[FILTERED: name:password]"},
                "[FILTERED: name:password]",
            ),
            (
                [],
                {"value": "[FILTERED: name:secret]", "key": "client_secret"},
                "[FILTERED: name:secret]",
            ),
            (["password"], {"value": "[FILTERED: name:password]"}, "[FILTERED: name:password]"),
            ([], {"key": "colour", "value": "red"}, "red"),
        ]
    )
    (put_record,) = loader.load_all("put")
    # The parameter holding values is the one named, not the label next to the name.
    assert put_record["kwargs"] == {
        "name": "api_key",
        "label": "The API key",
        "val": "[FILTERED: name:api_key]",
    }
    (add_record,) = loader.load_all("add")
    assert add_record["args"] == ["Authorization", "[FILTERED: name:authorization]"]


def test_a_naming_argument_with_a_harmless_name_changes_nothing(capture_dir: Path) -> None:
    @capture_args(retention=None)
    def set_item(key: str, value: Any, name: str = "") -> None:
        pass

    set_item(key="password_policy", value="min 12 characters", name="user")
    set_item("theme", value="dark")
    # A value parameter holding nothing: no other argument is taken for the secret.
    set_item(key="password", value=None, name="hunter-label")
    records = CaptureLoader(capture_dir).load_all("set_item")
    stored = sorted(repr((r["args"], r["kwargs"])) for r in records)
    assert stored == sorted(
        repr(call)
        for call in [
            ([], {"key": "password_policy", "value": "min 12 characters", "name": "user"}),
            (["theme"], {"value": "dark"}),
            ([], {"key": "password", "value": None, "name": "hunter-label"}),
        ]
    )
    assert all(not r["metadata"].get("redactions") for r in records)
