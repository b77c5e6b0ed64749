"""Building and degrading a capture record: the pieces the pipeline shares across threads.

Everything here works on a plain record dict, so the caller's thread (synchronous capture) and
the background writer (deferred capture) build and shrink records the same way.
"""

from __future__ import annotations

import builtins
import collections
import dataclasses
import inspect
import pickle
import time
from collections.abc import Sequence
from itertools import islice

from snapy_capture._records import Record
from snapy_capture._text import safe_str
from snapy_capture.capture._snapshot import SNAPSHOT_LIMIT, TOO_LARGE, freeze
from snapy_capture.filters import (
    ArgumentFilter,
    FilterResult,
    Inert,
    Redacted,
    attribute_names,
    inert_loads,
)
from snapy_capture.filters._names import (
    VALUE_KEYS,
    format_names,
    naming_entry,
    pair_key,
    structural_name,
)
from snapy_capture.filters._pickled import plain_pickling, type_name
from snapy_capture.filters._traverse import (
    KEY_MASK,
    LEAVES,
    NOT_MEMBER,
    enum_member,
    late_leaf,
    member_value,
    named_pairs,
    redacts,
)
from snapy_capture.storage import CaptureStorage

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from typing import Any, Final

__all__ = [
    "RECEIVER_KEYS",
    "TOO_LARGE_COPY",
    "ReceiverMask",
    "Signature",
    "add_receiver",
    "callable_kind",
    "degrade_receiver",
    "echoes_masked",
    "exception_message",
    "exception_result",
    "format_timestamp",
    "freeze_filtered",
    "inert_copy",
    "masked_path",
    "read_signature",
    "receiver_mask",
    "receiver_of",
    "receiver_state",
    "replace_unserializable",
    "result_filter",
    "result_state",
    "shrink",
    "too_large",
]

#: The record's keys holding a method's receiver: as called, and as the call left it.
RECEIVER_KEYS: Final = ("self", "self_after")
#: The reason of a receiver's placeholder starts so: ``[FILTERED: unstorable: ...]``.
_UNSTORABLE: Final = "unstorable: "

#: The second last formatted, in microseconds, and its timestamp with a ``%06d`` left for
#: the microseconds: a one-entry cache, swapped whole (thread-safe).
_last_second: tuple[int, str] = (1 << 62, "")


def format_timestamp(now: float) -> str:
    """ISO-8601 UTC with microseconds (truncated); the date and time are formatted once a second."""
    global _last_second  # noqa: PLW0603 - a one-entry cache, swapped whole (thread-safe)
    micros = int(now * 1e6)
    start, pattern = _last_second
    if not 0 <= micros - start < 1_000_000:
        # The second and the microseconds both from one product: they always agree.
        second = micros // 1_000_000
        start = second * 1_000_000
        # "%%" survives strftime as "%": the pattern takes the microseconds with one "%".
        pattern = time.strftime("%Y-%m-%dT%H:%M:%S.%%06dZ", time.gmtime(second))
        _last_second = (start, pattern)
    return pattern % (micros - start)


class Signature(Record):
    """What filtering needs to know of a function's parameters."""

    positional: list[str]
    var_positional: str | None
    var_keyword: str | None
    keyword: frozenset[str]


def read_signature(func: Any) -> Signature:
    """The parameter names of ``func``; none at all when it has no readable signature."""
    try:
        parameters = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return Signature([], None, None, frozenset())
    kind = inspect.Parameter
    positional = [
        p.name for p in parameters if p.kind in (kind.POSITIONAL_ONLY, kind.POSITIONAL_OR_KEYWORD)
    ]
    var = next((p.name for p in parameters if p.kind is kind.VAR_POSITIONAL), None)
    var_keyword = next((p.name for p in parameters if p.kind is kind.VAR_KEYWORD), None)
    keyword = frozenset(
        p.name for p in parameters if p.kind in (kind.POSITIONAL_OR_KEYWORD, kind.KEYWORD_ONLY)
    )
    return Signature(positional, var, var_keyword, keyword)


def callable_kind(func: Any) -> str:
    """What calling ``func`` returns: ``"coroutine"``, ``"asyncgen"``, ``"generator"`` or
    ``"function"`` (a plain value)."""
    if inspect.iscoroutinefunction(func):
        return "coroutine"
    if inspect.isasyncgenfunction(func):
        return "asyncgen"
    if inspect.isgeneratorfunction(func):
        return "generator"
    return "function"


def inert_copy(value: Any, limit: int) -> Any:
    """An inert deep copy of ``value`` (pickled once, read back without running host code:
    see ``_inert``; with stand-ins for the unstorable objects it holds); ``None`` if it does not
    pickle, :data:`TOO_LARGE_COPY` if it pickles to more than ``limit`` bytes."""
    frozen = freeze(value, limit, objects=True)
    if frozen is TOO_LARGE:
        return TOO_LARGE_COPY
    if frozen is None:
        return None
    try:
        return inert_loads(frozen)
    except Exception:  # noqa: BLE001
        return None


#: :func:`inert_copy`'s answer for a value too large to copy.
TOO_LARGE_COPY: Final = object()


def too_large(path: str, limit: int) -> tuple[Redacted, list[dict[str, str]]]:
    """The placeholder of a receiver or a result too large to copy, and its report: it was
    pickled up to ``limit`` bytes, once, and is neither walked nor stored (what the walk and
    the encoding of it would cost the caller grows with its size)."""
    prefix = "" if path == "result" else _UNSTORABLE  # as ``shrink`` words them
    placeholder = Redacted(f"{prefix}too large (over {limit} bytes)")
    # Any other limit is 4x max_capture_size (``State.snapshot_limit``).
    reason = "snapshot_limit" if limit == SNAPSHOT_LIMIT else "max_capture_size"
    return placeholder, [{"path": path, "reason": reason}]


def receiver_of(instance: Any) -> Any:
    """The receiver of a call wrapt passed ``instance`` for: a method's instance, or ``None``
    (a plain function's, a staticmethod's; a classmethod's class, which replay calls it on)."""
    # type(), not isinstance(): an instance's own __class__ is host code.
    if instance is None or issubclass(type(instance), type):
        return None
    return instance


def receiver_state(
    flt: ArgumentFilter,
    receiver: Any,
    path: str,
    limit: int | None,
    *,
    frozen: bool = False,
    mask: ReceiverMask | None = None,
) -> tuple[Any, list[dict[str, str]]]:
    """A method's receiver as stored under ``path`` (``self``, ``self_after``): filtered like
    an argument (an attribute named like a secret redacted as ``self.<attr>``, an unstorable
    one replaced by a placeholder), and its redaction report.

    With a ``limit``, the receiver is first copied (:func:`inert_copy`): its own
    ``__reduce_ex__``/``__getstate__`` run once, as a plain pickling runs them, and the copy is
    walked and encoded without running more host code, and shows the state as of now even if
    the call changes it. A receiver that does not pickle (an attribute holding a lock, a
    socket, a generator: see ``SnapshotPickler``... one the snapshot pickler does not know) is
    filtered as it is, then its filtered copy is copied: the placeholders stand in for what
    did not pickle. ``frozen``: the caller tried already. One pickling more than ``limit``
    bytes makes it a ``too large`` placeholder. ``mask``: the call's secrets, masked too
    (:func:`receiver_mask`); only when the snapshot holds one, if it is known.
    """
    if limit is not None and not frozen:
        data = freeze(receiver, limit, objects=True)
        if data is TOO_LARGE:
            return too_large(path, limit)
        if data is not None:
            try:
                if mask is not None and (
                    mask.needles is None or any(needle in data for needle in mask.needles)
                ):
                    flt = mask.filter(flt)
                # inert_copy's copy, filtered; or what was stored for the same snapshot.
                if flt.custom_filters:  # the result filter of a call given secrets, maybe
                    return _masked_snapshot(flt, data, path)
                return flt._filter_snapshot(data, path)
            except Exception:  # noqa: BLE001, S110 - did not load: as if it did not pickle
                pass
    if mask is not None:
        flt = mask.filter(flt)
    value, report = flt.filter_value(receiver, path)
    if limit is not None and value is not receiver:
        copy = inert_copy(value, limit)
        if copy is TOO_LARGE_COPY:
            return too_large(path, limit)
        if copy is not None:
            value = copy
    return value, report


def result_state(flt: ArgumentFilter, result: Any, limit: int) -> tuple[Any, list[dict[str, str]]]:
    """A call's result as stored, filtered, and its report; a ``too large`` placeholder if it
    pickles to more than ``limit`` bytes (the arguments' snapshot limit): found by one
    pickling that stops there, before the filters walk it and the serializer encodes it."""
    if freeze(result, limit) is TOO_LARGE:
        return too_large("result", limit)
    filtered: tuple[Any, list[dict[str, str]]] = flt.filter_value(result, "result")
    return filtered


def freeze_filtered(
    call: tuple[Any, ...],
    flt: ArgumentFilter,
    limit: int,
    slot: Any = None,
    frozen: bytes | None = None,
) -> bytes | None:
    """A snapshot of ``call`` (``(args, kwargs, receiver)``) whose own snapshot failed
    (``frozen``: ``None``, or ``TOO_LARGE``), with the receiver replaced, and its redaction
    report as a fourth item; ``None`` (or ``TOO_LARGE``) if that fails too: the caller
    filters it all then.

    A receiver that did not pickle as it is (an object the snapshot pickler does not know
    holding something pickle refuses) is filtered here, its placeholders in place of what
    does not pickle. Past the limit, the receiver is tried as the part too large: one more
    pickling, of the arguments only, rather than one of the receiver, as large as the limit.
    """
    if len(call) < 3:
        return None
    if frozen is TOO_LARGE:
        return freeze((call[0], call[1], *too_large("self", limit)), limit, slot, objects=True)
    receiver, report = receiver_state(flt, call[2], "self", None)
    if receiver is call[2]:  # nothing replaced: it would fail again
        return None
    return freeze((call[0], call[1], receiver, report), limit, slot, objects=True)


def add_receiver(
    record: dict[str, Any], key: str, value: Any, report: list[dict[str, str]]
) -> None:
    """Store a receiver's filtered state under ``key`` (one of :data:`RECEIVER_KEYS`)."""
    record[key] = value
    record["metadata"].setdefault("redactions", []).extend(report)


def result_filter(
    flt: ArgumentFilter,
    names: Sequence[str],
    args: Sequence[Any],
    kwargs: dict[str, Any],
    receiver: Any = None,
) -> ArgumentFilter:
    """The filter for a call's result: ``flt``, also masking every secret the call was given.

    A value redacted by name anywhere in the arguments (a parameter, a dict key, an attribute,
    a field, at any depth) must not come back in a recorded return value or exception message
    (``f"bad password {password!r}"``, ``[host, password]``) under a harmless name. Secrets of
    3 characters or more are masked wherever they appear in text; a value equal to a secret
    (``pin=739`` returned as ``739``) is replaced whatever its length. A method's
    ``receiver`` is searched too: its ``api_key`` must not come back in the result either.
    """
    found = _GivenSecrets(flt)
    given = _arguments(flt, names, args, kwargs)
    if receiver is not None:
        given.append(("self", receiver))
    found.collect(given)
    secrets = found.secrets
    if not secrets:
        return flt
    derived = flt.derive()
    texts = sorted(
        (
            (text, reason)
            for text, reason in secrets.items()
            if isinstance(text, str) and len(text) >= 3
        ),
        key=lambda item: len(item[0]),
        reverse=True,
    )
    raw = [(data, reason) for text, reason in texts for data in _encoded(text)]
    raw += [(b, r) for b, r in secrets.items() if isinstance(b, bytes) and len(b) >= 3]

    def mask_given_secrets(path: str, name: str | None, value: Any) -> Any:
        plain = _plain_atom(value)  # a str subclass (``class Password(str)``) too
        if plain is None:
            if type(value) is bytearray:  # stored as its bytes are: masked as bytes
                data = bytes(value)
                masked = mask_given_secrets(path, name, data)
                if masked is data:
                    return value
                return bytearray(masked) if type(masked) is bytes else masked
            return value
        whole = secrets.get((type(plain), plain))
        if whole is not None:
            return Redacted(whole)
        masked = plain
        if type(plain) is str:
            for text, reason in texts:
                if text in masked:
                    masked = masked.replace(text, f"[FILTERED: {reason}]")
        elif type(plain) is bytes:
            for data, reason in raw:
                if data in masked:
                    masked = masked.replace(data, f"[FILTERED: {reason}]".encode())
        return value if masked == plain else masked

    mask_given_secrets.__dict__[KEY_MASK] = True  # a secret as a dict key is stored too
    derived.add_filter(mask_given_secrets)
    if all((key[0] if type(key) is tuple else type(key)) in (str, bytes) for key in secrets):
        # Secrets that are all text: what _masked_snapshot needs, kept on the function (the
        # derived filter's last custom filter), as a pickle holds them (UTF-8, raw bytes).
        mask_given_secrets.__dict__[_TEXT_SECRETS] = (
            flt,
            tuple(
                data
                for key in secrets
                if type(key) is not tuple
                for data in (_encoded(key) if type(key) is str else (key,))
            ),
        )
    return derived


class ReceiverMask(Record):
    """The secrets a call was given, to mask in its receiver as called (``self``): their
    bytes as a snapshot holds them (``None``: not all text, always masked), and the call."""

    needles: tuple[bytes, ...] | None
    names: Sequence[str]
    args: Sequence[Any]
    kwargs: dict[str, Any]

    def filter(self, flt: ArgumentFilter) -> ArgumentFilter:
        return result_filter(flt, self.names, self.args, self.kwargs)


def receiver_mask(
    flt: ArgumentFilter,
    names: Sequence[str],
    args: Sequence[Any],
    kwargs: dict[str, Any],
    redactions: Sequence[dict[str, str]],
) -> ReceiverMask | None:
    """What :func:`receiver_state` masks in a call's receiver as called, besides what ``flt``
    filters: the secrets the call was given when its arguments held one (``redactions`` has
    a ``name:`` entry), as :func:`echoes_masked` masks them in the other arguments (a
    ``login(password)`` whose instance keeps ``self.sessions[password]`` stored it there).
    ``None``: nothing (most calls: no loop beyond their redactions)."""
    if not any(entry["reason"].startswith("name:") for entry in redactions):
        return None
    found = _GivenSecrets(flt)
    found.collect([*zip(names, args, strict=False), *kwargs.items()])
    secrets = found.secrets
    if not secrets:
        return None
    needles: tuple[bytes, ...] | None = None
    if all((key[0] if type(key) is tuple else type(key)) in (str, bytes) for key in secrets):
        needles = tuple(
            data
            for key in secrets
            for data in (_encoded(key) if type(key) is str else (key,))
            if type(key) in (str, bytes)
        )
    return ReceiverMask(needles, names, args, kwargs)


def echoes_masked(
    flt: ArgumentFilter,
    names: Sequence[str],
    args: Sequence[Any],
    kwargs: dict[str, Any],
    filtered: FilterResult,
    *,
    options: dict[str, Any],
) -> FilterResult:
    """``filtered`` (the arguments as ``flt`` filtered them), with every secret held under a
    sensitive name in the arguments also masked where another argument holds it."""
    found = _GivenSecrets(flt)
    found.collect(_arguments(flt, names, args, kwargs))
    secrets = found.secrets
    if all((key[0] if type(key) is tuple else type(key)) in (str, bytes) for key in secrets):
        # Usually no secret is passed twice: the filtered arguments, pickled once (C speed),
        # tell it without the masking walk (which has no fast path: 10x the call's cost).
        # The redactions' paths too: one names the dict keys on the way to what it redacted.
        needles = [data for key in secrets if type(key) is str for data in _encoded(key)]
        needles += [key for key in secrets if type(key) is bytes]
        paths = [entry.get("path") for entry in filtered.redactions]
        try:
            stored = pickle.dumps((filtered.args, filtered.kwargs, paths), pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 - not picklable as filtered: the walk decides
            stored = None
        if stored is not None and not any(needle in stored for needle in needles):
            return filtered
    echo = result_filter(flt, names, args, kwargs)
    if echo is flt:
        return filtered
    again = echo.filter_call(names, filtered.args, filtered.kwargs, **options)
    # A path through a dict key that is a secret given under another name
    # (``opts['hunter2']['token']``) names it: masked as the key itself is.
    report = [masked_path(echo, entry) for entry in filtered.redactions]
    return FilterResult(
        again.args, again.kwargs, [*report, *(e for e in again.redactions if e not in report)]
    )


def _arguments(
    flt: ArgumentFilter, names: Sequence[str], args: Sequence[Any], kwargs: dict[str, Any]
) -> list[tuple[Any, Any]]:
    """``(name, value)`` of each argument, a value named by a naming argument beside it
    (``set(key="password", value=pw)``) by that name, as the filter judged it."""
    named = flt.named_by(names, args, kwargs)
    if not named:
        return [*zip(names, args, strict=False), *kwargs.items()]
    positional = enumerate(zip(names, args, strict=False))
    return [
        *((named.get(index, name), value) for index, (name, value) in positional),
        *((named.get(key, key), value) for key, value in kwargs.items()),
    ]


def masked_path(echo: ArgumentFilter, entry: dict[str, str]) -> dict[str, str]:
    """A redaction ``entry`` with the call's secrets masked in its path (``echo``'s last custom
    filter, :func:`result_filter`'s masking, does it to text)."""
    path = entry.get("path")
    if type(path) is not str:
        return entry
    masked = echo.custom_filters[-1]("", None, path)
    return entry if masked is path else {**entry, "path": str(masked)}


def _encoded(text: str) -> list[bytes]:
    """The bytes ``text`` is found as: UTF-8, a lone surrogate as pickle writes it, and (a
    text read with ``surrogateescape``: a file name, an environment variable) its bytes."""
    found = [text.encode("utf-8", "surrogatepass")]
    try:
        escaped = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return found
    if escaped != found[0]:
        found.append(escaped)
    return found


#: The attribute of :func:`result_filter`'s masking function holding, when the secrets are
#: all text, ``(the filter it derives from, the secrets' bytes)``.
_TEXT_SECRETS: Final = "_snapy_text_secrets"


def _masked_snapshot(
    flt: ArgumentFilter, data: bytes, path: str
) -> tuple[Any, list[dict[str, str]]]:
    """``flt._filter_snapshot(data, path)`` for a filter masking secrets that are all text,
    without its cost when it would change nothing.

    A receiver holding a secret (``self.api_key``) made every recorded call walk the whole
    instance after the call with the derived filter: no fast path, no cache, a custom filter
    per value (7.5 ms instead of 1.7 ms a call for a 200-row table). The filter it derives from
    decides the same for every value the masking leaves alone (names are judged before custom
    filters, so the attribute itself is redacted ``name:`` either way); and masking leaves
    alone a value in which no secret's text appears. So: the base filter's answer (fast path,
    cached snapshots), pickled once (C speed) to look for the secrets' text in everything it
    stores; only if one is there, the derived filter's walk, as before.
    """
    shortcut = getattr(flt.custom_filters[-1], "__dict__", {}).get(_TEXT_SECRETS)
    if shortcut is None:  # a user's custom filter, or secrets that are not all text
        return flt._filter_snapshot(data, path)
    base, needles = shortcut
    if not any(needle in data for needle in needles):
        # No secret's text anywhere in the snapshot (which holds text as the store does):
        # the base filter's answer is the masking one's, without a pickling to check it.
        plain: tuple[Any, list[dict[str, str]]] = base._filter_snapshot(data, path)
        return plain
    value, report = base._filter_snapshot(data, path)
    try:
        # The report's paths too: they name the keys on the way to what was redacted.
        paths = [entry.get("path") for entry in report]
        stored = pickle.dumps((value, paths), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - not picklable as filtered: the derived walk decides
        stored = None
    if stored is not None and not any(needle in stored for needle in needles):
        return value, report
    return flt._filter_snapshot(data, path)


_ATOMS = (int, float, str, bytes)
#: Ints of more bits than this (about 3,900 digits) are not looked for in text.
_TEXT_BITS: Final = 13_000
#: How many values of the arguments are looked at for secrets given by name.
_SECRET_BUDGET = 10_000


def _plain_atom(value: Any) -> Any:
    """``value`` as an exact str, bytes, int or float (a subclass's value read by the base
    type's own method, none of the subclass's code run), or ``None`` for anything else."""
    kind = type(value)
    if kind in _ATOMS:
        return value
    # issubclass(type), not isinstance(): an inert copy reports the class it copies.
    if kind is bool or not issubclass(kind, _ATOMS):
        return None
    if issubclass(kind, str):
        return str.__str__(value)
    if issubclass(kind, bytes):
        return bytes.__getitem__(value, slice(None))
    if issubclass(kind, int):
        return int.__int__(value)
    return float.__float__(value)


def _key_name(key: Any) -> str | None:
    plain = _plain_atom(key)
    if type(plain) is bytes:
        # As the filter names a bytes key (``visit_key``): {b"password": pw} is judged so.
        return plain.decode("utf-8", "replace")
    return plain if type(plain) is str else None


def _format_parts(parts: list[tuple[str | None, Any]]) -> list[tuple[str | None, Any]]:
    """``parts`` (an object's attributes), with the items of an ``args`` tuple beside a
    ``msg`` format string also under the names the string gives them (a ``LogRecord``'s
    ``"password=%s"``), as the filter names them (``ObjectWalk.format_args``)."""
    found = dict.fromkeys(("msg", "args"))
    for name, part in parts:
        if name in found:
            found[name] = part
    message, args = found["msg"], found["args"]
    if type(message) is not str or type(args) is not tuple or not args:
        return parts
    names = format_names(message, len(args))
    if names is None:
        return parts
    return [*parts, *((name, item) for name, item in zip(names, args, strict=False) if name)]


class _PairName(str):
    """The name a pair's first item gives its second: no attribute's or key's (it is data)."""

    __slots__ = ()


class _GivenSecrets:
    """The values held under sensitive names anywhere in a call's arguments (reading only).

    Breadth first, so that a secret next to a large argument is found before the budget is
    spent inside it."""

    __slots__ = ("budget", "flt", "secrets", "seen")

    def __init__(self, flt: ArgumentFilter) -> None:
        self.flt = flt
        #: text or bytes -> reason (masked inside text); (type, value) -> reason (whole values)
        self.secrets: dict[Any, str] = {}
        self.seen: set[int] = set()
        self.budget = _SECRET_BUDGET

    def collect(self, given: list[tuple[Any, Any]]) -> None:
        queue: collections.deque[tuple[str | None, Any, int, str | None]] = collections.deque(
            (_key_name(name), value, 0, None) for name, value in given
        )
        while queue and self.budget > 0:
            self.budget -= 1
            name, value, depth, reason = queue.popleft()
            for item_name, item, item_reason in self.visit(name, value, depth, reason):
                queue.append((item_name, item, depth + 1, item_reason))

    def visit(
        self, name: str | None, value: Any, depth: int, reason: str | None
    ) -> list[tuple[str | None, Any, str | None]]:
        """Record ``value`` if it is a secret; its parts to visit next, with their reason."""
        if depth > self.flt.max_depth or enum_member(value):
            # An Enum member is a constant of the program's source, no secret given to this
            # call: its value (a small int, often) looked for elsewhere masked every equal one.
            return []
        member = member_value(value)
        if member is not NOT_MEMBER:
            # One of text: its value only is the secret, not its ``_sort_order_`` (every
            # equal int in the result was masked) or its name.
            value = member
        inherit = None
        if name is not None:
            pattern = self.flt.sensitive_pattern(name)
            if (
                reason is not None
                and pattern is None
                and type(name) is str  # an attribute's or a key's, not a pair's (_PairName)
                and structural_name(name)
            ):
                # Below a sensitive name, an ``auth`` object's ``username``, a cookie's
                # ``domain``, a field's ``name`` describe the secret: as the filter keeps an
                # ambiguous word's structure, only what holds the secret counts (their own
                # parts are still judged by their names).
                reason = None
            if reason is None:
                # As the filter decides: a lexer's ``token`` dict is not a secret, its text is
                # not masked in the result (a secret-named part of it still is); the items of
                # a plain list, tuple or set under it are checked by its name.
                if pattern is not None and redacts(pattern, value):
                    reason = f"name:{pattern}"
                elif pattern is not None and type(value) in (list, tuple, set, frozenset):
                    inherit = name
            if reason is not None and (type(value) is tuple or type(value) is list):
                # ("Authorization", "Basic ...") under "authorization", header pairs: the
                # filter keeps the pairs' names, which are no secrets then.
                pairs = named_pairs(self.flt.sensitive_pattern, name, pattern or "", value)
                if pairs is not None and id(value) not in self.seen:
                    self.seen.add(id(value))
                    return [
                        (None, second, f"name:{verdict}" if verdict else reason)
                        for (_, second), verdict in zip(pairs[0], pairs[1], strict=True)
                    ]
        plain = _plain_atom(value)
        if plain is not None:
            if reason is not None:
                kind = type(plain)
                self.secrets[(kind, plain)] = reason
                if kind is str or kind is bytes:
                    self.secrets[plain] = reason
                elif kind is float or plain.bit_length() <= _TEXT_BITS:
                    self.secrets.setdefault(str(plain), reason)
                # A bigger int is masked where it is a value, not in text: its digits would
                # pass ``sys.get_int_max_str_digits()`` (str() raises and the capture was
                # lost), or, that limit lifted, cost seconds to write out.
            return []
        if id(value) in self.seen:
            return []
        self.seen.add(id(value))
        try:
            items = self.items(value)
        except Exception:  # noqa: BLE001 - a hostile container: what it hides was filtered whole
            return []
        return [(inherit or item_name, item, reason) for item_name, item in items]

    def items(self, value: Any) -> list[tuple[str | None, Any]]:
        kind = type(value)
        # Types, not isinstance(): an object's own __class__ is not asked; the base types'
        # own iterators: a subclass's __iter__ is host code. No more items than the budget
        # can visit: a huge argument costs no more than a small one.
        room = self.budget
        if issubclass(kind, dict):
            return self.pairs(list(islice(dict.items(value), room)))
        if issubclass(kind, tuple):
            return self.sequence(kind, list(islice(tuple.__iter__(value), room)))
        if issubclass(kind, list):
            return self.sequence(kind, list(islice(list.__iter__(value), room)))
        if issubclass(kind, (set, frozenset)):
            iterate = set.__iter__ if issubclass(kind, set) else frozenset.__iter__
            return [(None, item) for item in islice(iterate(value), room)]
        if kind is Inert:
            return _format_parts(self.inert_items(value))
        parts: list[tuple[str | None, Any]] = []
        for attr, _ in attribute_names(value, room) or ():
            try:
                parts.append((attr, object.__getattribute__(value, attr)))
            except AttributeError:
                continue  # an unset slot
        return _format_parts(parts)

    @staticmethod
    def sequence(kind: type, items: list[Any]) -> list[tuple[str | None, Any]]:
        # From the classes' own dicts: a metaclass's __getattr__ is host code.
        fields = next(
            (k.__dict__["_fields"] for k in kind.__mro__ if "_fields" in k.__dict__), None
        )
        if isinstance(fields, tuple):
            return [(_key_name(f), v) for f, v in zip(fields, items, strict=False)]
        label = None
        if len(items) == 2:
            # A header's name may be bytes (an ASGI scope's): named as the filter names it.
            label = pair_key(items, items) if type(items[0]) is bytes else _key_name(items[0])
        if label is not None:
            # A ("password", value) pair. Its first item is data, not an attribute's name: it
            # does not exempt the second as an attribute called so would (see ``visit``).
            if structural_name(label):
                label = _PairName(label)
            return [(None, items[0]), (label, items[1])]
        return [(None, item) for item in items]

    def inert_items(self, value: Inert) -> list[tuple[str | None, Any]]:
        cls = value.cls
        args = list(value.args)
        parts: list[tuple[str | None, Any]] = []
        hidden = value.hidden
        if type(hidden) is tuple:  # the attributes its own reduction may hide
            parts += [(_key_name(k), v) for k, v in (hidden[2] or {}).items()]
            parts += hidden[3] or []
        if cls is not None and args and args[0] is cls and issubclass(cls, tuple):
            parts += self.sequence(cls, args[1:])  # a namedtuple's fields by their names
        else:
            parts += [(None, a) for a in args]
        state = value.state
        if type(state) is list and cls is not None and dataclasses.is_dataclass(cls):
            # A slotted dataclass stores its field values as a list.
            names = [field.name for field in dataclasses.fields(cls)]
            parts += list(zip(names, state, strict=False))
        else:
            parts += self.state_items(state)
        parts += [(None, item) for item in value.listitems or ()]
        parts += self.pairs(list(value.dictitems or ()))
        return parts

    def pairs(self, pairs: list[tuple[Any, Any]]) -> list[tuple[str | None, Any]]:
        """A dict's items by their keys' names; a value entry named by a naming entry
        (``{"name": "password", "value": pw}``) by that name, as the filter judges it."""
        text = naming_entry(pairs, self.flt.sensitive_pattern)
        if text is None:
            return [(_key_name(k), v) for k, v in pairs]
        return [(text if k in VALUE_KEYS else _key_name(k), v) for k, v in pairs]

    def state_items(self, state: Any) -> list[tuple[str | None, Any]]:
        parts: list[tuple[str | None, Any]] = []
        for part in state if type(state) is tuple else (state,):
            if type(part) is dict:
                parts += [(_key_name(k), v) for k, v in part.items()]
            elif type(part) is list:
                parts += [(None, v) for v in part]
        return parts


def exception_result(
    flt: ArgumentFilter, record: dict[str, Any], qualname: str, module: str, message: str
) -> None:
    """Record a raised exception as the call's result, its message filtered like a value
    (a placeholder from :func:`exception_message` is stored as it is)."""
    if isinstance(message, Redacted):
        reason = message.reason
        if reason.startswith("too large"):
            reason = "snapshot_limit" if f"over {SNAPSHOT_LIMIT} " in reason else "max_capture_size"
        else:
            reason = "unstorable:message"
        masked, report = message, [{"path": "result.exception", "reason": reason}]
    else:
        masked, report = flt.filter_value(message, "result.exception")
    record["result"] = {"exception": {"type": qualname, "module": module, "message": masked}}
    record["metadata"].setdefault("redactions", []).extend(report)


#: Every built-in exception class: their own ``__str__`` (C) reads only the fields below.
_BUILTIN_EXCEPTIONS: Final = frozenset(
    kind
    for kind in vars(builtins).values()
    if isinstance(kind, type) and issubclass(kind, BaseException)
)
#: What a built-in exception's ``__str__`` formats besides ``args`` (OSError, SyntaxError,
#: ImportError, the Unicode errors), read through the built-in class's own descriptors.
_MESSAGE_FIELDS: Final = (
    "errno",
    "strerror",
    "filename",
    "filename2",
    "msg",
    "reason",
    "encoding",
    "object",
)
_ARGS: Final = BaseException.__dict__["args"]
_GROUP: Final = getattr(builtins, "BaseExceptionGroup", None)  # Python 3.11+
#: Values whose ``str()``/``repr()`` runs no code of the program's and costs their length.
_MESSAGE_SCALARS: Final = frozenset({str, bytes, int, float, complex, bool, type(None)})


def exception_message(exception: BaseException, limit: int) -> str:
    """``str(exception)``, when it can be had without running code of the program's and
    within ``limit`` characters; else a placeholder (``Redacted``).

    A built-in exception's own ``__str__`` formats its ``args`` (a ``KeyError`` the
    ``repr`` of its key) and a few fields of its own: read when they are all built-in scalars
    (text, bytes, numbers, ``None``, dates...) or tuples of them, whose length bounds the
    cost. A message made by a class's own ``__str__``, or by the ``__str__``/``__repr__`` of
    another object (``KeyError(order)``), is the program's code, which may do anything (an
    ORM object's ``repr`` may query its database): not run. Replay then compares the
    exception's type, not its message.
    """
    kind = type(exception)
    owner: type | None = None
    for klass in type.__dict__["__mro__"].__get__(kind):
        if "__str__" in type.__dict__["__dict__"].__get__(klass):
            owner = klass
            break
    if owner not in _BUILTIN_EXCEPTIONS:
        return Redacted(f"unstorable: the message of {_type_name(kind)} would run its own code")
    # A group's message is its own text and a count of what it holds (not their messages).
    group = owner is _GROUP
    values: list[Any] = [] if group else list(_ARGS.__get__(exception))
    for name in ("message",) if group else _MESSAGE_FIELDS:
        for klass in owner.__mro__:  # built-in classes: their descriptors are C
            descriptor = klass.__dict__.get(name)
            if descriptor is not None:
                values.append(descriptor.__get__(exception, klass))
                break
    size = 0
    for value in values:
        items = value if type(value) is tuple else (value,)
        for item in items:
            kind_of = type(item)
            if (
                kind_of not in _MESSAGE_SCALARS
                and kind_of not in LEAVES
                and not late_leaf(kind_of)  # a Decimal, once decimal is imported
            ):
                return Redacted(
                    f"unstorable: the message of {_type_name(kind)} would run code of "
                    f"{_type_name(kind_of)}"
                )
            if kind_of is str or kind_of is bytes:
                size += len(item)
    if size > limit:
        return Redacted(f"too large (over {limit} bytes): message of {size} characters")
    return safe_str(exception)


def _type_name(kind: type) -> str:
    """A class's name, read through ``type``'s own descriptor (not a metaclass's)."""
    name = type.__dict__["__qualname__"].__get__(kind)
    return name if isinstance(name, str) else "?"


def _slots(record: dict[str, Any]) -> list[tuple[Any, Any, str, str]]:
    """(container, key, path, placeholder prefix) of each argument, receiver and result
    value in a record. A result that is the receiver (``is_self``) is not a slot of its own:
    it follows ``self_after`` (see :func:`_follow_receiver`)."""
    slots: list[tuple[Any, Any, str, str]] = [
        (record["args"], i, f"args[{i}]", "") for i in range(len(record["args"]))
    ]
    slots += [(record["kwargs"], key, key, "") for key in record["kwargs"]]
    slots += [(record, key, key, _UNSTORABLE) for key in RECEIVER_KEYS if key in record]
    result = record.get("result")
    if isinstance(result, dict) and "value" in result and not result.get("is_self"):
        slots.append((result, "value", "result", ""))
    return slots


def _follow_receiver(record: dict[str, Any]) -> None:
    """A result that is the receiver stays the very object stored as ``self_after`` (pickle
    stores it once), whatever replaced that."""
    result = record.get("result")
    if isinstance(result, dict) and result.get("is_self") and "self_after" in record:
        result["value"] = record["self_after"]


def degrade_receiver(
    storage: CaptureStorage, record: dict[str, Any], serializer: Any = None
) -> bool:
    """Replace, in place, a receiver that ``serializer`` cannot encode on its own by
    ``[FILTERED: unstorable: ...]``, rather than lose the whole capture; whether any was.

    The reason names the class and the error's type, never its message (a ``__reduce__``
    may put the state it failed on in there).
    """
    report = record["metadata"].setdefault("redactions", [])
    replaced = False
    for key in RECEIVER_KEYS:
        if key not in record:
            continue
        value = record[key]
        try:
            storage.encode({"args": [value], "kwargs": {}}, serializer)
        except Exception as exc:  # noqa: BLE001
            # Only the parts it cannot store, when its state can be taken apart.
            record[key] = _Degrade(storage, serializer, report).whole(key, value, exc)
            replaced = True
    _follow_receiver(record)
    return replaced


#: How many levels below a value that fails to encode its parts are tried one by one
#: (an attribute, then an item of a dict or list attribute, or an attribute of an object one).
_DEGRADE_DEPTH: Final = 2


class _Degrade:
    """A value that ``serializer`` cannot encode, with only the parts that fail replaced by
    ``[FILTERED: unstorable: cannot serialize <Class> (<ErrorType>)]``.

    A part is tried alone; one that fails is taken apart in turn, up to
    :data:`_DEGRADE_DEPTH` levels: an object by its pickled state (an inert copy, as the
    filters make: no host object is changed, none rebuilt), a dict, list or tuple by its
    items. Anything else that fails is replaced whole. Only on the error path: each part
    costs one encoding of it.
    """

    __slots__ = ("report", "serializer", "storage")

    def __init__(self, storage: CaptureStorage, serializer: Any, report: list[dict[str, str]]):
        self.storage = storage
        self.serializer = serializer
        self.report = report

    def whole(self, path: str, value: Any, error: Exception) -> Any:
        """``value`` (which failed with ``error``) degraded part by part, or its placeholder."""
        degraded = None if _cycle(error) else self.attempt(path, value)
        if degraded is not None:
            return degraded
        self.report.append({"path": path, "reason": "unserializable"})
        return _placeholder(value, error, _UNSTORABLE)

    def attempt(self, path: str, value: Any) -> Any:
        """``value`` degraded part by part so that it encodes, else ``None`` (nothing reported)."""
        mark = len(self.report)
        degraded = self.parts(path, value, _DEGRADE_DEPTH)
        if degraded is not None:
            try:
                self.encode(degraded)
            except Exception:  # noqa: BLE001, S110 - not by its parts: replaced whole
                pass
            else:
                return degraded
        del self.report[mark:]
        return None

    def encode(self, value: Any) -> None:
        self.storage.encode({"args": [value], "kwargs": {}}, self.serializer)

    def part(self, path: str, value: Any, depth: int) -> Any:
        """``value`` itself when it encodes, else degraded (or replaced) below ``path``."""
        try:
            self.encode(value)
        except Exception as exc:  # noqa: BLE001
            degraded = self.parts(path, value, depth) if depth > 0 and not _cycle(exc) else None
            if degraded is not None:
                return degraded
            self.report.append({"path": path, "reason": "unserializable"})
            return _placeholder(value, exc, _UNSTORABLE)
        return value

    def parts(self, path: str, value: Any, depth: int) -> Any:
        """A copy of ``value`` with each part through :meth:`part`; ``None`` when it has no
        parts to try (or a part cannot be read without running its code)."""
        kind = type(value)
        depth -= 1
        if kind is dict:
            return {k: self.part(f"{path}[{_key_label(k)}]", v, depth) for k, v in value.items()}
        if kind is list or kind is tuple:
            items = [self.part(f"{path}[{i}]", v, depth) for i, v in enumerate(value)]
            return items if kind is list else tuple(items)
        if kind is Inert:
            inert = value.copy()
        elif kind in (set, frozenset) or kind is Redacted or not plain_pickling(kind):
            return None  # a set's items are unordered, an opaque object is rebuilt by its code
        else:
            try:
                inert = Inert.of(value)
            except Exception:  # noqa: BLE001 - cannot be taken apart
                return None
        inert.state = self.state(path, inert.state, depth)
        if inert.listitems is not None:
            inert.listitems = [
                self.part(f"{path}[{i}]", v, depth) for i, v in enumerate(inert.listitems)
            ]
        if inert.dictitems is not None:
            inert.dictitems = [
                (k, self.part(f"{path}[{_key_label(k)}]", v, depth)) for k, v in inert.dictitems
            ]
        return inert

    def state(self, path: str, state: Any, depth: int) -> Any:
        if type(state) is dict:
            return {k: self.part(f"{path}.{k}", v, depth) for k, v in state.items()}
        if type(state) is tuple and len(state) == 2:
            return tuple(self.state(path, part, depth) for part in state)
        if type(state) is list:  # a slotted dataclass's fields, by position
            return [self.part(f"{path}[{i}]", v, depth) for i, v in enumerate(state)]
        return state


def _cycle(error: Exception) -> bool:
    """Whether ``error`` is the JSON encoder's: "... cannot store a reference cycle"."""
    return isinstance(error, ValueError) and "reference cycle" in str(error)


def _key_label(key: Any) -> str:
    return repr(key) if type(key) in (str, int, float, bool) else "#"


def _placeholder(value: Any, error: Exception, prefix: str) -> Redacted:
    """The reason names the class and the error's type, never its message (a ``__reduce__``
    may put the state it failed on in there)."""
    cls = value.cls if type(value) is Inert else type(value)
    name = getattr(cls, "__qualname__", "object")
    return Redacted(f"{prefix}cannot serialize {name} ({type(error).__name__})")


def replace_unserializable(storage: CaptureStorage, record: dict[str, Any]) -> None:
    """Redact, in place, each value of ``record`` that ``storage`` cannot encode on its own:
    only its parts that fail when it can be taken apart (see :class:`_Degrade`), else whole."""
    report = record["metadata"].setdefault("redactions", [])
    for container, key, path, prefix in _slots(record):
        value = container[key]
        try:
            storage.encode({"args": [value], "kwargs": {}})
        except Exception as exc:  # noqa: BLE001
            # Only the parts it cannot store; not a cycle (taken apart, it would be unrolled).
            degraded = None if _cycle(exc) else _Degrade(storage, None, report).attempt(path, value)
            if degraded is not None:
                container[key] = degraded
                continue
            why = f"unserializable {type_name(value)}"  # an inert copy: the class it copies
            if _cycle(exc):
                why += ": a reference cycle, which JSON cannot store"  # JSON has no references
            container[key] = Redacted(f"{prefix}{why}")
            report.append({"path": path, "reason": "unserializable"})
    _follow_receiver(record)


def shrink(
    storage: CaptureStorage, record: dict[str, Any], limit: int, serializer: Any = None
) -> bytes | None:
    """The record encoded within ``limit`` bytes, largest values redacted first, or ``None``.

    ``serializer`` is the one that encoded the record (a fallback, or ``None`` for the
    storage's own): every size is measured, and the result written, with that same one.
    A receiver is one value here: it is replaced whole (a placeholder) before the capture is
    lost.
    """
    sizes = []
    for container, key, path, prefix in _slots(record):
        try:
            size = len(storage.encode({"args": [container[key]], "kwargs": {}}, serializer))
        except Exception:  # noqa: BLE001 - cannot be measured alone: give way first
            size = limit + 1
        sizes.append((size, container, key, path, prefix))
    report = record["metadata"].setdefault("redactions", [])
    for size, container, key, path, prefix in sorted(sizes, key=lambda item: -item[0]):
        container[key] = Redacted(f"{prefix}too large ({size} bytes)")
        report.append({"path": path, "reason": "max_capture_size"})
        _follow_receiver(record)
        data = storage.encode(record, serializer)
        if len(data) <= limit:
            return data
    data = storage.encode(record, serializer)
    return data if len(data) <= limit else None
