"""Inert copies of host objects: what pickle stores for one, held as data, none of its code run.

Capture must never run an object's reconstruction code in the host process: unpickling an
argument's snapshot would call its ``__reduce__`` factory, its class's ``__new__`` and
``__setstate__``, and later its ``__del__`` (a singleton's getter reverted its live state; an
object pickled as ``(connect, (dsn,))`` opened a connection per captured call). So copies are
never rebuilt as the host's classes:

* :func:`inert_loads` unpickles a snapshot taken on the caller's thread. Containers and a short
  list of standard types whose construction runs only the standard library (:data:`SAFE`) are
  rebuilt; every other object becomes an :class:`Inert`: its reduce callable, arguments, state
  and items as plain data. Globals are resolved from modules already imported, never imported.
* :meth:`Inert.of` takes a live object's reduced form (what ``pickle`` itself would call), so
  the filters can replace an attribute or an item without copying the host's object.

Pickled again, an :class:`Inert` writes exactly what the object itself would have written
(``__reduce_ex__`` returns the original parts, ``__class__`` the original class, as the
pickler's ``__newobj__`` check wants), so a capture loads in a test process as the real object.
"""

from __future__ import annotations

import collections
import copyreg
import io
import pickle
import sys
from collections.abc import Iterable

from snapy_capture._stdtypes import datetime, is_path_type
from snapy_capture.filters._redacted import Redacted
from snapy_capture.filters._unstorable import imported_type, type_reason

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Final
else:  # for typing.get_type_hints of the public names (see there)
    from snapy_capture._stdtypes import for_readers

    for_readers(globals(), {"Any": "typing:Any"})

__all__ = [
    "ASIDE",
    "ON_LOAD",
    "SAFE",
    "Inert",
    "inert_loads",
    "is_safe",
    "resolves_as",
    "snapshot_reduction",
    "snapshot_reductions",
    "with_attributes",
]

_NEWOBJ: Final = copyreg.__newobj__  # type: ignore[attr-defined]
_NEWOBJ_EX: Final = copyreg.__newobj_ex__  # type: ignore[attr-defined]

#: The classes a snapshot stands in for (see :func:`snapshot_reduction`), by ``id``: a
#: snapshot is read back in the process that took it.
_unstorable_kinds: dict[int, type] = {}


def unstorable_copy(key: int) -> Any:
    """What a snapshot's stand-in for an unstorable object reads back as: an :class:`Inert`
    of its class and nothing else, which the filters replace by their ``unstorable``
    placeholder (judging it by that class, as they judge the live object)."""
    kind = _unstorable_kinds.get(key)
    if kind is None:  # not taken by this process: cannot happen, but never guess a class
        return Redacted("unstorable:object")
    return Inert(_NEWOBJ, (kind,))


#: The first item of a snapshot's state that carries an object's attributes beside its own
#: state (``_hidden``): ``(ASIDE, state, by_state, unset, instance_dict, slot_values,
#: class_name)``. Bytes, not a global: a global costs each snapshot naming it a lookup
#: (~1 µs); memoized, it is written once per snapshot. No host's state is a 7-tuple opening
#: with it.
ASIDE: Final = b"\x00snapy-aside\x00"


def with_attributes(func: Any, *args: Any) -> Inert:
    """A copy of ``func(*args)`` never rebuilt for real (see ``_hidden``): for an object that
    pickles itself as a standard type or method would be (``SAFE``), which its state, with
    its attributes aside (:data:`ASIDE`), could not be given."""
    return Inert(func, args)


#: Globals a snapshot may really call while it is unpickled: types whose construction runs
#: only the interpreter's or the standard library's code, never the host's (and those of
#: :data:`_LATE_SAFE` and pathlib's, once their modules are imported).
SAFE: Final[frozenset[Any]] = frozenset(
    {
        unstorable_copy,
        with_attributes,
        set,
        frozenset,
        bytearray,
        bytes,
        complex,
        slice,
        range,
        collections.OrderedDict,
        collections.deque,
        collections.Counter,
        datetime.datetime,
        datetime.date,
        datetime.time,
        datetime.timedelta,
        datetime.timezone,
        Redacted,
    }
)
_SAFE_IDS: Final = {id(kind): kind for kind in SAFE}
#: Safe types of modules this one does not import (``decimal.Decimal``, ``uuid.UUID``,
#: ``fractions.Fraction``, ``zoneinfo.ZoneInfo``: they cost a capturing process's start-up
#: ~4 ms), with the methods
#: of theirs their own pickles call (see :data:`_SAFE_ATTRIBUTES`). A snapshot names only
#: globals of modules imported already, so each is as safe as the others once its module is
#: imported, and joins :data:`_SAFE_IDS` then (:func:`_late_safe`).
_LATE_SAFE: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "decimal": ("Decimal", ()),
    "uuid": ("UUID", ()),
    "fractions": ("Fraction", ()),
    "zoneinfo": ("ZoneInfo", ("_unpickle",)),
}

#: Called as a snapshot is read, off the caller's thread (``_hidden`` checks there whether
#: ``copyreg`` registered a reducer since its picklers chose theirs).
ON_LOAD: Final[list[Callable[[], object]]] = []

#: :func:`snapshot_reduction`'s answers by type; bounded (a program may make classes forever).
snapshot_reductions: dict[type, Any] = {}
_MAX_KINDS: Final = 4096


def snapshot_reduction(kind: type) -> Any:
    """How a snapshot pickles an object of type ``kind``: ``NotImplemented`` (as ``pickle``
    would), or, for a type the filters never store (a lock, a socket, a file, a generator, a
    module, a connection: ``_unstorable``), a reduction to :func:`unstorable_copy`.

    A snapshot of an argument or a receiver holding one then pickles in one pass instead of
    failing (pickle refuses most of these), and its object is never asked to pickle itself;
    the filters, which would replace it by a placeholder anyway, see its class. For a
    pickler's ``reducer_override``: cached by type, as that is called per object.
    """
    reduction = snapshot_reductions.get(kind)
    if reduction is not None:
        return reduction
    reduction = NotImplemented
    reason = type_reason(kind, ())
    if reason is not None and reason.startswith("unstorable:"):
        key = id(kind)
        if _unstorable_kinds.get(key, kind) is kind and len(_unstorable_kinds) < _MAX_KINDS:
            _unstorable_kinds[key] = kind  # kept alive: its id stays its own
            reduction = (unstorable_copy, (key,))
    if len(snapshot_reductions) < _MAX_KINDS:
        snapshot_reductions[kind] = reduction
    return reduction


class Inert:
    """An object as pickle stores it, ``(func, args, state, listitems, dictitems)``, as data.

    ``func`` and the classes in ``args`` are the real globals (references, never called);
    ``listitems`` and ``dictitems`` are lists (of items, of key/value pairs) or ``None``.
    ``hidden``: for a snapshot's copy of an object that pickles itself, the attributes
    pickle's default would have read, ``(by_state, unset, instance_dict, slot_values,
    class_name)`` (see ``_hidden``), for the filters to judge by name; never pickled.
    """

    __slots__ = ("args", "dictitems", "func", "hidden", "listitems", "state")

    def __init__(
        self,
        func: Any,
        args: tuple[Any, ...],
        state: Any = None,
        listitems: list[Any] | None = None,
        dictitems: list[tuple[Any, Any]] | None = None,
    ) -> None:
        self.func = func
        self.args = args
        self.state = state
        self.listitems = listitems
        self.dictitems = dictitems
        self.hidden: Any = None

    @classmethod
    def of(cls, value: Any, *, items: bool = False) -> Inert:
        """The reduced form of a live ``value`` (what pickle would call to store it), its
        state copied one level (a dict, or a ``(dict, slots)`` pair) so that changing the
        copy's state never reaches the host's object; with ``items``, its list and dict items
        too (else none: the caller puts in filtered ones)."""
        reducer = copyreg.dispatch_table.get(type(value))
        reduced = reducer(value) if reducer is not None else value.__reduce_ex__(4)
        if not isinstance(reduced, tuple) or len(reduced) < 2:
            raise TypeError(f"{type(value).__qualname__} does not reduce to parts")
        inert = cls(reduced[0], tuple(reduced[1]), _copy_state(_part(reduced, 2)))
        if items:
            listitems, dictitems = _part(reduced, 3), _part(reduced, 4)
            inert.listitems = None if listitems is None else list(listitems)
            inert.dictitems = None if dictitems is None else list(dictitems)
        return inert

    @property  # type: ignore[misc]
    def __class__(self) -> Any:
        # The pickler checks that a ``__newobj__`` object's class is the class it names.
        if self.func is _NEWOBJ or self.func is _NEWOBJ_EX:
            return self.args[0]
        return Inert

    @property
    def cls(self) -> type | None:
        """The class being rebuilt, when the parts say it (``__newobj__``), else ``None``."""
        if (self.func is _NEWOBJ or self.func is _NEWOBJ_EX) and self.args:
            first = self.args[0]
            return first if isinstance(first, type) else None
        func = self.func
        return func if isinstance(func, type) else None

    def text(self) -> str | None:
        """The text of a copy of a ``str`` subclass (``multidict.istr``, ``Password(str)``),
        which names a key or a pair as the live one does; ``None`` for anything else."""
        kind = self.cls
        if kind is None or not issubclass(kind, str):
            return None
        args = self.args
        if self.func is _NEWOBJ and len(args) == 2:
            text = args[1]
        elif self.func is kind and len(args) == 1:
            text = args[0]
        else:
            return None
        return text if type(text) is str else None

    def type_name(self) -> str:
        kind = self.cls
        if kind is not None:
            return str(type.__getattribute__(kind, "__qualname__"))
        return str(getattr(self.func, "__qualname__", "object"))

    def copy(self) -> Inert:
        """A copy whose state and items can be changed without changing this one."""
        return Inert(
            self.func,
            self.args,
            _copy_state(self.state),
            None if self.listitems is None else list(self.listitems),
            None if self.dictitems is None else list(self.dictitems),
        )

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        return (
            self.func,
            self.args,
            self.state,
            None if self.listitems is None else iter(self.listitems),
            None if self.dictitems is None else iter(self.dictitems),
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return self.__reduce_ex__(2)

    def __repr__(self) -> str:
        return f"<{self.type_name()} (a copy of its pickled form)>"

    def __call__(self, *args: Any) -> Inert:
        # A reduce callable made by another reduce (``getattr(SomeClass, "from_state")``).
        return Inert(self, args)

    # The unpickler's BUILD, APPENDS and SETITEMS on an object being rebuilt.
    def __setstate__(self, state: Any) -> None:
        if (
            type(state) is tuple
            and len(state) == 7  # see ASIDE
            and type(state[0]) is bytes
            and state[0] == ASIDE
        ):
            self.state, self.hidden = state[1], state[2:]
            return
        self.state = state

    def append(self, item: Any) -> None:
        if self.listitems is None:
            self.listitems = []
        self.listitems.append(item)

    def extend(self, items: Any) -> None:
        if self.listitems is None:
            self.listitems = []
        self.listitems.extend(items)

    def __setitem__(self, key: Any, value: Any) -> None:
        if self.dictitems is None:
            self.dictitems = []
        self.dictitems.append((key, value))


def _part(reduced: tuple[Any, ...], index: int) -> Any:
    return reduced[index] if len(reduced) > index else None


def _copy_state(state: Any) -> Any:
    if type(state) is dict:
        return dict(state)
    if type(state) is tuple and len(state) == 2:
        return tuple(dict(part) if type(part) is dict else part for part in state)
    if type(state) is list:
        return list(state)
    return state


class _Global(type):
    """The metaclass of a stand-in for one global a snapshot names (see ``_stand_in``)."""

    __real__: Any

    def __call__(cls, *args: Any) -> Any:
        # REDUCE: pickle calls the global with its arguments. Record the call instead, unless
        # it is a standard type (or a method of one, such as ``ZoneInfo._unpickle``) that
        # accepts these arguments.
        real, args = cls.__real__, _real_items(args)
        if _is_safe(real) or (real is getattr and _safe_attribute(args)):
            try:
                return real(*args)
            except Exception:  # noqa: BLE001, S110 - e.g. a datetime given a copied tzinfo
                pass
        return Inert(real, args)


def _is_safe(value: Any) -> bool:
    return _SAFE_IDS.get(id(value)) is value or _late_safe(value)


def is_safe(value: Any) -> bool:
    """Whether a snapshot's unpickling may really call ``value`` (see :data:`SAFE`)."""
    return _is_safe(value)


def _late_safe(value: Any) -> bool:
    """Whether ``value``, not in :data:`_SAFE_IDS`, is a type of :data:`_LATE_SAFE` or one of
    pathlib's (then added). Read through the base types' descriptors and the module's dict:
    no code of the host's or of the module's runs, nothing is imported."""
    if not issubclass(type(value), type):  # type(), not isinstance(): __class__ is host code
        return False
    if is_path_type(value):  # six classes of one module: not one of _LATE_SAFE's entries
        _SAFE_IDS[id(value)] = value
        return True
    if not _LATE_SAFE:
        return False
    module_name = imported_type(value, _LATE_SAFE)
    if module_name is None:
        return False
    late = _LATE_SAFE.get(module_name)  # another thread may have added it meanwhile
    _SAFE_ATTRIBUTES.update((value, method) for method in (late[1] if late else ()))
    _SAFE_IDS[id(value)] = value
    _LATE_SAFE.pop(module_name, None)
    return True


#: Methods of standard types that their own pickles call (``getattr(ZoneInfo, "_unpickle")``,
#: added with ZoneInfo by :func:`_late_safe`). Any other attribute stays a recorded call:
#: ``getattr(Path, "unlink")`` is a real function that REDUCE would then call with the
#: snapshot's arguments.
_SAFE_ATTRIBUTES: Final[set[tuple[Any, str]]] = set()


def _safe_attribute(args: tuple[Any, ...]) -> bool:
    return (
        len(args) == 2
        and _is_safe(args[0])
        and type(args[1]) is str
        and (args[0], args[1]) in _SAFE_ATTRIBUTES
    )


def _new_inert(cls: Any, *args: Any, **kwargs: Any) -> Any:
    # NEWOBJ / NEWOBJ_EX: pickle calls ``cls.__new__(cls, *args, **kwargs)``.
    real, args = cls.__real__, _real_items(args)
    if _is_safe(real):
        try:
            return real.__new__(real, *args, **kwargs)
        except Exception:  # noqa: BLE001, S110 - recorded instead
            pass
    if kwargs:
        return Inert(_NEWOBJ_EX, (real, args, kwargs))
    return Inert(_NEWOBJ, (real, *args))


_stand_ins: dict[int, tuple[Any, type]] = {}


def _stand_in(real: Any) -> type:
    """A class standing for ``real`` while a snapshot is unpickled: pickle's REDUCE and NEWOBJ
    call it, and get an :class:`Inert` recording the call (NEWOBJ wants a class, so a class)."""
    known = _stand_ins.get(id(real))
    if known is not None and known[0] is real:
        return known[1]
    # staticmethod: read as ``cls.__real__``, a descriptor stored as a class attribute would
    # be bound (a wrapt proxy, a captured function among them, to a bound proxy of no instance
    # that pickles as ``getattr(None, name)``); a staticmethod gives back ``real`` itself.
    stand_in = _Global(
        "StandIn",
        (),
        {"__real__": staticmethod(real), "__new__": _new_inert, "__slots__": ()},
    )
    if len(_stand_ins) < 4096:
        _stand_ins[id(real)] = (real, stand_in)
    return stand_in


def _real_items(args: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(arg.__real__ if type(arg) is _Global else arg for arg in args)


def _resolve_loaded(module: str, qualname: str) -> Any:
    """``module.qualname`` from a module imported already; nothing is imported."""
    found: Any = sys.modules.get(module)
    if found is None:
        raise pickle.UnpicklingError(f"{module} is not imported")
    for part in qualname.split("."):
        found = getattr(found, part)
    return found


class _InertUnpickler(pickle.Unpickler):
    def __init__(self, data: bytes, resolved: list[tuple[str, str, Any]] | None) -> None:
        super().__init__(io.BytesIO(data))
        self.stand_ins = False
        self.resolved = resolved

    def find_class(self, module: str, name: str) -> Any:
        # Every global, standard types too: a call of one is tried in ``_Global.__call__``,
        # where its failure can still be recorded instead.
        self.stand_ins = True
        real = _resolve_loaded(module, name)
        if self.resolved is not None:
            self.resolved.append((module, name, real))
        return _stand_in(real)


def resolves_as(resolved: Iterable[tuple[str, str, Any]]) -> bool:
    """Whether each ``(module, qualname, global)`` that :func:`inert_loads` noted still names
    that very object (a module's attribute may be rebound: a class redefined, say), read as
    loading reads it: then the same snapshot loads as the same copy."""
    try:
        return all(_resolve_loaded(module, name) is real for module, name, real in resolved)
    except Exception:  # noqa: BLE001 - not found any more: it would not load as before
        return False


def inert_loads(data: bytes, resolved: list[tuple[str, str, Any]] | None = None) -> Any:
    """Unpickle a snapshot taken in this process without running any of the host's code;
    each global it names is appended to ``resolved`` as ``(module, qualname, global)``."""
    for check in ON_LOAD:
        check()
    unpickler = _InertUnpickler(data, resolved)
    value = unpickler.load()
    if unpickler.stand_ins:
        value = _Realize().value(value)
    return value


class _Realize:
    """Replaces the stand-ins left as values (a class or function passed as an argument) by
    the real globals, in the containers the unpickler just built (they are ours to change).

    Only stand-ins and containers are visited (the ``type(x) in visited`` tests inline): the
    text, numbers and other leaves that make up most of a copy are passed over without a
    call."""

    __slots__ = ("memo",)

    def __init__(self) -> None:
        self.memo: dict[int, Any] = {}

    def value(self, value: Any) -> Any:
        kind = type(value)
        if kind is _Global:
            return value.__real__
        if kind not in _WALKED:
            return value
        key = id(value)
        if key in self.memo:
            return self.memo[key]
        self.memo[key] = value
        visit, visited = self.value, _VISITED
        if kind is list:
            for index, item in enumerate(value):
                if type(item) in visited:
                    value[index] = visit(item)
            return value
        if kind in _DICTS:
            # A dict, or a standard dict built for real (``SAFE``): its own methods are the
            # standard library's. Item by item: ``Counter.update`` would count the pairs.
            pairs = [
                (
                    visit(k) if type(k) in visited else k,
                    visit(v) if type(v) in visited else v,
                )
                for k, v in value.items()
            ]
            if any(type(k) is not type(old) for (k, _), old in zip(pairs, value, strict=True)):
                value.clear()  # a stand-in class as a key: rebuilt with the real one
                for pair_key, item in pairs:
                    value[pair_key] = item
                return value
            for (pair_key, item), old in zip(pairs, value.values(), strict=True):
                if item is not old:
                    value[pair_key] = item
            return value
        if kind is collections.deque:
            for index, item in enumerate(list(value)):
                value[index] = visit(item)
            return value
        if kind is Inert:
            value.func = visit(value.func)
            value.args = visit(value.args)
            value.state = visit(value.state)
            if value.hidden is not None:
                value.hidden = visit(value.hidden)
            if value.listitems is not None:
                value.listitems = visit(value.listitems)
            if value.dictitems is not None:
                value.dictitems = [
                    (
                        visit(item_key) if type(item_key) in visited else item_key,
                        visit(item) if type(item) in visited else item,
                    )
                    for item_key, item in value.dictitems
                ]
            return value
        new = [visit(item) if type(item) in visited else item for item in value]
        if all(a is b for a, b in zip(new, value, strict=True)):
            return value
        rebuilt = tuple(new) if kind is tuple else kind(new)
        self.memo[key] = rebuilt
        return rebuilt


_DICTS: Final = frozenset({dict, collections.OrderedDict, collections.Counter})
# The built-in containers, and the standard ones in ``SAFE`` that hold other objects.
_WALKED: Final = frozenset({list, tuple, set, frozenset, Inert, collections.deque, *_DICTS})
#: What ``_Realize`` visits: those, and the stand-ins.
_VISITED: Final = frozenset({*_WALKED, _Global})
