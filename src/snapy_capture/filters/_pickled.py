"""What pickle stores for an object, as the traversal (:mod:`._traverse`) sees it.

Which objects pickle plainly (their ``__dict__`` / ``__slots__``), the names of the attributes
stored, and the parts of a reduce tuple.
"""

from __future__ import annotations

import copyreg
import dataclasses
from collections.abc import Callable, Iterator
from itertools import islice

from snapy_capture._stdtypes import settle_typing
from snapy_capture.filters._inert import Inert

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from typing import Any, Final
else:  # for typing.get_type_hints of the public names (see there)
    from snapy_capture._stdtypes import for_readers

    for_readers(globals(), {"Any": "typing:Any"})

__all__ = [
    "attribute_names",
    "materialized",
    "no_longer_plain",
    "plain_pickling",
    "plain_tuple",
    "state_pickling",
    "text_state",
    "text_with_state",
    "type_name",
]

_OBJECT_GETSTATE: Final = getattr(object, "__getstate__", None)
_OBJECT_REDUCE_EX: Final = object.__reduce_ex__
_OBJECT_REDUCE: Final = object.__reduce__
_plain_cache: dict[type, bool] = {}
#: Classes whose slots are known, by identity (the class is kept: its id stays its own).
_slot_cache: dict[int, tuple[type, tuple[tuple[str, bool], ...]]] = {}
_MAX_CACHED_CLASSES: Final = 4096
_TUPLE_GETNEWARGS: Final = vars(tuple)["__getnewargs__"]
_TEXT_GETNEWARGS: Final = (vars(str)["__getnewargs__"], vars(bytes)["__getnewargs__"])
#: Called with a class judged plain that was given a reducer since (``_hidden`` forgets the
#: snapshot reducer it chose for it).
FORGET_CLASS: Final[list[Callable[[type], object]]] = []


def _dataclass_getstate() -> object:
    """The ``__getstate__`` that dataclasses give a frozen slotted class (fields by
    position): read from dataclasses, not taken from a class made for it (~0.4 ms of every
    capturing process's start-up), unless this Python names it otherwise."""
    known = getattr(dataclasses, "_dataclass_getstate", None)
    if known is not None:
        return known

    settle_typing()  # dataclasses reads typing if loaded (see there)

    @dataclasses.dataclass(frozen=True, slots=True)
    class SlottedFrozen:
        field: int = 0

    return getattr(SlottedFrozen, "__getstate__", None)


DATACLASS_GETSTATE: Final = _dataclass_getstate()


def type_name(value: Any) -> str:
    """The name of ``value``'s class (of the class an async snapshot's copy stands for)."""
    kind = type(value)
    if kind is Inert:
        return str(value.type_name())
    try:
        return str(type.__getattribute__(kind, "__qualname__"))
    except Exception:  # noqa: BLE001 - a hostile metaclass gets a generic name
        return "object"


def plain_pickling(kind: type) -> bool:
    """Whether pickle stores instances of ``kind`` as their ``__dict__``/``__slots__``."""
    plain = _plain_cache.get(kind)
    if plain:
        # A class can be given a reducer after it was judged (an assignment, copyreg.pickle):
        # pickle uses it from then on, and what it returns would not have been filtered. The
        # hooks that exist on every class are read again (a ~0.15 µs a visit); a
        # __getnewargs__ added later is not noticed (reading a missing name costs 3x more).
        still = (
            getattr(kind, "__reduce_ex__", None) is _OBJECT_REDUCE_EX
            and getattr(kind, "__reduce__", None) is _OBJECT_REDUCE
            and getattr(kind, "__getstate__", _OBJECT_GETSTATE)
            in (_OBJECT_GETSTATE, DATACLASS_GETSTATE)
            and kind not in copyreg.dispatch_table
        )
        if not still:
            for forget in FORGET_CLASS:  # what was decided for it as a plain class
                forget(kind)
        return still
    if plain is None:
        plain = (
            getattr(kind, "__reduce_ex__", None) is _OBJECT_REDUCE_EX
            and getattr(kind, "__reduce__", None) is _OBJECT_REDUCE
            and getattr(kind, "__getstate__", _OBJECT_GETSTATE)
            in (_OBJECT_GETSTATE, DATACLASS_GETSTATE)
            and getattr(kind, "__getnewargs_ex__", None) is None
            and getattr(kind, "__getnewargs__", None) is None
            and kind not in copyreg.dispatch_table
        )
        if len(_plain_cache) < 4096:
            _plain_cache[kind] = plain
    return plain


def no_longer_plain(kind: type) -> bool:
    """Whether ``kind`` was judged to pickle plainly and has been given a reducer or a
    ``__getstate__`` since (an assignment, ``copyreg.pickle``). A snapshot's picklers chose
    pickle's own reduction for it then, without the attributes the filters judge it by
    (``_hidden``): one taken before they learn of the change holds its own reduction only."""
    return _plain_cache.get(kind) is True and not plain_pickling(kind)


def state_pickling(kind: type) -> bool:
    """Whether pickle stores instances of ``kind`` as ``copyreg.__newobj__(kind)`` plus the
    state its own ``__getstate__`` returns (attrs' slotted classes, a class that leaves a
    cache out): the default reduction, with only the state chosen by the class. Loading it
    hands that state to the class's ``__setstate__``, as for a plainly pickled class that
    defines one, so a state of attributes (a dict) can be filtered item by item."""
    # Not cached: like plain_tuple, a class given a reducer later pickles by it from then on.
    getstate = getattr(kind, "__getstate__", _OBJECT_GETSTATE)
    return (
        getstate is not _OBJECT_GETSTATE
        and getstate is not DATACLASS_GETSTATE
        and getattr(kind, "__reduce_ex__", None) is _OBJECT_REDUCE_EX
        and getattr(kind, "__reduce__", None) is _OBJECT_REDUCE
        and getattr(kind, "__getnewargs_ex__", None) is None
        and getattr(kind, "__getnewargs__", None) is None
        and kind not in copyreg.dispatch_table
    )


def text_state(kind: type) -> bool:
    """Whether ``kind``, a str or bytes subclass, pickles its state as the default protocol
    does: the instance's ``__dict__``/``__slots__`` (its own ``__getnewargs__`` only changes
    the arguments it is rebuilt from, which are judged as parts of their own)."""
    return (
        issubclass(kind, (str, bytes))
        and getattr(kind, "__reduce_ex__", None) is _OBJECT_REDUCE_EX
        and getattr(kind, "__reduce__", None) is _OBJECT_REDUCE
        and getattr(kind, "__getstate__", _OBJECT_GETSTATE) is _OBJECT_GETSTATE
        and getattr(kind, "__getnewargs_ex__", None) is None
        and kind not in copyreg.dispatch_table
    )


def text_with_state(value: Any, kind: type) -> bool:
    """Whether pickle stores more than the text of ``value``, an instance of ``kind``, a str,
    bytes or bytearray subclass: attributes (BeautifulSoup's ``NavigableString`` holds its
    ``parent``, and through it the whole document), or what its own reduction adds. Such a
    value is filtered through its pickled form, not as text only."""
    if not issubclass(kind, bytearray) and (
        getattr(kind, "__getnewargs__", None) not in _TEXT_GETNEWARGS or not text_state(kind)
    ):
        return True
    try:
        instance_dict = object.__getattribute__(value, "__dict__")
    except AttributeError:
        instance_dict = None
    if instance_dict:
        return True
    for name, _ in slot_names(kind):
        try:
            object.__getattribute__(value, name)
        except AttributeError:
            continue  # an unset slot is not stored
        return True
    return False


def plain_tuple(kind: type) -> bool:
    """Whether pickle stores instances of ``kind``, a tuple subclass, by the default protocol:
    ``copyreg.__newobj__(kind, items)`` and the instance's ``__dict__``/``__slots__``, all
    read in C (``tuple.__getnewargs__``, ``object.__getstate__``). Its reduce tuple then holds
    nothing but its items, its attributes and its class, which the walk visits as such (the
    class is judged by name with its instance: ``_unstorable.type_reason``)."""
    # Not cached: a class given a ``__reduce__`` later pickles by it from then on.
    return (
        issubclass(kind, tuple)
        and getattr(kind, "__reduce_ex__", None) is _OBJECT_REDUCE_EX
        and getattr(kind, "__reduce__", None) is _OBJECT_REDUCE
        and getattr(kind, "__getstate__", _OBJECT_GETSTATE) is _OBJECT_GETSTATE
        and getattr(kind, "__getnewargs_ex__", None) is None
        and getattr(kind, "__getnewargs__", None) is _TUPLE_GETNEWARGS
        and kind not in copyreg.dispatch_table
    )


def attribute_names(value: Any, limit: int | None = None) -> list[tuple[str, bool]] | None:
    """``(name, is_slot)`` of the instance attributes pickle stores, ``None`` for opaque ones;
    past ``limit`` instance-dict keys, only the first ``limit`` (a caller whose budget cannot
    hold more need not list half a million of them to find that out)."""
    try:
        instance_dict = object.__getattribute__(value, "__dict__")
    except AttributeError:
        instance_dict = None
    slots = slot_names(type(value))
    if not isinstance(instance_dict, dict):
        names = list(slots)
    else:
        if limit is None or len(instance_dict) <= limit:
            keys = list(instance_dict)
        else:
            keys = list(islice(instance_dict, limit))
        names = [(key, False) for key in keys if isinstance(key, str)]
        if slots:
            seen = {name for name, _ in names}
            names.extend(slot for slot in slots if slot[0] not in seen)
    return names if names or instance_dict is not None else None


def slot_names(kind: type) -> tuple[tuple[str, bool], ...]:
    """``(name, True)`` for each slot of ``kind`` pickle stores, its bases' too.

    Read once per class: a class's slots are fixed when it is made (pickle caches them on the
    class likewise, as ``__slotnames__``). Kept by the class's identity, never its hash: a
    metaclass's ``__hash__``/``__eq__`` is host code.
    """
    entry = _slot_cache.get(id(kind))
    if entry is not None and entry[0] is kind:
        return entry[1]
    names: list[tuple[str, bool]] = []
    seen: set[str] = set()
    for klass in kind.__mro__:
        slots = klass.__dict__.get("__slots__", ())
        for declared in (slots,) if isinstance(slots, str) else slots:
            if not isinstance(declared, str) or declared in ("__dict__", "__weakref__"):
                continue
            slot = declared
            if slot.startswith("__") and not slot.endswith("__"):
                slot = f"_{klass.__name__.lstrip('_')}{slot}"  # name-mangled private slot
            if slot not in seen:
                seen.add(slot)
                names.append((slot, True))
    if len(_slot_cache) >= _MAX_CACHED_CLASSES:
        _slot_cache.clear()
    found = _slot_cache[id(kind)] = (kind, tuple(names))
    return found[1]


def materialized(parts: tuple[Any, ...]) -> Iterator[Any]:
    """The reduce tuple's parts with its item iterators turned into a list and a dict."""
    for index, part in enumerate(parts):
        if index == 3 and part is not None:  # listitems
            yield list(part)
        elif index == 4 and part is not None:  # dictitems: keys count as names
            pairs = list(part)
            try:
                yield dict(pairs)
            except TypeError:
                yield pairs
        else:
            yield part
