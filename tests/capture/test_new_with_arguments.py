"""An object whose class's ``__new__`` needs arguments that pickle does not pass.

Pickle stores a plain object as ``copyreg.__newobj__(cls)`` plus its attributes, and loading
calls ``cls.__new__(cls)``: a class whose ``__new__`` requires more (jinja2's ``Template``:
``__new__(cls, source, ...)``) pickles without complaint but never loads. Stored as it was,
every capture holding one was unreadable (``cannot deserialize (TypeError: Template.__new__()
missing 1 required positional argument: 'source')``): the arguments, the result, all of it,
and gen-tests refused the function. Such an object is a placeholder now, like a lock; the
rest of the capture loads.
"""

from __future__ import annotations

import enum
from typing import Any

import pytest

from _modes import CAPTURE_MODES
from snapy_capture import capture_args, flush, load_capture, load_capture_dict


class Compiled:
    """Made from its source, as a template or a compiled pattern is."""

    def __new__(cls, source: str, *, strict: bool = False) -> Compiled:
        self = super().__new__(cls)
        self.source = source
        return self

    def render(self, name: str) -> str:
        return self.source.replace("{name}", name)


class KeywordMade:
    def __new__(cls, *, source: str) -> KeywordMade:
        return super().__new__(cls)


class Optional:
    """``__new__`` with defaults only: loads as any object; kept."""

    def __new__(cls, source: str = "", *args: Any, **kwargs: Any) -> Optional:
        return super().__new__(cls)

    def __init__(self, source: str = "") -> None:
        self.source = source


PLACEHOLDER = "[FILTERED: unstorable:Compiled.__new__ needs arguments that pickle does not pass]"


@pytest.mark.parametrize("options", CAPTURE_MODES)
def test_an_object_whose_new_needs_arguments_is_a_placeholder_and_the_capture_loads(
    options: dict[str, Any],
) -> None:
    @capture_args(**options)
    def publish(template: Compiled, other: KeywordMade, kept: Optional, user: str) -> str:
        return template.render(user)

    assert publish(Compiled("Hi {name}"), KeywordMade(source="x"), Optional("o"), "ada") == "Hi ada"
    assert flush(timeout=30)
    (template, other, kept, user), _kwargs = load_capture("publish")
    assert template == PLACEHOLDER
    assert other == PLACEHOLDER.replace("Compiled", "KeywordMade")
    assert (type(kept), kept.source, user) == (Optional, "o", "ada")
    redactions = load_capture_dict("publish")["metadata"]["redactions"]
    assert [entry["path"] for entry in redactions] == ["template", "other"]


def test_a_method_of_such_a_class_keeps_its_arguments_and_result() -> None:
    """The receiver is the placeholder; the call's own arguments and result still load."""
    Compiled.render = capture_args(record_result=True)(Compiled.render)  # type: ignore[method-assign]
    try:
        assert Compiled("Hi {name}").render("bob") == "Hi bob"
        assert flush(timeout=30)
        record = load_capture_dict("render")
    finally:
        Compiled.render = Compiled.render.__wrapped__  # type: ignore[attr-defined]
    assert record["self"] == PLACEHOLDER
    assert record["args"] == ["bob"] or tuple(record["args"]) == ("bob",)
    assert record["result"]["value"] == "Hi bob"


class Color(enum.Enum):
    RED = 1


@pytest.mark.parametrize("options", CAPTURE_MODES)
def test_classes_made_by_a_metaclass_whose_new_needs_arguments_are_kept(
    options: dict[str, Any],
) -> None:
    """An Enum member and an Enum class: EnumType.__new__ wants arguments, but classes are
    pickled by name, not made again."""

    @capture_args(**options)
    def paint(color: Color, palette: type[Color]) -> str:
        return color.name

    assert paint(Color.RED, Color) == "RED"
    assert flush(timeout=30)
    (color, palette), _kwargs = load_capture("paint")
    assert (color, palette) == (Color.RED, Color)
    assert load_capture_dict("paint")["metadata"].get("redactions", []) == []
