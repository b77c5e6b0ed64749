"""The fast path of :meth:`~snapy_capture.filters.ArgumentFilter.filter_call`.

Most arguments are small and clean: ints, floats, short strings, lists of them. Proving that a
value passes every filter unchanged is much cheaper than walking it with
:mod:`snapy_capture.filters._traverse`, which must also be ready to copy, memoize, follow cycles and
build report paths. :class:`Quick` answers only "certainly unchanged, nothing to report"; when
it cannot say so cheaply (anything filtered, any type it does not know, a large or deep value)
the argument takes the full walk, which decides the same as if this path did not exist.

It asks the filter's own caches the questions the walk would ask (name verdicts, type reasons,
the compiled PII patterns and their cache of clean strings), so both paths agree by
construction. The filter only uses it while its class and instance keep the built-in
implementations of those questions and no custom filter is registered (a custom filter must
see every value): see ``ArgumentFilter._quick`` (in :mod:`._filter`).
"""

from __future__ import annotations

from snapy_capture._digests import blake2b
from snapy_capture._stdtypes import datetime
from snapy_capture.filters._inert import inert_loads, resolves_as
from snapy_capture.filters._names import NAME_LENGTH, NAMING_KEYS
from snapy_capture.filters._objects import ITEM_COST, Memo, Tables
from snapy_capture.filters._pii import is_card_decimal
from snapy_capture.filters._redacted import Redacted
from snapy_capture.filters._traverse import (
    ATOMIC,
    CARD_INT_MIN,
    CARD_LEAVES,
    HOLDERS,
    LEAF_SETS,
    LEAVES,
    Budget,
    filter_argument,
    plain_holder,
    redacts,
)

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from typing import Any, Final

    from snapy_capture.filters._questions import CachedQuestions

__all__ = ["Quick"]

_DATETIME: Final = datetime.datetime
_UTC: Final = datetime.timezone.utc

#: Left as they are by the walk, at any depth and under any name but a sensitive one (a
#: Decimal too, unless it holds a card number: see :meth:`Quick.value`).
_ATOMS: Final[set[type]] = set(ATOMIC | (LEAVES - CARD_LEAVES))
LEAF_SETS.append(_ATOMS)  # leaves whose module is imported later join it (late_leaf)
_CONTAINERS: Final = frozenset({list, tuple, set, frozenset, dict})
#: What one argument may cost before the walk is cheaper, counted as the walk counts a call's
#: size budget (``_traverse.Budget``): 4096 items (and keys), and 64 KiB of text. The walk
#: memoizes shared objects and this check does not, so a value full of repeated references
#: must not blow up. It also bounds the work wasted on a big argument that turns out to need
#: the walk.
BUDGET: Final = 4096 * ITEM_COST + (64 << 10)
#: The longest strings the filter's cache of clean strings holds (``_pii._CLEAN_CACHE_LENGTH``):
#: a longer one is not looked up, which would hash it whole.
_CACHED: Final = 256
_UNKNOWN: Final = object()
#: Bounds of a snapshot cache (:meth:`Quick.snapshot`): the total size of the snapshots whose
#: filtered copies it holds (the copies take some times more, as objects), and of one.
_SNAPSHOT_TOTAL: Final = 2 << 20
_SNAPSHOT_BYTES: Final = 64 << 10


class _Snapshots:
    """Filtered snapshots by ``(digest, name)``: ``(globals named, what was stored, report)``."""

    __slots__ = ("entries", "size")

    def __init__(self) -> None:
        self.entries: dict[tuple[bytes, str], tuple[Any, Any, list[dict[str, str]]]] = {}
        self.size = 0


#: The snapshot caches of each set of filter settings (see :func:`_snapshot_cache`).
_shared: dict[Any, _Snapshots] = {}


def _snapshot_cache(flt: CachedQuestions, lists: tuple[list[str], ...]) -> _Snapshots:
    """The cache of filtered snapshots for ``flt``'s settings, shared by the filters with the
    same ones (each captured function has its own filter, often with the same settings and the
    same receivers); its own when its ``filter_types`` hold classes (compared by name only
    when they are names)."""
    types = flt.filter_types
    if not all(type(kind) is str for kind in types):
        return _Snapshots()
    key = (
        type(flt),
        tuple(tuple(items) for items in lists),
        types,
        flt.filter_pii,
        flt.max_size,
        flt.max_depth,
    )
    cache = _shared.get(key)
    if cache is None:
        if len(_shared) >= 16:
            _shared.clear()
        cache = _shared[key] = _Snapshots()
    return cache


class _Walk(Exception):
    """Leave this argument to the walk."""


class Quick:
    """Whether values would pass one filter unchanged, with nothing to report.

    Holds the filter's settings as they were when it was made, and the filter's caches for
    those settings; the filter makes a new one when :meth:`current` says they changed.
    Thread-safe: the state of a check (the remaining budget) is passed along, not stored, and
    the spans held for a walk are only ever used for the very string they were found in.
    """

    __slots__ = (
        "cached",
        "clean",
        "compiled",
        "filter_pii",
        "filter_types",
        "flt",
        "generation",
        "lists",
        "max_depth",
        "max_size",
        "reasons",
        "snapshots",
        "tables",
        "verdicts",
    )

    def __init__(self, flt: CachedQuestions, generation: int) -> None:
        # Read before the caches, so that a concurrent change can only make this one stale.
        self.generation = generation
        # Assigning a new list does not move the change counter: held to compare by identity
        # (a thread assigning one while this is being built must not leave it current).
        self.lists = (flt.patterns, flt.ignore_args, flt.allow_args, flt.pii_patterns)
        self.filter_types = flt.filter_types
        self.filter_pii = flt.filter_pii
        self.max_size: int | None = flt.max_size
        self.max_depth: int = flt.max_depth
        # The longest string looked up in ``clean`` (a longer one would be hashed whole):
        # no longer than max_size either, so a string found there needs no other check.
        self.cached = _CACHED if self.max_size is None else min(_CACHED, self.max_size)
        self.flt = flt
        self.verdicts = flt._name_verdicts()
        self.reasons = flt._type_reasons()
        self.compiled = flt._compiled_pii() if self.filter_pii else None
        self.clean: dict[str, None] = {} if self.compiled is None else self.compiled.clean
        # What the walk reads directly (``_objects.Tables``).
        self.tables: Tables = (self.verdicts, self.clean, self.reasons)
        #: (digest of a snapshot, name) -> (the globals it named, what was stored, report):
        #: see :meth:`snapshot`. Tied to these settings (``_snapshot_cache``).
        self.snapshots = _snapshot_cache(flt, self.lists)

    def current(self, flt: CachedQuestions, generation: int) -> bool:
        """Whether this was made for ``flt`` as it is now (``generation``: the change counter)."""
        lists = self.lists
        return (
            self.flt is flt  # not for a copy: ``copy.copy`` shares the instance dict
            and self.generation == generation
            and self.filter_types is flt.filter_types
            and self.filter_pii is flt.filter_pii
            and self.max_size is flt.max_size
            and self.max_depth is flt.max_depth
            and lists[0] is flt.patterns
            and lists[1] is flt.ignore_args
            and lists[2] is flt.allow_args
            and lists[3] is flt.pii_patterns
        )

    def filter(
        self,
        path: str,
        name: str | None,
        value: Any,
        report: list[dict[str, str]],
        *,
        memo: Memo | None = None,
        budget: Budget | None = None,
    ) -> Any:
        """What :func:`~snapy_capture.filters._traverse.filter_argument` returns, the same, sooner.

        A clean value is returned as is (its cost taken from ``budget``), and one under a
        sensitive name is replaced as the walk would replace it; anything else takes the walk.
        """
        try:
            if name is not None:
                verdict: Any = self.verdicts.get(name, _UNKNOWN)
                if verdict is _UNKNOWN:
                    verdict = self.flt.sensitive_pattern(name)
                if verdict is not None:
                    if not redacts(verdict, value):
                        if value is None or value is True or value is False:
                            return value  # nothing secret in it (see ``redacts``)
                        raise _Walk  # an ambiguous word over a structure: the walk's rules
                    if type(value) is Redacted:
                        return value  # the walk never refilters a placeholder
                    if type(value) is tuple or type(value) is list:
                        raise _Walk  # maybe (name, value) pairs, whose shape the walk keeps
                    known = None if memo is None else memo.get(id(value))
                    if (
                        known is not None
                        and known[0] is value
                        and known[1] is value
                        and type(value) not in _CONTAINERS
                    ):
                        return value  # stored already by an earlier argument (see the walk)
                    redacted = Redacted(f"name:{verdict}")
                    report.append({"path": path, "reason": redacted.reason})
                    return redacted
            kind = type(value)
            # The commonest arguments without a call: atoms, small ints, strings found clean.
            if kind in _ATOMS or (kind is int and -CARD_INT_MIN < value < CARD_INT_MIN):
                return value
            if kind is str:
                size = len(value)  # before a lookup, which would hash a long one whole
                if size <= self.cached and value in self.clean:
                    if budget is not None:
                        # May pass it by that string at most: an estimate, not worth a test.
                        budget[0] -= size
                    return value
            elif kind is _DATETIME and (value.tzinfo is None or value.tzinfo is _UTC):
                return value  # a leaf (see ``value``), without the call
            if budget is None:
                if self.value(value, 0, BUDGET) >= 0:
                    return value
            else:
                room = budget[0]
                start = room if room < BUDGET else BUDGET
                left = self.value(value, 0, start)
                if left >= 0:
                    budget[0] = room - start + left
                    return value
        except Exception:  # noqa: BLE001, S110 - e.g. a dict resized by another thread: walk it
            pass
        try:
            return filter_argument(
                self.flt, path, name, value, report, memo=memo, budget=budget, tables=self.tables
            )
        finally:
            self.release()

    def snapshot(self, data: bytes, name: str) -> tuple[Any, list[dict[str, str]]]:
        """What :meth:`filter` returns for the inert copy that ``data``, a snapshot taken in
        this process (``_inert``), loads as, and the report; raises if it does not load.

        A receiver is snapshotted on every call of its methods, and mostly unchanged from one
        call to the next: one seen before is not loaded and walked again. The same bytes load
        as the same copy when the globals they name still resolve to the same objects (a class
        redefined under its name does not), and the copy is filtered the same under the same
        settings (shared by the filters with equal ones; a Quick is rebuilt when they change;
        never with custom filters, which see every value). Kept by a digest, not the bytes
        (no unfiltered data is held), with the filtered value, which is shared by the records
        given it: nothing changes a record's values in place (they are replaced whole).
        """
        key = (blake2b(data, digest_size=32).digest(), name)
        known = self.snapshots.entries.get(key)
        if known is not None and resolves_as(known[0]):
            return known[1], [dict(entry) for entry in known[2]]
        resolved: list[tuple[str, str, Any]] = []
        copy = inert_loads(data, resolved)
        report: list[dict[str, str]] = []
        value = self.filter(name, name, copy, report)
        if len(data) <= _SNAPSHOT_BYTES:
            cache = self.snapshots
            if cache.size + len(data) > _SNAPSHOT_TOTAL:
                cache.entries = {}  # swapped whole: a lookup meanwhile reads the old one
                cache.size = 0
            cache.size += len(data)  # may be off under threads: a bound, not an account
            cache.entries[key] = (tuple(resolved), value, [dict(entry) for entry in report])
        return value, report

    def keyword(self, key: Any, report: list[dict[str, str]]) -> Any:
        """What the filter stores for a ``**kwargs`` key: the key itself, when it is clean."""
        if type(key) is str and (key in self.clean or self.text(key)):
            return key
        try:
            return self.flt._safe_keyword(key, report)
        finally:
            self.release()

    def text(self, value: str) -> bool:
        """Whether an exact ``str`` holds nothing secret-shaped (its size is not checked here).

        The spans of a dirty one are held for the walk that follows, which scans it to find
        them and again to mask them: see :meth:`release`.
        """
        compiled = self.compiled
        return compiled is None or value in self.clean or compiled.hold(value)

    def release(self) -> None:
        """Let go of the held spans: the walk that needed them is over (or never began)."""
        if self.compiled is not None:
            self.compiled.release()

    def value(self, value: Any, depth: int, budget: int) -> int:
        """What is left of ``budget`` once ``value`` (at ``depth``) is found clean, or -1.

        Counted as the walk counts a call's size budget, and before anything is read: a
        string's length before it is scanned, a container's items before they are."""
        kind = type(value)
        if kind in _ATOMS:
            return budget
        if kind is int:
            clean = -CARD_INT_MIN < value < CARD_INT_MIN or self.compiled is None
            return budget if clean else -1
        if kind is str:
            size = len(value)
            budget -= size if value.isascii() else 2 * size
            limit = self.max_size
            clean = budget >= 0 and (limit is None or size <= limit) and self.text(value)
            return budget if clean else -1
        if kind in _CONTAINERS:
            return self.container(value, depth, budget)
        if kind in CARD_LEAVES:
            return budget if self.compiled is None or not is_card_decimal(value) else -1
        if kind is _DATETIME and (value.tzinfo is None or value.tzinfo is _UTC):
            return budget  # the commonest holders, without a call
        if kind in HOLDERS:
            return budget if plain_holder(value) else -1
        return -1

    def names_secret(self, item: Any) -> bool:
        """Whether ``item``, a dict's naming entry (``"name"``), is a sensitive name."""
        if type(item) is not str or len(item) > NAME_LENGTH:
            return False
        verdict = self.verdicts.get(item, _UNKNOWN)
        if verdict is _UNKNOWN:
            verdict = self.flt.sensitive_pattern(item)
        return verdict is not None

    def container(self, value: Any, depth: int, budget: int) -> int:
        """:meth:`value` for a built-in container (an exact list, tuple, set, frozenset, dict)."""
        size = len(value)
        limit = self.max_size
        if depth >= self.max_depth or (limit is not None and size > limit):
            return -1
        kind = type(value)
        reason = self.reasons.get(kind, _UNKNOWN)
        if reason is _UNKNOWN:
            reason = self.flt.unstorable_reason(value)
        budget -= size * ITEM_COST
        if reason is not None or budget < 0:
            return -1
        depth += 1
        if kind is dict:
            return self.mapping(value, depth, budget)
        if size == 2 and (kind is tuple or kind is list):
            # ("password", pw): the walk checks the second item by the first's name.
            key = value[0]
            if type(key) is str:
                verdict = self.verdicts.get(key, _UNKNOWN)
                if verdict is not None and (
                    verdict is not _UNKNOWN or self.flt.sensitive_pattern(key) is not None
                ):
                    return -1
            elif isinstance(key, str):
                return -1  # a str subclass: the walk reads it safely
        clean = self.clean
        cached = self.cached
        previous: Any = _UNKNOWN
        for item in value:
            if item is previous:
                # ``[row] * n``: the same object at the same depth, found clean already (the
                # walk memoizes it); re-checking each repeat is what could blow up.
                continue
            previous = item
            # Atoms, and strings already found clean, without a call.
            kind = type(item)
            if kind in _ATOMS or (kind is int and -CARD_INT_MIN < item < CARD_INT_MIN):
                continue
            if kind is str:
                size = len(item)  # before a lookup, which would hash a long one whole
                if size <= cached and item in clean:
                    budget -= size  # checked at the end: nothing is scanned meanwhile
                    continue
            if kind in _CONTAINERS:
                budget = self.container(item, depth, budget)
            elif kind is _DATETIME and (item.tzinfo is None or item.tzinfo is _UTC):
                continue  # as ``value`` clears it, without the call (rows of timestamps)
            else:
                budget = self.value(item, depth, budget)
            if budget < 0:
                return -1
        return budget if budget >= 0 else -1

    def mapping(self, value: dict[Any, Any], depth: int, budget: int) -> int:
        verdicts = self.verdicts
        for key, item in value.items():
            kind = type(key)
            if kind is str:
                # The walk masks a secret-shaped key, and checks the item by the key's name.
                budget -= len(key)  # before it is scanned
                if budget < 0 or not self.text(key):
                    return -1
                verdict = verdicts.get(key, _UNKNOWN)
                if verdict is _UNKNOWN:
                    verdict = self.flt.sensitive_pattern(key)
                if verdict is not None or (key in NAMING_KEYS and self.names_secret(item)):
                    return -1  # {"name": "password", "value": pw}: the walk judges the pair
            elif (
                not (kind in _ATOMS or kind is int or kind in HOLDERS)
                or self.value(key, depth, 0) < 0
            ):
                return -1
            budget = self.value(item, depth, budget)
            if budget < 0:
                return -1
        return budget
