"""Captures finished off the caller's thread: what the caller queues, and the writer's side.

With ``async_storage`` or ``lazy_serialization`` the caller's thread only takes what cannot
wait (a snapshot of the arguments, or references to them, the call time and the thread name)
and queues it, laid out as a :class:`QueuedCapture`; the background writer filters, builds,
encodes and stores the capture (:func:`run_queued`). A capture that records the call's
result waits in a :class:`Deferred` until the call returns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from snapy_capture._records import Record
from snapy_capture.capture._record import (
    add_receiver,
    exception_message,
    exception_result,
    masked_path,
    receiver_mask,
    receiver_of,
    receiver_state,
    result_filter,
    result_state,
    too_large,
)
from snapy_capture.capture._snapshot import TOO_LARGE, freeze
from snapy_capture.capture._state import State
from snapy_capture.capture._writer import Entry, push
from snapy_capture.filters import FilterResult, inert_loads

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from typing import Any, Protocol

__all__ = ["Deferred", "QueuedCapture", "Site", "run_queued"]


if TYPE_CHECKING:  # protocols: annotations only

    class Site(Protocol):
        """What finishing a capture needs from its capture site (``_pipeline.CaptureSite``)."""

        def param_names(self, count: int, *, bound: bool) -> Sequence[str]: ...
        def filter_args(
            self, state: State, names: Sequence[str], args: Sequence[Any], kwargs: dict[str, Any]
        ) -> FilterResult: ...
        def record(
            self,
            state: State,
            filtered: FilterResult,
            depth: int,
            *,
            now: float,
            thread: str | None = None,
        ) -> dict[str, Any]: ...
        def encode(self, state: State, record: dict[str, Any]) -> bytes | None: ...
        def store(self, state: State, data: bytes | None, *, timed: bool) -> None: ...
        def queue_full(self) -> None: ...
        def fail(self, exc: BaseException, stage: str) -> None: ...


class QueuedCapture(Record):
    """The fields of a capture the caller queued (a writer's :data:`~._writer.Entry`).

    The caller queues them as a plain tuple in this order (``_caller.make_caller``, the one
    place that builds it): a tuple subclass built and freed per call costs the caller of an
    async capture measurably more. :func:`run_queued` reads it as this class.
    """

    run: Callable[[Entry], None]
    #: The bytes the entry holds in memory (see ``_writer.MAX_QUEUED_BYTES``).
    size: int
    site: Site
    state: State
    depth: int
    #: Whether the call had a ``self``/``cls``, left out of ``payload``.
    bound: bool
    #: The ``(args, kwargs)`` as called, and a method's receiver third (``(args, kwargs,
    #: self)``, and its redaction report fourth when the caller filtered it): a snapshot
    #: (bytes), or, lazily, the objects themselves.
    payload: Any
    now: float
    #: The calling thread's name at the call (``None`` with ``minimal_capture``).
    thread: str | None


def run_queued(
    entry: Entry, result: tuple[Any, ...] | None = None, after: tuple[Any, ...] | None = None
) -> None:
    """Filter, build, encode and store a capture queued by the caller (on the writer's thread).

    ``entry`` holds a :class:`QueuedCapture`'s fields; a :class:`Deferred` adds the call's
    ``result``, and the receiver's state ``after`` it.
    """
    capture = QueuedCapture._make(entry)
    site, state, payload = capture.site, capture.state, capture.payload
    try:
        # A snapshot is unpickled into inert copies: no host code runs on this thread.
        snapshot = type(payload) is bytes
        call = inert_loads(payload) if snapshot else payload
        args, kwargs = call[0], call[1]
        names = site.param_names(len(args), bound=capture.bound)
        filtered = site.filter_args(state, names, args, kwargs)
        record = site.record(state, filtered, capture.depth, now=capture.now, thread=capture.thread)
        receiver = call[2] if len(call) > 2 else None
        if receiver is not None:
            # Lazily queued, it is the live instance: copied here, its reducer run once.
            limit = None if snapshot else state.copy_limit
            mask = receiver_mask(state.filter, names, args, kwargs, filtered.redactions)
            value, report = receiver_state(state.filter, receiver, "self", limit, mask=mask)
            if len(call) > 3:  # filtered by the caller already (``freeze_filtered``)
                earlier = call[3]
                if mask is not None:  # the call's secrets, masked in those paths too
                    echo = mask.filter(state.filter)
                    earlier = [masked_path(echo, item) for item in earlier]
                report = [*earlier, *(item for item in report if item not in earlier)]
            add_receiver(record, "self", value, report)
        if result is not None:
            # Masks every secret the arguments held, wherever the result echoes it.
            echo_filter = result_filter(state.filter, names, args, kwargs, receiver)
            if after is not None:
                _add_after(record, after, echo_filter)
            _add_result(record, result, echo_filter, state.snapshot_limit)
        data = site.encode(state, record)
    except Exception as exc:  # noqa: BLE001 - e.g. an argument mutated while read (lazy)
        site.fail(exc, "capture")
        return
    site.store(state, data, timed=True)


class Deferred:
    """A deferred capture whose call's result is recorded: queued once the call returns.

    The caller's thread only takes what cannot wait: the call time, the thread name, and the
    arguments, as a pickle snapshot (so the capture shows them as they were at the call, even
    if they are mutated afterwards) or, with ``lazy_serialization``, as references (cheaper
    still, but the capture shows them as they are when the writer reaches them); then the
    result, the same way.
    """

    __slots__ = ("after", "entry", "receiver", "result", "site", "size", "state")

    def __init__(
        self, entry: Entry, size: int, site: Site, state: State, instance: Any = None
    ) -> None:
        # What a capture without its result would queue (a QueuedCapture's fields).
        self.entry = entry
        self.size = size
        self.site = site
        self.state = state
        self.result: tuple[Any, ...] | None = None
        #: A method's receiver, whose state after the call is kept as ``after``.
        self.receiver = receiver_of(instance) if state.self_after else None
        self.after: tuple[Any, ...] | None = None

    def set_result(self, result: Any, exception: BaseException | None) -> None:
        """Keep the outcome of the call (on the caller's thread, as the call returns)."""
        receiver, self.receiver = self.receiver, None  # not kept alive by the queue
        if receiver is not None:
            self.after = self.keep(receiver, "self_after")
        if exception is not None:
            kind = type(exception)
            message = exception_message(exception, self.state.snapshot_limit)
            self.size += len(message)
            self.result = ("exception", kind.__qualname__, kind.__module__, message)
        elif receiver is not None and result is receiver:
            self.result = ("self",)  # ``return self``: stored once, as self_after
        else:
            self.result = self.keep(result, "result")

    def keep(self, value: Any, path: str) -> tuple[Any, ...]:
        """What the writer needs of ``value`` (the result, or the receiver after the call)."""
        state = self.state
        if state.lazy and path == "result":  # the arguments themselves were queued
            return ("value", value)
        # The receiver is copied now even lazily: read later, it would show what later calls
        # did to it (and hold their secrets, which this capture's filter does not know).
        limit = state.snapshot_limit
        frozen = freeze(value, limit, objects=path != "result")
        if frozen:
            self.size += len(frozen)
            return ("frozen", frozen)
        # Unpicklable or huge: filtered here; the arguments' secrets are masked later.
        if frozen is TOO_LARGE:
            return ("filtered", *too_large(path, limit))
        if path == "result":
            return ("filtered", *state.filter.filter_value(value, path))
        return ("filtered", *receiver_state(state.filter, value, path, limit, frozen=True))

    def submit(self) -> None:
        """Queue the capture, its result set."""
        if not push((_run_deferred, self.size, self), self.state.queue_size):
            self.site.queue_full()


def _run_deferred(entry: Entry) -> None:
    deferred: Deferred = entry[2]
    run_queued(deferred.entry, deferred.result, deferred.after)


def _add_result(
    record: dict[str, Any], result: tuple[Any, ...], value_filter: Any, limit: int
) -> None:
    kind, *rest = result
    if kind == "exception":
        exception_result(value_filter, record, rest[0], rest[1], rest[2])
        return
    if kind == "self":
        record["result"] = {"value": record["self_after"], "is_self": True}
        return
    if kind == "value":  # a lazy reference, read now: within the limit, as on the caller's
        value, report = result_state(value_filter, rest[0], limit)
    else:
        value, report = _filtered(kind, rest, value_filter, "result")
    record["result"] = {"value": value}
    record["metadata"].setdefault("redactions", []).extend(report)


def _add_after(record: dict[str, Any], after: tuple[Any, ...], value_filter: Any) -> None:
    kind, *rest = after
    add_receiver(record, "self_after", *_filtered(kind, rest, value_filter, "self_after"))


def _filtered(
    kind: str, rest: list[Any], value_filter: Any, path: str
) -> tuple[Any, list[dict[str, str]]]:
    """A value :meth:`Deferred.keep` kept, filtered with the arguments' secrets masked."""
    if kind == "filtered":
        value, report = rest
        value, more = value_filter.filter_value(value, path)
        return value, [*report, *(item for item in more if item not in report)]
    raw = inert_loads(rest[0]) if kind == "frozen" else rest[0]
    filtered: tuple[Any, list[dict[str, str]]] = value_filter.filter_value(raw, path)
    return filtered
