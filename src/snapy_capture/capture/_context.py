"""The context a captured call runs in: its depth, its thread's slot, the process id, the clock.

The bottom of ``capture/``: every other module of the folder may read these, none of them is
imported here.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import threading
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar

from snapy_capture._forksafe import after_fork_in_child
from snapy_capture.config import notify_changed
from snapy_capture.errors import ConfigError
from snapy_capture.filters._hidden import REDUCERS
from snapy_capture.filters._inert import snapshot_reduction, snapshot_reductions

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from typing import Any

_reductions_get = snapshot_reductions.get  # one C call per object pickled


def _stand_in_reduction(obj: Any) -> Any:
    """``SnapshotPickler.reducer_override``: called for every object but the built-in atoms
    and containers, so one lookup, cached by type."""
    kind = type(obj)
    reduction = _reductions_get(kind)
    return snapshot_reduction(kind) if reduction is None else reduction


__all__ = [
    "CLOCK",
    "DEPTH",
    "PID",
    "Clock",
    "Slot",
    "SnapshotPickler",
    "TooLargeError",
    "call_depth",
    "own_code",
    "per_thread",
    "set_clock",
]

#: Captured calls active in this thread or asyncio task (contextvars give both).
DEPTH: ContextVar[int] = ContextVar("snapy_capture_call_depth", default=0)

#: This process's id, read once (glibc no longer caches ``getpid()``): ``PID[0]``, one list
#: item rather than a function call per capture; a forked child puts its own in.
PID = [os.getpid()]


@after_fork_in_child
def _new_process() -> None:
    PID[0] = os.getpid()


class Clock:
    """Where capture reads the time: ``time()`` dates each record (seconds since the epoch, as
    :func:`time.time`), ``monotonic()`` paces ``max_per_second`` (as :func:`time.monotonic`).

    Give other functions to test what a clock going backwards or jumping does (see
    :func:`set_clock`). They are attributes, not methods: a capture site binds them once when
    it resolves its configuration, and the caller of an async capture calls the function
    itself, a method call's lookup less per capture.
    """

    __slots__ = ("monotonic", "time")

    def __init__(
        self,
        time: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.time = time
        self.monotonic = monotonic


#: The clock capture sites resolve with: ``CLOCK[0]`` (see :func:`set_clock`).
CLOCK = [Clock()]


def set_clock(clock: Clock | None) -> Clock:
    """Read the time from ``clock`` from now on (``None``: the real clocks); returns the clock
    it replaces.

    For tests: every capture site resolves its configuration again on its next call, and
    binds the new clock's functions then.
    """
    if clock is not None and not isinstance(clock, Clock):
        raise ConfigError(f"set_clock expects a Clock or None, got {clock!r}")
    previous, CLOCK[0] = CLOCK[0], clock if clock is not None else Clock()
    notify_changed()
    return previous


def call_depth() -> int:
    """How many captured calls enclose the current point (in this thread or task)."""
    return DEPTH.get()


class TooLargeError(Exception):
    """A pickle passed its sink's limit (``freeze`` returns ``TOO_LARGE`` then)."""


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
            raise TooLargeError
        # A string of 64 KiB or more is written on its own, after what comes before it, which
        # ends with its header (BINUNICODE: "X" and its length): its length is known here,
        # before the pickler encodes a copy of it whole (50 MB: 28 ms). A frame that happens
        # to end so only sends its call to the filters instead, which is never wrong.
        if data[-5:-4] == b"X" and int.from_bytes(data[-4:], "little") > self.limit:
            raise TooLargeError
        self.data = bytes(data) if self.data is None else self.data + data
        return len(data)


class SnapshotPickler(pickle.Pickler):
    """A pickler for snapshots: ``pickle``'s, except that objects the filters never store
    (locks, sockets, files, generators...) are written as stand-ins for their class
    (``filters._inert.snapshot_reduction``) rather than failing the snapshot."""

    __slots__ = ()
    # Static: ``dump`` looks this up on every call; a method would be bound each time.
    reducer_override = staticmethod(_stand_in_reduction)


class Slot:
    """A thread's reusable pickler and its sink (``busy`` while in use), the thread, and
    whether the thread is running our capture code (``capturing``).

    ``capturing`` is set while the caller's part of a capture runs (and its result's, and the
    first call's configuration), and for the background writer's whole life. A captured
    function called meanwhile on the thread (by a signal handler, an argument's
    ``__reduce__``/``__getstate__``/``__repr__``, a filter, or our own storage code calling a
    function the import hook wrapped, ``os.fspath`` say) is called as is and counted as
    skipped: capturing it would wait on locks the interrupted code may hold, or recurse.
    """

    __slots__ = ("busy", "capturing", "objects", "pickler", "sink", "thread")

    def __init__(self) -> None:
        self.sink = _BoundedSink()
        self.pickler = pickle.Pickler(self.sink, pickle.HIGHEST_PROTOCOL)
        # For values holding objects (a receiver), or that ``pickler`` failed on.
        self.objects = SnapshotPickler(self.sink, pickle.HIGHEST_PROTOCOL)
        # An object that pickles itself is written with the attributes the filters judge it
        # by (``filters._hidden``): looked up by type, only for objects that are not pickle's
        # own atoms and containers.
        self.pickler.dispatch_table = self.objects.dispatch_table = REDUCERS
        self.busy = False
        self.capturing = False
        # Its name is read per capture (a thread may rename itself); the object is found once.
        self.thread = threading.current_thread()


class _PerThread(threading.local):
    """One slot per thread: creating a pickler costs more than pickling a few arguments, and
    ``threading.current_thread()`` more than this one lookup."""

    def __init__(self) -> None:
        # One attribute: each read of a thread-local attribute costs a dictionary lookup.
        self.slot = Slot()


per_thread = _PerThread()


@contextlib.contextmanager
def own_code(own: bool = True) -> Iterator[None]:
    """Run the block as snapy_capture's own code (``own``), or as the host's (``own=False``).

    In our own code a captured function is called as is, not captured (see
    ``Slot.capturing``): the runner's own calls between installing the import hook and
    running the program (``os.path.abspath``, ``open``...) are not the program's.
    """
    slot = per_thread.slot
    previous = slot.capturing
    slot.capturing = own
    try:
        yield
    finally:
        slot.capturing = previous
