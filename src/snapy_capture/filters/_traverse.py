"""The traversal behind :class:`~snapy_capture.filters.ArgumentFilter`: one argument at a time.

Copy-on-write: a value with nothing to filter is returned as the same object; a container
with a filtered item is copied (shallowly, along the path to the item), never mutated. The
walks of one call share a memo, so an object reached twice (two arguments that are the same
object, a node and its parent) is stored once and loads back as one object.

Cycles are not filtered data. A cycle that reaches an object still being visited restarts the
argument in copying mode, where every container is copied before its items are visited, so a
back-reference leads to the copy, never to the unfiltered original. Objects in a cycle are
resolved together when the first of them is finished (Tarjan's strongly connected
components): if nothing any of them reaches was filtered, the originals are stored as they
are (the serializer keeps their cycles); else the copies are. An object kept whole or not at
all (its own ``__reduce__``) and an immutable tuple have no copy to hand a back-reference:
that walk assumes they will be kept. If one of them, or an object kept whole, turns out to
reach filtered data through its cycle, the argument is walked once more with the objects of
that cycle as suspects: a back-reference to one counts as filtered data (so what is kept whole
never reaches it; a tuple's back-reference becomes a ``cycle`` placeholder, the only one left).
Four walks of an argument at most (the last, never expected, counts every back-reference):
linear.

Names, strings, bytes and the built-in containers are visited here; objects, and the pickled
forms they are filtered through, in :mod:`._objects`.
"""

from __future__ import annotations

import enum
import itertools
import re
import types

from snapy_capture._stdtypes import datetime, imported
from snapy_capture.filters._inert import Inert
from snapy_capture.filters._names import VALUE_KEYS, AmbiguousName, own_fields, pair_key
from snapy_capture.filters._objects import (
    BUILTIN_CONTAINERS,
    ITEM_COST,
    NO_LOW,
    OBJECT_COST,
    UNKNOWN,
    UNLIMITED,
    Memo,
    ObjectWalk,
    OverBudget,
    Path,
    Tables,
    partial_parts,
    render_path,
)
from snapy_capture.filters._pickled import plain_pickling, text_with_state, type_name
from snapy_capture.filters._redacted import Redacted
from snapy_capture.filters._unstorable import imported_type, reference_reason

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Final, TypeAlias, cast

    from snapy_capture.filters._questions import (
        CachedQuestions,  # noqa: F401 - in a cast
        FilterQuestions,
    )
else:

    def cast(_type: object, value: object) -> object:  # typing's, at run time
        return value


__all__ = [
    "ATOMIC",
    "CARD_INT_MIN",
    "CARD_LEAVES",
    "HOLDERS",
    "KEY_MASK",
    "LEAF_SETS",
    "LEAVES",
    "Budget",
    "estimate",
    "filter_argument",
    "holds_scalar",
    "late_leaf",
    "named_pairs",
    "plain_holder",
    "redacts",
    "wide_text",
]

#: The attribute (true) of a custom filter that dict keys and attribute names go through too:
#: the masking of a call's secrets in its result (``capture._record.result_filter``); a
#: user's custom filters see values only, as documented.
KEY_MASK: Final = "_snapy_masks_keys"

#: Ints beyond this size are checked for card numbers; smaller ones cannot be one.
CARD_INT_MIN: Final = 10**11
ATOMIC: Final[frozenset[type]] = frozenset({float, complex, bool, type(None), type(Ellipsis)})
#: Types whose pickled form is their value and holds nothing a name or pattern could match.
#: It grows: the types of :data:`_LATE_LEAVES` join it (see :func:`late_leaf`).
LEAVES: Final[set[type]] = {
    datetime.date,
    datetime.timedelta,
    range,
}
#: Leaves when what they hold is (:func:`plain_holder`): a slice's bounds, a datetime's or a
#: time's ``tzinfo`` and a timezone's name can be any object or text, which pickle stores.
HOLDERS: Final[frozenset[type]] = frozenset(
    {datetime.datetime, datetime.time, datetime.timezone, slice}
)
_TIMEZONE_ARGS: Final = datetime.timezone.__dict__["__getinitargs__"]


def plain_holder(value: Any) -> bool:
    """Whether ``value``, exactly of a type in :data:`HOLDERS`, holds nothing a name or a
    pattern could match: a slice of small ints or ``None``; a datetime or a time without a
    zone, or in a fixed offset without a name, or a ``zoneinfo.ZoneInfo`` (stored by its
    key, a zone's name); an unnamed timezone. Read through C getters: no code of the host's."""
    kind = type(value)
    if kind is slice:
        return all(
            part is None or (type(part) is int and -CARD_INT_MIN < part < CARD_INT_MIN)
            for part in (value.start, value.stop, value.step)
        )
    zone = value if kind is datetime.timezone else value.tzinfo
    if zone is None:
        return True
    zone_kind = type(zone)
    if zone_kind is datetime.timezone:
        return len(_TIMEZONE_ARGS(zone)) == 1
    return zone_kind.__module__ == "zoneinfo" and zone_kind.__qualname__ == "ZoneInfo"


#: Leaves of modules this one does not import (they cost a capturing process's start-up
#: ~3 ms, uuid pulling in platform): a value of one cannot exist before its module is
#: imported, so each joins the sets in :data:`LEAF_SETS` once it is, met by the walk
#: (``Decimal`` joins :data:`LEAVES` and :data:`CARD_LEAVES` only).
_LATE_LEAVES: Final = {"decimal": "Decimal", "uuid": "UUID", "fractions": "Fraction"}
#: The leaves that may hold a payment card number (``Decimal("4111111111111111")``), which
#: the walk checks with the PII patterns.
CARD_LEAVES: Final[set[type]] = set()
#: Classes found not to be one of them, by identity (kept: their ids stay their own).
_NOT_LATE: Final[dict[int, type]] = {}
_MAX_NOT_LATE: Final = 4096
#: The sets holding every leaf, kept up to date by :func:`late_leaf` (``_quick`` adds its own).
LEAF_SETS: Final[list[set[type]]] = [LEAVES]


def late_leaf(kind: type) -> bool:
    """Whether ``kind``, not in :data:`LEAVES`, is one of :data:`_LATE_LEAVES` (then added).

    Called only while some are missing. Read through the base types' descriptors and the
    module's dict: no code of the host's or of the module's runs, nothing is imported.
    """
    if _NOT_LATE.get(id(kind)) is kind:
        return False
    module_name = imported_type(kind, _LATE_LEAVES)
    if module_name is None:
        # For good: a class becomes none of them later (each is its module's own class,
        # which exists once the module is imported, before any value of it can).
        if len(_NOT_LATE) >= _MAX_NOT_LATE:
            _NOT_LATE.clear()
        _NOT_LATE[id(kind)] = kind
        return False
    if module_name == "decimal":
        # Never one of _quick's atoms, which skip the walk's checks; a card leaf first, so
        # that another thread finding it in LEAVES checks it.
        CARD_LEAVES.add(kind)
        LEAVES.add(kind)
    else:
        for leaves in LEAF_SETS:
            leaves.add(kind)
    _LATE_LEAVES.pop(module_name, None)
    return True


#: Stored by reference (a qualified name), so nothing of their state reaches the disk.
_BY_REFERENCE: Final = (
    type,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodDescriptorType,
    types.WrapperDescriptorType,
)


#: What a name that is only ambiguously a secret's (``token``) redacts: values whose
#: whole content could be the credential itself.
_SCALARS: Final = (str, bytes, bytearray, memoryview, int, float, complex)


def holds_scalar(value: Any) -> bool:
    """Whether ``value`` is text, bytes, a number or another value with no parts of its own
    (``None``, a date, a UUID), a subclass too; an async snapshot's copy by the class it
    copies. Types only: no code of the value's runs."""
    kind = type(value)
    if kind is Inert:
        kind = value.cls or Inert
    return (
        kind in ATOMIC
        or kind in LEAVES
        or kind in HOLDERS
        or issubclass(kind, _SCALARS)
        or (bool(_LATE_LEAVES) and late_leaf(kind))
        or _is_decimal(kind)
    )


def _is_decimal(kind: type) -> bool:
    """Whether ``kind`` is ``Decimal`` or a subclass (of a decimal the program imported)."""
    decimal = imported("decimal", "Decimal")
    return type(decimal) is type and issubclass(kind, decimal)


def redacts(pattern: str | None, value: Any) -> bool:
    """Whether a name verdict ``pattern`` redacts ``value`` whole: a strong one always, an
    ambiguous one (:class:`~._names.AmbiguousName`) only a scalar (:func:`holds_scalar`)."""
    if pattern is None or value is None or value is True or value is False:
        # No secret is in these: ``auth=None`` kept as it was replays (and compares) as it
        # ran; a placeholder there made the replay skip, or differ from the recorded result.
        return False
    if enum_member(value):
        # Nor in a constant the program's source defines (click's ``ParameterSource`` of a
        # ``token`` option); its value is still judged by its shape, as a part of it.
        return False
    return type(pattern) is not AmbiguousName or holds_scalar(value)


#: A list of more pairs than this under a sensitive name is redacted whole (:func:`named_pairs`).
_MAX_PAIRS: Final = 256
#: What a pair's first item looks like to be taken for a name in a list of pairs: an
#: identifier, a header or a cookie name (linear: one character class, bounded).
_NAME_LIKE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")
_SIGNS: Final = re.compile(r"[^a-z0-9]")


def named_pairs(
    verdict_of: Callable[[str], str | None], name: str, pattern: str, value: Any
) -> tuple[list[Any], list[str | None], bool] | None:
    """The ``(name, value)`` pairs ``value`` is made of, found under ``name`` whose verdict
    ``pattern`` redacts it, with each pair's own verdict, and whether ``value`` is one pair;
    ``None`` when it is not made of pairs (then it is redacted whole).

    Pairs are: one pair whose first item is ``name`` itself (compared lower-case, signs
    removed: requests' ``{"authorization": ("Authorization", "Basic ...")}``), so nothing is
    shown that the name does not show; or a list or tuple of pairs whose first items all look
    like names (an identifier, a header or cookie name) and one at least is a sensitive name
    (header pairs, ``dict.items()``). Not ``auth=("bob", pw)`` nor ``password=("old-pw",
    "new-pw")``: a pair's first item may be a secret too. Only exact lists and tuples of exact
    2-item lists and tuples whose first item is an exact str: nothing else is read.
    """
    kind = type(value)
    if kind is not tuple and kind is not list:
        return None
    size = len(value)
    pairs: list[Any]
    verdicts: list[str | None]
    if size == 2 and type(value[0]) is str:
        if _label(value[0]) != _label(name):
            return None
        return [value], [pattern], True
    if not 0 < size <= _MAX_PAIRS:
        return None
    pairs = list(value)
    verdicts = []
    for pair in pairs:
        pair_kind = type(pair)
        if not (
            (pair_kind is tuple or pair_kind is list)
            and len(pair) == 2
            and type(pair[0]) is str
            and _NAME_LIKE.fullmatch(pair[0]) is not None
        ):
            return None
        verdicts.append(verdict_of(pair[0]))
    if all(verdict is None for verdict in verdicts):
        return None
    return pairs, verdicts, False


#: How many bytes at the start of a value tell whether it is UTF-16 or UTF-32 text.
_WIDE_SAMPLE: Final = 4096


def wide_text(data: bytes | bytearray) -> str | None:
    """``data`` decoded, when it looks like text in UTF-16 or UTF-32 (either byte order, a
    byte-order mark or not: ``array("u", ...)`` pickles as UTF-32, Windows and Java text is
    UTF-16); else ``None``.

    Told by the zero bytes of its first :data:`_WIDE_SAMPLE` bytes: text of ASCII and Latin
    letters has one in every other byte (UTF-16) or three in every four (UTF-32), at the same
    offsets; binary data and UTF-8 text have few, a zero-filled buffer nothing else. A few
    counts over that sample, then at most one decoding: linear. Not recognised: text mostly
    of other scripts (no byte is zero in CJK UTF-16), and text after a binary header of 4 KB
    or more. An array of small ints looks
    like UTF-32 and is scanned (a false match masks it whole)."""
    if len(data) < 16:
        return None
    sample = data[:_WIDE_SAMPLE]
    size = len(sample)
    zeros_in_all = sample.count(0)
    # UTF-16 text of Latin letters is half zeros, UTF-32 three quarters: not a zero-filled
    # buffer, not bytes with few zeros (this count decides most values).
    if zeros_in_all * 3 < size or zeros_in_all * 5 > size * 4:
        return None
    quarter = size // 4
    zeros = [sample[offset : quarter * 4 : 4].count(0) for offset in range(4)]
    # Mostly zeros where the letters' high bytes are, hardly any where the letters are
    # (zero-filled buffers, arrays of small ints are no text).
    most = quarter * 9 // 10
    few = quarter // 10
    if zeros[0] <= few and zeros[1] >= most and zeros[2] >= most and zeros[3] >= most:
        encoding = "utf-32-le"
    elif zeros[3] <= few and zeros[0] >= most and zeros[1] >= most and zeros[2] >= most:
        encoding = "utf-32-be"
    elif zeros[0] + zeros[2] <= 2 * few and zeros[1] + zeros[3] >= 2 * most:
        encoding = "utf-16-le"
    elif zeros[1] + zeros[3] <= 2 * few and zeros[0] + zeros[2] >= 2 * most:
        encoding = "utf-16-be"
    else:
        return None
    return bytes(data).decode(encoding, "replace")


def _key_lines(line: str | bytes) -> bool | None:
    """Whether ``line`` (an item of a list of lines) opens a PEM private key that goes on in
    the next items (``True``: the last ``-----BEGIN ... PRIVATE KEY`` in it has no ``-----END``
    after it), ends one (``False``: it holds an ``-----END``), or neither (``None``).
    Substring searches only: linear."""
    text = line.decode("latin-1") if type(line) is bytes else str(line)
    begin = text.rfind("-----BEGIN ")
    end = text.rfind("-----END ")
    if begin > end and text.find("PRIVATE KEY", begin) != -1:
        return True
    return False if end != -1 else None


def _label(name: str) -> str:
    """``name`` lower-cased without signs: ``X-Api-Key`` and ``x_api_key`` are one name."""
    return _SIGNS.sub("", name[:128].lower())


#: The values an Enum member may have and still be kept under a sensitive name: no text.
_CONSTANT_VALUES: Final = frozenset({int, float, bool, type(None)})
#: A class's own namespace, read in C (a metaclass's ``__getattr__`` is host code).
_CLASS_DICT: Final = vars(type)["__dict__"].__get__


def enum_member(value: Any) -> bool:
    """Whether ``value`` is an Enum member (or an async snapshot's copy of one) whose value
    is a number (click's ``ParameterSource``, ``auto()``): a constant of the program's
    source that holds no secret. Not one whose value is text or anything else: pickle
    stores a member by its value (Python 3.10, 3.11), and ``password=Creds.PROD`` with
    ``PROD = "..."`` stored that password."""
    found = member_value(value)
    return found is not NOT_MEMBER and type(found) in _CONSTANT_VALUES


#: :func:`member_value` of what is no Enum member (or whose value cannot be read).
NOT_MEMBER: Final = object()


def member_value(value: Any) -> Any:
    """The value of an Enum member (or of an async snapshot's copy of one), else a marker.
    type() and the member's own dict only: an object's own ``__class__`` or ``value`` is
    not asked."""
    kind = type(value)
    if kind is Inert:
        args = value.args
        if value.func is getattr and len(args) == 2 and type(args[1]) is str:
            # Stored by its name (Python 3.12+): judged by the member it names, as live.
            if not issubclass(type(args[0]), enum.EnumMeta):
                return NOT_MEMBER
            members = _CLASS_DICT(args[0]).get("_member_map_")
            member = members.get(args[1]) if type(members) is dict else None
            return NOT_MEMBER if member is None else member_value(member)
        cls = value.cls
        if cls is None or not issubclass(type(cls), enum.EnumMeta) or len(args) != 1:
            return NOT_MEMBER
        return args[0]
    if not issubclass(type(kind), enum.EnumMeta):
        return NOT_MEMBER
    try:
        member_dict = object.__getattribute__(value, "__dict__")
    except AttributeError:
        return NOT_MEMBER
    if type(member_dict) is not dict:
        return NOT_MEMBER
    return member_dict.get("_value_", NOT_MEMBER)


#: Sequences whose items have no names of their own (a tuple subclass's class gives them one).
_PLAIN_SEQUENCES: Final = frozenset({list, tuple, set, frozenset})


def _bound_to_data(value: Any) -> bool:
    """Whether ``value`` is a built-in method of an object (``settings.get``): pickle stores
    that object with it (``getattr(obj, "get")``), so it is walked like any reduced object."""
    if type(value) is not types.BuiltinFunctionType:
        return False
    owner = value.__self__
    # type(), not isinstance(): an object's own ``__class__`` is host code.
    return not (owner is None or issubclass(type(owner), (types.ModuleType, type)))


class _Restart(Exception):
    """A cycle reached an object still being filtered: redo the argument in copying mode."""


#: The size budget of one call's arguments: ``[left, limit, reason]``, an estimate of the
#: bytes stored, counted as the walks go (text and bytes by their length, containers by their
#: items, objects by their attributes; an object met again costs nothing). An argument that
#: would pass what is ``left`` is not walked further: it is stored as ``too large (over
#: <limit> bytes): <what>``, reported with ``reason``, and costs nothing; the others are kept.
#: A list, not an object: one is made per captured call (a third of the cost).
Budget: TypeAlias = "list[Any]"  # a string: Any is typing's


def too_large(budget: Budget, path: str, value: Any, report: list[dict[str, str]]) -> Redacted:
    """The placeholder of an argument past ``budget``, named by its size where it is known
    without reading it (the built-in types' own lengths), else by its type."""
    kind = type(value)
    if kind is str:
        what = f"str of {len(value)} characters"
    elif kind is bytes or kind is bytearray:
        what = f"{kind.__name__} of {len(value)} bytes"
    elif kind in BUILTIN_CONTAINERS:
        what = f"{kind.__name__} of {len(value)} items"
    else:
        what = type_name(value)
    report.append({"path": path, "reason": budget[2]})
    return Redacted(f"too large (over {budget[1]} bytes): {what}")


#: Containers of this many items or more are sampled before they are walked (``estimate``).
_SAMPLED: Final = 512
#: Items sampled per container, and levels of containers sampled below the first.
_SAMPLES: Final = 16
_SAMPLE_DEPTH: Final = 3


def estimate(value: Any, depth: int = 0) -> int:
    """A guess of what ``value`` costs the budget, from at most :data:`_SAMPLES` items of each
    container (evenly spaced in a list or tuple, the first ones of a dict or set) and
    :data:`_SAMPLE_DEPTH` levels: a few dozen values read, whatever its size.

    A big container whose guess passes twice what is left of the budget is not walked: the
    walk's own count, exact but spent item by item, would find it too large only after as
    much work as the budget allows (a megabyte of small objects is a tenth of a second).
    One that fits by the guess is walked and counted all the same.
    """
    kind = type(value)
    if kind is str:
        size = len(value)
        return size if value.isascii() else 2 * size
    if kind is bytes or kind is bytearray:
        return len(value)
    if depth >= _SAMPLE_DEPTH or kind in ATOMIC or kind is int:
        return 0
    depth += 1
    size = 0
    sample: list[Any]
    if kind is list or kind is tuple:
        size = len(value)
        sample = list(value[:: max(size // _SAMPLES, 1)][:_SAMPLES])
    elif kind is dict:
        size = len(value)
        sample = [part for pair in itertools.islice(value.items(), _SAMPLES) for part in pair]
    elif kind is set or kind is frozenset:
        size = len(value)
        sample = list(itertools.islice(value, _SAMPLES))
    elif kind is Inert:
        state = value.state
        return OBJECT_COST + (estimate(state, depth - 1) if type(state) is dict else 0)
    elif plain_pickling(kind):
        try:
            attributes = object.__getattribute__(value, "__dict__")
        except Exception:  # noqa: BLE001 - no instance dict: its slots are not guessed
            return OBJECT_COST
        if type(attributes) is not dict:
            return OBJECT_COST
        return OBJECT_COST + estimate(attributes, depth - 1)
    else:
        return OBJECT_COST
    if not sample:
        return 0
    items = size * (2 if kind is dict else 1)
    guessed = sum(estimate(item, depth) for item in sample) * items // len(sample)
    return ITEM_COST * items + guessed


def _length(value: Any) -> int:
    """The number of items of a dict, list, set or frozenset subclass, by the base type's own
    ``__len__`` (a subclass's is host code)."""
    base: Any
    kind = type(value)  # not isinstance(): an object's own ``__class__`` is host code
    for base in (dict, list, set, frozenset):
        if issubclass(kind, base):
            return int(base.__len__(value))
    return 0


def filter_argument(
    flt: FilterQuestions,
    path: str,
    name: str | None,
    value: Any,
    report: list[dict[str, str]],
    *,
    memo: Memo | None = None,
    budget: Budget | None = None,
    tables: Tables | None = None,
) -> Any:
    """Filter one argument, appending to ``report``; never raises (fails closed).

    ``memo`` is shared by the arguments of one call (see the module's docstring), and so is
    ``budget``: what this argument is found to cost is taken from it; one that would pass it
    is replaced (see :data:`Budget`). ``tables``: the filter's caches, read directly (see
    :data:`~._objects.Tables`).
    """
    kind = type(value)
    if (kind in ATOMIC or (kind is int and -CARD_INT_MIN < value < CARD_INT_MIN)) and not (
        flt.custom_filters
        or (
            name is not None
            and (pattern := flt.sensitive_pattern(name)) is not None
            and redacts(pattern, value)
        )
    ):
        return value  # the common case, without setting up a walk
    if memo is None:
        memo = {}
    mark = len(report)
    start = len(memo)
    room = UNLIMITED if budget is None else budget[0]
    try:
        try:
            walk = _Walk(flt, report, memo, copying=False, room=room, tables=tables)
            result = walk.visit(path, name, value, 0)
        except _Restart:
            _forget(report, mark, memo, start)
            walk = _Walk(flt, report, memo, copying=True, room=room, tables=tables)
            result = walk.visit(path, name, value, 0)
            if walk.conflicts:
                _forget(report, mark, memo, start)
                walk = _Walk(
                    flt,
                    report,
                    memo,
                    copying=True,
                    suspects=walk.conflicts,
                    room=room,
                    tables=tables,
                )
                result = walk.visit(path, name, value, 0)
            if walk.conflicts:  # not expected (the graph changed under us?): count every cycle
                _forget(report, mark, memo, start)
                walk = _Walk(
                    flt, report, memo, copying=True, everything=True, room=room, tables=tables
                )
                result = walk.visit(path, name, value, 0)
        if budget is not None:
            budget[0] = walk.room
        return result
    except OverBudget:
        _forget(report, mark, memo, start)
        if budget is None:  # a walk given no budget never raises it: fail closed all the same
            report.append({"path": path, "reason": "error:OverBudget"})
            return Redacted(f"could not be inspected: {type_name(value)}")
        return too_large(budget, path, value, report)
    except RecursionError as exc:
        _forget(report, mark, memo, start)
        report.append({"path": path, "reason": f"error:{type(exc).__name__}"})
        return Redacted(f"could not be inspected: {type_name(value)}")
    except Exception as exc:  # noqa: BLE001 - fail closed: what we cannot inspect is not stored
        _forget(report, mark, memo, start)
        report.append({"path": path, "reason": f"error:{type(exc).__name__}"})
        return Redacted(f"could not be inspected: {type_name(value)}")


def _forget(report: list[dict[str, str]], mark: int, memo: Memo, start: int) -> None:
    """Undo a walk of one argument: its report, and what it memoized (never changed since:
    the memo is only added to, but for a cycle's own members)."""
    del report[mark:]
    for _ in range(len(memo) - start):
        memo.popitem()  # the last added first: only this argument's entries


class _Walk(ObjectWalk):
    """One traversal of one argument (copy-on-write, or copying when a cycle needs it)."""

    __slots__ = ()

    def visit(
        self, path: Path, name: str | None, value: Any, depth: int, custom: bool = True
    ) -> Any:
        flt = self.flt
        kind = type(value)
        if kind is Redacted:
            return value  # already a placeholder: keeps refiltering idempotent
        inherited = None
        if name is not None and (pattern := self.name_verdict(name)) is not None:
            if not redacts(pattern, value):
                # An ambiguous word over a structure: a plain sequence's items have no names
                # of their own, so they are checked by this one (``signature=[1, sig]``).
                inherited = name if kind in _PLAIN_SEQUENCES else None
            elif self.stored_already(value):
                # The same object is stored elsewhere in this capture (a keyword table's
                # ``AUTHORIZATION: Keyword`` among a hundred ``...: Keyword``): redacting this
                # one reference would hide nothing, and break the sharing.
                return value
            else:
                if kind is tuple or kind is list:
                    pairs = self.named_pairs(path, name, pattern, value, depth)
                    if pairs is not None:
                        return pairs
                return self.redact(path, f"name:{pattern}")
        if custom and flt.custom_filters:
            for func in flt.custom_filters:
                replaced = func(render_path(path), name, value)
                if replaced is not value:
                    self.note(path, "custom")
                    if isinstance(replaced, Redacted):
                        return replaced
                    return self.visit(path, None, replaced, depth, custom=False)
        if kind in ATOMIC:
            return value
        if kind is int:
            if -CARD_INT_MIN < value < CARD_INT_MIN:
                return value
            self.spend(value.bit_length() >> 3)  # before it is turned into digits
            if not flt.filter_pii:
                return value
            return self.redact(path, "pii") if flt.contains_pii(value) else value
        if kind is str:
            return self.visit_str(path, value)
        if kind is bytes or kind is bytearray:
            return self.visit_bytes(path, value)
        if kind in LEAVES or (_LATE_LEAVES and kind not in BUILTIN_CONTAINERS and late_leaf(kind)):
            if kind in CARD_LEAVES and flt.filter_pii and flt.contains_pii(value):
                return self.redact(path, "pii")  # a card number held in a Decimal
            return value
        if kind in HOLDERS and (
            (kind is datetime.datetime and value.tzinfo is None) or plain_holder(value)
        ):
            return value  # a naive datetime, the commonest, without the call
        if depth >= flt.max_depth:
            return self.redact(path, f"depth>{flt.max_depth}")
        if (reason := self.unstorable(value, kind)) is not None:
            return self.redact(path, reason)
        # A subclass of text. An async snapshot's copy of one claims the class too, but is no
        # text: its reduction (the plain text, the state) is walked as an object's. So is one
        # that pickle stores with attributes (in visit_container).
        if (
            kind is not Inert
            and issubclass(kind, (str, bytes, bytearray))
            and not text_with_state(value, kind)
        ):
            if issubclass(kind, str):
                return self.visit_str(path, value)
            return self.visit_bytes(path, value)
        key = id(value)
        known = self.memo.get(key)
        if known is not None:
            return self.revisit(key, known)
        if key in self.open:
            return self.back_reference(path, key, value)
        self.inherited = inherited
        return self.enter(path, key, value, depth)

    def named_pairs(self, path: Path, name: str, pattern: str, value: Any, depth: int) -> Any:
        """``value``, found under ``name``, which redacts it (``pattern``), with its shape and
        its names kept when it is made of ``(name, value)`` pairs (:func:`named_pairs`);
        ``None`` for anything else, which is redacted whole. Every pair's second item is
        redacted (by its own name when that is sensitive, else by ``pattern``), its first
        kept (and scanned as any text)."""
        found = named_pairs(self.name_verdict, name, pattern, value)
        if found is None:
            return None
        pairs, verdicts, single = found
        size = len(value)
        self.spend(ITEM_COST * (size + 2 * len(pairs)))
        new_pairs = []
        for index, (pair, verdict) in enumerate(zip(pairs, verdicts, strict=True)):
            where: Path = path if single else (path, "[]", index)
            first, second = pair
            new_first = self.visit((where, "[]", 0), None, first, depth + 1)
            if second is not None and second is not True and second is not False:
                second = self.redact((where, "[]", 1), f"name:{verdict or pattern}")
            new_pairs.append((new_first, second) if type(pair) is tuple else [new_first, second])
        if single:
            return new_pairs[0]
        return new_pairs if type(value) is list else tuple(new_pairs)

    def name_verdict(self, name: str) -> str | None:
        """:meth:`~.ArgumentFilter.sensitive_pattern`, from its cache when the walk holds it."""
        verdicts = self.verdicts
        # An exact str only: a subclass's own __hash__ and __eq__ would run in the lookup.
        if verdicts is not None and type(name) is str:
            verdict = verdicts.get(name, UNKNOWN)
            if verdict is not UNKNOWN:
                return verdict  # type: ignore[no-any-return]
        return self.flt.sensitive_pattern(name)

    def unstorable(self, value: Any, kind: type) -> str | None:
        """:meth:`~.ArgumentFilter.unstorable_reason`, from its cache when the walk holds it
        (the same steps: an inert copy judged by its class, a function or a class by name)."""
        reasons = self.reasons
        if reasons is not None:
            if kind is Inert:
                kind = value.cls or Inert
            reason = reasons.get(kind, UNKNOWN)
            if reason is not UNKNOWN:
                if reason is None and (kind is types.FunctionType or issubclass(kind, type)):
                    return reference_reason(value)
                return reason  # type: ignore[no-any-return]
        return self.flt.unstorable_reason(value)

    def clean_text(self, text: str) -> bool:
        """Whether ``text`` (an exact str) is known clean without a scan: the filter's cache
        of clean strings, when the walk holds it (a long string is hashed by the lookup, as
        the scan's own lookup would)."""
        clean = self.clean
        return clean is not None and text in clean

    def stored_already(self, value: Any) -> bool:
        """Whether ``value``, an object (not a scalar: equal scalars are not one object; not a
        built-in container: an empty tuple is everybody's), was met before in this call and is
        stored as itself, its walk finished."""
        if type(value) in BUILTIN_CONTAINERS:
            return False
        known = self.memo.get(id(value))
        return (
            known is not None
            and known[0] is value
            and known[1] is value
            and id(value) not in self.open
            and not holds_scalar(value)
        )

    # --- objects met again, and cycles ------------------------------------------------------

    def revisit(self, key: int, known: tuple[Any, Any]) -> Any:
        """What is stored for an object met before: the same, so it loads back as one."""
        index = self.open.get(key)
        if index is not None:  # its copy, while it (or its cycle) is still open
            self.low = min(self.low, index)
            if self.suspect(key):
                self.touched += 1
            else:
                self.leans += 1
        elif known[1] is not known[0]:
            # Filtered: whatever holds it must not be kept whole (its original would be
            # stored through it).
            self.touched += 1
        return known[1]

    def back_reference(self, path: Path, key: int, value: Any) -> Any:
        """An object still being visited, without a copy yet (a tuple, or one kept whole)."""
        if not self.copying:
            raise _Restart
        self.low = min(self.low, self.open[key])
        if self.suspect(key):
            return self.redact(path, "cycle")
        self.leans += 1
        self.handed.add(key)  # checked when its cycle is resolved
        return value

    def enter(self, path: Path, key: int, value: Any, depth: int) -> Any:
        """Visit a container or object not met before; resolve its cycle if it is the first."""
        if not self.copying:  # copy-on-write: any cycle restarts the walk, nothing to resolve
            self.open[key] = 0
            result = self.visit_container(path, value, depth + 1)
            del self.open[key]
            self.memo[key] = (value, result)
            return result
        index = self.counter
        self.counter += 1
        self.open[key] = index
        outer_low, self.low = self.low, NO_LOW
        touched = self.touched
        kept = self.kept_leaning
        pending = len(self.pending)
        result = self.visit_container(path, value, depth + 1)
        low = self.low
        self.low = outer_low
        if low < index:
            # It leads back to an object above it, still open: resolved with that one.
            self.pending.append(key)
            self.memo[key] = (value, result)
            self.low = min(outer_low, low)
            return result
        members = self.pending[pending:]
        del self.pending[pending:]
        del self.open[key]
        for member in members:
            del self.open[member]
        # Every part kept whole here counted on this cycle or on one inside it (resolved
        # already): none outside it needs to hear of them.
        leaned = self.kept_leaning != kept
        self.kept_leaning = kept
        if self.touched == touched:
            # Nothing that this object or its cycle reaches is filtered: the originals are
            # stored, cycles and shared references as they are.
            for member in members:
                original = self.memo[member][0]
                self.memo[member] = (original, original)
            result = value
        elif not self.everything and (
            leaned
            or key in self.handed
            or result is value
            or any(
                member in self.handed or self.memo[member][1] is self.memo[member][0]
                for member in members
            )
        ):
            # An original was handed out or kept whole (counting on this cycle being clean),
            # and it reaches what was filtered through this cycle: the next walk counts
            # back-references to its objects as filtered data.
            self.conflicts.add(key)
            self.conflicts.update(members)
        self.memo[key] = (value, result)
        return result

    # --- leaves ---------------------------------------------------------------------------

    def visit_str(self, path: Path, value: str) -> Any:
        flt = self.flt
        size = str.__len__(value)
        # Counted before it is scanned: a text past the budget is never read. UTF-8 takes one
        # byte for an ASCII character, two to four for others (isascii is a flag: O(1)).
        self.spend(size if str.isascii(value) else 2 * size)
        if flt.max_size is not None and size > flt.max_size:
            return self.redact(path, f"size:str of {len(value)} characters")
        if flt.filter_pii and not (type(value) is str and self.clean_text(value)):
            # A subclass's text as an exact str: its own __eq__ and slicing are not run.
            text = value if type(value) is str else str.__str__(value)
            if self.clean is not None:
                # The fast path's filter (its scanner not overridden): the spans found here
                # are held for the masking, which would otherwise scan the text again.
                compiled = cast("CachedQuestions", flt)._compiled_pii()
                if compiled.hold(text):
                    return value
                try:
                    return self.masked(path, text)
                finally:
                    compiled.release()
            if flt.contains_pii(text):
                return self.masked(path, text)
        return value

    def masked(self, path: Path, text: str) -> str:
        self.note(path, "pii")
        masked = self.flt.mask_pii(text)
        # A subclass's contains_pii may see what pii_patterns cannot mask: fail closed.
        if masked == text or self.flt.contains_pii(masked):
            return Redacted("pii")
        return masked

    def visit_bytes(self, path: Path, value: bytes | bytearray) -> Any:
        flt = self.flt
        self.spend(len(value))  # before it is scanned
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
            wide = wide_text(value)
            if wide is not None and flt.contains_pii(wide):
                # Text in UTF-16 or UTF-32 (``array("u", ...)``, ``s.encode("utf-16")``): its
                # spans do not map back byte for byte, the whole value goes.
                return self.redact(path, "pii")
        return value

    # --- containers and objects -----------------------------------------------------------

    def too_big(self, path: Path, value: Any) -> Redacted | None:
        limit = self.flt.max_size
        if limit is not None and len(value) > limit:
            return self.redact(path, f"size:{type_name(value)} of {len(value)} items")
        return None

    def visit_container(self, path: Path, value: Any, depth: int) -> Any:
        kind = type(value)
        if kind is dict or kind in BUILTIN_CONTAINERS:
            size = len(value)
            if size >= _SAMPLED and estimate(value) > 2 * self.room:
                raise OverBudget
            self.spend(ITEM_COST * size)  # before its items are copied out
            if kind is dict:
                return self.too_big(path, value) or self.visit_dict(path, value, depth)
            return self.too_big(path, value) or self.visit_sequence(path, value, depth)
        if kind is Inert:
            if (parts := partial_parts(value)) is not None:  # an async copy of a partial
                return self.visit_partial(path, value, parts, depth)
            return self.visit_inert(path, value, depth)
        # issubclass(type), not isinstance(): an object's own ``__class__`` is host code, and
        # one claiming to be a function was kept by reference, its attributes unfiltered.
        if issubclass(kind, _BY_REFERENCE) and not _bound_to_data(value):
            return value
        if issubclass(kind, (str, bytes, bytearray)):
            # Text with attributes (see visit): its pickled form, the text and the state.
            return self.visit_reduced(path, value, depth)
        if issubclass(kind, tuple):
            self.spend(ITEM_COST * tuple.__len__(value))
            result = self.too_big(path, value) or self.visit_sequence(path, value, depth)
            if isinstance(result, Redacted):
                return result
            return self.visit_extra(path, value, result, depth)
        if issubclass(kind, (dict, list, set, frozenset)):
            if ITEM_COST * _length(value) > self.room:  # its items are counted when walked
                raise OverBudget
            # Filtered through its pickled form: a copy as its own class would run its code.
            return self.too_big(path, value) or self.visit_reduced(path, value, depth)
        return self.visit_object(path, value, depth)

    def visit_key(self, path: Path, key: Any, index: int, depth: int) -> tuple[Any, str | None]:
        """The key to store (masked when secret-shaped) and the name its value is checked by."""
        flt = self.flt
        if flt.custom_filters and isinstance(key, (str, bytes)):
            masked = self.masked_key(path, key, index)
            if masked is not key:
                return masked, str.__str__(key) if isinstance(key, str) else None
        if type(key) is str:
            self.spend(str.__len__(key))  # as below: counted before it is read
            if not flt.filter_pii or self.clean_text(key):
                return key, key
        if isinstance(key, (str, bytes)):
            is_text = isinstance(key, str)
            # Counted before it is read: a key is stored, and scanned, like a value.
            if type(key) is not str:  # counted already
                self.spend(str.__len__(key) if isinstance(key, str) else bytes.__len__(key))
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
        if type(key) is Inert:
            copied = key.text()
            if copied is not None:
                # An async copy of a str subclass key (multidict's istr): named, counted and
                # scanned by its text, as the live key is above.
                self.spend(len(copied))
                if flt.filter_pii and flt.contains_pii(copied):
                    masked = self.masked((path, "#", index), copied)
                    if isinstance(masked, Redacted):
                        return Redacted(f"key #{index}"), copied
                    return masked, copied
                return key, copied
        new = self.visit((path, "#", index), None, key, depth)
        if new is not key:
            try:
                hash(new)
            except TypeError:
                return Redacted(f"key #{index}"), None
        return new, None

    def masked_key(self, path: Path, key: str | bytes, index: int) -> Any:
        """``key`` as the key masks (:data:`KEY_MASK`) leave it: a call's secret is no safer
        as a dict key (``{password: user}``) or in one than as a value."""
        where = (path, "#", index)
        for func in self.flt.custom_filters:
            if not getattr(func, KEY_MASK, False):
                continue
            replaced = func(render_path(where), None, key)
            if replaced is not key:
                self.note(where, "custom")
                return Redacted(f"key #{index}") if isinstance(replaced, Redacted) else replaced
        return key

    def visit_dict(self, path: Path, value: dict[Any, Any], depth: int) -> Any:
        out: dict[Any, Any] | None = None
        if self.copying:
            out = self.empty_like(value)
            self.memo[id(value)] = (value, out)
        items = list(value.items())
        named = self.named_values(items)
        for index, (key, item) in enumerate(items):
            new_key, name = self.visit_key(path, key, index, depth)
            if named is not None and name in VALUE_KEYS:
                name = named  # {"name": "password", "value": pw}: judged as a password
            settled = self.settled(name, item)
            new = item if settled else self.visit((path, new_key, index), name, item, depth)
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
        return {}

    def visit_sequence(self, path: Path, value: Any, depth: int) -> Any:
        kind = type(value)
        inherited, self.inherited = self.inherited, None
        given, self.given_names = self.given_names, None
        is_tuple = issubclass(kind, tuple)  # not isinstance(): ``__class__`` is host code
        fields = (None if kind is tuple else own_fields(kind)) if is_tuple else None
        items = list(tuple.__iter__(value) if is_tuple else value)
        if inherited is not None and kind in _PLAIN_SEQUENCES:
            fields = (inherited,) * len(items)
        elif given is not None and kind is tuple:
            fields = given  # a format string's arguments, named by it (``format_args``)
        # ("password", pw): the second item of a pair is checked by the name the first gives.
        key = pair_key(value, items)
        if key is None and len(items) == 2 and type(items[0]) is Inert:
            key = pair_key(value, [items[0].text(), items[1]])  # a copy of a str subclass
        if key is not None and self.flt.sensitive_pattern(key) is not None:
            fields = (None, key)
        early: list[Any] | None = None
        if self.copying and kind is list:
            # Memoized before the items, so a list that contains itself contains the copy.
            early = []
            self.memo[id(value)] = (value, early)
        changed = False
        new_items = []
        in_key = False  # between a private key's BEGIN line and its END line
        for index, item in enumerate(items):
            if in_key and (type(item) is str or type(item) is bytes):
                # A PEM private key given as its lines (``pem.splitlines()``, ``readlines()``):
                # the BEGIN line was masked, the base64 lines after it are the key.
                new_items.append(self.redact((path, "[]", index), "pii"))
                changed = True
                in_key = _key_lines(item) is not False
                continue
            name = fields[index] if isinstance(fields, tuple) and index < len(fields) else None
            # A pair's items, and items named after their sequence, keep their index.
            if not isinstance(name, str):
                name = None
            if self.settled(name, item):
                new_items.append(item)
                continue
            named = name is not None and key is None and inherited is None and given is None
            where = (path, ".", name) if named else (path, "[]", index)
            new = self.visit(where, name, item, depth)
            if new is not item:
                changed = True
                # Only an item found secret-shaped can open a key: a clean list costs nothing.
                in_key = (type(item) is str or type(item) is bytes) and _key_lines(item) is True
            new_items.append(new)
        if early is not None:
            list.extend(early, new_items)
            return early
        if not changed:
            return value
        if kind is list:
            return new_items
        if isinstance(value, tuple):
            # tuple.__new__ skips a namedtuple's own __new__: no user code with placeholders.
            return tuple(new_items) if kind is tuple else tuple.__new__(kind, new_items)
        return kind(new_items)  # set or frozenset
