"""Objects seen by their state: comparison of replayed results, and snapshot-stable values.

An object whose class keeps ``object.__eq__`` is equal only to itself, so a result rebuilt
from a capture never equals the one a replay returns, and its repr (``<Warehouse object at
0x7f...>``) changes every run. Both are looked at through a *state view* instead:
``{"__class__": "module.Qualname", **state}``, the state being the dataclass or attrs
fields, else ``__dict__`` and ``__slots__``, viewed the same way recursively. Containers
keep their type when nothing inside them changed (an ``OrderedDict`` of numbers stays
one); objects with their own ``__eq__`` (``Fraction``, ``argparse.Namespace``) are kept as
they are for comparison.

A snapshot view (:func:`snapshot_state`) is inert for a serializer: it holds only builtin
containers and atoms, state views, and :class:`Shown` texts standing for objects kept by
their own ``__repr__`` (cut at ``SNAPSHOT_REPR`` characters), so syrupy runs none of the
value's code; and it is bounded as a whole: past ``SNAPSHOT_SIZE`` items or
``SNAPSHOT_CHARS`` characters it raises :class:`SnapshotTooLarge` rather than growing, and
past a time budget (code of the value's own that never returns) :class:`SnapshotTimeout`.
"""

from __future__ import annotations

import collections
import dataclasses
import difflib
import functools
import itertools
import pprint
import re
import sys
import types
from collections.abc import Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any, Final

from snapy_capture._text import printable, qualified_name, safe_repr
from snapy_capture.errors import SnapyCaptureError
from snapy_capture.replay._budget import SnapshotTimeout, time_budget

__all__ = ["Shown", "SnapshotTooLarge", "describe_difference", "snapshot_state", "state_view"]

_ATOMS: Final = (str, bytes, bytearray, int, float, complex, type(None), range)
_NAMED: Final = (
    type,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.ModuleType,
    types.MethodWrapperType,
)
#: How deep comparison looks; deeper parts are shown by a marker (and compared by it).
COMPARE_DEPTH: Final = 64
#: snapshot_state's defaults: a snapshot should stay readable.
SNAPSHOT_DEPTH: Final = 12
SNAPSHOT_ITEMS: Final = 500
#: A snapshot's budget as a whole: items (every value viewed counts one) and characters of
#: text (strings, bytes, reprs). A snapshot past it would be unreadable, and its serializing
#: is what once drove ``pytest --snapshot-update`` to the OOM killer.
SNAPSHOT_SIZE: Final = 100_000
SNAPSHOT_CHARS: Final = 10_000_000
#: How much of one object's repr a snapshot keeps.
SNAPSHOT_REPR: Final = 10_000
_EXACT_ATOMS: Final = frozenset(
    {str, bytes, bytearray, int, float, complex, bool, type(None), range}
)
#: A repr showing where an object lives (``<function f at 0x7f...>``): never the same twice.
_ADDRESS: Final = re.compile(r"\bat 0x[0-9a-fA-F]+")
_KEPT_MAPPINGS: Final = frozenset(
    {dict, collections.OrderedDict, collections.defaultdict, collections.Counter}
)


class SnapshotTooLarge(SnapyCaptureError, ValueError):
    """A value's snapshot is over the budget (:data:`SNAPSHOT_SIZE` items or
    :data:`SNAPSHOT_CHARS` characters): the case fails saying so instead of serializing it."""


class Shown:
    """An object kept by its own ``__repr__`` in a snapshot view: that repr's text, cut.

    Serializers (syrupy's amber) write an unknown object as its repr, so a snapshot holds
    the same text it held when the object itself was serialized, but computing it ran the
    object's code once, here, bounded, and never again in the serializer.
    """

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text

    def __eq__(self, other: object) -> bool:
        # Equal to the object it stands for too: ``replay_outcome(f, r) == Fraction(1, 2)``.
        if isinstance(other, Shown):
            return other.text == self.text
        if _is_snapshot(other):
            # ``replay_outcome(f, r) == snapshot`` of an outcome shown as a whole: syrupy's
            # reflected __eq__ is what compares (and records) it.
            return NotImplemented
        return safe_repr(other, SNAPSHOT_REPR) == self.text

    def __hash__(self) -> int:
        return hash(self.text)


def state_view(value: Any, *, max_depth: int = COMPARE_DEPTH) -> Any:
    """``value`` with every object that lacks its own ``__eq__`` replaced by its state view."""
    return _Viewer(max_depth, None, by_repr=False).view(value, 0)


def snapshot_state(
    value: Any,
    *,
    max_depth: int = SNAPSHOT_DEPTH,
    max_items: int = SNAPSHOT_ITEMS,
    max_size: int = SNAPSHOT_SIZE,
    max_chars: int = SNAPSHOT_CHARS,
    max_seconds: float | None = None,
) -> Any:
    """A value to snapshot for ``value``: same data, and a repr that is the same every run.

    Objects whose repr is ``object``'s (it holds an address) or that lack their own
    ``__eq__`` become ``{"__class__": "module.Qualname", **state}``, recursively; functions
    and classes become ``"<function module.qualname>"``. Beyond ``max_depth`` levels, or
    ``max_items`` items in one container, a marker says what was left out. Objects kept
    by their own ``__repr__`` (``Fraction(1, 2)``) become :class:`Shown` texts of at most
    ``SNAPSHOT_REPR`` characters, dict subclasses of other modules plain dicts of their class's
    name, so a serializer runs none of the value's code.

    The value's own code that building the view runs (a ``__repr__``, properties of
    attrs/dataclass fields) has ``max_seconds`` (default: the snapshot time budget, 5 s, or
    the pytest plugin's ``--snapy-capture-snapshot-timeout``); enforced in the main thread on
    POSIX only (see :mod:`snapy_capture.replay._budget`).

    Raises:
        SnapshotTooLarge: the view is over ``max_size`` items or ``max_chars`` characters.
        SnapshotTimeout: building it took longer than ``max_seconds``.
    """
    viewer = _Viewer(max_depth, max_items, by_repr=True)
    viewer.budget, viewer.max_size, viewer.max_chars = True, max_size, max_chars
    with time_budget("snapshot_state", max_seconds):
        return viewer.view(value, 0)


class _Viewer:
    __slots__ = (
        "budget",
        "by_repr",
        "chars",
        "in_progress",
        "max_chars",
        "max_depth",
        "max_items",
        "max_size",
        "size",
    )

    def __init__(self, max_depth: int, max_items: int | None, *, by_repr: bool) -> None:
        self.max_depth = max_depth
        self.max_items = max_items
        self.by_repr = by_repr
        self.in_progress: set[int] = set()
        self.budget = False  # snapshot_state's: counted against max_size and max_chars
        self.max_size = 0
        self.max_chars = 0
        self.size = 0
        self.chars = 0

    def view(self, value: Any, depth: int) -> Any:
        if self.budget:
            return self._counted(value, depth)
        if isinstance(value, _ATOMS) or value is Ellipsis:
            return value
        if isinstance(value, _NAMED):
            return _named(value)
        if depth >= self.max_depth:
            return f"<{qualified_name(type(value))} deeper than {self.max_depth} levels>"
        if id(value) in self.in_progress:
            return f"<cycle: {qualified_name(type(value))}>"
        self.in_progress.add(id(value))
        try:
            return self._inside(value, depth + 1)
        finally:
            self.in_progress.discard(id(value))

    def _counted(self, value: Any, depth: int) -> Any:
        """A snapshot's view of ``value``: inert for a serializer, and within the budget."""
        self.size += 1
        if self.size > self.max_size:
            raise SnapshotTooLarge(
                f"the snapshot is over {self.max_size} items (the snapshot size budget); "
                "narrow the target or use --mode result"
            )
        kind = type(value)
        if kind in _EXACT_ATOMS or value is Ellipsis:
            if kind in (str, bytes, bytearray):
                self._text(len(value))
            return value
        if isinstance(value, str):
            # Kept as the text it is: a serializer writes a str by calling its methods.
            return self._plain_str(value)
        if isinstance(value, _ATOMS):
            return self._shown(safe_repr(value, SNAPSHOT_REPR))
        if isinstance(value, _NAMED):
            return _named(value)
        if depth >= self.max_depth:
            return f"<{qualified_name(kind)} deeper than {self.max_depth} levels>"
        if id(value) in self.in_progress:
            return f"<cycle: {qualified_name(kind)}>"
        self.in_progress.add(id(value))
        try:
            new = self._inside(value, depth + 1)
            if new is value and not _inert(value):
                # Kept for its own ``__eq__`` and ``__repr__``: what a serializer would write,
                # unless that shows an address (a ChainMap of functions): it would differ
                # on every run, so the content is shown instead.
                text = safe_repr(value, SNAPSHOT_REPR)
                if _ADDRESS.search(text) is None:
                    return self._shown(text)
                return self._content(value, depth + 1, text)
        finally:
            self.in_progress.discard(id(value))
        return new

    def _content(self, value: Any, depth: int, text: str) -> Any:
        """The view of an object kept by its own ``__eq__`` whose repr shows an address: its
        items under its class's name (a mapping, a sequence or a set, of any class), else its
        state; its repr when it has neither."""
        name = type(value).__name__
        limit = self.max_items
        try:
            if isinstance(value, Mapping):
                shown_keys: dict[str, int] = {}
                pairs = [
                    (self._key(key, depth, shown_keys), self.view(item, depth))
                    for key, item in itertools.islice(value.items(), limit)
                ]
                return _plain_mapping(name)(pairs)
            if isinstance(value, (Sequence, AbstractSet, collections.deque)):
                items = [self.view(item, depth) for item in itertools.islice(value, limit)]
                return _plain_sequence(name)(items)
        except (SnapshotTooLarge, SnapshotTimeout):
            raise
        except Exception:  # noqa: BLE001, S110 - its own iteration failed: its state, or repr
            pass
        view: dict[str, Any] = {"__class__": qualified_name(type(value))}
        for attr, item in _state(value):
            view[attr] = self.view(item, depth)
        return view if len(view) > 1 else self._shown(text)

    def _plain_str(self, value: str) -> str:
        text = str.__str__(value)
        self._text(len(text))
        return text

    def _shown(self, text: str) -> Shown:
        self._text(len(text))
        return Shown(text)

    def _text(self, length: int) -> None:
        self.chars += length
        if self.chars > self.max_chars:
            raise SnapshotTooLarge(
                f"the snapshot is over {self.max_chars} characters of text (the snapshot "
                "size budget); narrow the target or use --mode result"
            )

    def _inside(self, value: Any, depth: int) -> Any:
        if isinstance(value, dict):
            return self._mapping(value, depth)
        if isinstance(value, tuple) and hasattr(type(value), "_fields"):
            return self._sequence(value, depth, getattr(type(value), "_make"))  # noqa: B009
        if self.by_repr and type(value) not in (tuple, list) and isinstance(value, (tuple, list)):
            # Snapshotted as the plain sequence it is: a serializer that probes the subclass
            # (syrupy reads ``_fields``) could run its code, and a ``__getattr__`` that makes
            # what it is asked for (sqlparse's token types) never lets it finish.
            if isinstance(value, tuple):
                return self._sequence(tuple(tuple.__iter__(value)), depth, tuple)
            return self._sequence(list(list.__iter__(value)), depth, list)
        if isinstance(value, (list, tuple)):
            return self._sequence(value, depth, type(value))
        if isinstance(value, (set, frozenset)):
            return self._set(value, depth)
        if not self._by_state(value):
            return value
        view: dict[str, Any] = {"__class__": qualified_name(type(value))}
        for name, item in _state(value):
            view[name] = self.view(item, depth)
        return view

    def _by_state(self, value: Any) -> bool:
        kind: Any = type(value)
        if dataclasses.is_dataclass(kind) or hasattr(kind, "__attrs_attrs__"):
            return True
        if isinstance(value, BaseException):
            return True
        if kind.__eq__ is object.__eq__:
            return True
        return self.by_repr and kind.__repr__ is object.__repr__

    def _mapping(self, value: dict[Any, Any], depth: int) -> Any:
        changed = False
        items = []
        counted = self.budget
        shown_keys: dict[str, int] = {}
        for index, (key, item) in enumerate(dict.items(value) if counted else value.items()):
            if self.max_items is not None and index >= self.max_items:
                items.append(("...", f"<{len(value) - index} more items>"))
                changed = True
                break
            new_key = self._key(key, depth, shown_keys)
            new = self.view(item, depth)
            changed = changed or new is not item or new_key is not key
            items.append((new_key, new))
        if counted and type(value) not in _KEPT_MAPPINGS:
            # Another module's dict subclass: its methods are its code. A plain dict that
            # bears its class's name is written the same way by syrupy.
            return _plain_mapping(type(value).__name__)(items)
        if not changed:
            return value
        try:
            return type(value)(items)
        except Exception:  # noqa: BLE001 - a subclass whose constructor wants more (defaultdict)
            return dict(items)

    def _sequence(self, value: Any, depth: int, rebuild: Any) -> Any:
        changed = False
        items = []
        for index, item in enumerate(value):
            if self.max_items is not None and index >= self.max_items:
                items.append(f"<{len(value) - index} more items>")
                changed = True
                break
            new = self.view(item, depth)
            changed = changed or new is not item
            items.append(new)
        if not changed:
            return value
        try:
            return rebuild(items)
        except Exception:  # noqa: BLE001 - a subclass or namedtuple that cannot be rebuilt
            return type(value).__mro__[-2](items) if isinstance(value, tuple) else list(items)

    def _key(self, key: Any, depth: int, shown_keys: dict[str, int]) -> Any:
        new = self.view(key, depth)
        if _hashable(new):
            return new
        # An object compared by its state (its view is a dict): hashed by identity, so the
        # key of a replay is never the recorded one, and its repr holds an address. It is
        # shown as the text of its view, the same every run; keys of equal state get a
        # number, in the dict's order, so that none is lost.
        text = _pformat(new)
        seen = shown_keys.get(text, 0) + 1
        shown_keys[text] = seen
        if seen > 1:
            text = f"{text} #{seen}"
        return self._shown(text) if self.budget else Shown(text)

    def _set(self, value: set[Any] | frozenset[Any], depth: int) -> Any:
        views = [self.view(item, depth) for item in value]
        if all(new is old for new, old in zip(views, value, strict=True)):
            if self.budget and type(value) not in (set, frozenset):
                return (frozenset if isinstance(value, frozenset) else set)(views)
            return value
        if self.budget and all(_hashable(view) for view in views):
            # Objects seen as their repr text still make a set, written as one.
            return (frozenset if isinstance(value, frozenset) else set)(views)
        # Views of objects are dicts, which no set can hold: a list in a stable order.
        return sorted(views, key=_sort_key)


def _is_snapshot(value: object) -> bool:
    """Whether ``value`` is syrupy's snapshot fixture (imported already if it is one)."""
    assertion = sys.modules.get("syrupy.assertion")
    kind = getattr(assertion, "SnapshotAssertion", None)
    return isinstance(kind, type) and isinstance(value, kind)


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _inert(value: Any) -> bool:
    """Whether a serializer may be given ``value`` as it is (a builtin container's code)."""
    kind = type(value)
    if kind in (list, tuple, set, frozenset) or kind in _KEPT_MAPPINGS:
        return True
    # A namedtuple's fields are read through the class's own properties.
    return isinstance(value, tuple) and hasattr(kind, "_make") and hasattr(kind, "_fields")


@functools.lru_cache(maxsize=256)
def _plain_mapping(name: str) -> type[dict[Any, Any]]:
    """A plain ``dict`` class named ``name``: syrupy writes a mapping under its class's name."""
    return type(name, (dict,), {"__slots__": ()})


@functools.lru_cache(maxsize=256)
def _plain_sequence(name: str) -> type[list[Any]]:
    """A plain ``list`` class named ``name``, written by syrupy under that name."""
    return type(name, (list,), {"__slots__": ()})


def _named(value: Any) -> str:
    if isinstance(value, type):
        return f"<class {qualified_name(value)}>"
    if isinstance(value, types.ModuleType):
        return f"<module {value.__name__}>"
    owner = getattr(value, "__self__", None)
    name = getattr(value, "__qualname__", getattr(value, "__name__", "?"))
    module = getattr(value, "__module__", None)
    if isinstance(owner, types.ModuleType) or owner is None:
        full = name if module in (None, "builtins") else f"{module}.{name}"
        return f"<function {full}>"
    return f"<bound method {qualified_name(type(owner))}.{getattr(value, '__name__', '?')}>"


def _state(value: Any) -> Iterator[tuple[str, Any]]:
    """The (name, value) pairs that make up an object's state."""
    kind = type(value)
    if dataclasses.is_dataclass(kind):
        for spec in dataclasses.fields(value):
            if spec.compare:
                yield spec.name, getattr(value, spec.name, "<unset>")
        return
    attrs_fields = getattr(kind, "__attrs_attrs__", None)
    if attrs_fields is not None:
        for spec in attrs_fields:
            if getattr(spec, "eq", True):
                yield spec.name, getattr(value, spec.name, "<unset>")
        return
    if isinstance(value, BaseException):
        yield "args", value.args
    found = False
    instance_dict = getattr(value, "__dict__", None)
    if isinstance(instance_dict, dict):
        for name, item in instance_dict.items():
            found = True
            yield str(name), item
    for klass in kind.__mro__:
        slots = klass.__dict__.get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if name in ("__dict__", "__weakref__"):
                continue
            stored = name if not name.startswith("__") else f"_{klass.__name__}{name}"
            try:
                item = object.__getattribute__(value, stored)
            except AttributeError:
                continue  # a slot never set is not part of the state
            found = True
            yield stored, item
    if not found:
        # A type keeping its state in C (ElementTree's Element: tag, attributes, text,
        # children) says what it is through its own __getstate__, as it does to pickle.
        yield from _given_state(value)


def _given_state(value: Any) -> Iterator[tuple[str, Any]]:
    """The state an object's own ``__getstate__`` gives (when its class defines one), as
    (name, value) pairs; nothing when it gives none or no mapping."""
    getstate = getattr(type(value), "__getstate__", None)
    if getstate is None or getstate is getattr(object, "__getstate__", None):
        return
    try:
        state = getstate(value)
    except Exception:  # noqa: BLE001 - its own code: a state it cannot give is not shown
        return
    if isinstance(state, tuple) and len(state) == 2:  # (__dict__, slots) as pickle takes it
        parts = [part for part in state if isinstance(part, dict)]
    else:
        parts = [state] if isinstance(state, dict) else []
    for part in parts:
        for name, item in part.items():
            yield str(name), item


def _sort_key(value: Any) -> str:
    return _pformat(value)


def _pformat(value: Any) -> str:
    try:
        return pprint.pformat(value, width=88, sort_dicts=True)
    except Exception:  # noqa: BLE001 - a user's __repr__ may raise anything
        return safe_repr(value)


# --- differences ----------------------------------------------------------------------------


def describe_difference(expected: Any, actual: Any, root: str = "result") -> str:
    """Where two state views first differ, then a line diff (``-`` expected, ``+`` actual).

    The diff is of the whole values' pretty-printed form, or, when the first difference is
    between two multi-line strings, of those strings line by line.
    """
    found = first_difference(expected, actual, root)
    lines = []
    if found is not None:
        path, want, got = found
        if _multiline(want) and _multiline(got):
            lines.append(f"first difference at {path}, by line:")
            # The texts' own lines, as a terminal shows them (no escape sequence acts).
            lines.extend(printable(line) for line in _diff(want, got).split("\n"))
            return "\n".join(lines)
        lines.append(f"first difference at {path}: {safe_repr(want, 200)} != {safe_repr(got, 200)}")
    lines.append(_diff(_pformat(expected), _pformat(actual)))
    return "\n".join(lines)


def first_difference(expected: Any, actual: Any, path: str) -> tuple[str, Any, Any] | None:
    """``(path, expected part, actual part)`` of the first place where they differ."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        if expected.get("__class__") != actual.get("__class__"):
            return f"{path}.__class__", expected.get("__class__"), actual.get("__class__")
        for key in [*expected, *(key for key in actual if key not in expected)]:
            if key == "__class__":
                continue
            step = f"{path}.{key}" if "__class__" in expected else f"{path}[{key!r}]"
            if key not in actual:
                return step, expected[key], "<missing>"
            if key not in expected:
                return step, "<missing>", actual[key]
            found = first_difference(expected[key], actual[key], step)
            if found is not None:
                return found
        return None
    if isinstance(expected, (list, tuple)) and isinstance(actual, (list, tuple)):
        for index, (want, got) in enumerate(zip(expected, actual, strict=False)):
            found = first_difference(want, got, f"{path}[{index}]")
            if found is not None:
                return found
        if len(expected) != len(actual):
            return f"len({path})", len(expected), len(actual)
        return None
    if equal(expected, actual):
        return None
    return path, expected, actual


def equal(expected: Any, actual: Any) -> bool:
    """``==``, and tuples equal to lists (text serializers store tuples as lists)."""
    try:
        if bool(expected == actual):
            return True
        return bool(_lists(expected) == _lists(actual))
    except Exception:  # noqa: BLE001 - an __eq__ that raises is a mismatch, not a crash
        return False


def _lists(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_lists(item) for item in value]
    if isinstance(value, dict):
        return {key: _lists(item) for key, item in value.items()}
    return value


def _multiline(value: Any) -> bool:
    return isinstance(value, str) and "\n" in value


def _diff(expected: str, actual: str) -> str:
    lines = difflib.unified_diff(
        expected.splitlines(), actual.splitlines(), "recorded", "replayed", lineterm="", n=3
    )
    return "\n".join(lines)
