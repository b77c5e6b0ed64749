"""The caches behind a cheap capture of linked objects (issue 21: sqlparse's token trees).

A receiver is snapshotted on every call of its methods; a snapshot met before (same bytes,
same filter settings, the globals it names still the same objects) is not loaded and walked
again. The walk reads the filter's caches directly. These tests pin what the caches must never
change: a receiver or a class that changed, settings that changed, a str subclass (whose own
``__hash__``/``__eq__`` must not answer a lookup).
"""

from __future__ import annotations

import pickle
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from snapy_capture import CaptureLoader, capture_args, flush
from snapy_capture.capture._record import receiver_state
from snapy_capture.filters import ArgumentFilter, _traverse

MODES = [
    pytest.param({}, id="sync"),
    pytest.param({"async_storage": True}, id="async"),
    pytest.param({"record_result": True}, id="sync-result"),
]
CARD = "4111 1111 1111 1111"


class Node:
    """A node of a parent-linked tree, as parsers build them."""

    def __init__(self, label: str, parent: Node | None = None) -> None:
        self.label = label
        self.parent = parent
        self.children: list[Node] = []
        self.is_leaf = True
        if parent is not None:
            parent.children.append(self)
            parent.is_leaf = False

    def size(self, extra: int) -> int:
        return len(self.children) + extra


def _tree() -> Node:
    root = Node("root")
    for name in ("a", "b", "c"):
        child = Node(name, root)
        Node(name + "1", child)
    return root


@pytest.fixture
def visits(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every value the filters' walk visits."""
    seen: list[Any] = []
    original = _traverse._Walk.visit

    def visit(self: Any, path: Any, name: Any, value: Any, depth: int, custom: bool = True) -> Any:
        seen.append(value)
        return original(self, path, name, value, depth, custom)

    monkeypatch.setattr(_traverse._Walk, "visit", visit)
    return seen


def _records(name: str) -> list[dict[str, Any]]:
    return sorted(CaptureLoader().load_all(name), key=lambda r: r["args"][0])


#: Where the caller's thread filters the receiver (with async_storage the writer thread walks
#: the call's one snapshot, receiver included: off the caller, not cached).
CALLER_MODES = [
    pytest.param({}, id="sync"),
    pytest.param({"record_result": True}, id="sync-result"),
]


@pytest.mark.parametrize("options", CALLER_MODES)
def test_a_receiver_met_again_unchanged_is_not_walked_again(
    capture_dir: Path, monkeypatch: pytest.MonkeyPatch, visits: list[Any], options: dict[str, Any]
) -> None:
    root = _tree()
    monkeypatch.setattr(Node, "size", capture_args(retention=None, **options)(vars(Node)["size"]))
    leaf = root.children[1].children[0]
    assert leaf.size(1) == 1
    assert flush(timeout=30)
    visits.clear()
    assert leaf.size(2) == 2
    assert flush(timeout=30)
    # Before: the whole tree (its 8 nodes, their labels and flags) walked again each call.
    assert [v for v in visits if isinstance(v, Node) or type(v).__name__ == "Inert"] == []
    first, second = _records("Node.size")
    for record in (first, second):
        stored = record["self"]
        assert (stored.label, stored.parent.label) == ("b1", "b")
        assert [n.label for n in stored.parent.parent.children] == ["a", "b", "c"]
        assert stored.parent.parent.children[1].children[0] is stored  # cycles kept
        assert record["metadata"]["redactions"] == []


@pytest.mark.parametrize("options", MODES)
def test_a_receiver_changed_between_calls_is_filtered_anew(
    capture_dir: Path, monkeypatch: pytest.MonkeyPatch, options: dict[str, Any]
) -> None:
    root = _tree()
    monkeypatch.setattr(Node, "size", capture_args(retention=None, **options)(vars(Node)["size"]))
    leaf = root.children[0].children[0]
    assert leaf.size(0) == 0
    leaf.parent.password = "hunter2-hunter2"  # type: ignore[attr-defined]
    root.label = f"card {CARD}"
    assert leaf.size(1) == 1
    del leaf.parent.password  # type: ignore[attr-defined]
    root.label = "root"
    assert leaf.size(2) == 2
    assert flush(timeout=30)
    first, second, third = _records("Node.size")
    assert first["self"].parent.parent.label == "root"
    assert vars(first["self"].parent).keys() == {"label", "parent", "children", "is_leaf"}
    assert str(second["self"].parent.password) == "[FILTERED: name:password]"
    assert second["self"].parent.parent.label == "card [FILTERED: pii]"
    reasons = {r["path"]: r["reason"] for r in second["metadata"]["redactions"]}
    assert {p: r for p, r in reasons.items() if p.startswith("self.")} == {
        "self.parent.password": "name:password",
        "self.parent.parent.label": "pii",
    }
    assert third["self"].parent.parent.label == "root"  # the first one's snapshot, met again
    assert third["metadata"]["redactions"] == []
    for file in capture_dir.rglob("*.cap"):
        data = file.read_bytes()
        assert b"hunter2" not in data
        assert b"4111" not in data


_MODULE = "snapy_walk_cache_classes"


@pytest.fixture
def classes() -> Iterator[types.ModuleType]:
    """A module of classes that a test may redefine under their names."""
    module = types.ModuleType(_MODULE)

    class Secretive:
        """Listed in ``filter_types``: never stored."""

    class Thing:
        pass

    for cls in (Secretive, Thing):
        cls.__module__ = _MODULE
        cls.__qualname__ = cls.__name__
        setattr(module, cls.__name__, cls)
    sys.modules[_MODULE] = module
    yield module
    del sys.modules[_MODULE]


class Holder:
    def __init__(self, item: Any) -> None:
        self.item = item

    def peek(self, n: int) -> int:
        return n


def test_a_class_redefined_under_its_name_is_judged_as_the_new_one(
    capture_dir: Path, monkeypatch: pytest.MonkeyPatch, classes: types.ModuleType
) -> None:
    """The second snapshot has the same bytes as the first (the same name, the same state),
    but its class is now one the filter must not store."""
    captured = capture_args(retention=None, arg_filter={"filter_types": [f"{_MODULE}.Secretive"]})
    monkeypatch.setattr(Holder, "peek", captured(vars(Holder)["peek"]))
    old = classes.Thing()
    old.data = "visible"
    holder = Holder(old)
    assert holder.peek(1) == 1

    class Thing(classes.Secretive):  # type: ignore[name-defined,misc]
        pass

    Thing.__module__, Thing.__qualname__ = _MODULE, "Thing"
    classes.Thing = Thing
    new = Thing()
    new.data = "visible"
    holder.item = new
    assert holder.peek(2) == 2
    first, second = _records("Holder.peek")
    assert first["self"].item.data == "visible"
    assert str(second["self"].item) == "[FILTERED: type:Thing]"
    assert second["metadata"]["redactions"] == [{"path": "self.item", "reason": "type:Thing"}]


def test_changed_filter_settings_apply_to_a_receiver_met_before() -> None:
    flt = ArgumentFilter()
    holder = Holder("kept")
    holder.note = "a note"  # type: ignore[attr-defined]
    value, report = receiver_state(flt, holder, "self", 1 << 20)
    assert value.state["note"] == "a note"  # an inert copy of it
    assert report == []
    flt.ignore_args.append("note")
    value, report = receiver_state(flt, holder, "self", 1 << 20)
    assert str(value.state["note"]) == "[FILTERED: name:note]"
    assert report == [{"path": "self.note", "reason": "name:note"}]
    # A filter with other settings shares nothing with it; one with the same, the verdicts.
    value, report = receiver_state(ArgumentFilter(), holder, "self", 1 << 20)
    assert report == []
    value, report = receiver_state(ArgumentFilter(ignore_args=["item"]), holder, "self", 1 << 20)
    assert report == [{"path": "self.item", "reason": "name:item"}]


def test_changed_names_apply_to_the_attributes_of_an_argument_walked_before() -> None:
    flt = ArgumentFilter()
    root = _tree()
    assert flt.filter_call(["node"], [root], {}).redactions == []
    flt.ignore_args.append("label")
    result = flt.filter_call(["node"], [root], {})
    assert {r["path"] for r in result.redactions} >= {"node.label", "node.children[0].label"}


def _slotted(monkeypatch: pytest.MonkeyPatch, *slots: str) -> Any:
    """A class made by the same code each time, under one name in this module (where pickle
    finds it), with the slots given."""
    made = type("Slotted", (), {"__slots__": slots, "__module__": __name__})
    monkeypatch.setattr(sys.modules[__name__], "Slotted", made, raising=False)
    return made


def test_classes_of_one_name_are_walked_by_their_own_slots(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The walk reads a class's slot names once, by the class itself: another class made
    under the same name (a factory, a reloaded module) has its own, and a slot only it has
    is still filtered."""
    flt = ArgumentFilter()
    old = _slotted(monkeypatch, "label")()
    old.label = "plain"
    assert flt.filter_call(["node"], [old], {}).redactions == []
    new = _slotted(monkeypatch, "label", "password")()
    new.label, new.password = "plain", "hunter2-but-longer"
    result = flt.filter_call(["node"], [new], {})
    assert result.redactions == [{"path": "node.password", "reason": "name:password"}]
    assert pickle.dumps(result.args[0]).find(b"hunter2") < 0


class Sneaky(str):
    """A str subclass whose own hash and equality claim to be any string."""

    asked: list[str] = []

    def __hash__(self) -> int:
        Sneaky.asked.append("hash")
        return hash("plain words")

    def __eq__(self, other: object) -> bool:
        Sneaky.asked.append("eq")
        return True


@pytest.mark.parametrize("where", ["attribute", "item", "value"])
def test_a_str_subclass_is_scanned_by_its_text_not_its_own_equality(where: str) -> None:
    """``"plain words"`` is found clean first (the filter remembers clean strings); a str
    subclass equal to it by its own ``__eq__`` holding a card number must still be masked,
    and its ``__hash__``/``__eq__`` (host code) never run. Before: stored unmasked."""
    flt = ArgumentFilter()
    assert flt.filter_value("plain words") == ("plain words", [])
    Sneaky.asked.clear()
    text = Sneaky(f"card {CARD}")
    holder = Holder(text)
    value: Any = {"attribute": holder, "item": [text], "value": text}[where]
    filtered, report = flt.filter_value(value, "arg")
    stored = {
        "attribute": lambda: filtered.state["item"],
        "item": lambda: filtered[0],
        "value": lambda: filtered,
    }[where]()
    assert type(stored) is str
    assert stored == "card [FILTERED: pii]"
    assert [r["reason"] for r in report] == ["pii"]
    assert Sneaky.asked == []


class Kind(tuple):  # type: ignore[type-arg]
    """A tuple with attributes linking it to its parent and children, like sqlparse's token
    types (``Token.Keyword.DML``): pickled by the default protocol."""

    def child(self, name: str) -> Kind:
        new = Kind((*self, name))
        new.parent = self  # type: ignore[attr-defined]
        setattr(self, name, new)
        return new


def _kinds() -> Kind:
    root = Kind()
    for name in ("Keyword", "Name", "Literal"):
        node = root.child(name)
        for sub in ("A", "B"):
            node.child(sub)
    return root


def test_a_tuple_subclass_pickled_by_default_is_walked_once_by_its_parts(
    visits: list[Any],
) -> None:
    """Its items and attributes are visited; its reduce tuple (``copyreg.__newobj__``, its
    class, the same items and attributes again) is not. Before: each visited twice."""
    import copyreg

    root = _kinds()
    flt = ArgumentFilter()
    value, report = flt.filter_value(root.Keyword.A, "kind")  # type: ignore[attr-defined]
    assert value is root.Keyword.A  # type: ignore[attr-defined]
    assert report == []
    assert [v for v in visits if v is Kind or v is copyreg.__newobj__] == []  # type: ignore[attr-defined]
    # Secrets in it are found all the same (a back-reference to a tuple of a cycle holding
    # filtered data is a ``cycle`` placeholder: see ``_traverse``).
    root.Name.password = "hunter2-hunter2"  # type: ignore[attr-defined]
    root.Literal.B.note = f"card {CARD}"  # type: ignore[attr-defined]
    value, report = flt.filter_value(root.Keyword.A, "kind")  # type: ignore[attr-defined]
    reasons = {r["path"]: r["reason"] for r in report}
    assert reasons["kind.parent.parent.Name.password"] == "name:password"
    assert reasons["kind.parent.parent.Literal.B.note"] == "pii"
    data = pickle.dumps(value)
    assert b"hunter2" not in data
    assert b"4111" not in data


def test_a_tuple_subclass_given_a_reducer_later_is_read_through_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whether a class pickles by default is not remembered: given a ``__reduce__`` after a
    first capture, what that reducer hands pickle is what is filtered."""
    kind = Kind(("x",))
    flt = ArgumentFilter()
    assert flt.filter_value(kind, "kind") == (kind, [])
    monkeypatch.setattr(
        Kind, "__reduce__", lambda self: (Kind, ((f"card {CARD}",),)), raising=False
    )
    value, report = flt.filter_value(kind, "kind")
    # Before it is stored, pickle would call the reducer and write the card number.
    assert str(value) == "[FILTERED: opaque:Kind holds filtered data]"
    assert report == [{"path": "kind", "reason": "opaque:Kind holds filtered data"}]
