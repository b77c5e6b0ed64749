"""The background writer behind ``async_storage``: one thread per process, a bounded queue.

The caller only enqueues; when the queue is full the capture is dropped and counted, never
waited for. The queue is drained at interpreter exit and by :func:`flush`. After ``fork`` the
child starts with no writer (the parent's thread does not exist there) and makes its own.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
from collections.abc import Callable

__all__ = ["flush", "submit"]

logger = logging.getLogger("snapy_capture")
Job = Callable[[], None]


class _Writer:
    def __init__(self, size: int) -> None:
        self.queue: queue.Queue[Job] = queue.Queue(maxsize=size)
        self.thread = threading.Thread(target=self._run, name="snapy-capture-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            job = self.queue.get()
            try:
                job()
            except BaseException:  # noqa: BLE001 - jobs report their own failures; survive any
                logger.debug("snapy_capture: background job failed", exc_info=True)
            finally:
                self.queue.task_done()

    def flush(self, timeout: float | None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.queue.all_tasks_done:
            while self.queue.unfinished_tasks:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self.queue.all_tasks_done.wait(remaining)
        return True


_writer: _Writer | None = None
_lock = threading.Lock()
_atexit_registered = False


def submit(job: Job, queue_size: int) -> bool:
    """Queue ``job`` for the writer thread; ``False`` (and nothing queued) when the queue is full."""
    global _writer, _atexit_registered  # noqa: PLW0603 - one writer per process
    writer = _writer
    if writer is None:
        with _lock:
            writer = _writer
            if writer is None:
                writer = _writer = _Writer(queue_size)
                if not _atexit_registered:
                    atexit.register(_flush_at_exit)
                    _atexit_registered = True
    try:
        writer.queue.put_nowait(job)
    except queue.Full:
        return False
    return True


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
    return writer.flush(timeout)


def pending() -> int:
    """Captures queued and not yet written."""
    writer = _writer
    return 0 if writer is None else writer.queue.unfinished_tasks


def _flush_at_exit() -> None:
    if not flush(timeout=60.0):
        logger.warning("snapy_capture: %d captures were still queued at exit", pending())


def _forget_writer_in_child() -> None:
    global _writer, _lock  # noqa: PLW0603
    _writer = None
    _lock = threading.Lock()  # the parent may have held it while forking


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_writer_in_child)
