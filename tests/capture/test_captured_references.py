"""An argument that holds another captured function (a registry, a dispatch table, a template
engine's filters) loads back holding that function, in every capture path.

Found on jinja2: an ``Environment`` keeps its filters in a dict; with one filter captured, every
capture whose arguments held the environment was written as ``getattr(None, 'do_sum')`` and
could never be loaded again ("cannot deserialize (AttributeError: 'NoneType' object has no
attribute ...)"), so gen-tests refused the whole function.
"""

from __future__ import annotations

from typing import Any

import pytest

from _modes import CAPTURE_MODES
from snapy_capture import capture_args, flush, load_capture, load_capture_dict


@capture_args()
def shout(text: str) -> str:
    return text.upper()


class Registry:
    def __init__(self) -> None:
        self.filters = {"shout": shout, "len": len}


@pytest.mark.parametrize("options", CAPTURE_MODES)
def test_a_registry_holding_a_captured_function_loads_back_with_it(
    options: dict[str, Any],
) -> None:
    @capture_args(**options)
    def render(registry: Registry, table: dict[str, Any], name: str) -> str:
        return str(registry.filters[name]("hi"))

    registry = Registry()
    assert render(registry, {"f": shout}, "shout") == "HI"
    assert flush(timeout=30)
    (loaded, table, name), _kwargs = load_capture("render")
    assert loaded.filters["shout"] is shout
    assert table["f"] is shout
    assert loaded.filters["shout"]("x") == "X"
    assert load_capture_dict("render")["metadata"].get("redactions", []) == []
