"""The traversal behind :class:`~snapy_capture.filters.ArgumentFilter`: one argument at a time.

Copy-on-write: a value with nothing to filter is returned as the same object; a container
with a filtered item is copied (shallowly, along the path to the item), never mutated. A cycle
that reaches an object still being visited restarts the argument in copying mode, where every
container is copied before its items are visited, so a back-reference can only ever lead to
the copy, never to the unfiltered original.

What pickle stores for an object is what its ``__reduce_ex__`` returns. Objects that pickle
plainly (their ``__dict__`` / ``__slots__``) are filtered attribute by attribute and copied.
For any other object (``functools.partial``, bound methods, exceptions, ``deque``, classes
with ``__reduce__`` or ``__getstate__``...) the reduced form is inspected too, and if anything
in it would be filtered the whole object is replaced by a placeholder: rebuilding it would
mean running its code with placeholders in it.
"""

from __future__ import annotations

import copyreg
import dataclasses
import datetime
import decimal
import fractions
import types
import uuid
from typing import TYPE_CHECKING, Any, Final

from ._names import pair_key
from ._pickled import (
    attribute_names,
    copy_object,
    materialized,
    plain_pickling,
    set_attribute,
    type_name,
)
from ._redacted import Redacted

if TYPE_CHECKING:
    from .filters import ArgumentFilter

__all__ = ["filter_argument"]

#: Ints beyond this size are checked for card numbers; smaller ones cannot be one.
CARD_INT_MIN: Final = 10**11
ATOMIC: Final = frozenset({float, complex, bool, type(None), type(Ellipsis)})
#: Types whose pickled form is their value and holds nothing a name or pattern could match.
LEAVES: Final = frozenset(
    {
        datetime.datetime,
        datetime.date,
        datetime.time,
        datetime.timedelta,
        datetime.timezone,
        decimal.Decimal,
        fractions.Fraction,
        uuid.UUID,
        range,
        slice,
    }
)
#: Stored by reference (a qualified name), so nothing of their state reaches the disk.
_BY_REFERENCE: Final = (
    type,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodDescriptorType,
    types.WrapperDescriptorType,
)
_BUILTIN_CONTAINERS: Final = frozenset({dict, list, tuple, set, frozenset})


class _Restart(Exception):
    """A cycle reached an object still being filtered: redo the argument in copying mode."""


def filter_argument(
    flt: ArgumentFilter, path: str, name: str | None, value: Any, report: list[dict[str, str]]
) -> Any:
    """Filter one argument, appending to ``report``; never raises (fails closed)."""
    kind = type(value)
    if (kind in ATOMIC or (kind is int and -CARD_INT_MIN < value < CARD_INT_MIN)) and not (
        flt.custom_filters or (name is not None and flt.sensitive_pattern(name) is not None)
    ):
        return value  # the common case, without setting up a walk
    mark = len(report)
    try:
        try:
            return _Walk(flt, report, copying=False).visit(path, name, value, 0)
        except _Restart:
            del report[mark:]
            return _Walk(flt, report, copying=True).visit(path, name, value, 0)
    except Exception as exc:  # noqa: BLE001 - fail closed: what we cannot inspect is not stored
        del report[mark:]
        report.append({"path": path, "reason": f"error:{type(exc).__name__}"})
        return Redacted(f"could not be inspected: {type_name(value)}")


#: A report path, built lazily: the root's name, or ``(parent, how, what)``; only rendered to
#: text when something is filtered, so clean arguments never pay for formatting it.
Path = str | tuple[Any, Any, Any]


def _render(path: Path) -> str:
    parts = []
    while isinstance(path, tuple):
        parent, how, what = path
        if how == ".":
            parts.append(f".{what}")
        elif how == "[]":
            parts.append(f"[{what}]")
        elif how == "#":
            parts.append(f"[#{what}]")
        else:  # a dict item: ``how`` is its (already filtered) key, ``what`` its position
            parts.append(f"[{_label(how, what)}]")
        path = parent
    return path + "".join(reversed(parts))


def _label(key: Any, index: int) -> str:
    """A report path component for a dict key: its (already filtered) text, or its position."""
    if isinstance(key, str):
        text = str.__str__(key)
        return repr(text if len(text) <= 40 else text[:40] + "...")
    if type(key) in (int, float, bool) or key is None:
        return repr(key)
    return f"#{index}"


class _Walk:
    """One traversal of one argument (copy-on-write, or copying when a cycle needs it)."""

    __slots__ = ("copying", "flt", "in_progress", "memo", "report")

    def __init__(self, flt: ArgumentFilter, report: list[dict[str, str]], *, copying: bool):
        self.flt = flt
        self.report = report
        self.copying = copying
        self.memo: dict[int, tuple[Any, Any]] = {}
        self.in_progress: set[int] = set()

    def redact(self, path: Path, reason: str) -> Redacted:
        self.report.append({"path": _render(path), "reason": reason})
        return Redacted(reason)

    def visit(
        self, path: Path, name: str | None, value: Any, depth: int, custom: bool = True
    ) -> Any:
        flt = self.flt
        kind = type(value)
        if kind is Redacted:
            return value  # already a placeholder: keeps refiltering idempotent
        if name is not None and (pattern := flt.sensitive_pattern(name)) is not None:
            return self.redact(path, f"name:{pattern}")
        if custom and flt.custom_filters:
            for func in flt.custom_filters:
                replaced = func(_render(path), name, value)
                if replaced is not value:
                    self.report.append({"path": _render(path), "reason": "custom"})
                    if isinstance(replaced, Redacted):
                        return replaced
                    return self.visit(path, None, replaced, depth, custom=False)
        if kind in ATOMIC:
            return value
        if kind is int:
            if -CARD_INT_MIN < value < CARD_INT_MIN or not flt.filter_pii:
                return value
            return self.redact(path, "pii") if flt.contains_pii(value) else value
        if kind is str:
            return self.visit_str(path, value)
        if kind is bytes or kind is bytearray:
            return self.visit_bytes(path, value)
        if kind is decimal.Decimal and flt.filter_pii and flt.contains_pii(value):
            return self.redact(path, "pii")  # a card number held in a Decimal
        if kind in LEAVES:
            return value
        if depth >= flt.max_depth:
            return self.redact(path, f"depth>{flt.max_depth}")
        if (reason := flt.unstorable_reason(value)) is not None:
            return self.redact(path, reason)
        if isinstance(value, str):
            return self.visit_str(path, value)
        if isinstance(value, (bytes, bytearray)):
            return self.visit_bytes(path, value)
        key = id(value)
        if key in self.memo:
            return self.memo[key][1]
        if key in self.in_progress:
            if not self.copying:
                raise _Restart
            # Containers and objects are memoized before their items are visited, so only an
            # immutable container (a tuple) or an opaque object can be met again here.
            return self.redact(path, "cycle")
        self.in_progress.add(key)
        try:
            result = self.visit_container(path, value, depth + 1)
        finally:
            self.in_progress.discard(key)
        self.memo[key] = (value, result)
        return result

    # --- leaves ---------------------------------------------------------------------------

    def visit_str(self, path: Path, value: str) -> Any:
        flt = self.flt
        if flt.max_size is not None and len(value) > flt.max_size:
            return self.redact(path, f"size:str of {len(value)} characters")
        if flt.filter_pii and flt.contains_pii(value):
            return self.masked(path, value)
        return value

    def masked(self, path: Path, text: str) -> str:
        self.report.append({"path": _render(path), "reason": "pii"})
        masked = self.flt.mask_pii(text)
        # A subclass's contains_pii may see what pii_patterns cannot mask: fail closed.
        if masked == text or self.flt.contains_pii(masked):
            return Redacted("pii")
        return masked

    def visit_bytes(self, path: Path, value: bytes | bytearray) -> Any:
        flt = self.flt
        if flt.max_size is not None and len(value) > flt.max_size:
            return self.redact(path, f"size:{type(value).__name__} of {len(value)} bytes")
        if flt.filter_pii:
            # latin-1 maps every byte to one character, so spans map back byte for byte.
            text = bytes(value).decode("latin-1")
            if flt.contains_pii(text):
                masked = self.masked(path, text)
                if isinstance(masked, Redacted):
                    return masked
                data = masked.encode("latin-1")
                return bytearray(data) if isinstance(value, bytearray) else data
        return value

    # --- containers and objects -----------------------------------------------------------

    def too_big(self, path: Path, value: Any) -> Redacted | None:
        limit = self.flt.max_size
        if limit is not None and len(value) > limit:
            return self.redact(path, f"size:{type_name(value)} of {len(value)} items")
        return None

    def visit_container(self, path: Path, value: Any, depth: int) -> Any:
        kind = type(value)
        if isinstance(value, dict):
            result = self.too_big(path, value) or self.visit_dict(path, value, depth)
        elif isinstance(value, (list, tuple, set, frozenset)):
            result = self.too_big(path, value) or self.visit_sequence(path, value, depth)
        elif isinstance(value, _BY_REFERENCE):
            return value
        else:
            return self.visit_object(path, value, depth)
        if kind in _BUILTIN_CONTAINERS or isinstance(result, Redacted):
            return result
        return self.visit_extra(path, value, result, depth)

    def visit_key(self, path: Path, key: Any, index: int, depth: int) -> tuple[Any, str | None]:
        """The key to store (masked when secret-shaped) and the name its value is checked by."""
        flt = self.flt
        if isinstance(key, (str, bytes)):
            is_text = isinstance(key, str)
            if isinstance(key, str):
                text = name = str.__str__(key)
            else:
                text, name = bytes(key).decode("latin-1"), bytes(key).decode("utf-8", "replace")
            if flt.filter_pii and flt.contains_pii(text):
                masked = self.masked((path, "#", index), text)
                if isinstance(masked, Redacted):
                    return Redacted(f"key #{index}"), name
                return (masked if is_text else masked.encode("latin-1")), name
            return key, name
        new = self.visit((path, "#", index), None, key, depth)
        if new is not key:
            try:
                hash(new)
            except TypeError:
                return Redacted(f"key #{index}"), None
        return new, None

    def visit_dict(self, path: Path, value: dict[Any, Any], depth: int) -> Any:
        out: dict[Any, Any] | None = None
        if self.copying:
            out = self.empty_like(value)
            self.memo[id(value)] = (value, out)
        items = list(value.items())
        for index, (key, item) in enumerate(items):
            new_key, name = self.visit_key(path, key, index, depth)
            new = self.visit((path, new_key, index), name, item, depth)
            if out is None and (new is not item or new_key is not key):
                out = self.empty_like(value)
                for done_key, done_item in items[:index]:
                    out[done_key] = done_item
            if out is not None:
                if new_key is not key and new_key in out:
                    new_key = Redacted(f"key #{index}")
                out[new_key] = new
        return value if out is None else out

    def empty_like(self, value: dict[Any, Any]) -> dict[Any, Any]:
        if type(value) is dict:
            return {}
        duplicate = copy_object(value)
        dict.clear(duplicate)
        return duplicate  # type: ignore[no-any-return]

    def visit_sequence(self, path: Path, value: Any, depth: int) -> Any:
        kind = type(value)
        fields = getattr(kind, "_fields", None) if isinstance(value, tuple) else None
        items = list(tuple.__iter__(value) if isinstance(value, tuple) else value)
        # ("password", pw): the second item of a pair is checked by the name the first gives.
        key = pair_key(value, items)
        if key is not None and self.flt.sensitive_pattern(key) is not None:
            fields = (None, key)
        early: list[Any] | None = None
        if self.copying and isinstance(value, list):
            # Memoized before the items, so a list that contains itself contains the copy.
            early = [] if kind is list else copy_object(value)
            list.clear(early)
            self.memo[id(value)] = (value, early)
        changed = False
        new_items = []
        for index, item in enumerate(items):
            name = fields[index] if isinstance(fields, tuple) and index < len(fields) else None
            named = isinstance(name, str) and key is None  # a pair's items keep their index
            where = (path, ".", name) if named else (path, "[]", index)
            new = self.visit(where, name if isinstance(name, str) else None, item, depth)
            changed = changed or new is not item
            new_items.append(new)
        if early is not None:
            list.extend(early, new_items)
            return early
        if not changed:
            return value
        if kind is list:
            return new_items
        if isinstance(value, list):
            duplicate = copy_object(value)
            list.__setitem__(duplicate, slice(None), new_items)
            return duplicate
        if isinstance(value, tuple):
            # tuple.__new__ skips a namedtuple's own __new__: no user code with placeholders.
            return tuple(new_items) if kind is tuple else tuple.__new__(kind, new_items)
        if kind in (set, frozenset):
            return kind(new_items)
        if isinstance(value, frozenset):
            return frozenset.__new__(kind, new_items)
        duplicate = copy_object(value)
        set.clear(duplicate)
        set.update(duplicate, new_items)
        return duplicate

    def visit_attributes(
        self, path: Path, value: Any, names: list[tuple[str, bool]], depth: int
    ) -> dict[str, tuple[bool | str, Any]]:
        """Filter the named attributes of ``value``; returns the changed ones.

        Each change is ``(True, new)`` for a slot, ``(False, new)`` for an instance-dict
        attribute, or ``(new_name, new)`` for one whose name itself had to be masked.
        """
        try:
            instance_dict = object.__getattribute__(value, "__dict__")
        except AttributeError:
            instance_dict = {}
        changes: dict[str, tuple[bool | str, Any]] = {}
        for index, (attr, is_slot) in enumerate(names):
            if is_slot:
                try:
                    item = object.__getattribute__(value, attr)
                except AttributeError:
                    continue  # an unset slot is not stored either
                new = self.visit((path, ".", attr), attr, item, depth)
                if new is not item:
                    changes[attr] = (True, new)
                continue
            item = instance_dict[attr]
            # __dict__ keys are stored like dict keys: a secret-shaped one is masked (renamed).
            new_name, _ = self.visit_key(path, attr, index, depth)
            where = (path, ".", new_name)
            new = self.visit(where, attr, item, depth)
            if new is not item or new_name is not attr:
                changes[attr] = (False, new) if new_name is attr else (str(new_name), new)
        return changes

    def visit_extra(self, path: Path, value: Any, result: Any, depth: int) -> Any:
        """Instance attributes of a dict/list/tuple/set subclass, which pickle stores too."""
        names = attribute_names(value)
        changes = self.visit_attributes(path, value, names, depth) if names else {}
        if changes and type(result) is type(value):
            if result is value:
                result = copy_object(value)
            for attr, (is_slot, new) in changes.items():
                set_attribute(result, attr, is_slot, new)
        return self.check_reduced(path, value, result, depth)

    def visit_object(self, path: Path, value: Any, depth: int) -> Any:
        kind = type(value)
        names = attribute_names(value)
        if dataclasses.is_dataclass(value):
            # Fields first, by name, even when they are not in __dict__ (slots, properties).
            known = dict(names or ())
            fields = [(f.name, known.get(f.name, False)) for f in dataclasses.fields(value)]
            names = fields + [item for item in names or () if item[0] not in dict(fields)]
        if not plain_pickling(kind):
            return self.visit_opaque(path, value, names, depth)
        if names is None:
            return value  # pickle stores nothing but the class
        duplicate = None
        if self.copying:
            duplicate = copy_object(value)
            self.memo[id(value)] = (value, duplicate)
        changes = self.visit_attributes(path, value, names, depth)
        result = value if duplicate is None else duplicate
        if changes:
            if duplicate is None:
                result = copy_object(value)
            for attr, (is_slot, new) in changes.items():
                set_attribute(result, attr, is_slot, new)
        return result

    def visit_opaque(
        self, path: Path, value: Any, names: list[tuple[str, bool]] | None, depth: int
    ) -> Any:
        """An object pickled by its own ``__reduce__``: kept whole, or replaced whole."""
        mark = len(self.report)
        if names:
            self.visit_attributes(path, value, names, depth)
        self.check_reduced(path, value, value, depth)
        if len(self.report) > mark:
            del self.report[mark:]
            return self.redact(path, f"opaque:{type_name(value)} holds filtered data")
        return value

    def check_reduced(self, path: Path, value: Any, result: Any, depth: int) -> Any:
        """Visit what pickle would store for ``result``; every filtered part is reported."""
        kind = type(value)
        if kind in _BUILTIN_CONTAINERS or plain_pickling(kind):
            return result
        try:
            reducer = copyreg.dispatch_table.get(kind)
            reduced = reducer(result) if reducer is not None else result.__reduce_ex__(4)
        except Exception:  # noqa: BLE001 - pickle would fail on it too: do not store it
            return self.redact(path, f"unpicklable:{type_name(value)}")
        if isinstance(reduced, str) or not isinstance(reduced, tuple):
            return result  # a global, stored by its name
        mark = len(self.report)
        for index, part in enumerate(materialized(reduced)):
            self.visit((path, "[]", index), None, part, depth)
        if len(self.report) > mark:
            # Rebuilding it would run its own code with placeholders inside: replace it whole.
            # (A result filtered already reports nothing here: placeholders are not refiltered.)
            del self.report[mark:]
            return self.redact(path, f"opaque:{type_name(value)} holds filtered data")
        return result
