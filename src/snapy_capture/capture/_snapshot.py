"""Snapshots of a call's values: a bounded pickle taken on the caller's thread.

A snapshot shows the arguments (and the result) as they were at the call, even if the host
mutates them afterwards; it is unpickled later as inert copies (``filters._inert``), so no host
code runs where it is read.
"""

from __future__ import annotations

from snapy_capture.capture._context import Slot, TooLargeError, per_thread
from snapy_capture.filters import inert_loads

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from typing import Any, Final

__all__ = ["SNAPSHOT_LIMIT", "TOO_LARGE", "freeze", "snapshot"]

#: Arguments pickling to more than this are filtered on the caller's thread instead (see
#: ``freeze``): the filters may drop a large value that a snapshot would copy in full.
SNAPSHOT_LIMIT: Final = 1 << 20

#: What :func:`freeze` returns for a value that pickles to more than its limit: empty (a
#: pickle never is), so false like ``None``, for callers that need not tell the two apart.
TOO_LARGE: Final = b""


def freeze(value: Any, limit: int, slot: Slot | None = None, objects: bool = False) -> bytes | None:
    """A pickle of ``value`` taken now; :data:`TOO_LARGE` if it passes ``limit`` bytes,
    ``None`` if it cannot be pickled.

    Pickling stops as soon as the output passes ``limit`` (the pickler writes in frames of
    64 KiB), so a huge argument costs the caller little before it goes to the filters instead.
    Objects the filters never store (locks, sockets...) are pickled as stand-ins for their
    class (``SnapshotPickler``): at once when ``value`` holds ``objects`` (a receiver), else
    when plain pickling fails (the stand-ins cost every pickling a few dozen ns; the plain
    values of a function's arguments seldom need them). Both picklers look up an instance of
    a class by its type (``filters._hidden``): one that pickles itself is written with the
    attributes the filters judge it by, an unstorable one as its stand-in. ``slot`` is this thread's
    (``per_thread.slot``), when the caller has it at hand. A long string is refused by the
    length its header gives, before pickle encodes a copy of it (see ``_BoundedSink``).
    """
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
