"""The background writer behind ``async_storage``: one thread per process, a bounded queue.

The caller only appends a job, a plain tuple, to a deque (a lock is taken only to count the
bytes of a job holding more than :data:`SMALL_JOB`); when the queue is full the capture is
dropped and counted, never waited for. The queue is drained by :func:`flush` and at
interpreter exit; after the exit flush, jobs run on the submitting thread, so a capture taken
by another ``atexit`` handler is not lost either. After ``fork``
the child starts with no writer and an empty queue (the parent's thread does not exist there,
and the parent still writes what it queued) and makes its own on first use; a child that
multiprocessing started flushes it when its task is done (it leaves through ``os._exit``).
"""

from __future__ import annotations

import atexit
import collections
import sys
import threading
import time
from collections.abc import Callable

from snapy_capture import _logger as logger
from snapy_capture._forksafe import after_fork_in_child, fork_safe
from snapy_capture.capture._context import per_thread

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from typing import Any, Final, TypeAlias

__all__ = [
    "MAX_QUEUED_BYTES",
    "SMALL_JOB",
    "Entry",
    "flush",
    "flush_before_threads_stop",
    "push",
    "submit",
]

Job = Callable[[], None]
#: A queued job as a plain tuple: ``(run, size, *data)``; the writer calls ``run(entry)``.
#: ``size`` is the bytes the entry holds in memory (see :data:`MAX_QUEUED_BYTES`). A tuple, not
#: an object or a closure: building one is the cheapest thing a caller can hand over.
Entry: TypeAlias = "tuple[Any, ...]"  # a string: Any is typing's

#: Upper bound on the bytes held by queued jobs, whatever ``queue_size`` says: a slow disk must
#: not grow the host's memory. Every job counts :data:`SMALL_JOB` bytes, and a job declaring a
#: larger size (a big snapshot or encoded capture) its size on top.
MAX_QUEUED_BYTES: Final = 64 * 1024 * 1024

#: Jobs holding at most this many bytes (most argument snapshots) are counted by number alone:
#: the caller reads the queue's length instead of taking a lock to add up bytes, a cost an
#: async capture's caller side would feel.
SMALL_JOB: Final = 1024


def _call(entry: Entry) -> None:
    """Run the plain callable of an entry made by :func:`submit`."""
    entry[2]()


def _mark(entry: Entry) -> None:
    """Tell :func:`flush` that everything queued before this entry has run."""
    entry[2].set()


class _Writer:
    def __init__(self) -> None:
        # deque.append/popleft are atomic: callers never take a lock to enqueue.
        self.jobs: collections.deque[Entry] = collections.deque()
        self.queued_bytes = 0
        self.bytes_lock = lock = threading.Lock()
        # Bound once: a caller counting a job's bytes saves two attribute lookups.
        self.acquire, self.release = lock.acquire, lock.release
        self.running = 0  # 1 while a job taken off the deque is running
        self.idle = False
        self.wake = threading.Event()
        self.thread = threading.Thread(target=self._run, name="snapy-capture-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        # Everything this thread runs is our capture code: a captured function it calls (a
        # filter's, a serializer's, ``os.fspath`` wrapped by the import hook) is not captured.
        per_thread.slot.capturing = True
        jobs = self.jobs
        while True:
            try:
                entry = jobs.popleft()
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
                entry[0](entry)
            except BaseException:  # noqa: BLE001 - jobs report their own failures; writer survives
                logger.debug("snapy_capture: background job failed", exc_info=True)
            finally:
                if entry[1] > SMALL_JOB:
                    with self.bytes_lock:
                        self.queued_bytes -= entry[1]
                self.running = 0

    def flush(self, timeout: float | None) -> bool:
        done = threading.Event()
        self.jobs.append((_mark, 0, done))
        self.wake.set()
        return done.wait(timeout)

    def pending(self) -> int:
        return sum(entry[0] is not _mark for entry in list(self.jobs)) + self.running


_writer: _Writer | None = None
_lock = fork_safe(threading.Lock())
_atexit_registered = False
_closed = False
_forked = False  # this process is a fork child (see _flush_before_child_exits)


def submit(job: Job, queue_size: int, size: int = 0) -> bool:
    """Queue ``job`` for the writer thread.

    Args:
        job: what to run; it must report its own failures.
        queue_size: the queue's bound for this capture (the option of the capturing site).
        size: bytes the job holds in memory, counted against :data:`MAX_QUEUED_BYTES`.

    Returns:
        ``False`` (and nothing queued) when the queue is full.
    """
    return push((_call, size, job), queue_size)


def push(entry: Entry, queue_size: int) -> bool:
    """Queue an :data:`Entry` ``(run, size, *data)``; the writer thread calls ``run(entry)``.

    What :func:`submit` does, without a callable made per job. Returns ``False`` (and nothing
    queued) when the queue is full.
    """
    writer = _writer
    if writer is None:
        if _closed or _exit_under_way():
            # The exit flush has run (or, in a multiprocessing child, is running): nothing would
            # drain a queue now, so write here.
            entry[0](entry)
            return True
        writer = _start()
    # Inline rather than a method of the writer: one call less on every async capture.
    jobs = writer.jobs
    queued = len(jobs)
    if queued >= queue_size:
        return False
    size = entry[1]
    if size <= SMALL_JOB:
        # Read without the lock: at worst one job per racing thread over the bound.
        if (queued + 1) * SMALL_JOB + writer.queued_bytes > MAX_QUEUED_BYTES:
            return False
    else:
        writer.acquire()
        try:
            held = writer.queued_bytes
            # A job larger than the whole bound still goes into an empty queue: its bytes are
            # in memory already, and a synchronous capture would have written it.
            if (queued or held) and (queued + 1) * SMALL_JOB + held + size > MAX_QUEUED_BYTES:
                return False
            writer.queued_bytes = held + size
        finally:
            writer.release()
    jobs.append(entry)
    if writer.idle:
        # Cleared here too, not only by the writer once it runs: until it gets the GIL back, every
        # capture of a burst would find it still "idle" and pay for another Event.set().
        writer.idle = False
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
            util = sys.modules.get("multiprocessing.util")
            if util is not None and (_forked or _started_by_multiprocessing()):
                _flush_before_child_exits(util)
    return writer


def _started_by_multiprocessing() -> bool:
    process = sys.modules.get("multiprocessing.process")
    return process is not None and process.parent_process() is not None


def _flush_before_child_exits(util: Any) -> None:
    """A child that multiprocessing starts by fork (or forkserver) leaves through ``os._exit``
    once its task is done, so the atexit flush never runs there; multiprocessing's exit
    finalizers do."""
    _flush_at_child_exit(util)
    # A capture made before multiprocessing sets the child up (from an at-fork hook) registers
    # the finalizer in a registry it is about to clear; its after-fork callbacks run later.
    util.register_after_fork(util, _flush_at_child_exit)


def _flush_at_child_exit(util: Any) -> None:
    util.Finalize(None, _flush_at_exit, exitpriority=100)


def _exit_under_way() -> bool:
    """Whether multiprocessing has begun its exit (a child's flush runs then): a writer started
    now would never be flushed."""
    util = sys.modules.get("multiprocessing.util")
    # ``_exiting``: set by multiprocessing's exit function, before it runs the finalizers (a
    # private name, read defensively: absent, the writer is started as usual).
    return util is not None and bool(getattr(util, "_exiting", False))


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


def _flush_at_exit() -> None:
    global _writer, _closed  # noqa: PLW0603
    writer = _writer
    # From now on submit() writes on the caller's thread: nothing would drain a queue later.
    _closed = True
    _writer = None
    if writer is None or not writer.thread.is_alive():
        return
    start = time.monotonic()
    try:
        drained = writer.flush(timeout=60.0)
    except KeyboardInterrupt:  # Ctrl-C while the program waits on us at exit: no traceback
        logger.warning(
            "snapy_capture: interrupted at exit; %d queued captures are lost", writer.pending()
        )
        return
    if not drained:
        logger.warning(
            "snapy_capture: %d captures were still queued after %.0f s at exit; they are lost",
            writer.pending(),
            time.monotonic() - start,
        )


_early_flush = False


def flush_before_threads_stop() -> None:
    """Flush the queue at exit before the interpreter stops its thread pools, not after.

    Object-store clients (aiobotocore) run part of a request on asyncio's default executor,
    which refuses work once ``concurrent.futures`` shuts down, before ``atexit`` handlers run:
    captures still queued then would all fail. For those storages the queue is drained first
    (the ``atexit`` flush still takes what comes later). Called once a site writes to one.
    """
    global _early_flush  # noqa: PLW0603
    register = getattr(threading, "_register_atexit", None)
    if _early_flush or register is None:
        return
    # Imported before we register: registered after it, our flush runs before its shutdown.
    import concurrent.futures.thread  # noqa: F401, PLC0415

    with _lock:
        try:
            register(_flush_before_pools_stop)
        except RuntimeError:  # the interpreter is shutting down already
            return
        _early_flush = True  # (two sites racing here register twice: a second flush is free)


def _flush_before_pools_stop() -> None:
    writer = _writer
    if writer is not None and writer.thread.is_alive():
        writer.flush(timeout=60.0)


@after_fork_in_child
def _forget_writer_in_child() -> None:
    # (``_lock``, which the parent may have held while forking, is reset by _forksafe.)
    global _writer, _forked  # noqa: PLW0603
    _writer = None
    _forked = True
