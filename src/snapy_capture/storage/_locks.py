"""The writers' lock of a capture directory, kept open across writes and reset after fork.

Timeouts are passed in by the caller rather than read from a constant here: the public knob
is ``snapy_capture.storage.LOCK_TIMEOUT``, and it must keep working when set there.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
import threading
import time
from collections.abc import Iterator

from snapy_capture._forksafe import after_fork_in_child

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from pathlib import Path
    from typing import ClassVar, Final

    # Imported where used: only Windows needs it, and its import costs a captured process
    # ~10 ms at start (issue 21).
    from filelock import FileLock

if sys.platform != "win32":  # Windows: writers use filelock's own locking
    import fcntl

#: Numbers the opening of lock files: what was opened under an older one (deduplication's
#: mapped index) is opened again, since the directory may have been removed and made again.
_generations = itertools.count(1)

#: Lock files a process keeps open for writing; beyond, each write opens and closes its own.
_MAX_OPEN_LOCKS: Final = 64
#: ``O_NOFOLLOW``: a ``.lock`` or ``.seq`` planted as a symbolic link must not make us create
#: or overwrite its target (the open fails with ``ELOOP``; the capture is dropped).
_FLAGS: Final = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)


class _WriteLock:
    """The writers' lock of one capture directory: ``flock`` on ``.lock``, kept open.

    filelock opens, checks and closes the lock file on every acquisition, which costs more
    than writing the capture; this keeps the lock file and ``.seq`` open, one descriptor
    each per directory and process, with a thread lock in front (``flock`` does not tell
    apart threads sharing a descriptor). It is the same ``flock`` on the same file, so it
    excludes filelock's users (``prune``, ``clear``) and other processes alike. A file found
    deleted or replaced (a cleanup script) is opened again. :meth:`acquire` returns the
    descriptor of ``.seq``.
    """

    _all: ClassVar[dict[str, _WriteLock]] = {}
    _open = 0  # locks holding descriptors open (guarded by _count_lock)
    _count_lock = threading.Lock()

    def __init__(self, directory: str | Path) -> None:
        self.path = os.path.join(directory, ".lock")
        self.state_path = os.path.join(directory, ".seq")
        self.mutex = threading.Lock()
        self.fd = -1
        self.state_fd = -1
        # (st_dev, st_ino) of each open file: a daemon closing every descriptor (closerange)
        # frees our numbers, and the host's next files may get them. Those are never locked,
        # written or closed by us: a descriptor that is no longer our file is forgotten.
        self.identity = (0, 0)
        self.state_identity = (0, 0)
        self.generation = 0
        #: Counts descriptors found closed behind our back (a daemon's ``closerange``):
        #: mappings made before must not be closed either (their descriptor may be another
        #: file's by now).
        self.foreign = 0

    @classmethod
    def of(cls, directory: str | Path) -> _WriteLock:
        key = str(directory)
        lock = cls._all.get(key)
        if lock is None:
            lock = cls._all.setdefault(key, cls(directory))
        return lock

    def acquire(self, timeout: float, state: bool = True) -> int:
        """Take the lock, waiting at most ``timeout`` seconds; returns the ``.seq`` descriptor
        (checked only with ``state``: a call counted on a kept capture does not number one,
        and a system call is a tenth of its cost).

        The timeout is per call, not the lock's: threads share the lock. The common case
        (both files open, still ours and named, nobody holding the lock) is tried inline: it
        runs on every synchronous capture.
        """
        if not self.mutex.acquire(True, timeout):
            raise TimeoutError(f"timed out waiting for the lock {self.path}")
        try:
            fd = self.fd
            if not (fd >= 0 and _status(fd, self.identity) is _LIVE and _try_flock(fd)):
                self._flock(time.monotonic() + timeout)
            try:
                state_fd = self.state_fd
                if state and (state_fd < 0 or _status(state_fd, self.state_identity) is not _LIVE):
                    self._check_state()
            except BaseException:
                self._unlock()
                raise
        except BaseException:
            self.mutex.release()
            raise
        return self.state_fd

    def release(self) -> None:
        try:
            self._unlock()
        finally:
            self.mutex.release()

    def _flock(self, deadline: float) -> None:
        delay = 0.001
        waited = False
        while True:
            if self.fd < 0:
                self._open_files()
            elif (status := _status(self.fd, self.identity)) is not _LIVE:
                if status is _DELETED:
                    self._close()
                else:
                    self._forget()  # closed behind our back: not ours to lock or close
                continue
            if not _try_flock(self.fd):
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"the lock {self.path} is held by another process")
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
                waited = True
                continue
            # Deleted or replaced while we waited (no name left): a lock on it excludes
            # nobody. (Checked before locking too, by _status: only a wait leaves time.)
            if not waited or os.fstat(self.fd).st_nlink:
                return
            self._close()
            waited = False

    def _check_state(self) -> None:
        if self.state_fd >= 0:
            status = _status(self.state_fd, self.state_identity)
            if status is _LIVE:
                return
            if status is _NOT_OURS:
                self.state_fd = -1  # closed behind our back: forget, never close
                self.foreign += 1
        self._reopen_state()

    def _open_files(self) -> None:
        self.fd = os.open(self.path, _FLAGS, 0o600)
        info = os.fstat(self.fd)
        self.identity = (info.st_dev, info.st_ino)
        self.generation = next(_generations)
        with self._count_lock:
            _WriteLock._open += 1

    def _reopen_state(self) -> None:
        if self.state_fd >= 0:
            os.close(self.state_fd)
            self.state_fd = -1
        self.state_fd = os.open(self.state_path, _FLAGS, 0o600)
        info = os.fstat(self.state_fd)
        self.state_identity = (info.st_dev, info.st_ino)

    def _unlock(self) -> None:
        if _WriteLock._open > _MAX_OPEN_LOCKS:
            self._close()  # many directories: do not hold a process's descriptors for ever
        else:
            fcntl.flock(self.fd, fcntl.LOCK_UN)

    def _close(self) -> None:
        # Closing the lock file releases its flock.
        fd, self.fd = self.fd, -1
        state_fd, self.state_fd = self.state_fd, -1
        with self._count_lock:
            _WriteLock._open -= 1
        os.close(fd)
        if state_fd >= 0 and _status(state_fd, self.state_identity) is not _NOT_OURS:
            os.close(state_fd)

    def _forget(self) -> None:
        """Drop the lock file's descriptor, no longer our file, without closing it."""
        self.fd = -1
        self.foreign += 1
        with self._count_lock:
            _WriteLock._open -= 1


_LIVE, _DELETED, _NOT_OURS = "live", "deleted", "not ours"


def _try_flock(fd: int) -> bool:
    """Take the ``flock`` on ``fd`` if nobody holds it; ``False`` if somebody does."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _status(fd: int, identity: tuple[int, int]) -> str:
    """Whether ``fd`` is still our file (by its identity) and that file still has a name."""
    try:
        info = os.fstat(fd)
    except OSError:
        return _NOT_OURS
    if (info.st_dev, info.st_ino) != identity:
        return _NOT_OURS
    return _LIVE if info.st_nlink else _DELETED


@after_fork_in_child
def _forget_write_locks_in_child() -> None:
    # The child shares the parent's open lock files: a flock through them would not exclude
    # the parent. Close them (closing does not release the parent's lock) and start afresh.
    for lock in _WriteLock._all.values():
        for fd, identity in ((lock.fd, lock.identity), (lock.state_fd, lock.state_identity)):
            if fd >= 0 and _status(fd, identity) is not _NOT_OURS:
                with contextlib.suppress(OSError):
                    os.close(fd)
    _WriteLock._all = {}
    _WriteLock._open = 0
    _WriteLock._count_lock = threading.Lock()


class _PortableWriteLock:  # pragma: no cover - Windows
    """filelock's lock where ``fcntl`` is missing; the state is read and written by path."""

    generation = 0
    foreign = 0

    def __init__(self, lock: FileLock) -> None:
        self.lock = lock

    def acquire(self, timeout: float, state: bool = True) -> None:
        self.lock.acquire(timeout=timeout)

    def release(self) -> None:
        self.lock.release()


class DirectoryLocks:
    """The writers' locks of the capture directories one storage uses."""

    def __init__(self, guard: contextlib.AbstractContextManager[object]) -> None:
        self._filelocks: dict[str, FileLock] = {}
        self._guard = guard

    def writers(self, directory: str) -> _WriteLock | _PortableWriteLock:
        """The lock writers hold while numbering a capture.

        ``acquire(timeout)`` returns the ``.seq`` descriptor (``None`` where the state is
        read and written by path), ``release()`` lets go.
        """
        if sys.platform == "win32":  # pragma: no cover
            return _PortableWriteLock(self._filelock(directory))
        return _WriteLock._all.get(directory) or _WriteLock.of(directory)

    @contextlib.contextmanager
    def exclusive(self, directory: str | Path, timeout: float) -> Iterator[None]:
        """Hold a directory's writers' lock (``prune``, ``clear``), never through a link."""
        if sys.platform == "win32":  # pragma: no cover
            with self._filelock(directory):
                yield
            return
        lock = self.writers(str(directory))
        lock.acquire(timeout)
        try:
            yield
        finally:
            lock.release()

    def _filelock(self, directory: str | Path) -> FileLock:
        key = str(directory)
        lock = self._filelocks.get(key)
        if lock is None:
            from filelock import FileLock  # noqa: PLC0415 - see the imports

            with self._guard:
                lock = self._filelocks.setdefault(
                    key, FileLock(os.path.join(key, ".lock"), mode=0o600)
                )
        return lock
