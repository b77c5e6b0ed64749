"""The background writer behind ``async_storage``: one thread per process, a bounded queue.

The caller only appends a job to a deque (a fraction of a microsecond, no lock taken); when the
queue is full the capture is dropped and counted, never waited for. The queue is drained by
:func:`flush` and at interpreter exit; after the exit flush, jobs run on the submitting thread,
so a capture taken by another ``atexit`` handler is not lost either. After ``fork`` the child
starts with no writer and an empty queue (the parent's thread does not exist there, and the
parent still writes what it queued) and makes its own on first use.
"""

from __future__ import annotations

import atexit
import collections
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Final

__all__ = ["flush", "pending", "submit"]

logger = logging.getLogger("snapy_capture")
Job = Callable[[], None]

#: Upper bound on the bytes held by queued jobs that declare a size (snapshots, encoded
#: captures), whatever ``queue_size`` says: a slow disk must not grow the host's memory.
MAX_QUEUED_BYTES: Final = 64 * 1024 * 1024


class _Marker:
    """A job that only tells :func:`flush` that everything queued before it has run."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()

    def __call__(self) -> None:
        self.done.set()


class _Writer:
    def __init__(self) -> None:
        # deque.append/popleft are atomic: callers never take a lock to enqueue.
        self.jobs: collections.deque[tuple[Job, int]] = collections.deque()
        self.queued_bytes = 0
        self.bytes_lock = threading.Lock()
        self.running = 0  # 1 while a job taken off the deque is running
        self.idle = False
        self.wake = threading.Event()
        self.thread = threading.Thread(target=self._run, name="snapy-capture-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        jobs = self.jobs
        while True:
            try:
                job, size = jobs.popleft()
            except IndexError:
                # Announce idleness, then look again: a job appended before ``idle`` was set
                # is seen here; one appended after it finds ``idle`` set and wakes us.
                self.idle = True
                if not jobs:
                    self.wake.wait()
                self.wake.clear()
                self.idle = False
                continue
            self.running = 1
            try:
                job()
            except BaseException:  # jobs report their own failures; the writer survives any
                logger.debug("snapy_capture: background job failed", exc_info=True)
            finally:
                if size:
                    with self.bytes_lock:
                        self.queued_bytes -= size
                self.running = 0

    def flush(self, timeout: float | None) -> bool:
        marker = _Marker()
        self.jobs.append((marker, 0))
        self.wake.set()
        return marker.done.wait(timeout)

    def pending(self) -> int:
        return sum(not isinstance(job, _Marker) for job, _ in list(self.jobs)) + self.running


_writer: _Writer | None = None
_lock = threading.Lock()
_atexit_registered = False
_closed = False


def submit(job: Job, queue_size: int, size: int = 0) -> bool:
    """Queue ``job`` for the writer thread.

    Args:
        job: what to run; it must report its own failures.
        queue_size: the queue's bound for this capture (the option of the capturing site).
        size: bytes the job holds in memory, counted against :data:`MAX_QUEUED_BYTES`.

    Returns:
        ``False`` (and nothing queued) when the queue is full.
    """
    writer = _writer
    if writer is None:
        if _closed:
            # The exit flush has run: nothing would drain a queue now, so write here.
            job()
            return True
        writer = _start()
    # Inline rather than a method of the writer: one call less on every async capture.
    jobs = writer.jobs
    if len(jobs) >= queue_size:
        return False
    if size:
        with writer.bytes_lock:
            if writer.queued_bytes + size > MAX_QUEUED_BYTES:
                return False
            writer.queued_bytes += size
    jobs.append((job, size))
    if writer.idle:
        writer.wake.set()
    return True


def _start() -> _Writer:
    global _writer, _atexit_registered  # noqa: PLW0603 - one writer per process
    with _lock:
        writer = _writer
        if writer is None:
            writer = _writer = _Writer()
            if not _atexit_registered:
                atexit.register(_flush_at_exit)
                _atexit_registered = True
    return writer


def flush(timeout: float | None = None) -> bool:
    """Wait until every capture queued so far is written.

    Args:
        timeout: seconds to wait at most; ``None`` waits as long as it takes.

    Returns:
        ``True`` when the queue was drained, ``False`` on timeout.
    """
    writer = _writer
    if writer is None or writer.thread is threading.current_thread():
        return True
    if not writer.thread.is_alive():  # cannot happen short of interpreter teardown
        return not writer.jobs
    return writer.flush(timeout)


def pending() -> int:
    """Captures queued and not yet written."""
    writer = _writer
    return 0 if writer is None else writer.pending()


def _flush_at_exit() -> None:
    global _writer, _closed  # noqa: PLW0603
    writer = _writer
    # From now on submit() writes on the caller's thread: nothing would drain a queue later.
    _closed = True
    _writer = None
    if writer is None or not writer.thread.is_alive():
        return
    start = time.monotonic()
    if not writer.flush(timeout=60.0):
        logger.warning(
            "snapy_capture: %d captures were still queued after %.0f s at exit; they are lost",
            writer.pending(),
            time.monotonic() - start,
        )


def _forget_writer_in_child() -> None:
    global _writer, _lock  # noqa: PLW0603
    _writer = None
    _lock = threading.Lock()  # the parent may have held it while forking


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_writer_in_child)
