"""A snapshot shows no memory address, even inside containers kept by their own ``__eq__``.

Found on jinja2: a replayed ``Environment.from_string`` returns a Template whose globals are a
``ChainMap``; the ChainMap was snapshotted by its repr, ``ChainMap({}, {'lipsum': <function
generate_lorem_ipsum at 0x7f...>})``, so the generated test failed on its second run (and on
every run after ``--snapshot-update``). A value whose repr shows an address is viewed by its
content instead: its items, as a dict's or a list's are, or else its state.
"""

from __future__ import annotations

import collections
import re
import types
from typing import Any

from syrupy.extensions.amber.serializer import AmberDataSerializer

from snapy_capture.replay import snapshot_state


def lorem() -> str:
    return "lorem"


class Plain:
    """object's own ``__eq__`` and ``__repr__``: shown by its state already."""

    def __init__(self, n: int) -> None:
        self.n = n


class Bag:
    """Its own ``__eq__``, and ``object``'s ``__repr__`` left to its items."""

    def __init__(self, *items: Any) -> None:
        self.items = list(items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Bag) and other.items == self.items

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Bag({self.items!r})"


def shown(value: Any) -> str:
    return str(AmberDataSerializer.serialize(snapshot_state(value)))


ADDRESS = re.compile(r"0x[0-9a-f]{4,}")


def test_standard_containers_of_functions_and_objects_show_no_address() -> None:
    value = {
        "globals": collections.ChainMap({}, {"lipsum": lorem, "range": range}),
        "queue": collections.deque([Plain(1), lorem]),
        "ns": types.SimpleNamespace(obj=Plain(2), func=lorem),
        "bag": Bag(Plain(3)),
        "kept": collections.ChainMap({"a": 1}),  # no address: kept as its repr
    }
    text = shown(value)
    assert not ADDRESS.search(text), text
    assert "<function test_snapshot_addresses.lorem>" in text
    for n in (1, 2, 3):
        assert f"'n': {n}" in text
    assert "ChainMap({'a': 1})" in text
    # The same text from an equal value built anew: what a second run of the suite sees.
    again = {
        "globals": collections.ChainMap({}, {"lipsum": lorem, "range": range}),
        "queue": collections.deque([Plain(1), lorem]),
        "ns": types.SimpleNamespace(obj=Plain(2), func=lorem),
        "bag": Bag(Plain(3)),
        "kept": collections.ChainMap({"a": 1}),
    }
    assert shown(again) == text
