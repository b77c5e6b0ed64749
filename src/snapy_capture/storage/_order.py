"""What "newest" means: the one order in which every layer lists captures.

Within one function directory, a higher sequence number is newer: numbers are given under
the directory's lock as captures are placed, whatever the clock says. Across storage roots
numbers say nothing (each root numbers from 0), so the newest captures of each root are
compared by the record's ``timestamp``, the time the call was made: the capture of the call
made last comes first. File times are not used for that (a copy, a restore or a coarse
clock gives them ties or the wrong order), except for a record without a readable
timestamp. Equal times keep the roots' search order. Within a root the order stays the
numbers' even where the timestamps disagree (a clock set back).
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from snapy_capture.errors import CaptureFormatError
from snapy_capture.storage._files import _mtime
from snapy_capture.storage._layout import CaptureRef

__all__ = ["StoredCapture", "newest_first"]


@dataclass(frozen=True)
class StoredCapture:
    """One capture file, read: its record, or why it could not be read."""

    ref: CaptureRef
    record: dict[str, Any] | None = field(repr=False)
    error: CaptureFormatError | None = None


def newest_first(roots: Sequence[Iterable[StoredCapture]]) -> Iterator[StoredCapture]:
    """Merge the captures of one function found under several roots, newest first.

    Args:
        roots: per root, in search order, its captures newest first (by sequence number).

    Returns:
        A lazy iterator: it reads one capture ahead per root, not more.
    """
    if len(roots) == 1:
        return iter(roots[0])
    return heapq.merge(*roots, key=_when, reverse=True)


def _when(item: StoredCapture) -> float:
    """When the call was made, in seconds since the epoch (the file's time if unknown).

    An unreadable file comes out at once (it is reported and skipped): holding it back would
    hold back the readable captures of its root behind it.
    """
    record = item.record
    if record is None:
        return float("inf")
    stamp = record.get("timestamp")
    if isinstance(stamp, str):
        try:
            moment = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=dt.timezone.utc)
            return moment.timestamp()
    path = item.ref.path
    if isinstance(path, Path):
        return _mtime(path)
    try:
        return path.stat().st_mtime
    except OSError:
        return float("inf")
