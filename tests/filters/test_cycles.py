"""Cycles and shared references in the filter: not redactions, and never a way around one.

One call's arguments share a memo: an object reached twice is stored once. Objects in a cycle
are stored as they are when nothing they reach is filtered, as copies otherwise; an object
kept whole (pickled by its own ``__reduce__``) that leads back to filtered data is replaced.
"""

from __future__ import annotations

import ast
import pickle
from typing import Any

from snapy_capture import ArgumentFilter
from snapy_capture.filters import inert_loads

FLT = ArgumentFilter()
PW = "Zq8-cyclic-pw-91"


class Node:
    def __init__(self, name: str, parent: Node | None = None) -> None:
        self.name = name
        self.parent = parent
        self.children: list[Node] = []
        if parent is not None:
            parent.children.append(self)


class Handle:
    """Pickled by its own ``__reduce__`` and pointing back to its owner."""

    def __init__(self, owner: Any) -> None:
        self.owner = owner

    def __reduce__(self) -> tuple[Any, ...]:
        return (Handle, (self.owner,))


def parented(source: str) -> ast.Module:
    tree = ast.parse(source)
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            child.parent = node  # type: ignore[attr-defined]
    return tree


def test_a_clean_cycle_is_stored_as_it_is_and_shared_across_arguments() -> None:
    """No copy, no report: the same objects, however many arguments reach them."""
    tree = Node("root")
    child = Node("a", tree)
    result = FLT.filter_call(["tree", "node"], (tree, child), {"root": tree})
    assert result.args == (tree, child)
    assert result.args[0] is tree
    assert result.kwargs["root"] is tree
    assert result.redactions == []


def test_an_object_passed_twice_is_filtered_once_and_stays_one_object() -> None:
    """The copy made for the first argument is the second's too; reported once."""
    options = {"host": "db", "password": PW}
    result = FLT.filter_call(["options", "again"], (options, options), {"more": [options]})
    assert result.args[0] is result.args[1] is result.kwargs["more"][0]
    assert result.args[0] == {"host": "db", "password": "[FILTERED: name:password]"}
    assert result.redactions == [{"path": "options['password']", "reason": "name:password"}]
    loaded = pickle.loads(pickle.dumps((result.args, result.kwargs)))
    assert loaded[0][0] is loaded[0][1] is loaded[1]["more"][0]


def test_a_dirty_tree_keeps_its_parent_links_in_the_copy() -> None:
    """The copies point to the copies: child.parent is the tree once loaded."""
    tree = Node("root")
    child = Node("user", tree)
    child.password = PW  # type: ignore[attr-defined]
    result = FLT.filter_call(["tree", "node"], (tree, child), {})
    data = pickle.dumps(result.args)
    assert PW.encode() not in data
    loaded_tree, loaded_child = pickle.loads(data)
    assert loaded_child is loaded_tree.children[0]
    assert loaded_child.parent is loaded_tree
    assert loaded_child.password == "[FILTERED: name:password]"
    assert [entry["path"] for entry in result.redactions] == ["tree.children[0].password"]


def test_an_object_kept_whole_never_leads_back_to_a_filtered_owner() -> None:
    """A Handle pointing back to an owner holding a password is replaced, whichever is met
    first; stored whole, it would store the owner, password and all."""
    first = Node("first")
    first.password = PW  # type: ignore[attr-defined]
    first.handle = Handle(first)  # type: ignore[attr-defined]
    second = Node("second")
    second.handle = Handle(second)  # type: ignore[attr-defined]
    second.password = PW  # type: ignore[attr-defined]
    result = FLT.filter_call(["first", "second", "handle"], (first, second, second.handle), {})
    assert PW.encode() not in pickle.dumps(result.args)
    assert result.args[2] == "[FILTERED: opaque:Handle holds filtered data]"
    assert {entry["path"] for entry in result.redactions} == {
        "first.password",
        "first.handle",
        "second.password",
        "second.handle",
    }


def test_a_clean_ast_with_parent_links_is_kept_next_to_a_dirty_one() -> None:
    """ast trees (their own __reduce__, parent pointers set the common way, which also ties
    them through the shared Load/Store nodes): the dirty one is replaced, the clean one kept."""
    dirty = parented("user = 'x'\nprint(1)")
    dirty.body[0].targets[0].secret = PW  # type: ignore[attr-defined]
    clean = parented("y = 2")
    result = FLT.filter_call(["dirty", "clean"], (dirty, clean), {})
    assert result.args[1] is clean
    assert result.args[0] == "[FILTERED: opaque:Module holds filtered data]"
    assert PW.encode() not in pickle.dumps(result.args)
    assert result.redactions == [{"path": "dirty", "reason": "opaque:Module holds filtered data"}]


def test_an_async_snapshot_of_a_cycle_is_filtered_like_the_live_objects() -> None:
    """The inert copies unpickled from a snapshot: links kept, the secret and the Handle
    pointing back to it replaced."""
    tree = Node("root")
    child = Node("user", tree)
    child.password = PW  # type: ignore[attr-defined]
    tree.handle = Handle(tree)  # type: ignore[attr-defined]
    args, kwargs = inert_loads(pickle.dumps(((tree, child), {"root": tree})))
    result = FLT.filter_call(["tree", "node"], args, kwargs)
    data = pickle.dumps((result.args, result.kwargs))
    assert PW.encode() not in data
    (loaded_tree, loaded_child), loaded_kwargs = pickle.loads(data)
    assert loaded_child.parent is loaded_tree is loaded_kwargs["root"]
    assert loaded_tree.handle == "[FILTERED: opaque:Handle holds filtered data]"


def test_a_tuple_in_a_dirty_cycle_is_the_one_cycle_placeholder_left() -> None:
    """A tuple has no copy until its items are done, so a list inside it that points back
    to it gets a ``cycle`` placeholder (only when the cycle holds filtered data)."""
    inner: list[Any] = []
    outer = (inner, {"password": PW})
    inner.append(outer)
    result = FLT.filter_call(["pair"], (outer,), {})
    assert PW.encode() not in pickle.dumps(result.args)
    (copy,) = result.args
    assert copy[1] == {"password": "[FILTERED: name:password]"}
    assert copy[0] == ["[FILTERED: cycle]"]
    clean: list[Any] = []
    kept = (clean, {"user": "bob"})
    clean.append(kept)
    assert FLT.filter_call(["pair"], (kept,), {}).args[0] is kept
