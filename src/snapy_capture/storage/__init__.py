"""Persistence: one file per capture, atomic writes, retention across threads and processes.

What the layers above use: :class:`CaptureStorage` (one storage root), the captures it
holds as :class:`CaptureRef` (never file names: :mod:`._layout` alone knows those) and
:func:`newest_first`, the one order of captures found under several roots.

A capture is written to a temporary file in the same directory and then linked into place
under the lock, so a reader never sees a partial capture. With a signing key, the capture is
signed under the lock too, once its number is known: the signature binds it to its function
and number (see :mod:`._envelope`). On Linux the temporary file has no
name (``O_TMPFILE``), so a crash leaves nothing behind; elsewhere it is ``.tmp-<pid>-<n>``,
which :meth:`CaptureStorage.prune` removes once stale. Retention deletes by sequence
number, so its cost does not grow with the number of captures kept.

Nothing here follows a symbolic link: the root and each function directory are checked before
the first write to them (not a link, not writable by others: ``_files._check_directory``), and
every file of ours is opened with ``O_NOFOLLOW``. Readers refuse a ``.cap`` that is a link.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any, Final

from snapy_capture import _forksafe
from snapy_capture.config import parse_option
from snapy_capture.storage import _envelope
from snapy_capture.storage._envelope import check_key
from snapy_capture.storage._fileops import DEFAULT_FILES, FileOperations, _TmpfileUnusable
from snapy_capture.storage._files import _check_directory, _write_all
from snapy_capture.storage._layout import (
    _META,
    CaptureRef,
    FunctionInfo,
    _capture_name,
    _check_bookkeeping,
    _clear_directory,
    _prune_directory,
    _read_state,
    _retire,
    _scan_state,
    function_dirname,
    is_temporary,
)
from snapy_capture.storage._locks import DirectoryLocks
from snapy_capture.storage._order import StoredCapture, newest_first
from snapy_capture.storage._reading import CaptureReader
from snapy_capture.storage.serializers import Serializer, get_serializer

logger = logging.getLogger("snapy_capture")

__all__ = [
    "CaptureRef",
    "CaptureStorage",
    "FileOperations",
    "FunctionInfo",
    "StoredCapture",
    "check_key",
    "function_dirname",
    "is_temporary",
    "newest_first",
    "written_roots",
]

_MAX_NUMBERING_ATTEMPTS: Final = 50
#: Seconds a write waits for another process's lock before giving up on that one capture.
#: Read on every write (documented as tunable), so it lives here and is passed to the lock.
LOCK_TIMEOUT = 10.0
#: Seconds ``prune`` and ``clear`` wait for a directory's writers' lock.
_MAINTENANCE_TIMEOUT: Final = 300.0

# Every storage root this process wrote to, in order: the loader searches them by default.
_written_roots: dict[str, None] = {}
_KEEP: Any = object()


def written_roots() -> list[str]:
    """The storage roots this process has written captures to, oldest first."""
    return list(_written_roots)


def _write_meta(
    files: FileOperations, directory: str, meta: str, module: str, qualname: str
) -> None:
    """Write ``.function.json`` atomically; a copy another writer placed first is kept."""
    fd, temp = files.open_temp(directory)
    try:
        _write_all(fd, json.dumps({"module": module, "qualname": qualname}).encode())
        files.link(fd, temp, meta)
    except BaseException as exc:
        # A full disk fails every call: leave no temp file per attempt behind.
        if temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp)
        if not isinstance(exc, FileExistsError):  # same names, written by another writer
            raise
    finally:
        os.close(fd)


def _drop_state(files: FileOperations, directory: str, final: str) -> None:
    """The state could not be recorded after ``final`` was placed: remove it.

    Left behind, it would point at numbers that retention frees later, and a write would
    reuse one below the floor. Without it, writers and loaders list the directory until a
    write records it again. If even that fails, the capture goes too (files and state must
    agree) and the error is reported.
    """
    try:
        os.unlink(os.path.join(directory, ".seq"))
    except FileNotFoundError:
        pass
    except OSError:
        files.unlink(final)
        raise


class CaptureStorage(CaptureReader):
    """Stores capture records under ``path``.

    Args:
        path: the storage root; ``None`` uses the configured default path.
        retention: captures kept per function (newest first); ``None`` keeps all.
        max_age: captures older than this many seconds (or ``"7d"``...) are dropped on write.
        serializer: ``"pickle"`` (default), ``"json"``, ``"jsonpickle"`` or a serializer object.
        signing_key: sign every capture (HMAC-SHA256) and refuse unsigned or altered ones;
            ``None`` uses the configured key (``SNAP_CAPTURE_SIGNING_KEY``), if any.
        files: the file-system operations writes make (:class:`FileOperations`); a test
            passes a subclass to make one fail as a disk would. ``None``: the shared default.

    Subclasses may override :meth:`serialize_data` and :meth:`deserialize_data`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        retention: int | None = None,
        max_age: float | str | None = None,
        *,
        serializer: str | Serializer | None = None,
        signing_key: str | bytes | None = None,
        files: FileOperations | None = None,
    ) -> None:
        if path is None or signing_key is None:
            from snapy_capture.config import resolve_config  # noqa: PLC0415 - resolved on use, not import

            resolved = resolve_config()
            path = resolved.path if path is None else path
            # A configured key binds every storage, custom subclasses included: an unsigned
            # capture must never be written, nor read, where signatures are required.
            signing_key = resolved.signing_key if signing_key is None else signing_key
        self.path = Path(os.path.abspath(parse_option("path", path)))
        self._root = str(self.path)  # for written_roots(), on every write
        self._own_name: tuple[object, str] = (None, "")
        self.retention: int | None = parse_option("retention", retention)
        self.max_age: float | None = parse_option("max_age", max_age)
        self.serializer = get_serializer(parse_option("serializer", serializer or "pickle"))
        self.signing_key: bytes | None = parse_option("signing_key", signing_key)
        self._prepared: set[str] = set()
        self._root_checked = False
        # (module, qualname) -> its prepared directory: quoting the name costs microseconds.
        self._dirs: dict[tuple[str, str], str] = {}
        self._files = DEFAULT_FILES if files is None else files
        self._guard = _forksafe.fork_safe(threading.Lock())
        self._dir_locks = DirectoryLocks(self._guard)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}, retention={self.retention!r})"

    # --- writing ----------------------------------------------------------------------

    def save(self, record: dict[str, Any], *, retention: Any = _KEEP, max_age: Any = _KEEP) -> Path:
        """Serialize and store one record; returns the capture file's path."""
        module = str(record.get("module", "__unknown__"))
        qualname = str(record.get("qualname", record.get("function_name", "__unknown__")))
        return self.write(
            module, qualname, self.encode(record), retention=retention, max_age=max_age
        )

    def write(
        self,
        module: str,
        qualname: str,
        data: bytes,
        *,
        retention: Any = _KEEP,
        max_age: Any = _KEEP,
    ) -> Path:
        """Store the bytes of one capture file atomically, then apply retention."""
        return Path(self._write(module, qualname, data, retention, max_age))

    def _write(
        self, module: str, qualname: str, data: bytes, retention: Any = _KEEP, max_age: Any = _KEEP
    ) -> str:
        """:meth:`write`, returning the path as a string.

        Every captured call comes through here, so it is kept to the system calls: paths are
        strings (a pathlib operation costs as much as a system call) and the temporary file
        has no name on Linux (``O_TMPFILE``: no name to make up, none to unlink).
        """
        if retention is _KEEP:
            retention = self.retention
        if max_age is _KEEP:
            max_age = self.max_age
        key = self.signing_key
        # Hashed here, off the lock; the short HMAC is made under it, once numbered.
        signer = None if key is None else _envelope.signer_for(key, data, f"{module}:{qualname}")
        directory = self._dirs.get((module, qualname)) or self._prepare(module, qualname)
        files = self._files
        try:
            fd, temp = files.open_temp(directory)
        except (FileNotFoundError, NotADirectoryError):
            directory = self._prepare_again(module, qualname, directory)
            fd, temp = files.open_temp(directory)
        try:
            _write_all(fd, data)
            if temp is not None:
                # Named: the link below finds it by name. Forgotten before closing: if close
                # raises (EIO on NFS, a signal), the number is already free and may be
                # another file's by the time the ``finally`` below would close it again.
                fd, named = -1, fd
                os.close(named)
            # Bounded: a process stopped while holding the lock (SIGSTOP, a debugger, a hung
            # mount) must not hang every captured call; the capture is dropped instead.
            # (acquire/release rather than ``with``: this runs once per captured call.)
            lock = self._dir_locks.writers(directory)
            state_fd = lock.acquire(LOCK_TIMEOUT)
            try:
                final = self._place(
                    directory,
                    fd,
                    temp,
                    retention,
                    max_age,
                    files=files,
                    state_fd=state_fd,
                    signer=signer,
                )
            finally:
                lock.release()
        except _TmpfileUnusable:
            # This system cannot link an unnamed file (no /proc, a filesystem without it):
            # from now on temporary files have names (nothing was numbered yet).
            return self._write(module, qualname, data, retention, max_age)
        except BaseException:
            if temp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
            raise
        finally:
            if fd >= 0:
                os.close(fd)
        if self._root not in _written_roots:
            _written_roots[self._root] = None
        return final

    def _place(
        self,
        directory: str,
        fd: int,
        temp: str | None,
        retention: int | None,
        max_age: float | None,
        *,
        files: FileOperations,
        state_fd: int | None,
        signer: _envelope.Signer | None = None,
    ) -> str:
        """Number the written temporary file (descriptor, name), sign it for that number when
        signing, and link it into place."""
        state = _read_state(directory, state_fd)
        nxt, floor = _scan_state(directory) if state is None else state
        for _ in range(_MAX_NUMBERING_ATTEMPTS):
            final = _capture_name(directory, nxt)
            if signer is not None:
                signer.sign(fd, temp, nxt)
            try:
                files.link(fd, temp, final)
                break
            except FileExistsError:
                # The state is behind the files: a writer died between placing its capture
                # and recording it, or the lock file was deleted under live writers (nothing
                # then keeps them apart). The files are the truth; a few dozen retries suffice.
                nxt, floor = _scan_state(directory)
        else:
            raise OSError(errno.EEXIST, "cannot number the capture", directory)
        # The state is written last, in one write: a crash before it leaves the state behind
        # the files, which the next writer notices (its number is taken: it rescans) and so
        # does the loader (it lists the directory). So numbers have no gaps, and retention
        # keeps exactly the newest captures even after a crash.
        new_floor = _retire(files, directory, nxt, floor, retention=retention, max_age=max_age)
        try:
            files.write_state(directory, nxt + 1, new_floor, state_fd)
        except OSError:
            _drop_state(files, directory, final)
        return final

    def _prepare_again(self, module: str, qualname: str, directory: str) -> str:
        """The directory was removed since this process prepared it (a cleanup script,
        ``rm -r captures``): make it again rather than fail every capture from now on.
        (Replaced by a symbolic link: preparing it again refuses it.)"""
        with self._guard:
            self._prepared.discard(directory)
            self._dirs.pop((module, qualname), None)
            self._root_checked = False
        return self._prepare(module, qualname)

    def _prepare(self, module: str, qualname: str) -> str:
        known = self._dirs.get((module, qualname))
        if known is not None:
            return known
        path = self.path / function_dirname(module, qualname)
        directory = str(path)
        if directory in self._prepared:
            return directory
        root_unchecked = not self._root_checked
        if root_unchecked:
            _check_directory(self.path, "root")  # a link: mkdir below would follow it
        self._files.make_dirs(path)
        if root_unchecked:
            _check_directory(self.path, "root")  # made by another process meanwhile?
            self._root_checked = True
        _check_directory(path, "directory")
        _check_bookkeeping(path)
        meta = path / _META
        if not os.path.lexists(meta):
            try:
                _write_meta(self._files, directory, str(meta), module, qualname)
            except _TmpfileUnusable:
                # Now with a named file.
                _write_meta(self._files, directory, str(meta), module, qualname)
        with self._guard:
            self._prepared.add(directory)
            self._dirs[(module, qualname)] = directory
        return directory

    # --- maintenance --------------------------------------------------------------------

    def prune(self, retention: Any = _KEEP, max_age: Any = _KEEP) -> int:
        """Apply retention and max-age to every function now, and remove stale temp files.

        Returns:
            The number of files removed.
        """
        retention = self.retention if retention is _KEEP else retention
        max_age = self.max_age if max_age is _KEEP else max_age
        removed = 0
        cutoff = None if max_age is None else self._files.now() - max_age
        for info in self.functions():
            with self._dir_locks.exclusive(info.directory, _MAINTENANCE_TIMEOUT):
                removed += _prune_directory(info.directory, retention, cutoff)
        return removed

    def clear(self, module: str | None = None, qualname: str | None = None) -> int:
        """Delete the captures of one function, or of every function when none is named."""
        if module is None or qualname is None:
            infos = self.functions()
        else:
            infos = [FunctionInfo(module, qualname, self.path / function_dirname(module, qualname))]
        removed = 0
        for info in infos:
            if info.directory.is_symlink() or not info.directory.is_dir():
                continue  # a link: never delete through it
            with self._dir_locks.exclusive(info.directory, _MAINTENANCE_TIMEOUT):
                removed += _clear_directory(info.directory)
        return removed
