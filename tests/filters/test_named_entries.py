"""A dict entry named by another entry's value: ``{"name": "DB_PASSWORD", "value": pw}`` (a
Kubernetes env var), an HTML input's attributes ``{"type": "password", "name": "password",
"value": pw}`` (BeautifulSoup's ``Tag.attrs``), ``<meta name="csrf-token" content=...>``, an
SSM parameter ``{"Name": "/prod/api_key", "Value": ...}``: the value is judged by that name.

Each was stored in clear: ``value`` and ``content`` are innocent names and the secrets had no
known shape.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest

from _modes import CAPTURE_MODES
from snapy_capture import capture_args, flush, load_capture_dict
from snapy_capture.filters import ArgumentFilter

SECRET = "Zq8v-hunter2-x"


class Attributes(dict[str, Any]):
    """As bs4's AttributeDict: a dict subclass holding a tag's attributes."""


@pytest.mark.parametrize(
    ("entry", "path", "reason"),
    [
        ({"name": "DB_PASSWORD", "value": SECRET}, "env['value']", "name:password"),
        (
            {"type": "password", "name": "password", "value": SECRET},
            "env['value']",
            "name:password",
        ),
        ({"name": "csrf-token", "content": SECRET}, "env['content']", "name:csrf_token"),
        (
            {"Name": "/prod/api_key", "Value": SECRET, "Type": "SecureString"},
            "env['Value']",
            "name:api_key",
        ),
        (Attributes(name="password", value=SECRET), "env['value']", "name:password"),
    ],
)
def test_a_value_named_by_a_sibling_entry_is_redacted(
    entry: dict[str, Any], path: str, reason: str
) -> None:
    flt = ArgumentFilter()
    filtered, report = flt.filter_value(entry, "env")
    assert report == [{"path": path, "reason": reason}]
    stored = pickle.loads(pickle.dumps(filtered))
    assert type(stored) is type(entry)
    assert SECRET not in repr(stored)
    kept = {k: v for k, v in entry.items() if v != SECRET}
    assert {k: v for k, v in stored.items() if k in kept} == kept  # the rest as it was


@pytest.mark.parametrize(
    "entry",
    [
        {"name": "ada", "value": "42"},
        {"name": "password", "value": None},
        {"key": "sort_key", "value": "desc"},
        {"label": "password", "value": "shown"},  # "label" names nothing
    ],
)
def test_entries_named_innocently_are_kept(entry: dict[str, Any]) -> None:
    filtered, report = ArgumentFilter().filter_value(entry, "env")
    assert report == []
    assert filtered == entry


@pytest.mark.parametrize("options", CAPTURE_MODES)
def test_a_named_secret_never_reaches_the_disk(tmp_path: Path, options: dict[str, Any]) -> None:
    @capture_args(path=tmp_path, **options)
    def deploy(app: str, env: list[dict[str, str]]) -> int:
        return len(env)

    env = [{"name": "MODE", "value": "blue"}, {"name": "DB_PASSWORD", "value": SECRET}]
    assert deploy("web", env) == 2
    flush()
    on_disk = b"".join(path.read_bytes() for path in tmp_path.rglob("*") if path.is_file())
    assert SECRET.encode() not in on_disk
    record = load_capture_dict("deploy", path=tmp_path)
    assert record["args"][1] == [
        {"name": "MODE", "value": "blue"},
        {"name": "DB_PASSWORD", "value": "[FILTERED: name:password]"},
    ]


@pytest.mark.parametrize("options", [{}, {"async_storage": True}])
def test_a_named_secret_returned_is_masked_in_the_result(
    tmp_path: Path, options: dict[str, Any]
) -> None:
    """bs4's ``tag.get("value")`` of a password input: the result is that secret."""

    @capture_args(path=tmp_path, record_result=True, **options)
    def field_value(attrs: dict[str, str]) -> str:
        return attrs["value"]

    assert field_value({"name": "password", "value": SECRET}) == SECRET
    flush()
    on_disk = b"".join(path.read_bytes() for path in tmp_path.rglob("*") if path.is_file())
    assert SECRET.encode() not in on_disk
    record = load_capture_dict("field_value", path=tmp_path)
    assert record["result"]["value"] == "[FILTERED: name:password]"


@pytest.mark.parametrize("options", CAPTURE_MODES)
def test_a_sensitive_naming_entry_after_an_innocent_one_still_names_the_value(
    tmp_path: Path, options: dict[str, Any]
) -> None:
    """Only the first naming entry was asked: ``key: "db"`` made the password innocent."""

    @capture_args(path=tmp_path, **options)
    def configure(setting: dict[str, str]) -> str:
        return setting["value"][:0] + "ok"

    assert configure({"key": "db", "name": "DB_PASSWORD", "value": SECRET}) == "ok"
    flush()
    on_disk = b"".join(path.read_bytes() for path in tmp_path.rglob("*") if path.is_file())
    assert SECRET.encode() not in on_disk
    record = load_capture_dict("configure", path=tmp_path)
    assert record["args"][0] == {
        "key": "db",
        "name": "DB_PASSWORD",
        "value": "[FILTERED: name:password]",
    }
