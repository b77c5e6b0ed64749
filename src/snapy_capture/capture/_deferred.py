"""Captures finished off the caller's thread: the caller's side, snapshots and the writer's side.

With ``async_storage`` or ``lazy_serialization`` the caller's thread only takes what cannot
wait (a pickle snapshot of the arguments, or references to them, the call time and the thread
name) and queues it as a plain tuple; the background writer filters, builds, encodes and
stores the capture. :func:`queued_caller` builds the caller's side of a capture whose result
is not recorded as one function: this is the whole cost an async capture adds to a call.
"""

from __future__ import annotations

import contextlib
import pickle
import threading
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Final

from snapy_capture.capture._record import exception_result, result_filter, safe_str
from snapy_capture.capture._stats import active, counters, record_caller_time, record_skip
from snapy_capture.capture._writer import Entry, push
from snapy_capture.filters._inert import inert_loads

if TYPE_CHECKING:
    # Only for annotations: _pipeline imports this module, so a runtime import would cycle.
    from snapy_capture.capture._pipeline import CaptureSite
    from snapy_capture.capture._state import _State

__all__ = [
    "DEPTH",
    "SNAPSHOT_LIMIT",
    "Deferred",
    "enqueue",
    "freeze",
    "own_code",
    "per_thread",
    "queued_caller",
    "snapshot",
]

#: Captured calls active in this thread or asyncio task (contextvars give both).
DEPTH: ContextVar[int] = ContextVar("snapy_capture_call_depth", default=0)

#: Arguments pickling to more than this are filtered on the caller's thread instead (see
#: ``freeze``): the filters may drop a large value that a snapshot would copy in full.
SNAPSHOT_LIMIT: Final = 1 << 20

_perf_counter_ns = time.perf_counter_ns


def queued_caller(site: CaptureSite, state: _State) -> Callable[..., Any]:  # noqa: PLR0915
    """The caller's side of ``site``'s async captures, for a call whose result is not recorded.

    Does what ``CaptureSite.call`` and :func:`enqueue` do, in one function with the settings
    of ``state`` bound: a Python call, or an attribute read, less is a measurable part of
    what the caller of an async capture pays.
    """
    lazy = state.lazy
    limit = state.snapshot_limit
    snapshots = state.snapshots
    flt = state.filter
    queue_size = state.queue_size
    named = not state.config.minimal_capture
    rate = state.limit
    takes_cls = state.takes_cls

    def queued_call(
        wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        slot = per_thread.slot
        if slot.capturing:
            # Called by our own capture code on this thread (see _Slot.capturing).
            record_skip()
            return wrapped(*args, **kwargs)
        if rate is not None and not rate.allow():
            # Over the rate cap: not captured, so not counted in call_depth either.
            return wrapped(*args, **kwargs)
        depth = DEPTH.get()
        start = _perf_counter_ns()
        interrupted = None
        slot.capturing = True
        try:
            given, bound = args, instance is not None
            if takes_cls and not bound and args and isinstance(args[0], type):
                # Python 3.13+ binds ``@classmethod`` over our wrapper with MethodType, so the
                # class arrives as the first argument instead of as wrapt's instance.
                given, bound = args[1:], True
            if lazy:
                payload: Any = (given, kwargs)
                size = 0
            elif snapshots and not flt.custom_filters:
                payload = freeze((given, kwargs), limit, slot)
                size = -1 if payload is None else len(payload)
            else:
                size = -1
            if size < 0:
                # Arguments that cannot be snapshotted cheaply: filter them here.
                site.capture_here(state, depth, bound, given, kwargs)
            elif not push(
                (
                    run_queued,
                    size,
                    site,
                    state,
                    depth,
                    bound,
                    payload,
                    # The thread's name now: it may rename itself before the writer gets here.
                    time.time(),
                    slot.thread.name if named else None,
                ),
                queue_size,
            ):
                site.queue_full()
        except Exception as exc:  # noqa: BLE001 - capture must never break the call
            site.fail(exc, "capture")
        except BaseException as exc:  # noqa: BLE001 - a hook raised SystemExit, Ctrl-C...
            interrupted = exc
        finally:
            elapsed = _perf_counter_ns() - start
            if active:
                record_caller_time(elapsed)
            else:
                counters["capture_ns"] += elapsed  # see record_caller_time
            slot.capturing = False
        if interrupted is not None:
            return call_after_interrupted_capture(site, interrupted, wrapped, args, kwargs)
        token = DEPTH.set(depth + 1)
        try:
            return wrapped(*args, **kwargs)
        finally:
            DEPTH.reset(token)

    return queued_call


def call_after_interrupted_capture(
    site: CaptureSite, exc: BaseException, wrapped: Any, args: Any, kwargs: Any
) -> Any:
    """Call the function (exactly once, as always) after its capture was ended by a
    ``BaseException`` raised inside it: an argument's ``__reduce__`` raising ``SystemExit``,
    or a Ctrl-C landing while capture code ran. The capture is dropped and counted; a
    ``KeyboardInterrupt`` is raised again once the call has returned, so Ctrl-C is delayed by
    one call, never lost."""
    site.fail(exc, "capture")
    token = DEPTH.set(DEPTH.get() + 1)
    try:
        result = wrapped(*args, **kwargs)
    finally:
        DEPTH.reset(token)
    if isinstance(exc, KeyboardInterrupt):
        raise exc
    return result


def enqueue(
    site: CaptureSite, state: _State, depth: int, bound: bool, call: tuple[Any, ...]
) -> Deferred | bool:
    """Take the caller's part of a deferred capture (``state.deferred``) of ``call``, the
    ``(args, kwargs)`` as called, without ``self``/``cls`` (``bound`` says whether it had one).

    Returns:
        A :class:`Deferred` to complete with the call's result (``record_result``), ``True``
        when the capture is queued or dropped, ``False`` when the arguments cannot be
        snapshotted cheaply (unpicklable or too large): the caller filters them itself.
    """
    slot = per_thread.slot
    if state.lazy:
        payload: Any = call
        size = 0
    else:
        if not state.snapshots or state.filter.custom_filters:
            return False
        payload = freeze(call, state.snapshot_limit, slot)
        if payload is None:
            return False
        size = len(payload)
    thread = None if state.config.minimal_capture else slot.thread.name
    entry = (run_queued, size, site, state, depth, bound, payload, time.time(), thread)
    if state.records_result:
        return Deferred(entry)
    if not push(entry, state.queue_size):
        site.queue_full()
    return True


def run_queued(entry: Entry, result: tuple[Any, ...] | None = None) -> None:
    """Filter, build, encode and store a capture queued by the caller (on the writer's thread).

    ``entry`` is what the caller queued: ``(run_queued, size, site, state, depth, bound,
    payload, call time, thread name)``, the payload a snapshot (bytes) or, with lazy
    serialization, the ``(args, kwargs)`` themselves. A :class:`Deferred` adds the result.
    """
    _, _, site, state, depth, bound, payload, now, thread = entry
    try:
        # A snapshot is unpickled into inert copies: no host code runs on this thread.
        args, kwargs = inert_loads(payload) if type(payload) is bytes else payload
        names = site.param_names(len(args), bound=bound)
        filtered = site.filter_args(state, names, args, kwargs)
        record = site.record(state.config, filtered, depth, now=now, thread=thread)
        if result is not None:
            # Masks every secret the arguments held, wherever the result echoes it.
            echo_filter = result_filter(state.filter, names, args, kwargs)
            _add_result(record, result, echo_filter)
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

    __slots__ = ("entry", "result", "site", "size", "state")

    def __init__(self, entry: Entry) -> None:
        # What a capture without its result would queue (see ``run_queued``).
        self.entry = entry
        _, self.size, self.site, self.state, *_ = entry
        self.result: tuple[Any, ...] | None = None

    def set_result(self, result: Any, exception: BaseException | None) -> None:
        """Keep the outcome of the call (on the caller's thread, as the call returns)."""
        if exception is not None:
            kind = type(exception)
            self.result = ("exception", kind.__qualname__, kind.__module__, safe_str(exception))
        elif type(self.entry[6]) is not bytes:  # lazy: the arguments themselves, not a snapshot
            self.result = ("value", result)
        elif (frozen := freeze(result, self.state.snapshot_limit)) is not None:
            self.result = ("frozen", frozen)
            self.size += len(frozen)
        else:
            # Unpicklable or huge: filtered here; the arguments' secrets are masked later.
            value, report = self.state.filter.filter_value(result, "result")
            self.result = ("filtered", value, report)

    def submit(self) -> None:
        """Queue the capture, its result set."""
        if not push((_run_deferred, self.size, self), self.state.queue_size):
            self.site.queue_full()

    def run(self) -> None:
        """Filter, build, encode and store the capture (on the writer's thread)."""
        run_queued(self.entry, self.result)


def _run_deferred(entry: Entry) -> None:
    entry[2].run()


def _add_result(record: dict[str, Any], result: tuple[Any, ...], value_filter: Any) -> None:
    kind, *rest = result
    if kind == "exception":
        exception_result(value_filter, record, rest[0], rest[1], rest[2])
        return
    if kind == "filtered":
        value, report = rest
        value, more = value_filter.filter_value(value, "result")
        report = [*report, *more]
    else:
        raw = inert_loads(rest[0]) if kind == "frozen" else rest[0]
        value, report = value_filter.filter_value(raw, "result")
    record["result"] = {"value": value}
    record["metadata"].setdefault("redactions", []).extend(report)


def snapshot(args: list[Any], kwargs: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """An inert deep copy of filtered arguments (pickled, then unpickled without running any
    host code: see ``_inert``), or the originals if they do not pickle."""
    frozen = freeze((args, kwargs), SNAPSHOT_LIMIT)
    if frozen is None:  # unpicklable or huge: the encoder degrades it later anyway
        return args, kwargs
    try:
        copied: tuple[list[Any], dict[str, Any]] = inert_loads(frozen)
    except Exception:  # noqa: BLE001
        return args, kwargs
    return copied


class _TooLargeError(Exception):
    pass


class _BoundedSink:
    """A file for ``pickle.Pickler`` that gives up past ``limit`` bytes."""

    __slots__ = ("data", "limit")

    def __init__(self) -> None:
        self.data: bytes | None = None
        self.limit = 0

    def write(self, data: bytes) -> int:
        # The pickler writes once at the end, or once per 64 KiB frame of a large value.
        self.limit -= len(data)
        if self.limit < 0:
            raise _TooLargeError
        self.data = bytes(data) if self.data is None else self.data + data
        return len(data)


class _Slot:
    """A thread's reusable pickler and its sink (``busy`` while in use), the thread, and
    whether the thread is running our capture code (``capturing``).

    ``capturing`` is set while the caller's part of a capture runs (and its result's, and the
    first call's configuration), and for the background writer's whole life. A captured
    function called meanwhile on the thread (by a signal handler, an argument's
    ``__reduce__``/``__getstate__``/``__repr__``, a filter, or our own storage code calling a
    function the import hook wrapped, ``os.fspath`` say) is called as is and counted as
    skipped: capturing it would wait on locks the interrupted code may hold, or recurse.
    """

    __slots__ = ("busy", "capturing", "pickler", "sink", "thread")

    def __init__(self) -> None:
        self.sink = _BoundedSink()
        self.pickler = pickle.Pickler(self.sink, pickle.HIGHEST_PROTOCOL)
        self.busy = False
        self.capturing = False
        # Its name is read per capture (a thread may rename itself); the object is found once.
        self.thread = threading.current_thread()


class _PerThread(threading.local):
    """One slot per thread: creating a pickler costs more than pickling a few arguments, and
    ``threading.current_thread()`` more than this one lookup."""

    def __init__(self) -> None:
        # One attribute: each read of a thread-local attribute costs a dictionary lookup.
        self.slot = _Slot()


per_thread = _PerThread()


@contextlib.contextmanager
def own_code(own: bool = True) -> Iterator[None]:
    """Run the block as snapy_capture's own code (``own``), or as the host's (``own=False``).

    In our own code a captured function is called as is, not captured (see
    ``_Slot.capturing``): the runner's own calls between installing the import hook and
    running the program (``os.path.abspath``, ``open``...) are not the program's.
    """
    slot = per_thread.slot
    previous = slot.capturing
    slot.capturing = own
    try:
        yield
    finally:
        slot.capturing = previous


def freeze(value: Any, limit: int, slot: _Slot | None = None) -> bytes | None:
    """A pickle of ``value`` taken now, or ``None`` if it cannot be pickled within ``limit``.

    Pickling stops as soon as the output passes ``limit`` (the pickler writes in frames of
    64 KiB), so a huge argument costs the caller little before it goes to the filters instead.
    ``slot`` is this thread's (``per_thread.slot``), when the caller has it at hand.
    """
    if slot is None:
        slot = per_thread.slot
    if slot.busy:  # an argument's __reduce__ capturing in turn: use a pickler of its own
        slot = _Slot()
    slot.busy = True
    sink = slot.sink
    sink.limit = limit
    try:
        slot.pickler.dump(value)
        return sink.data
    except Exception:  # noqa: BLE001 - unpicklable or too large: the caller filters it instead
        return None
    # A BaseException from an argument's hook goes up: the capture is dropped, not retried.
    finally:
        # Forget the value: the memo and the sink would keep it alive until the next call.
        slot.pickler.clear_memo()
        sink.data = None
        slot.busy = False
