"""A snapshot's reduction of an object that pickles itself, with the attributes it may hide.

The synchronous filter judges an object whose class pickles itself (its own ``__reduce__``, or
a ``__getstate__`` that packs, renames or encodes its attributes) by the names of the
attributes pickle's default would read (``_objects.visit_opaque`` / ``visit_by_state``): a
``password`` there replaces the object whole, whatever shape its reduction gives the secret.
An async snapshot is filtered on the writer's thread from the pickle alone, where those names
are gone. So the snapshot's picklers write such an object as its own reduction plus those
attributes, read as ``_objects._attribute`` reads them (no host code): the state becomes
``(state, (by_state, count, [(name, is_slot, value), ...]))`` and the callable
:func:`~._inert.with_attributes`, whose copy keeps the attributes aside (``Inert.hidden``,
never pickled: what is stored is what the object's own reduction gives). The state comes after
the object is memoized, so a cycle through an attribute loads as one.

Hooked as the picklers' ``dispatch_table`` (:class:`Reducers`), decided once per type: the C
pickler looks it up only for objects that are not its built-in atoms and containers, and a
plain class gets a C callable that does what pickle does without it (``__reduce_ex__`` with
the protocol). A pickler with a ``dispatch_table`` no longer reads ``copyreg``'s, so its
entries are taken from there, and a class of a metaclass is pickled by name, as pickle does.
"""

from __future__ import annotations

import copyreg
import dataclasses
import pickle
import types
from collections.abc import Callable
from operator import methodcaller
from typing import Any, Final

from snapy_capture.filters._inert import Inert, is_safe, with_attributes
from snapy_capture.filters._pickled import plain_pickling, slot_names, state_pickling
from snapy_capture.filters._unstorable import type_reason

__all__ = ["REDUCERS", "Reducers"]

_NEWOBJ: Final = copyreg.__newobj__  # type: ignore[attr-defined]
_NEWOBJ_EX: Final = copyreg.__newobj_ex__  # type: ignore[attr-defined]
_MAX_KINDS: Final = 4096

#: Instances the filters never judge by their attributes' names: text, bytes, the built-in
#: containers' subclasses (item by item), what is stored by reference, bound methods.
_NOT_JUDGED: Final = (
    str,
    bytes,
    bytearray,
    tuple,
    list,
    dict,
    set,
    frozenset,
    type,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.MethodDescriptorType,
    types.WrapperDescriptorType,
)


def _global_name(cls: Any) -> Any:
    """A class of a metaclass: pickled by its name, as ``save_global`` reads it."""
    try:
        return cls.__qualname__
    except AttributeError:
        return cls.__name__


class Reducers(dict[type, Callable[[Any], Any]]):
    """A snapshot pickler's ``dispatch_table``: each type's reducer, chosen once."""

    __slots__ = ("copyreg_size", "protocol")

    def __init__(self, protocol: int) -> None:
        super().__init__()
        self.protocol = protocol
        #: How many reducers ``copyreg`` held when these were chosen (see ``current``).
        self.copyreg_size = len(copyreg.dispatch_table)

    def current(self) -> None:
        """Forget the reducers chosen when ``copyreg`` registers one more (a class can be
        registered after its instances were pickled)."""
        if len(copyreg.dispatch_table) != self.copyreg_size:
            self.clear()
            self.copyreg_size = len(copyreg.dispatch_table)

    def __missing__(self, kind: type) -> Callable[[Any], Any]:
        reducer = reducer_for(kind, self.protocol)
        if len(self) < _MAX_KINDS:
            self[kind] = reducer
        return reducer


def reducer_for(kind: type, protocol: int) -> Callable[[Any], Any]:
    """How a snapshot pickles an instance of ``kind``: as pickle would, beside the attributes
    pickle's default would read when the filters judge them by name (``hides``)."""
    registered = copyreg.dispatch_table.get(kind)
    if registered is None and issubclass(kind, type):
        return _global_name
    base = registered if registered is not None else methodcaller("__reduce_ex__", protocol)
    if not hides(kind):
        return base
    return _AttributesAside(kind, base).reduce


def hides(kind: type) -> bool:
    """Whether the filters judge an instance of ``kind`` by the names of attributes its own
    reduction may not store as themselves: a class that pickles itself (not plainly), whose
    instances have attributes; not one they store item by item, by reference, as a standard
    value (``SAFE``: rebuilt for real), or never (unstorable)."""
    if kind is Inert or issubclass(kind, _NOT_JUDGED) or plain_pickling(kind) or is_safe(kind):
        return False
    reason = type_reason(kind, ())
    if reason is not None and reason.startswith("unstorable:"):
        return False
    return type.__getattribute__(kind, "__dictoffset__") != 0 or bool(slot_names(kind))


class _AttributesAside:
    """The reducer of one class that pickles itself (see the module's docstring)."""

    __slots__ = ("base", "by_state", "fields", "slots")

    def __init__(self, kind: type, base: Callable[[Any], Any]) -> None:
        self.base = base
        self.slots = slot_names(kind)
        # Read once: a class's fields and slots are fixed when it is made.
        self.fields: tuple[str, ...] = ()
        if dataclasses.is_dataclass(kind):
            self.fields = tuple(field.name for field in dataclasses.fields(kind))
        #: Filtered by its state when that is a dict of attributes (``visit_by_state``).
        self.by_state = state_pickling(kind)

    def reduce(self, value: Any) -> Any:
        reduced = self.base(value)
        if type(reduced) is not tuple or len(reduced) < 2 or type(reduced[1]) is not tuple:
            return reduced  # a global's name, or what pickle itself refuses
        count, attributes = self.attributes(value)
        if not attributes:
            return reduced
        state = reduced[2] if len(reduced) > 2 else None
        by_state = False
        if self.by_state:
            stored = _stored(state)
            if stored is not None:
                # Only those the state does not hold as themselves, as visit_by_state judges.
                by_state = True
                missing = [
                    entry
                    for entry in attributes
                    if not (entry[0] in stored and stored[entry[0]] is entry[2])
                ]
                count -= len(attributes) - len(missing)
                attributes = missing
                if not attributes:
                    return reduced
        func, args = reduced[0], reduced[1]
        if (func is _NEWOBJ or func is _NEWOBJ_EX) and (not args or args[0] is not type(value)):
            return reduced  # pickle's own check of the class decides
        if len(reduced) > 5 and reduced[5] is not None:
            # A state setter, which a copy does not model: the caller filters it instead.
            raise pickle.PicklingError("a reduction with a state setter")
        return (
            with_attributes,
            (func, *args),
            (state, (by_state, count, attributes)),
            reduced[3] if len(reduced) > 3 else None,
            reduced[4] if len(reduced) > 4 else None,
        )

    def attributes(self, value: Any) -> tuple[int, list[tuple[str, bool, Any]]]:
        """How many attributes pickle's default would read (``_pickled.attribute_names``),
        and the set ones, ``(name, is_slot, value)``, in the order the filters visit them."""
        try:
            instance_dict = object.__getattribute__(value, "__dict__")
        except AttributeError:
            instance_dict = None
        attributes: list[tuple[str, bool, Any]] = []
        if isinstance(instance_dict, dict):
            attributes = [
                (key if type(key) is str else str.__str__(key), False, item)
                for key, item in dict.items(instance_dict)
                if isinstance(key, str)
            ]
        count = len(attributes)
        if self.slots:
            seen = {entry[0] for entry in attributes}
            for name, _ in self.slots:
                if name in seen:
                    continue
                count += 1
                try:
                    attributes.append((name, True, object.__getattribute__(value, name)))
                except AttributeError:
                    continue  # an unset slot is not stored either
        if self.fields and attributes:
            # A dataclass's fields first, as visit_object orders them.
            order = {name: index for index, name in enumerate(self.fields)}
            last = len(order)
            attributes.sort(key=lambda entry: order.get(entry[0], last))
        return count, attributes


def _stored(state: Any) -> dict[Any, Any] | None:
    """The attributes a state holds by name (``visit_by_state``), or ``None``."""
    if type(state) is dict:
        return state
    if (
        type(state) is tuple
        and len(state) == 2
        and all(part is None or type(part) is dict for part in state)
    ):
        return {**(state[0] or {}), **(state[1] or {})}
    return None


#: The reducers of the snapshot picklers (``capture._context.Slot``), shared by every thread.
REDUCERS: Final = Reducers(pickle.HIGHEST_PROTOCOL)
