"""Text and bytes subclasses inside an instance (Markdown's ``AtomicString``, markupsafe's
``Markup``): kept as themselves, or masked, never the whole instance lost.

An async snapshot's (and every receiver's) copy of such a value is an inert copy claiming the
subclass; it used to be read as text, which failed and replaced the whole instance by
``could not be inspected``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from snapy_capture import capture_args, flush, load_capture_dict


class Atomic(str):
    """Like Python-Markdown's AtomicString: a str subclass kept in an object's state."""


class Blob(bytes):
    pass


class Holder:
    def __init__(self, text: str, data: bytes) -> None:
        self.text = text
        self.data = data
        self.items = [Atomic("second")]


class Page(Holder):
    """Replaced by each receiver case (see ``_capture``)."""


def _render(self: Holder) -> int:
    return 1


def _capture(tmp_path: Path, how: str, holder: Holder) -> dict[str, Any]:
    if how == "receiver":
        # A subclass whose method captures, importable as this module's Page (pickle finds
        # the class of the stored instance by name); the test's own object is switched to it.
        render = capture_args(path=tmp_path)(_render)
        page = type("Page", (Holder,), {"render": render, "__module__": __name__})
        globals()["Page"] = page
        holder.__class__ = page
        page.render(holder)
        return dict(load_capture_dict("_render", path=tmp_path))

    @capture_args(path=tmp_path, async_storage=True)
    def publish(page: Holder) -> int:
        return 1

    publish(holder)
    flush()
    return dict(load_capture_dict("publish", path=tmp_path))


@pytest.mark.parametrize("how", ["receiver", "async argument"])
def test_text_subclasses_in_an_instance_are_stored_as_themselves(tmp_path: Path, how: str) -> None:
    record = _capture(tmp_path, how, Holder(Atomic("inline `code`"), Blob(b"raw")))
    stored = record["self"] if how == "receiver" else record["args"][0]
    assert record["metadata"]["redactions"] == []
    assert isinstance(stored, Holder)
    assert (type(stored.text), stored.text) == (Atomic, "inline `code`")
    assert (type(stored.data), stored.data) == (Blob, b"raw")
    assert [(type(item), item) for item in stored.items] == [(Atomic, "second")]


@pytest.mark.parametrize("how", ["receiver", "async argument"])
def test_a_card_number_in_a_text_subclass_never_reaches_the_disk(tmp_path: Path, how: str) -> None:
    holder = Holder(Atomic("pay with 4111 1111 1111 1111"), Blob(b"card 4111111111111111"))
    record = _capture(tmp_path, how, holder)
    stored = record["self"] if how == "receiver" else record["args"][0]
    assert isinstance(stored, Holder)  # kept; only the parts holding the number are not
    assert stored.items == ["second"]
    assert "4111" not in str(stored.text)
    assert "4111" not in str(stored.data)
    on_disk = b"".join(path.read_bytes() for path in tmp_path.rglob("*") if path.is_file())
    assert b"4111" not in on_disk


def test_a_placeholder_names_the_class_an_inert_copy_stands_for() -> None:
    """Placeholders and skip messages name the program's class, never our stand-in's."""
    from snapy_capture.filters._inert import Inert
    from snapy_capture.filters._pickled import type_name

    assert type_name(Inert.of(Holder(Atomic("a"), Blob(b"b")))) == "Holder"
