"""A str or bytes subclass whose instances carry attributes (BeautifulSoup's
``NavigableString`` holds ``parent``, ``next_element``... the whole document): pickle stores
those attributes with the text, so they are filtered as an object's are.

They used to be judged as text only and stored as they were: a password elsewhere in the
document, reached through ``parent``, was written to disk in clear.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from _modes import CAPTURE_MODES
from snapy_capture import capture_args, flush, load_capture_dict

SECRET = "hunter2-Zq8v"


class Text(str):
    """A text node of a tree, as bs4's NavigableString: text plus attributes."""


class Data(bytes):
    pass


class Node:
    def __init__(self, name: str) -> None:
        self.name = name
        self.attrs: dict[str, str] = {}
        self.contents: list[Any] = []


def _tree() -> tuple[Node, Text]:
    form = Node("form")
    form.attrs = {"password": SECRET, "action": "/login"}
    label = Text("Sign in")
    label.parent = form  # type: ignore[attr-defined]
    form.contents.append(label)  # a cycle: node -> text -> node
    return form, label


def _on_disk(root: Path) -> bytes:
    return b"".join(path.read_bytes() for path in root.rglob("*") if path.is_file())


@pytest.mark.parametrize("options", CAPTURE_MODES)
def test_a_secret_reached_through_a_text_subclass_never_reaches_the_disk(
    tmp_path: Path, options: dict[str, Any]
) -> None:
    @capture_args(path=tmp_path, **options)
    def shout(text: str, blob: bytes) -> str:
        return text.upper()

    _, label = _tree()
    blob = Data(b"raw")
    blob.owner = {"api_key": "sk-" + SECRET}  # type: ignore[attr-defined]
    assert shout(label, blob) == "SIGN IN"
    flush()
    assert SECRET.encode() not in _on_disk(tmp_path)

    record = load_capture_dict("shout", path=tmp_path)
    text, data = record["args"]
    # Still the text it was, of its class, with its attributes: only the secret is gone.
    assert (type(text), text) == (Text, "Sign in")
    assert text.parent.attrs == {"password": "[FILTERED: name:password]", "action": "/login"}
    assert text.parent.contents[0] is text
    assert (type(data), data) == (Data, b"raw")
    assert data.owner == {"api_key": "[FILTERED: name:api_key]"}


@pytest.mark.parametrize("options", CAPTURE_MODES)
def test_a_text_subclass_without_secrets_is_stored_as_itself(
    tmp_path: Path, options: dict[str, Any]
) -> None:
    @capture_args(path=tmp_path, **options)
    def shout(text: str) -> str:
        return text.upper()

    label = Text("Sign in")
    label.parent = {"action": "/login"}  # type: ignore[attr-defined]
    shout(label)
    flush()
    record = load_capture_dict("shout", path=tmp_path)
    assert record["metadata"]["redactions"] == []
    (text,) = record["args"]
    assert (type(text), text, text.parent) == (Text, "Sign in", {"action": "/login"})


@pytest.mark.parametrize("options", CAPTURE_MODES)
def test_a_secret_shaped_text_node_in_a_cycle_never_reaches_the_disk(
    tmp_path: Path, options: dict[str, Any]
) -> None:
    """The text node is replaced whole (its text is secret-shaped); every other reference to
    it, met while its copy was being made (its parent's children, a sibling's link), stores
    the same placeholder, not the copy holding the text."""

    @capture_args(path=tmp_path, **options)
    def count(text: Any) -> int:
        return len(text.parent.contents)

    root = Node("script")
    code = Text("var KEY = 'sk_live_" + "a1B2c3D4e5F6g7H8i9J0kLmN'")
    code.parent = root  # type: ignore[attr-defined]
    code.previous = Text("\n")  # type: ignore[attr-defined]
    code.previous.next = code  # type: ignore[attr-defined]
    code.previous.parent = root  # type: ignore[attr-defined]
    root.contents = [code.previous, code]  # type: ignore[attr-defined]
    assert count(code.previous) == 2  # type: ignore[attr-defined]
    flush()
    assert b"a1B2c3D4e5F6" not in _on_disk(tmp_path)
    (stored,) = load_capture_dict("count", path=tmp_path)["args"]
    assert stored == "\n"
    assert stored.next == stored.parent.contents[1]
    assert str(stored.next).startswith("[FILTERED: ")


def test_json_captures_name_the_text_class_they_cannot_store(tmp_path: Path) -> None:
    """JSON stores no str subclass with attributes: the placeholder names the program's class
    (not our inert copy's), and the secret stays off the disk."""

    @capture_args(path=tmp_path, serializer="json")
    def shout(text: str) -> str:
        return text.upper()

    _, label = _tree()
    shout(label)
    assert SECRET.encode() not in _on_disk(tmp_path)
    (stored,) = load_capture_dict("shout", path=tmp_path)["args"]
    assert stored == "[FILTERED: unserializable Text]"
