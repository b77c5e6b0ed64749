"""Process-wide counters, and the :class:`CaptureProfiler` that reads them per block."""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType

from snapy_capture._forksafe import fork_safe
from snapy_capture.capture._writer import flush

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from typing import Any, Final

__all__ = [
    "MAX_PATHS",
    "CaptureProfiler",
    "SiteCounts",
    "active",
    "count_redactions",
    "counters",
    "on_first_capture",
    "record_caller_time",
    "record_drop",
    "record_skip",
    "record_stored",
    "stats",
]

# Re-entrant: a signal handler may call stats() or open a profiler while the code it
# interrupted holds the lock (captures themselves never get here re-entered: see record_skip).
_lock = fork_safe(threading.RLock())
# Bound once: ``acquire()``/``release()`` cost less than ``with _lock`` on every capture.
_acquire, _release = _lock.acquire, _lock.release
#: The process-wide counters. The pipeline adds caller time to ``capture_ns`` itself, without a
#: call, while no profiler is :data:`active` (see :func:`record_caller_time`).
counters = {
    "captured": 0,
    "dropped": 0,
    "errors": 0,
    "skipped": 0,
    "bytes": 0,
    "capture_ns": 0,
    "write_ns": 0,
}
#: The most distinct redaction paths one site counts; the rest are counted under ``...``.
MAX_PATHS: Final = 100
#: Called with a site's counters when it stores its first capture, outside the lock: a child
#: process of the runner tells the runner at once, as it may be killed rather than exit.
#: Must not raise.
on_first_capture: list[Callable[[SiteCounts], None]] = []
#: Profilers currently inside their ``with`` block; checked with a cheap truth test per capture.
active: list[CaptureProfiler] = []


def stats() -> dict[str, int]:
    """A snapshot of the process-wide counters.

    Returns:
        ``captured`` (files written), ``dropped`` (captures not stored: full queue, too large,
        failures; sampling and the rate cap are choices, not drops), ``errors`` (the failures
        among the drops), ``skipped`` (calls not captured because their thread was capturing
        already: made from a signal handler, an argument's pickling hook or our own storage
        code), ``bytes`` (written), ``capture_ns`` (time spent capturing on the
        callers' threads) and ``write_ns`` (time the background writer spent storing).
    """
    with _lock:
        return dict(counters)


class SiteCounts:
    """One capture site's own counters, for the import hook's report of what each target
    captured. Kept by the site and updated where the process-wide counters are (no other
    per-call work): captures stored, captures dropped and why, and the paths filtered."""

    __slots__ = ("captured", "dropped", "reasons", "redactions", "spent")

    def __init__(self) -> None:
        self.captured = 0
        self.dropped = 0
        #: Nanoseconds the program's threads spent capturing this site's calls (what a call
        #: waited for; a background writer's work is not in it).
        self.spent = 0
        #: Why captures were dropped: reason -> count.
        self.reasons: dict[str, int] = {}
        #: Redaction paths seen (``password``, ``self.api_key``) -> count.
        self.redactions: dict[str, int] = {}

    def reset(self) -> None:
        """Forget the counts (a forked child reports its own captures, not its parent's)."""
        self.captured = self.dropped = self.spent = 0
        self.reasons = {}
        self.redactions = {}


def count_redactions(counts: SiteCounts, redactions: list[dict[str, str]]) -> None:
    """Count the paths filtered out of one capture (called only when there are some).

    Takes no lock, as :func:`record_skip`: a statistic, and the filter's report is small.
    """
    seen = counts.redactions
    for entry in redactions:
        path = entry.get("path") if isinstance(entry, dict) else None
        if not isinstance(path, str):
            continue
        if path not in seen and len(seen) >= MAX_PATHS:
            path = "..."
        seen[path] = seen.get(path, 0) + 1


def record_caller_time(ns: int) -> None:
    """Add time spent capturing on the caller's thread (once per captured call).

    The caller (``_caller.make_caller``) inlines the common case, ``counters["capture_ns"]
    += ns`` while no profiler is :data:`active`, and calls this otherwise. That case takes no
    lock: a statistic of time, where two threads updating it at the same instant may lose one
    addition; a lock per captured call would cost more than the rest of an async capture's
    bookkeeping.
    """
    if not active:
        counters["capture_ns"] += ns
        return
    with _lock:
        counters["capture_ns"] += ns
        for profiler in active:
            profiler.capture_time_ms += ns / 1e6


def record_stored(size: int, write_ns: int = 0, site: SiteCounts | None = None) -> None:
    """Count one capture file written: its size, and background time if written off-thread
    (and, given its site's counters, for that site too)."""
    first = False
    _acquire()
    try:
        counters["captured"] += 1
        if site is not None:
            site.captured += 1
            first = site.captured == 1
        counters["bytes"] += size
        counters["write_ns"] += write_ns
        if active:
            for profiler in active:
                profiler.captures += 1
                profiler.serialized_size_bytes += size
                profiler.write_time_ms += write_ns / 1e6
    finally:
        _release()
    if first and on_first_capture:
        for callback in on_first_capture:
            callback(site)  # type: ignore[arg-type]


def record_drop(*, error: bool, site: SiteCounts | None = None, reason: str = "") -> None:
    """Count one capture that was not stored (full queue, too large, or a failure); given
    its site's counters, for that site too, under ``reason``."""
    with _lock:
        counters["dropped"] += 1
        counters["errors"] += int(error)
        if site is not None:
            site.dropped += 1
            site.reasons[reason] = site.reasons.get(reason, 0) + 1
        for profiler in active:
            profiler.dropped += 1


def record_skip() -> None:
    """Count one call not captured because this thread was capturing already.

    Takes no lock, unlike the other counters: it runs exactly when this thread's own capture
    code, interrupted or calling out, may hold one. A statistic: two threads skipping at the
    same instant may lose one addition.
    """
    counters["skipped"] += 1
    for profiler in active:
        profiler.skipped += 1


class CaptureProfiler:
    """Measures what capturing costs while a ``with`` block runs.

    Everything captured in the process while the block is open counts, whichever thread
    captured it, so threads the block starts are included. Leaving the block waits (up to
    30 s) for the background writer, so that captures queued in the block are counted.

    Attributes:
        capture_time_ms: time the captured calls spent capturing, on the callers' side.
        write_time_ms: time the background writer spent storing (``async_storage``).
        serialized_size_bytes: bytes of capture files written.
        captures: captures stored.
        dropped: captures not stored: full queue, too large, failures (sampling and the
            rate cap are choices, not drops).
        skipped: calls not captured because their thread was capturing already (a signal
            handler, an argument's pickling hook, our own storage code).
    """

    def __init__(self) -> None:
        self.capture_time_ms = 0.0
        self.write_time_ms = 0.0
        self.serialized_size_bytes = 0
        self.captures = 0
        self.dropped = 0
        self.skipped = 0

    def __enter__(self) -> CaptureProfiler:
        with _lock:
            active.append(self)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # Captures handed to the background writer inside the block belong to it.
        try:
            flush(timeout=30.0)
        finally:
            with _lock:
                if self in active:
                    active.remove(self)

    def __repr__(self) -> str:
        fields: dict[str, Any] = {
            "captures": self.captures,
            "dropped": self.dropped,
            "skipped": self.skipped,
            "capture_time_ms": round(self.capture_time_ms, 3),
            "serialized_size_bytes": self.serialized_size_bytes,
        }
        return f"CaptureProfiler({', '.join(f'{k}={v}' for k, v in fields.items())})"
