"""A tuple subclass whose attribute is filtered is stored in a form that loads back.

Found on real code (tests/integration/test_real_packages.py): pygments' token types are tuple
subclasses with ``parent`` and ``subtypes`` attributes; a captured ``HtmlFormatter`` holds
them, one attribute was filtered, and the capture was written but could never be read
("cannot deserialize (TypeError: tuple expected at most 1 argument, got 2)").
"""

from __future__ import annotations

from collections import namedtuple
from pathlib import Path
from typing import Any

import pytest

from snapy_capture import capture_args, load_capture


class TokenType(tuple):
    """Like pygments' ``_TokenType``: the items are the name, attributes hold the tree."""


class Point(namedtuple("Point", "x y")):
    """A namedtuple subclass without ``__slots__``: it has a ``__dict__`` too."""


def _token(parent: Any, **attributes: Any) -> TokenType:
    token = TokenType(("Name", "Builtin"))
    token.parent = parent
    token.__dict__.update(attributes)
    return token


def _point(**attributes: Any) -> Point:
    point = Point(1, 2)
    point.__dict__.update(attributes)
    return point


def _self_parent() -> TokenType:
    token = _token(None)
    token.parent = token  # a cycle through the tuple subclass, as pygments' tree has
    return token


CASES = [
    pytest.param(lambda: _token(None, password="hunter2-secret"), "password", id="named-attr"),
    pytest.param(lambda: _point(api_key="k-123456"), "api_key", id="namedtuple-subclass"),
]


@pytest.mark.parametrize(("make", "filtered"), CASES)
def test_filtered_attribute_of_a_tuple_subclass_loads_back(
    make: Any, filtered: str, capture_dir: Path
) -> None:
    """The capture loads: same class, same items, the filtered attribute a placeholder (a
    cycle through the tuple subclass kept as it is)."""

    @capture_args(path=capture_dir)
    def lookup(value: Any) -> None:
        return None

    value = make()
    lookup(value)
    (loaded,), _kwargs = load_capture("lookup", path=capture_dir)
    assert type(loaded) is type(value)
    assert tuple(loaded) == tuple(value)
    if filtered == "parent":  # a cycle is not filtered data: it loads back as a cycle
        assert loaded.parent is loaded
    else:
        assert str(getattr(loaded, filtered)).startswith("[FILTERED: ")
    assert b"hunter2-secret" not in b"".join(p.read_bytes() for p in capture_dir.rglob("*.cap"))


def test_a_cycle_through_a_tuple_subclass_loads_back_linked(capture_dir: Path) -> None:
    """A cycle is not a redaction: pygments' token types point back at themselves and load
    back as one linked object."""

    @capture_args(path=capture_dir)
    def lookup(value: Any) -> None:
        return None

    lookup(_self_parent())
    (loaded,), _kwargs = load_capture("lookup", path=capture_dir)
    assert loaded.parent is loaded
