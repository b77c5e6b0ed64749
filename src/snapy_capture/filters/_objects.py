"""The walk over objects and their pickled forms (the rest of the walk is in :mod:`._traverse`).

What pickle stores for an object is what its ``__reduce_ex__`` returns. Objects that pickle
plainly (their ``__dict__`` / ``__slots__``) are filtered attribute by attribute; the items of
``dict``, ``list`` and ``set`` subclasses item by item. A changed object is never copied as the
host's class (that would run its ``__new__``, ``__setitem__`` or ``__del__``): the result is an
:class:`~._inert.Inert`, its pickled form with the filtered parts, which pickles
as the object would have. Inert copies unpickled from an async snapshot are filtered the same
way as the live objects they copy.
An object pickled by default with the state its own ``__getstate__`` chooses (attrs' slotted
classes) is filtered item by item when that state is a dict of attributes.
For any other object (``functools.partial``, bound methods, exceptions, ``deque``, classes
with ``__reduce__``...) the reduced form is inspected too, and if anything
in it would be filtered the whole object is replaced by a placeholder: rebuilding it would
mean running its code with placeholders in it.
"""

from __future__ import annotations

import abc
import collections
import copyreg
import dataclasses
import functools
import itertools
import types
from collections.abc import Collection

from snapy_capture.filters._inert import ASIDE, Inert, unstorable_copy
from snapy_capture.filters._names import VALUE_KEYS, format_names, naming_entry
from snapy_capture.filters._pickled import (
    attribute_names,
    materialized,
    no_longer_plain,
    plain_pickling,
    plain_tuple,
    state_pickling,
    text_state,
    type_name,
)
from snapy_capture.filters._redacted import Redacted
from snapy_capture.filters._unstorable import builtin_reason

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from typing import Any, Final, TypeAlias

    from snapy_capture.filters._questions import FilterQuestions

__all__ = [
    "BUILTIN_CONTAINERS",
    "ITEM_COST",
    "NO_LOW",
    "OBJECT_COST",
    "UNKNOWN",
    "UNLIMITED",
    "Memo",
    "ObjectWalk",
    "OverBudget",
    "Path",
    "Tables",
    "partial_parts",
    "reduces_to_getattr",
    "render_path",
]

BUILTIN_CONTAINERS: Final = frozenset({dict, list, tuple, set, frozenset})
_STANDARD_DICTS: Final = frozenset(
    {collections.OrderedDict, collections.Counter, collections.defaultdict}
)


_NEWOBJ: Final = copyreg.__newobj__  # type: ignore[attr-defined]
_OPAQUE: Final = object()


#: Classes whose instances pickle as ``getattr(owner, name)``, walked like a bound method: a
#: captured method bound to its instance (capture registers its proxy's class, so that filters
#: need not import capture). Replaced whole, a callback held as ``obj.method`` (transitions'
#: ``partial(event.trigger, model)`` with ``Event.trigger`` a target) hid its whole owner.
#: Exact classes: a set lookup per object walked.
_BOUND_BY_NAME: set[type] = set()


def reduces_to_getattr(kind: type) -> None:
    """Register ``kind``, whose ``__reduce_ex__`` is ``(getattr, (owner, name))``."""
    _BOUND_BY_NAME.add(kind)


def _change_state(inert: Inert, changes: dict[str, tuple[bool | str, Any]]) -> None:
    """Put filtered attributes into an inert copy's state (a copy of the live object's)."""
    state = inert.state
    cls = inert.cls
    if type(state) is list and cls is not None and dataclasses.is_dataclass(cls):
        order = [field.name for field in dataclasses.fields(cls)]
        for attr, (_, new) in changes.items():
            state[order.index(attr)] = new
        return
    if type(state) is tuple:
        instance_dict, slots = state
    else:
        instance_dict, slots = state, None
    for attr, (how, new) in changes.items():
        if how is True:
            if slots is None:
                slots = {}
            slots[attr] = new
            continue
        if instance_dict is None:
            instance_dict = {}
        if isinstance(how, str):  # stored under its masked name
            del instance_dict[attr]
        instance_dict[how if isinstance(how, str) else attr] = new
    inert.state = instance_dict if slots is None else (instance_dict, slots)


#: What one call's walks share: id -> (the object, what is stored for it).
Memo: TypeAlias = "dict[int, tuple[Any, Any]]"  # strings: Any is typing's
#: ``ObjectWalk.low`` when nothing leads back to an open object.
NO_LOW: Final = 1 << 62
#: ``ObjectWalk.room`` of a walk without a size budget.
UNLIMITED: Final = 1 << 62
#: What one item of a container, or one attribute, counts against the size budget besides
#: its own text: about what pickle writes for a small int (2 to 5 bytes) or a reference.
ITEM_COST: Final = 4
#: What an object entered counts besides its attributes: its class's reference and framing.
OBJECT_COST: Final = 16


#: Values kept as they are under any name but a sensitive one (``_traverse.ATOMIC``).
KEPT: Final[frozenset[type]] = frozenset({float, complex, bool, type(None), type(Ellipsis)})
#: Ints from this size on are checked for card numbers (``_traverse.CARD_INT_MIN``).
_CARD_INT_MIN: Final = 10**11
#: The longest text :meth:`ObjectWalk.settled` looks up among the clean strings (the cache's
#: own bound, ``_pii._CLEAN_CACHE_LENGTH``: a longer one is not there, and would be hashed).
_CLEAN_LENGTH: Final = 256
#: What a cache lookup returns for a key it does not hold (``dict.get(key, UNKNOWN)``).
UNKNOWN: Final = object()
#: The filter's own caches a walk may read directly, ``(name verdicts, clean strings, type
#: reasons)``: handed over by the fast path (``_quick.Quick``), which exists only while the
#: filter answers with its built-in methods and no custom filter (its ``current`` check
#: validates them once per call). A hit is then one dict lookup instead of three calls; a miss
#: asks the filter, which fills the cache. ``None``: ask the filter every time (a subclass's
#: questions, custom filters).
Tables: TypeAlias = "tuple[dict[str, Any], dict[str, None] | None, dict[type, Any]]"


class OverBudget(Exception):
    """The argument being walked would pass what is left of its call's size budget."""


#: A report path, built lazily: the root's name, or ``(parent, how, what)``; only rendered to
#: text when something is filtered, so clean arguments never pay for formatting it.
Path: TypeAlias = "str | tuple[Any, Any, Any]"


def render_path(path: Path) -> str:
    """The text of a report path (``"order.items[0]['card']"``)."""
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


class ObjectWalk(abc.ABC):
    """The state of one walk over one argument, and the part of it that visits objects.

    ``_traverse._Walk`` adds the rest (names, strings, containers, keys): this part
    calls back into it through :meth:`visit` and :meth:`visit_key`.
    """

    __slots__ = (
        "clean",
        "conflicts",
        "copying",
        "counter",
        "everything",
        "flt",
        "given_names",
        "handed",
        "inherited",
        "kept_leaning",
        "leans",
        "low",
        "memo",
        "open",
        "pending",
        "reasons",
        "report",
        "room",
        "suspects",
        "touched",
        "verdicts",
    )

    def __init__(
        self,
        flt: FilterQuestions,
        report: list[dict[str, str]],
        memo: Memo,
        *,
        copying: bool,
        suspects: Collection[int] = (),
        everything: bool = False,
        room: int = UNLIMITED,
        tables: Tables | None = None,
    ) -> None:
        self.flt = flt
        #: The filter's caches read directly (see :data:`Tables`), or ``None``.
        self.verdicts: dict[str, Any] | None = None
        self.clean: dict[str, None] | None = None
        self.reasons: dict[type, Any] | None = None
        if tables is not None:
            self.verdicts, self.clean, self.reasons = tables
        #: What is left of the call's size budget (an estimate of the bytes stored): each
        #: part is counted before it is read further, so a walk stops there (``OverBudget``)
        #: and what it costs grows with the budget, not with the argument.
        self.room = room
        self.report = report
        #: id -> (object, what is stored for it): shared by every argument of one call, so
        #: an object met twice is stored once and loads back as one object.
        self.memo = memo
        self.copying = copying
        #: Objects of cycles known to reach filtered data (found by an earlier walk of the
        #: same argument): a back-reference to one counts as filtered data. ``everything``:
        #: every back-reference does (the last resort, see ``_traverse``).
        self.suspects = suspects
        self.everything = everything
        #: The objects of cycles that this walk found reaching filtered data through an
        #: original it kept or handed out: the suspects of the next walk.
        self.conflicts: set[int] = set()
        #: Objects being visited, or in a cycle not resolved yet: id -> order of discovery.
        self.open: dict[int, int] = {}
        #: Finished objects of cycles still open (resolved with the first object of theirs).
        self.pending: list[int] = []
        #: Open objects whose original was handed to a back-reference (no copy of theirs yet).
        self.handed: set[int] = set()
        #: Back-references (and objects met again while their cycle is open) not counted as
        #: filtered data; and how many parts kept whole were found clean counting on them.
        self.leans = 0
        self.kept_leaning = 0
        self.counter = 0
        #: The earliest open object the current one's parts lead back to.
        self.low = NO_LOW
        #: Counts every change made to the data (a redaction, a mask, a filtered object met
        #: again): a visit that leaves it alone found nothing to filter in what it reached.
        self.touched = 0
        #: The ambiguous name (``signature``) a plain list, tuple or set is being entered
        #: under: its items are checked by it (see ``_traverse._Walk.visit_sequence``).
        self.inherited: str | None = None
        #: The names the items of the next tuple entered are written under in a format
        #: string beside it (a ``LogRecord``'s ``args``, named by its ``msg``: see
        #: :meth:`format_args`), consumed by ``_traverse._Walk.visit_sequence``.
        self.given_names: tuple[str | None, ...] | None = None

    def format_args(self, item: Any, siblings: Any) -> None:
        """Before ``item``, the ``args`` attribute of an object whose attributes (or pickled
        state) are ``siblings``, is visited: when it is the tuple of a ``msg`` format string
        (``logging.LogRecord``, and anything holding a message the same way), its items are
        named by what the string writes before each (``"password=%s"``)."""
        if type(item) is tuple and item and type(siblings) is dict:
            message = siblings.get("msg")
            if type(message) is str:
                self.given_names = format_names(message, len(item))

    def opaque(self, path: Path, name: str, mark: int, touched: int) -> Redacted:
        """Replace an object kept whole or not at all, which reaches filtered data, by a
        placeholder; forget what was reported inside it (none of it is stored).

        When all it reached that was filtered is unstorable (a lambda, a lock: no secret, no
        filtered object met before), the reason says so (``unstorable:``): replay may then
        run without it rather than treat it as a hidden secret."""
        inside = self.report[mark:]
        only_unstorable = len(inside) == self.touched - touched and all(
            entry["reason"].startswith("unstorable:") for entry in inside
        )
        del self.report[mark:]
        if only_unstorable:
            return self.redact(path, f"unstorable:{name} holds an unstorable part")
        return self.redact(path, f"opaque:{name} holds filtered data")

    def forget_unstorable(self, mark: int, touched: int) -> None:
        """Forget what was found since ``mark`` when all of it is unstorable (a lock, a
        lambda): used after judging attributes that pickle does not store as they are, which
        matter only for a secret they might pass on in another shape; what pickle does store
        is judged on its own (an unstorable part of it is found there again)."""
        inside = self.report[mark:]
        if len(inside) == self.touched - touched and all(
            entry["reason"].startswith("unstorable:") for entry in inside
        ):
            del self.report[mark:]
            self.touched = touched

    def suspect(self, key: int) -> bool:
        """Whether a back-reference to the object with this id counts as filtered data."""
        return self.everything or key in self.suspects

    def spend(self, cost: int) -> None:
        """Count ``cost`` estimated bytes against the budget; raise ``OverBudget`` past it."""
        self.room -= cost
        if self.room < 0:
            raise OverBudget

    def settled(self, name: str | None, item: Any) -> bool:
        """Whether ``item``, found under ``name``, is kept as it is with nothing to report,
        known from the filter's caches alone (a number, ``None``, a short string found clean
        before, under a name known not to be sensitive): what :meth:`visit` decides, without
        a visit. A string's size is counted against the budget, as the visit counts it."""
        verdicts = self.verdicts
        if verdicts is None or self.flt.custom_filters:
            return False
        # An exact str only: a subclass's own __hash__ and __eq__ would run in the lookup.
        if name is not None and (type(name) is not str or verdicts.get(name, UNKNOWN) is not None):
            return False
        kind = type(item)
        if kind in KEPT:
            return True
        if kind is int:
            return bool(-_CARD_INT_MIN < item < _CARD_INT_MIN)
        if kind is not str:
            return False
        size = str.__len__(item)
        limit = self.flt.max_size
        if size > _CLEAN_LENGTH or (limit is not None and size > limit):
            return False
        if self.flt.filter_pii and not (self.clean is not None and item in self.clean):
            return False
        self.spend(size if str.isascii(item) else 2 * size)
        return True

    def redact(self, path: Path, reason: str) -> Redacted:
        self.note(path, reason)
        return Redacted(reason)

    def note(self, path: Path, reason: str) -> None:
        """Report a change at ``path`` (never the value itself)."""
        self.report.append({"path": render_path(path), "reason": reason})
        self.touched += 1

    @abc.abstractmethod
    def visit(
        self, path: Path, name: str | None, value: Any, depth: int, custom: bool = True
    ) -> Any:
        """The filtered ``value`` (found at ``path`` under ``name``, ``depth`` levels down)."""

    def named_values(self, pairs: list[tuple[Any, Any]]) -> str | None:
        """The sensitive name a dict's naming entry gives its value entries (``"password"``
        in ``{"name": "password", "value": pw}``), else ``None``."""
        return naming_entry(pairs, self.flt.sensitive_pattern)

    @abc.abstractmethod
    def visit_key(self, path: Path, key: Any, index: int, depth: int) -> tuple[Any, str | None]:
        """The key to store (masked when secret-shaped) and the name its value is checked by."""

    # --- objects ----------------------------------------------------------------------------

    def visit_attributes(
        self, path: Path, value: Any, names: list[tuple[str, bool]], depth: int
    ) -> dict[str, tuple[bool | str, Any]]:
        """Filter the named attributes of ``value``; returns the changed ones.

        Each change is ``(True, new)`` for a slot, ``(False, new)`` for an instance-dict
        attribute, or ``(new_name, new)`` for one whose name itself had to be masked.
        """
        self.spend(OBJECT_COST + ITEM_COST * len(names))
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
                if self.settled(attr, item):
                    continue
                new = self.visit((path, ".", attr), attr, item, depth)
                if new is not item:
                    changes[attr] = (True, new)
                continue
            item = instance_dict[attr]
            # __dict__ keys are stored like dict keys: a secret-shaped one is masked (renamed).
            new_name, _ = self.visit_key(path, attr, index, depth)
            if new_name is attr and self.settled(attr, item):
                continue
            where = (path, ".", new_name)
            if attr == "args":
                self.format_args(item, instance_dict)
                new = self.visit(where, attr, item, depth)
                self.given_names = None
            else:
                new = self.visit(where, attr, item, depth)
            if new is not item or new_name is not attr:
                changes[attr] = (False, new) if new_name is attr else (str(new_name), new)
        return changes

    def visit_extra(self, path: Path, value: Any, result: Any, depth: int) -> Any:
        """Instance attributes of a tuple subclass, which pickle stores too."""
        names = attribute_names(value)
        changes = self.visit_attributes(path, value, names, depth) if names else {}
        if changes:
            shell = Inert.of(value)
            items = tuple(tuple.__iter__(result))
            # The items go back in the shape ``__getnewargs__`` gave them: one tuple for a plain
            # subclass (``tuple.__getnewargs__``: ``(cls, items)``), one by one for a
            # namedtuple's (``(cls, *items)``). Splatting both made ``cls.__new__(cls, a, b)``:
            # a capture written but never loadable.
            args = shell.args
            if _items_as_one_tuple(args, value):
                shell.args = (args[0], items)
            else:
                shell.args = (args[0], *items)
            _change_state(shell, changes)
            return shell
        return self.check_reduced(path, value, result, depth)

    def visit_reduced(self, path: Path, value: Any, depth: int) -> Any:
        """A dict, list or set subclass: its pickled form, filtered as an inert copy."""
        inert = Inert.of(value, items=True)
        result = self.visit_inert(path, inert, depth, key=id(value))
        if result is inert:
            return value
        kind = type(value)
        if type(result) is Inert and kind in _STANDARD_DICTS and result.state is None:
            # The standard library's own subclasses are rebuilt as themselves: no host code.
            items = result.dictitems or []
            if kind is collections.defaultdict:
                return collections.defaultdict(value.default_factory, items)
            return kind(items)
        return result

    def visit_object(self, path: Path, value: Any, depth: int) -> Any:
        kind = type(value)
        if (
            kind is types.MethodType and type(value.__func__) is types.FunctionType
        ) or kind is types.BuiltinMethodType:  # a built-in's here is bound to data (d.get)
            return self.visit_method(path, value, depth)
        # No more names than the budget can pay for (visit_attributes spends ITEM_COST each
        # first): one more is over it, whatever the object's size.
        names = attribute_names(value, self.room // ITEM_COST + 1)
        if dataclasses.is_dataclass(kind):  # the type: an own __class__ is host code
            # Fields first, by name, even when they are not in __dict__ (slots, properties).
            known = dict(names or ())
            fields = [(f.name, known.get(f.name, False)) for f in dataclasses.fields(value)]
            names = fields + [item for item in names or () if item[0] not in dict(fields)]
        if kind in _BOUND_BY_NAME:
            # Ours: (getattr, (owner, name)), as a bound method's.
            owner, name = value.__reduce_ex__(4)[1]
            new = self.visit((path, ".", "__self__"), None, owner, depth)
            if new is owner or type(new) is Redacted:
                return value if new is owner else new
            return Inert(getattr, (new, name))
        if kind is functools.partial:
            parts = (value.func, value.args, value.keywords, value.__dict__ if names else None)
            return self.visit_partial(path, value, parts, depth)
        if not plain_pickling(kind):
            if state_pickling(kind):
                return self.visit_by_state(path, value, names, depth)
            return self.visit_opaque(path, value, names, depth)
        if names is None:
            # Pickle stores nothing but the class, or (a built-in type's state in C) fails.
            reason = builtin_reason(value)
            return value if reason is None else self.redact(path, reason)
        duplicate = None
        if self.copying:
            # Memoized before the attributes, so a back-reference leads to the copy.
            duplicate = Inert.of(value)
            self.memo[id(value)] = (value, duplicate)
        changes = self.visit_attributes(path, value, names, depth)
        if duplicate is None:
            if not changes:
                return value
            duplicate = Inert.of(value)
        _change_state(duplicate, changes)
        return duplicate

    def visit_by_state(
        self, path: Path, value: Any, names: list[tuple[str, bool]] | None, depth: int
    ) -> Any:
        """An object pickled as its class and the state its own ``__getstate__`` returns:
        a state of attributes is filtered item by item (an :class:`Inert` with the filtered
        state, which loads through the class's ``__setstate__``); any other state is kept
        whole or replaced whole, as for an opaque object."""
        try:
            inert = Inert.of(value)  # what pickle itself calls: the class's __getstate__
        except Exception:  # noqa: BLE001 - pickle would fail on it too: do not store it
            return self.redact(path, f"unpicklable:{type_name(value)}")
        state = inert.state
        stored = state if type(state) is dict else None
        if (
            type(state) is tuple
            and len(state) == 2
            and all(part is None or type(part) is dict for part in state)
        ):
            stored = {**(state[0] or {}), **(state[1] or {})}
        if stored is None:
            return self.visit_opaque(path, value, names, depth)
        mark, touched, leans = len(self.report), self.touched, self.leans
        # An attribute the state does not hold as itself (left out, renamed, encoded) is
        # still judged by its name, as for an opaque object: a secret it holds may be stored
        # in another shape, so finding one replaces the object whole.
        missing = [
            (attr, is_slot)
            for attr, is_slot in names or ()
            if not (attr in stored and stored[attr] is _attribute(value, attr, is_slot))
        ]
        if missing:
            self.visit_attributes(path, value, missing, depth)
            self.forget_unstorable(mark, touched)  # a lock it leaves out is not stored
            if self.kept_whole(touched, leans):
                return self.opaque(path, type_name(value), mark, touched)
        result = self.visit_inert(path, inert, depth, key=id(value))
        return value if result is inert else result

    def visit_partial(self, path: Path, value: Any, parts: tuple[Any, ...], depth: int) -> Any:
        """A ``functools.partial`` (or an inert copy of one), rebuilt from its function,
        arguments, keywords and ``__dict__`` filtered one by one: pickle rebuilds it as
        ``partial(func)`` and C ``__setstate__``, which run none of the program's code.
        transitions keeps ``partial(event.trigger, model)`` on each model: replaced whole, every
        model method was refused. Replaced whole still when a part cannot be put back."""
        mark, touched = len(self.report), self.touched
        new = tuple(
            self.visit((path, ".", label), None, part, depth)
            for label, part in zip(("func", "args", "keywords", "__dict__"), parts, strict=True)
        )
        if all(a is b for a, b in zip(new, parts, strict=True)):
            return value
        func, args, keywords, extra = new
        if (
            type(func) is Redacted
            or type(args) is not tuple
            or type(keywords) not in (dict, type(None))
            or type(extra) not in (dict, type(None))
        ):
            return self.opaque(path, "partial", mark, touched)
        return Inert(functools.partial, (func,), (func, args, keywords or None, extra or None))

    def visit_method(
        self, path: Path, value: types.MethodType | types.BuiltinMethodType, depth: int
    ) -> Any:
        """A bound method: pickle stores ``getattr(obj, name)``. The object is filtered like
        any other (the method of an object with a secret is the method of its filtered copy);
        a function or class it is bound to is stored by name."""
        owner = value.__self__
        new = self.visit((path, ".", "__self__"), None, owner, depth)
        if new is owner:
            return value
        if type(new) is Redacted:
            return new  # reported at its own path
        # The names pickle's own reductions use (C attributes: no host code).
        name = value.__func__.__name__ if type(value) is types.MethodType else value.__name__
        return Inert(getattr, (new, name))

    # --- inert copies ---------------------------------------------------------------------

    def visit_inert(self, path: Path, value: Inert, depth: int, key: int | None = None) -> Any:
        """An object's pickled form: items, fields and attributes filtered one by one as the
        live object's would be; any other part filtered means the whole object is replaced."""
        hidden = value.hidden
        if type(hidden) is tuple:
            return self.visit_aside(path, value, hidden, depth, key)
        cls = value.cls
        if key is None and cls is not None and no_longer_plain(cls):
            # A snapshot's copy of an object whose class pickles itself since it was judged
            # plain: taken by the reducer chosen then, without the attributes the live one is
            # judged by (``password`` encoded by its new ``__reduce__``). Not kept: the
            # class's next snapshots carry them (its reducer is chosen again).
            return self.redact(path, f"opaque:{value.type_name()} changed how it pickles")
        return self.visit_parts(path, value, depth, key)

    def visit_aside(
        self, path: Path, value: Inert, hidden: tuple[Any, ...], depth: int, key: int | None
    ) -> Any:
        """A snapshot's copy of an object that pickles itself, with the attributes pickle's
        default would have read (``_hidden``): judged by their names as the live object's are
        (:meth:`visit_by_state`, :meth:`visit_opaque`), then its pickled form; a secret
        among them replaces it whole, whatever shape its reduction gives it."""
        by_state = hidden[0]
        mark, touched, leans = len(self.report), self.touched, self.leans
        self.visit_hidden(path, value, hidden, depth)
        self.forget_unstorable(mark, touched)
        name = hidden[4] or value.type_name()  # the class's, as the live object's
        if by_state:
            if self.kept_whole(touched, leans):
                return self.opaque(path, name, mark, touched)
            return self.visit_parts(path, value, depth, key)
        self.visit_parts(path, value, depth, key)
        if self.kept_whole(touched, leans):
            return self.opaque(path, name, mark, touched)
        return value

    def visit_hidden(self, path: Path, value: Inert, hidden: tuple[Any, ...], depth: int) -> None:
        """:meth:`visit_attributes` of attributes read on the caller's thread: the instance
        dict's (text keys), then the set slots; ``unset`` slots are counted as names too."""
        _, unset, instance_dict, slot_values, _ = hidden
        names = [name for name in instance_dict or () if type(name) is str]
        cls = value.cls
        if cls is not None and names and dataclasses.is_dataclass(cls):
            # A dataclass's fields first, as visit_object orders them.
            order = {field.name: index for index, field in enumerate(dataclasses.fields(cls))}
            names.sort(key=lambda name: order.get(name, len(order)))
        self.spend(OBJECT_COST + ITEM_COST * (len(names) + len(slot_values or ()) + unset))
        for index, attr in enumerate(names):
            item = _unstorable_copy(instance_dict[attr])
            # __dict__ keys are stored like dict keys: a secret-shaped one is masked (renamed).
            new_name, _ = self.visit_key(path, attr, index, depth)
            if new_name is attr and self.settled(attr, item):
                continue
            self.visit((path, ".", new_name), attr, item, depth)
        for attr, value_or_key in slot_values or ():
            item = _unstorable_copy(value_or_key)
            if not self.settled(attr, item):
                self.visit((path, ".", attr), attr, item, depth)

    def visit_parts(self, path: Path, value: Inert, depth: int, key: int | None = None) -> Any:
        """:meth:`visit_inert` of the parts pickle stores."""
        out: Inert | None = None
        if self.copying:
            out = value.copy()
            self.memo[id(value) if key is None else key] = (value, out)
        cls = value.cls
        mark, touched = len(self.report), self.touched
        opaque = False
        if value.dictitems is not None:
            pairs = self.visit_pairs(path, value.dictitems, depth, attributes=False)
            if pairs is not None:
                out = out or value.copy()
                out.dictitems = pairs
        if value.listitems is not None:
            items = self.visit_items(path, value.listitems, depth, None)
            if items is not None:
                out = out or value.copy()
                out.listitems = items
        args = value.args
        if value.func is getattr and len(args) == 2 and type(args[1]) is str:
            owner = self.visit_owner(path, args, depth)
            if owner is not None:
                out = out or value.copy()
                out.args = (owner, args[1])
        elif value.func is _NEWOBJ and cls is not None and issubclass(cls, tuple):
            fields = getattr(cls, "_fields", None)
            items = self.visit_items(path, list(args[1:]), depth, fields)
            if items is not None:
                out = out or value.copy()
                out.args = (args[0], *items)
        elif cls is not None and value.func is cls and issubclass(cls, (set, frozenset)):
            if len(args) == 1 and type(args[0]) is list:
                items = self.visit_items(path, args[0], depth, None)
                if items is not None:
                    out = out or value.copy()
                    out.args = (items,)
        else:
            opaque = self.check_parts(path, args[1:] if value.func is _NEWOBJ else args, depth)
        state = value.state
        if state is not None:
            if cls is not None and (plain_pickling(cls) or state_pickling(cls) or text_state(cls)):
                changed = self.visit_state(path, cls, state, depth)
                if changed is _OPAQUE:
                    opaque = True
                elif changed is not None:
                    out = out or value.copy()
                    out.state = changed
            else:
                opaque = self.check_parts(path, (state,), depth) or opaque
        if opaque:
            return self.opaque_copy(path, value, out, mark, touched)
        return value if out is None else out

    def opaque_copy(
        self, path: Path, value: Inert, out: Inert | None, mark: int, touched: int
    ) -> Redacted:
        """:meth:`opaque` for an inert copy, whose own copy may be handed out already."""
        placeholder = self.opaque(path, value.type_name(), mark, touched)
        if self.copying and out is not None:
            # The copy memoized first may be held already by a back-reference (a text node's
            # parent's children): it holds the parts as they were, so it is made to store as
            # the placeholder too, wherever it went.
            out.func, out.args = Redacted, (placeholder.reason,)
            out.state = out.listitems = out.dictitems = None
        return placeholder

    def visit_owner(self, path: Path, args: tuple[Any, ...], depth: int) -> Any:
        """A bound method's object (``getattr(obj, "name")``), filtered like any other;
        ``None`` when unchanged."""
        owner = self.visit((path, ".", "__self__"), None, args[0], depth)
        return None if owner is args[0] else owner

    def check_parts(self, path: Path, parts: tuple[Any, ...], depth: int) -> bool:
        """Visit parts kept whole or not at all; whether anything they reach is filtered."""
        touched = self.touched
        leans = self.leans
        for index, part in enumerate(parts):
            self.visit((path, "[]", index), None, part, depth)
        return self.kept_whole(touched, leans)

    def kept_whole(self, touched: int, leans: int) -> bool:
        """Whether what was checked since ``touched`` reached filtered data (then it is not
        kept); a part kept while counting on an open cycle is remembered (see ``enter``)."""
        if self.touched != touched:
            return True
        if self.leans != leans:
            self.kept_leaning += 1
        return False

    def visit_items(
        self, path: Path, items: list[Any], depth: int, fields: Any
    ) -> list[Any] | None:
        """Filtered items of a list, a set or a tuple subclass (``fields``: a namedtuple's
        names), or ``None`` when none changed."""
        self.spend(ITEM_COST * len(items))
        new_items = []
        changed = False
        for index, item in enumerate(items):
            name = fields[index] if isinstance(fields, tuple) and index < len(fields) else None
            if not isinstance(name, str):
                name = None
            if self.settled(name, item):
                new_items.append(item)
                continue
            where = (path, ".", name) if name is not None else (path, "[]", index)
            new = self.visit(where, name, item, depth)
            changed = changed or new is not item
            new_items.append(new)
        return new_items if changed else None

    def visit_pairs(
        self, path: Path, pairs: Any, depth: int, *, attributes: bool, state: Any = None
    ) -> list[tuple[Any, Any]] | None:
        """Filtered key/value pairs (a dict's items, or attributes: those of ``state``, a
        pickled state dict), ``None`` if unchanged."""
        self.spend(ITEM_COST * len(pairs))
        out: list[tuple[Any, Any]] = []
        changed = False
        named = None if attributes else self.named_values(pairs)
        for index, (key, item) in enumerate(pairs):
            new_key, name = self.visit_key(path, key, index, depth)
            if named is not None and name in VALUE_KEYS:
                name = named
            if self.settled(name, item):
                new = item
            else:
                where = (path, ".", new_key) if attributes else (path, new_key, index)
                if state is not None and key == "args":
                    self.format_args(item, state)
                    new = self.visit(where, name, item, depth)
                    self.given_names = None
                else:
                    new = self.visit(where, name, item, depth)
            changed = changed or new is not item or new_key is not key
            out.append((new_key, new))
        return out if changed else None

    def visit_state(self, path: Path, cls: type, state: Any, depth: int) -> Any:
        """The filtered state of a plainly pickled object, ``None`` when unchanged, or
        ``_OPAQUE`` when a state kept whole or not at all holds filtered data."""
        if type(state) is dict:
            pairs = self.visit_pairs(path, state.items(), depth, attributes=True, state=state)
            return None if pairs is None else dict(pairs)
        if type(state) is tuple and len(state) == 2:
            parts = list(state)
            changed = False
            for index, part in enumerate(state):
                if type(part) is dict:
                    pairs = self.visit_pairs(path, part.items(), depth, attributes=True)
                    if pairs is not None:
                        parts[index], changed = dict(pairs), True
            return tuple(parts) if changed else None
        if type(state) is list and dataclasses.is_dataclass(cls):
            names = tuple(field.name for field in dataclasses.fields(cls))
            return self.visit_items(path, state, depth, names)
        return _OPAQUE if self.check_parts(path, (state,), depth) else None

    def visit_opaque(
        self, path: Path, value: Any, names: list[tuple[str, bool]] | None, depth: int
    ) -> Any:
        """An object pickled by its own ``__reduce__``: kept whole, or replaced whole."""
        mark = len(self.report)
        touched = self.touched
        leans = self.leans
        if names:
            self.visit_attributes(path, value, names, depth)
            # Judged for a secret they may pass on to the reduced form in another shape; an
            # unstorable one (attrs' Attribute.metadata, a mappingproxy its __getstate__ turns
            # into a dict) matters only if the reduced form holds it, checked just below.
            self.forget_unstorable(mark, touched)
        self.check_reduced(path, value, value, depth)
        # Anything it reaches that is filtered, even an object met before or around a cycle:
        # kept whole, it would be stored through it.
        if self.kept_whole(touched, leans):
            return self.opaque(path, type_name(value), mark, touched)
        return value

    def check_reduced(self, path: Path, value: Any, result: Any, depth: int) -> Any:
        """Visit what pickle would store for ``result``; every filtered part is reported."""
        kind = type(value)
        if kind in BUILTIN_CONTAINERS or plain_pickling(kind) or plain_tuple(kind):
            return result  # its parts are the ones visited already
        try:
            reducer = copyreg.dispatch_table.get(kind)
            reduced = reducer(result) if reducer is not None else result.__reduce_ex__(4)
        except Exception:  # noqa: BLE001 - pickle would fail on it too: do not store it
            return self.redact(path, f"unpicklable:{type_name(value)}")
        if isinstance(reduced, str) or not isinstance(reduced, tuple):
            return result  # a global, stored by its name
        if kind is Inert:
            return result
        mark = len(self.report)
        touched = self.touched
        leans = self.leans
        if len(reduced) > 3:
            # Its items (iterators: a deque's, a custom container's) read only up to the budget.
            reduced = (*reduced[:3], *map(self.take, reduced[3:5]), *reduced[5:])
        for index, part in enumerate(materialized(reduced)):
            self.visit((path, "[]", index), None, part, depth)
        if self.kept_whole(touched, leans):
            # Rebuilding it would run its own code with placeholders inside: replace it whole.
            # (A result filtered already reports nothing here: placeholders are not refiltered.)
            return self.opaque(path, type_name(value), mark, touched)
        return result

    def take(self, items: Any) -> Any:
        """The first items of an iterable of items (``None`` stays ``None``) as a list, as
        many as the budget may hold: one more raises ``OverBudget`` before it is read."""
        if items is None:
            return None
        room = self.room // ITEM_COST
        taken = list(itertools.islice(items, room + 1))
        if len(taken) > room:
            raise OverBudget
        return taken


def _unstorable_copy(item: Any) -> Any:
    """An attribute set aside, or the stand-in of an unstorable one (``_hidden``)."""
    if type(item) is tuple and len(item) == 2 and type(item[0]) is bytes and item[0] == ASIDE:
        return unstorable_copy(item[1])
    return item


def _attribute(value: Any, name: str, is_slot: bool) -> Any:
    """The attribute ``name`` as pickle's default would read it (no host code), or a marker
    no state holds when it is unset."""
    try:
        if is_slot:
            return object.__getattribute__(value, name)
        return object.__getattribute__(value, "__dict__")[name]
    except (AttributeError, KeyError, TypeError):
        return _OPAQUE


def partial_parts(value: Inert) -> tuple[Any, ...] | None:
    """The parts of an inert copy of a ``functools.partial`` (its state: function, arguments,
    keywords, ``__dict__``), ``None`` for any other."""
    state = value.state
    if value.func is functools.partial and type(state) is tuple and len(state) == 4:
        return state
    return None


def _items_as_one_tuple(args: tuple[Any, ...], value: tuple[Any, ...]) -> bool:
    """Whether ``__newobj__`` arguments ``args`` hold ``value``'s items as one tuple."""
    if len(args) != 2 or type(args[1]) is not tuple:
        return False
    held, own = args[1], tuple(tuple.__iter__(value))
    return len(held) == len(own) and all(a is b for a, b in zip(held, own, strict=True))
