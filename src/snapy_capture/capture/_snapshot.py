"""Snapshots of a call's values: a bounded pickle taken on the caller's thread.

A snapshot shows the arguments (and the result) as they were at the call, even if the host
mutates them afterwards; it is unpickled later as inert copies (``filters._inert``), so no host
code runs where it is read.
"""

from __future__ import annotations

from typing import Any, Final

from snapy_capture.capture._context import Slot, TooLargeError, per_thread
from snapy_capture.filters import inert_loads
from snapy_capture.filters._objects import ITEM_COST
from snapy_capture.filters._traverse import estimate

__all__ = ["SNAPSHOT_LIMIT", "TOO_LARGE", "freeze", "snapshot"]

#: Arguments pickling to more than this are filtered on the caller's thread instead (see
#: ``freeze``): the filters may drop a large value that a snapshot would copy in full.
SNAPSHOT_LIMIT: Final = 1 << 20

#: Arguments :func:`freeze` measures before pickling a call (see its ``call``), and the
#: containers it guesses the size of by a sample of their items.
_SIZED: Final = frozenset({str, list, tuple, dict, set, frozenset})
_GUESSED: Final = 4096

#: What :func:`freeze` returns for a value that pickles to more than its limit: empty (a
#: pickle never is), so false like ``None``, for callers that need not tell the two apart.
TOO_LARGE: Final = b""


def freeze(
    value: Any, limit: int, slot: Slot | None = None, objects: bool = False, *, call: bool = False
) -> bytes | None:
    """A pickle of ``value`` taken now; :data:`TOO_LARGE` if it passes ``limit`` bytes,
    ``None`` if it cannot be pickled.

    Pickling stops as soon as the output passes ``limit`` (the pickler writes in frames of
    64 KiB), so a huge argument costs the caller little before it goes to the filters instead.
    Objects the filters never store (locks, sockets...) are pickled as stand-ins for their
    class (``SnapshotPickler``): at once when ``value`` holds ``objects`` (a receiver), else
    when plain pickling fails (the stand-ins cost every pickling a few dozen ns; the plain
    values of a function's arguments seldom need them). ``slot`` is this thread's
    (``per_thread.slot``), when the caller has it at hand.

    ``call``: ``value`` is a call, ``(args, kwargs, ...)``: one whose arguments include a
    string longer than ``limit``, or a built-in container of more items than the filters'
    size budget holds (``ITEM_COST`` each) or guessed larger than it from a sample of its
    items (``estimate``, past 4096 items), is :data:`TOO_LARGE` unpickled. Pickle encodes a
    copy of a string whole before the sink can refuse it (50 MB cost 28 ms), and would write
    a megabyte of a long list before giving up; the filters' budget stops at their lengths.
    Only the arguments themselves are looked at, a few dozen ns each.
    """
    if call:
        # Loops in this frame: what every async capture pays (~50 ns an argument). Shorter
        # ones pickle to a few KiB at most (or to a smaller limit at most): not measured.
        for argument in value[0]:
            if type(argument) in _SIZED and len(argument) > _GUESSED and _too_long(argument, limit):
                return TOO_LARGE
        if value[1]:
            for argument in value[1].values():
                if (
                    type(argument) in _SIZED
                    and len(argument) > _GUESSED
                    and _too_long(argument, limit)
                ):
                    return TOO_LARGE
    if slot is None:
        slot = per_thread.slot
    if slot.busy:  # an argument's __reduce__ capturing in turn: use a pickler of its own
        slot = Slot()
    slot.busy = True
    sink = slot.sink
    sink.limit = limit
    pickler = slot.objects if objects else slot.pickler
    failed = False
    try:
        pickler.dump(value)
        return sink.data
    except TooLargeError:
        return TOO_LARGE
    except Exception:  # noqa: BLE001 - unpicklable: the caller filters it instead
        failed = True
    # A BaseException from an argument's hook goes up: the capture is dropped, not retried.
    finally:
        # Forget the value: the memo and the sink would keep it alive until the next call.
        pickler.clear_memo()
        sink.data = None
        slot.busy = False
    return freeze(value, limit, slot, objects=True) if failed and not objects else None


def _too_long(argument: Any, limit: int) -> bool:
    size = len(argument)
    if type(argument) is str:
        return size > limit
    return size * ITEM_COST > limit or (size > _GUESSED and estimate(argument) > limit)


def snapshot(
    args: list[Any], kwargs: dict[str, Any], limit: int = SNAPSHOT_LIMIT
) -> tuple[list[Any], dict[str, Any]]:
    """An inert deep copy of filtered arguments (pickled, then unpickled without running any
    host code: see ``_inert``), or the originals if they do not pickle within ``limit``."""
    frozen = freeze((args, kwargs), limit)
    if not frozen:  # unpicklable or huge: the encoder degrades it later anyway
        return args, kwargs
    try:
        copied: tuple[list[Any], dict[str, Any]] = inert_loads(frozen)
    except Exception:  # noqa: BLE001
        return args, kwargs
    return copied
