"""Captures finished off the caller's thread: argument snapshots and the background job.

With ``async_storage`` or ``lazy_serialization`` the caller's thread only takes what cannot
wait (a pickle snapshot of the arguments, or references to them) and the background writer
filters, builds, encodes and stores the capture.
"""

from __future__ import annotations

import pickle
import threading
from typing import TYPE_CHECKING, Any, Final

from ._record import exception_result, safe_str

if TYPE_CHECKING:
    # Only for annotations: _pipeline imports this module, so a runtime import would cycle.
    from ._pipeline import CaptureSite
    from ._sitestate import _State

__all__ = ["SNAPSHOT_LIMIT", "Deferred", "freeze", "snapshot"]

#: Arguments pickling to more than this are filtered on the caller's thread instead (see
#: ``freeze``): the filters may drop a large value that a snapshot would copy in full.
SNAPSHOT_LIMIT: Final = 1 << 20


class Deferred:
    """A capture handed to the background writer before it is filtered, built and encoded.

    The caller's thread only takes what cannot wait: the call time, the thread name, and the
    arguments, as a pickle snapshot (so the capture shows them as they were at the call, even
    if they are mutated afterwards) or, with ``lazy_serialization``, as references (cheaper
    still, but the capture shows them as they are when the writer reaches them).
    """

    __slots__ = (
        "bound",
        "depth",
        "frozen",
        "now",
        "payload",
        "result",
        "result_filter",
        "site",
        "size",
        "state",
        "thread",
    )

    def __init__(
        self,
        site: CaptureSite,
        state: _State,
        depth: int,
        bound: bool,
        payload: bytes | tuple[tuple[Any, ...], dict[str, Any]],
        *,
        now: float,
    ) -> None:
        self.site = site
        self.state = state
        # Set by the site when results are recorded: masks argument secrets echoed back.
        self.result_filter = state.filter
        self.depth = depth
        # Whether the first parameter (self, cls) was bound: the names are looked up later.
        self.bound = bound
        self.payload = payload
        # bytes: a snapshot; a tuple: the arguments themselves (lazy serialization).
        self.frozen = frozen = type(payload) is bytes
        self.size = len(payload) if frozen else 0
        # The call time comes from the pipeline, whose clock is the one tests replace.
        self.now = now
        # The name now: a thread may rename itself before the writer gets to this capture.
        self.thread = None if state.config.minimal_capture else threading.current_thread().name
        self.result: tuple[Any, ...] | None = None

    def set_result(self, result: Any, exception: BaseException | None) -> None:
        """Keep the outcome of the call (on the caller's thread, as the call returns)."""
        if exception is not None:
            kind = type(exception)
            self.result = ("exception", kind.__qualname__, kind.__module__, safe_str(exception))
        elif not self.frozen:
            self.result = ("value", result)
        elif (frozen := freeze(result, self.state.snapshot_limit)) is not None:
            self.result = ("frozen", frozen)
            self.size += len(frozen)
        else:
            value, report = self.result_filter.filter_value(result, "result")
            self.result = ("filtered", value, report)

    def run(self) -> None:
        """Filter, build, encode and store the capture (on the writer's thread)."""
        site, state = self.site, self.state
        try:
            payload = self.payload
            args, kwargs = pickle.loads(payload) if isinstance(payload, bytes) else payload
            names = site.param_names(len(args), bound=self.bound)
            filtered = site.filter_args(state, names, args, kwargs)
            record = site.record(
                state.config, filtered, self.depth, now=self.now, thread=self.thread
            )
            if self.result is not None:
                self._add_result(record, self.result)
            data = site.encode(state, record)
        except Exception as exc:  # noqa: BLE001 - e.g. an argument mutated while read (lazy)
            site.fail(exc, "capture")
            return
        site.store(state, data, timed=True)

    def _add_result(self, record: dict[str, Any], result: tuple[Any, ...]) -> None:
        kind, *rest = result
        value_filter = self.result_filter
        if kind == "exception":
            exception_result(value_filter, record, rest[0], rest[1], rest[2])
            return
        if kind == "filtered":
            value, report = rest
        else:
            raw = pickle.loads(rest[0]) if kind == "frozen" else rest[0]
            value, report = value_filter.filter_value(raw, "result")
        record["result"] = {"value": value}
        record["metadata"].setdefault("redactions", []).extend(report)


def snapshot(args: list[Any], kwargs: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """A deep copy of filtered arguments (through pickle), or the originals if it fails."""
    try:
        copied: tuple[list[Any], dict[str, Any]] = pickle.loads(pickle.dumps((args, kwargs), 5))
    except Exception:  # noqa: BLE001 - unpicklable: the encoder will degrade it later anyway
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
    """A reusable pickler and its sink; ``busy`` while a snapshot is being taken with it."""

    __slots__ = ("busy", "pickler", "sink")

    def __init__(self) -> None:
        self.sink = _BoundedSink()
        self.pickler = pickle.Pickler(self.sink, pickle.HIGHEST_PROTOCOL)
        self.busy = False


class _Picklers(threading.local):
    """One reusable pickler per thread: creating one costs more than pickling a few args."""

    def __init__(self) -> None:
        # One attribute: each read of a thread-local attribute costs a dictionary lookup.
        self.slot = _Slot()


_picklers = _Picklers()


def freeze(value: Any, limit: int) -> bytes | None:
    """A pickle of ``value`` taken now, or ``None`` if it cannot be pickled within ``limit``.

    Pickling stops as soon as the output passes ``limit`` (the pickler writes in frames of
    64 KiB), so a huge argument costs the caller little before it goes to the filters instead.
    """
    slot = _picklers.slot
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
    finally:
        # Forget the value: the memo and the sink would keep it alive until the next call.
        slot.pickler.clear_memo()
        sink.data = None
        slot.busy = False
