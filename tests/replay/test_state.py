"""Objects without their own __eq__ compare by state; snapshots of them are stable."""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import pickle
import string
import textwrap
from collections import namedtuple
from typing import Any

import pytest
from sqlparse import tokens  # a real package of the test extra (realpkgs)

from snapy_capture.pytest_plugin import assert_replay_matches, replay_and_compare
from snapy_capture.replay import snapshot_state


def _record(value: Any, *args: Any) -> dict[str, Any]:
    return {
        "module": "m",
        "qualname": "f",
        "timestamp": "T",
        "args": list(args),
        "kwargs": {},
        "metadata": {},
        "result": {"value": value},
    }


def _stored(value: Any) -> Any:
    """What the record holds after a round trip through the default (pickle) serializer."""
    return pickle.loads(pickle.dumps(value))


def test_results_without_eq_match_by_state() -> None:
    """A SequenceMatcher or Template loaded from a capture equals a fresh one of equal state."""

    def matcher(a: str, b: str) -> difflib.SequenceMatcher[str]:
        return difflib.SequenceMatcher(None, a, b)

    record = _record(_stored(matcher("kitten", "sitting")), "kitten", "sitting")
    assert_replay_matches(matcher, record)
    template = _record(_stored(string.Template("$who likes $what")), "$who likes $what")
    assert_replay_matches(string.Template, template)


def test_a_changed_state_fails_naming_the_path_of_the_first_difference() -> None:
    """The diff says where the states part, then shows both, - recorded + replayed."""

    def matcher(a: str, b: str) -> difflib.SequenceMatcher[str]:
        return difflib.SequenceMatcher(None, a, b.upper())

    record = _record(_stored(difflib.SequenceMatcher(None, "ab", "cd")), "ab", "cd")
    outcome = replay_and_compare(matcher, record)
    assert not outcome.matches
    assert "first difference at result.b: 'cd' != 'CD'" in outcome.diff
    assert "\n- 'b': 'cd',\n" in outcome.diff
    assert "\n+ 'b': 'CD',\n" in outcome.diff
    assert "0x" not in outcome.diff


def test_nested_objects_dataclasses_and_namedtuples_compare_by_state() -> None:
    """A dataclass holding a TextWrapper, in a namedtuple, in a list: equal state matches."""

    @dataclasses.dataclass
    class Layout:
        wrapper: textwrap.TextWrapper
        title: str

    pair = namedtuple("pair", "left right")

    def build(width: int) -> list[Any]:
        return [pair(Layout(textwrap.TextWrapper(width=width), "t"), argparse.Namespace(w=width))]

    record = _record(build(30), 30)
    assert_replay_matches(build, record)
    outcome = replay_and_compare(build, _record(build(30), 31))
    assert "first difference at result[0][0].wrapper.width: 30 != 31" in outcome.diff


def test_multiline_strings_diff_line_by_line() -> None:
    """A changed paragraph shows the lines that changed, not one long repr."""

    def fill(text: str) -> str:
        return textwrap.fill(text, width=22)

    text = "one two three four five six seven eight nine ten eleven twelve"
    record = _record(textwrap.fill(text, width=20), text)
    outcome = replay_and_compare(fill, record)
    assert not outcome.matches
    assert "first difference at result, by line:" in outcome.diff
    assert "\n one two three four\n" in outcome.diff  # an unchanged line, for context
    assert "\n-nine ten eleven\n-twelve\n+nine ten eleven twelve" in outcome.diff


def test_snapshot_state_has_no_addresses_and_is_bounded() -> None:
    """Objects become {"__class__", **state}; functions their names; deep values are cut."""
    wrapper = textwrap.TextWrapper(width=12)
    view = snapshot_state({"w": wrapper, "f": textwrap.dedent, "cls": textwrap.TextWrapper})
    assert view["w"]["__class__"] == "textwrap.TextWrapper"
    assert view["w"]["width"] == 12
    assert view["f"] == "<function textwrap.dedent>"
    assert view["cls"] == "<class textwrap.TextWrapper>"
    assert "0x" not in repr(view)
    assert snapshot_state([1, "a", (2.5, None)]) == [1, "a", (2.5, None)]

    nested: list[Any] = []
    node = nested
    for _ in range(30):
        node.append([])
        node = node[0]
    assert "deeper than 12 levels" in repr(snapshot_state(nested))
    assert "<1000 more items>" in repr(snapshot_state({"x": [object()] * 1500}))
    loop: dict[str, Any] = {}
    loop["self"] = textwrap.TextWrapper()
    loop["self"].loop = loop
    assert "<cycle: dict>" in repr(snapshot_state(loop))


@pytest.mark.parametrize("value", [1, "x", (1, 2), {"a": [1]}, frozenset({3})])
def test_plain_values_are_snapshotted_unchanged(value: Any) -> None:
    """Existing snapshots of plain values keep their exact form."""
    assert snapshot_state(value) is value


def test_a_sequence_subclass_is_snapshotted_as_the_plain_sequence_it_is() -> None:
    """sqlparse's token types are tuple subclasses whose ``__getattr__`` makes a new subtype
    for any name asked (syrupy asks for ``_fields``): snapshotting them must not probe them."""
    view = snapshot_state({"types": [tokens.Keyword.DML, tokens.Name]})
    assert view == {"types": [("Keyword", "DML"), ("Name",)]}
    assert [type(item) for item in view["types"]] == [tuple, tuple]


class _Node:
    """Hashed and compared by identity, with object's repr (an address): a typical dict key."""

    def __init__(self, tag: str) -> None:
        self.tag = tag


def _parent_map() -> dict[str, Any]:
    # Python-Markdown keeps such a map (ElementTree nodes, keyed by identity) in its state.
    import xml.etree.ElementTree as etree

    root = etree.Element("p")
    child = etree.SubElement(root, "em")
    return {"parents": {child: root, _Node("a"): 1, _Node("a"): 2, ("t", _Node("b")): 3}}


def test_objects_as_dict_keys_snapshot_the_same_every_run_without_addresses() -> None:
    """A dict keyed by objects gives the same snapshot for equal state: no address, no key lost."""
    first, second = snapshot_state(_parent_map()), snapshot_state(_stored(_parent_map()))
    assert "0x" not in repr(first)
    assert repr(first) == repr(second)
    assert len(first["parents"]) == 4  # two keys of equal state are both kept


def test_objects_as_dict_keys_compare_by_state() -> None:
    """A replay rebuilds the keys: equal state matches, a changed key is a difference."""
    assert_replay_matches(_parent_map, _record(_stored(_parent_map())))

    def changed() -> dict[str, Any]:
        value = _parent_map()
        next(key for key in value["parents"] if isinstance(key, _Node)).tag = "z"
        return value

    outcome = replay_and_compare(changed, _record(_stored(_parent_map())))
    assert not outcome.matches
    assert "0x" not in outcome.diff


def _page(word: str) -> Any:
    from xml.etree import ElementTree  # state kept in C (Python-Markdown's trees)

    page = ElementTree.Element("p", {"class": "x"})
    page.text = "see "
    ElementTree.SubElement(page, "em").text = word
    return page


def test_a_type_keeping_its_state_in_c_is_snapshotted_by_what_it_gives_pickle() -> None:
    """An ElementTree node has no __dict__: its snapshot is its tag, attributes, text and
    children (what its __getstate__ gives), not only its class name."""
    view = snapshot_state(_page("word"))
    assert view["tag"] == "p"
    assert view["attrib"] == {"class": "x"}
    assert [child["text"] for child in view["_children"]] == ["word"]
    assert snapshot_state(_page("word")) == view
    assert snapshot_state(_page("other")) != view


def test_a_change_inside_such_a_type_is_a_difference_named_by_its_path() -> None:
    assert_replay_matches(lambda: _page("word"), _record(_stored(_page("word"))))
    outcome = replay_and_compare(lambda: _page("other"), _record(_stored(_page("word"))))
    assert not outcome.matches
    assert "_children[0].text: 'word' != 'other'" in outcome.diff
