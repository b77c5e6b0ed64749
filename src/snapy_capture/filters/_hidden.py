"""A snapshot's reduction of an object that pickles itself, with the attributes it may hide.

The synchronous filter judges an object whose class pickles itself (its own ``__reduce__``, or
a ``__getstate__`` that packs, renames or encodes its attributes) by the names of the
attributes pickle's default would read (``_objects.visit_opaque`` / ``visit_by_state``): a
``password`` there replaces the object whole, whatever shape its reduction gives the secret.
An async snapshot is filtered on the writer's thread from the pickle alone, where those names
are gone. So the snapshot's picklers write such an object as its own reduction whose state
also carries those attributes, read as ``_objects._attribute`` reads them (no host code):
``(ASIDE, state, by_state, unset, instance_dict, slot_values, class_name)``. The inert
copy the writer reads keeps them aside (``Inert.hidden``, never pickled: what is stored is
what the object's own reduction gives), and the filter judges them as it judges the live
object's. The state is written after the object is memoized, so a cycle through an attribute
loads as one.

Hooked as the picklers' ``dispatch_table`` (:class:`Reducers`), decided once per type: the C
pickler looks it up only for objects that are not its built-in atoms and containers, and a
plain class gets a C callable that does what pickle does without it (``__reduce_ex__`` with
the protocol). A pickler with a ``dispatch_table`` no longer reads ``copyreg``'s, so its
entries are taken from there, and a class of a metaclass is pickled by name, as pickle does.
An object the filters never store (a lock) is written as the stand-in the objects pickler
writes for it (``_inert.snapshot_reduction``).
"""

from __future__ import annotations

import copyreg
import pickle
import types
from collections.abc import Callable
from operator import methodcaller

from snapy_capture.filters._inert import (
    ASIDE,
    ON_LOAD,
    Inert,
    is_safe,
    snapshot_reduction,
    snapshot_reductions,
    with_attributes,
)
from snapy_capture.filters._pickled import (
    FORGET_CLASS,
    plain_pickling,
    slot_names,
    state_pickling,
)
from snapy_capture.filters._unstorable import type_reason

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from typing import Any, Final

    _ByType = dict[type, Callable[[Any], Any]]
else:
    _ByType = dict  # typing's parameters only for the checker: no Any at run time

__all__ = ["REDUCERS", "Reducers"]

_NEWOBJ: Final = copyreg.__newobj__  # type: ignore[attr-defined]
_NEWOBJ_EX: Final = copyreg.__newobj_ex__  # type: ignore[attr-defined]
_MAX_KINDS: Final = 4096
_known_reductions: Final = snapshot_reductions.get

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


class Reducers(_ByType):
    """A snapshot pickler's ``dispatch_table``: each type's reducer, chosen once."""

    __slots__ = ("copyreg_size", "protocol")

    def __init__(self, protocol: int) -> None:
        super().__init__()
        self.protocol = protocol
        #: How many reducers ``copyreg`` held when these were chosen (see ``current``).
        self.copyreg_size = len(copyreg.dispatch_table)

    def current(self) -> None:
        """Forget the reducers chosen when ``copyreg`` registered one more since (a class can
        be registered after its instances were pickled). Checked as snapshots are read, not
        as they are taken (a call's cost): a snapshot taken meanwhile pickles such an object
        as its class would without it, attributes and all, which the filters judge."""
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
    stand_in = snapshot_reduction(kind)
    if stand_in is not NotImplemented:
        # Never stored (a lock, a socket...): its class's stand-in, as the objects pickler
        # writes it, rather than a failed pickling (an attribute set aside holds one often).
        return lambda value: stand_in
    base = registered if registered is not None else methodcaller("__reduce_ex__", protocol)
    if not hides(kind):
        return base
    return _aside(kind, base)


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


def _aside(kind: type, base: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """The reducer of one class that pickles itself (see the module's docstring)."""
    # Read once: a class's slots are fixed when it is made.
    slots = slot_names(kind)
    #: Filtered by its state when that is a dict of attributes (``visit_by_state``).
    by_state = state_pickling(kind)
    getattribute = object.__getattribute__
    name = str(type.__getattribute__(kind, "__qualname__"))  # as type_name reads it

    def reduce(value: Any) -> Any:
        # Called per object of the class in every snapshot: the common case first, the
        # checks few (what pickle itself refuses is returned for it to refuse).
        reduced = base(value)
        if type(reduced) is not tuple:
            return reduced  # a global's name
        try:
            instance_dict = getattribute(value, "__dict__")
        except AttributeError:
            instance_dict = None
        else:
            if type(instance_dict) is not dict:
                # A dict subclass set as __dict__ is read by dict's own copy (none of its
                # methods run): pickle's default would store its attributes all the same.
                # Another mapping is not read (host code).
                kind_of_dict = type(instance_dict)
                instance_dict = dict.copy(instance_dict) if issubclass(kind_of_dict, dict) else None
            if not instance_dict:
                instance_dict = None  # empty
        unset = 0
        slot_values = None
        if slots:
            slot_values, unset = _slot_values(value, slots, instance_dict)
        elif instance_dict is None:
            return reduced
        size = len(reduced)
        if size < 2 or type(reduced[1]) is not tuple or (size > 5 and reduced[5] is not None):
            if size > 5 and (instance_dict or slot_values):
                # A state setter, which a copy does not model: the caller filters it instead.
                raise pickle.PicklingError("a reduction with a state setter")
            return reduced
        func, args = reduced[0], reduced[1]
        state = reduced[2] if size > 2 else None
        stored = None
        if by_state:
            stored = state if type(state) is dict else _stored(state)
        if stored is not None:
            # Only those the state does not hold as themselves, as visit_by_state judges.
            instance_dict, slot_values = _missing(stored, instance_dict, slot_values)
        if not instance_dict and not slot_values:
            return reduced
        named = None  # the class, when the copy does not tell it: a placeholder names it
        if func is _NEWOBJ or func is _NEWOBJ_EX:
            if not args:
                return reduced  # pickle refuses it
            if args[0] is not type(value):
                # Rebuilt as another class (which an object's own ``__class__`` may claim,
                # for pickle's check): its copy does not tell this one's class.
                named = name
        elif func is not kind:
            named = name
            if func is getattr or is_safe(func):
                # Rebuilt for real when a snapshot is read, then given no state: a copy.
                func, args = with_attributes, (func, *args)
        aside = (ASIDE, state, stored is not None, unset, instance_dict, slot_values, named)
        if size == 2:
            return (func, args, aside)
        return (func, args, aside, *reduced[3:5])

    return reduce


def _slot_values(
    value: Any, slots: tuple[tuple[str, bool], ...], instance_dict: dict[Any, Any] | None
) -> tuple[list[tuple[str, Any]], int]:
    """The set slots pickle's default would read (not those the instance dict also names),
    ``(name, value)``, and how many are unset."""
    found: list[tuple[str, Any]] = []
    unset = 0
    for name, _ in slots:
        if instance_dict is not None and name in instance_dict:
            continue
        try:
            found.append((name, object.__getattribute__(value, name)))
        except AttributeError:
            unset += 1  # not stored either, but counted as the filters count it
    return found, unset


def _missing(
    stored: dict[Any, Any],
    instance_dict: dict[Any, Any] | None,
    slot_values: list[tuple[str, Any]] | None,
) -> tuple[dict[Any, Any] | None, list[tuple[str, Any]] | None]:
    """The attributes ``stored`` does not hold as themselves (by identity, here where it is
    known: a copy loses it for numbers). One that the filters never store (what a state
    leaves out is most often a lock) is sent as ``(ASIDE, key)``, read back as its stand-in
    (``unstorable_copy(key)``) without the global the stand-in's reduction names, which
    costs a snapshot a lookup (~1 µs)."""
    missing = None
    if instance_dict is not None:
        for name, item in instance_dict.items():  # an exact dict: no host code
            if name in stored and stored[name] is item:
                continue
            if missing is None:
                missing = {}
            stand_in = _known_reductions(type(item))
            missing[name] = (ASIDE, stand_in[1][0]) if type(stand_in) is tuple else item
    missing_slots = None
    if slot_values:
        missing_slots = []
        for name, item in slot_values:
            if name in stored and stored[name] is item:
                continue
            stand_in = _known_reductions(type(item))
            missing_slots.append(
                (name, (ASIDE, stand_in[1][0]) if type(stand_in) is tuple else item)
            )
    return missing, missing_slots


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
FORGET_CLASS.append(lambda kind: REDUCERS.pop(kind, None))
ON_LOAD.append(REDUCERS.current)
