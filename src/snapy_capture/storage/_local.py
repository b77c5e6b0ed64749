"""The local-directory backend: one file per capture, atomic writes, retention across threads
and processes (the :class:`~._backend.Backend` every local storage root uses).

A capture is written to a temporary file in the same directory and then linked into place
under the lock, so a reader never sees a partial capture. With a signing key, the capture is
signed under the lock too, once its number is known: the signature binds it to its function
and number (see :mod:`._envelope`). On Linux the temporary file has no
name (``O_TMPFILE``), so a crash leaves nothing behind; elsewhere it is ``.tmp-<pid>-<n>``,
which :meth:`LocalDirectory.prune` removes once stale. Retention deletes by sequence
number, so its cost does not grow with the number of captures kept.

Nothing here follows a symbolic link: the root and each function directory are checked before
the first write to them (not a link, not writable by others: ``_files._check_directory``), and
every file of ours is opened with ``O_NOFOLLOW``. Readers refuse a ``.cap`` that is a link.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator

from snapy_capture import _forksafe
from snapy_capture import _logger as logger
from snapy_capture.errors import CaptureFormatError
from snapy_capture.storage import _envelope
from snapy_capture.storage._backend import Backend
from snapy_capture.storage._dedupe import INDEX_NAME, DedupeIndex, calls_of, content_digest
from snapy_capture.storage._fileops import FileOperations, _TmpfileUnusable
from snapy_capture.storage._files import (
    _check_directory,
    _make_private_dirs,
    _read_file,
    _write_all,
)
from snapy_capture.storage._layout import (
    _META,
    _TEMP_PREFIX,
    CaptureRef,
    FunctionInfo,
    _capture_name,
    _capture_refs,
    _check_bookkeeping,
    _clear_directory,
    _prune_directory,
    _read_meta,
    _read_state,
    _retire,
    _scan_state,
    _seq_of,
    _stored_files,
    function_dirname,
)
from snapy_capture.storage._locks import DirectoryLocks

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any, Final

    from snapy_capture.storage._objpath import StoredPath

__all__ = ["LocalDirectory"]


_MAX_NUMBERING_ATTEMPTS: Final = 50
#: Deduplication indexes a storage keeps mapped; beyond, each write maps and unmaps its own.
_MAX_OPEN_INDEXES: Final = 64
#: A kept capture counted again is checked (still there? its file time set to now) at most
#: once in this many seconds by a process: a capture deleted by hand is stored again by the
#: first call this long after its last check, and a file time may lag its last call by as
#: much (``prune`` allows for it).
_RECHECK_SECONDS: Final = 1.0
#: Check times a deduplicated directory's index keeps (then forgotten at once).
_MAX_CHECKED: Final = 256
#: Seconds ``prune`` and ``clear`` wait for a directory's writers' lock.
_MAINTENANCE_TIMEOUT: Final = 300.0


def _lock_timeout() -> float:
    # ``snapy_capture.storage.LOCK_TIMEOUT`` is documented as tunable: read where it is set.
    timeout: float = sys.modules["snapy_capture.storage"].LOCK_TIMEOUT
    return timeout


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


def _local(path: StoredPath) -> Path:
    from pathlib import Path  # noqa: PLC0415 - maintenance, not capturing (see LocalDirectory)

    if not isinstance(path, Path):
        raise TypeError(f"not a local path: {path}")
    return path


class LocalDirectory(Backend):
    """Captures in a local directory (see the module).

    Writing works on strings: the root's ``Path`` (:attr:`root`, what the storage's ``path``
    and the reading side's ``FunctionInfo`` and ``CaptureRef`` are made from) is made where
    first asked for, so a capturing process never imports pathlib (with urllib.parse and
    ipaddress: ~2.5 ms of its start-up, issue 21).
    """

    def __init__(self, root: str, files: FileOperations) -> None:
        self._root = root  # absolute
        self._root_path: Path | None = None
        self._files = files
        # A subclass's ``make_dirs`` is given a ``Path``, as documented: pathlib is imported
        # by the storage it was given to, not by a capture.
        self._make_dirs: Callable[[str], None] = _make_private_dirs
        if getattr(type(files), "make_dirs", None) is not FileOperations.make_dirs:
            from pathlib import Path  # noqa: PLC0415

            self._make_dirs = lambda directory: files.make_dirs(Path(directory))
        self._prepared: set[str] = set()
        self._root_checked = False
        # (module, qualname) -> its prepared directory: quoting the name costs microseconds.
        self._dirs: dict[tuple[str, str], str] = {}
        self._guard = _forksafe.fork_safe(threading.Lock())
        self._dir_locks = DirectoryLocks(self._guard)
        self._indexes: dict[str, DedupeIndex] = {}

    @property
    def root(self) -> Path:  # type: ignore[override] # a Path, never an ObjectPath
        root = self._root_path
        if root is None:
            from pathlib import Path  # noqa: PLC0415 - see the class

            root = self._root_path = Path(self._root)
        return root

    @property
    def root_name(self) -> str:
        return self._root

    def _index(self, directory: str) -> DedupeIndex:
        index = self._indexes.get(directory)
        if index is None:
            with self._guard:
                index = self._indexes.setdefault(directory, DedupeIndex(directory))
        return index

    # --- writing ----------------------------------------------------------------------

    def write(
        self,
        module: str,
        qualname: str,
        data: bytes,
        *,
        signer: _envelope.Signer | None,
        retention: int | None,
        max_age: float | None,
        dedupe: bool = False,
    ) -> str:
        """Every captured call comes through here, so it is kept to the system calls: paths are
        strings (a pathlib operation costs as much as a system call) and the temporary file
        has no name on Linux (``O_TMPFILE``: no name to make up, none to unlink).

        With ``dedupe``, a capture whose content the directory's index already holds is not
        written: the call counts on that capture (see :mod:`._dedupe`). The index is looked
        at before writing (a hint, without the lock) and again under the lock.
        """
        directory = self._dirs.get((module, qualname)) or self._prepare(module, qualname)
        files = self._files
        index = hint = None
        digest = content_digest(data) if dedupe else None
        if digest is not None:
            index = self._indexes.get(directory) or self._index(directory)
            # ``peek``'s common case inline: the counter read first (see ``peek``).
            changes, keys = index.changes, index.keys
            hint = index.peek(digest) if keys is None else (keys.get(digest, -1), changes)
            if hint is not None and hint[0] >= 0:
                known = self._count_call(directory, index, digest, hint)
                if known is not None:
                    return known
                hint = None
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
            state_fd = lock.acquire(_lock_timeout())
            try:
                dedupe_at = None
                if index is not None and digest is not None:
                    slot = index.lookup(lock, digest, hint)
                    if slot >= 0 and (known := self._seen(directory, index, slot)):
                        # Stored by another writer since the hint: this copy is not placed.
                        if temp is not None:
                            files.unlink(temp)
                        return known
                    dedupe_at = (index, digest)
                final = self._place(
                    directory,
                    fd,
                    temp,
                    retention,
                    max_age,
                    files=files,
                    state_fd=state_fd,
                    signer=signer,
                    dedupe_at=dedupe_at,
                )
            finally:
                # Unmapped under the lock: another thread may be about to use the mapping.
                if index is not None and len(self._indexes) > _MAX_OPEN_INDEXES:
                    index.close()
                lock.release()
        except _TmpfileUnusable:
            # This system cannot link an unnamed file (no /proc, a filesystem without it):
            # from now on temporary files have names (nothing was numbered yet).
            return self.write(
                module,
                qualname,
                data,
                signer=signer,
                retention=retention,
                max_age=max_age,
                dedupe=dedupe,
            )
        except BaseException:
            if temp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
            raise
        finally:
            if fd >= 0:
                os.close(fd)
        return final

    def _count_call(
        self, directory: str, index: DedupeIndex, digest: bytes, hint: tuple[int, int]
    ) -> str | None:
        """Count one more call on the capture ``hint`` found for ``digest``; its path, or
        ``None`` if it is not there after all (then the call is stored)."""
        lock = self._dir_locks.writers(directory)
        lock.acquire(_lock_timeout(), False)  # nothing numbered: .seq is not used
        try:
            return self._seen(directory, index, index.lookup(lock, digest, hint))
        finally:
            if len(self._indexes) > _MAX_OPEN_INDEXES:
                index.close()
            lock.release()

    def _seen(self, directory: str, index: DedupeIndex, slot: int) -> str | None:
        """Under the lock, after ``index.lookup``: the capture in index ``slot`` seen once
        more (its path), or ``None`` (no slot, or its capture was deleted by other means:
        forgotten)."""
        if slot < 0:
            return None
        mapped = index.map
        assert mapped is not None  # noqa: S101 - mapped by the lookup, under the lock
        seq = index.seq_of(mapped, slot)
        final = _capture_name(directory, seq)
        checked, clock = index.checked, time.monotonic()
        if clock - checked.get(seq, -_RECHECK_SECONDS) >= _RECHECK_SECONDS:
            try:
                # Its file time says when it was last seen (max_age, prune): one system
                # call, which also tells whether it is still there (deleted by hand: the
                # call is stored again). At most once a second per capture: on a hot call
                # it is a tenth of a duplicate's cost (issue 21).
                os.utime(final, follow_symlinks=False)
            except FileNotFoundError:
                checked.pop(seq, None)
                index.forget(mapped, slot)
                return None
            if len(checked) >= _MAX_CHECKED:
                checked.clear()
            checked[seq] = clock
        index.seen(mapped, slot, self._files.now())
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
        dedupe_at: tuple[DedupeIndex, bytes] | None = None,
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
        if dedupe_at is None:
            new_floor = _retire(files, directory, nxt, floor, retention=retention, max_age=max_age)
        else:
            new_floor = floor  # numbers are no longer retired in order: the floor stays below
            index, digest = dedupe_at
            now = files.now()
            try:
                cutoff = None if max_age is None else now - max_age
                for seq in index.add(digest, nxt, now, retention, cutoff):
                    files.unlink(_capture_name(directory, seq))
            except OSError:
                # Placed but not indexed: counted as distinct until the index is rebuilt.
                logger.debug("snapy_capture: deduplication in %s failed", directory, exc_info=True)
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
        directory = os.path.join(self._root, function_dirname(module, qualname))
        if directory in self._prepared:
            return directory
        root_unchecked = not self._root_checked
        if root_unchecked:
            _check_directory(self._root, "root")  # a link: mkdir below would follow it
        self._make_dirs(directory)
        if root_unchecked:
            _check_directory(self._root, "root")  # made by another process meanwhile?
            self._root_checked = True
        _check_directory(directory, "directory")
        _check_bookkeeping(directory)
        meta = os.path.join(directory, _META)
        if not os.path.lexists(meta):
            try:
                _write_meta(self._files, directory, meta, module, qualname)
            except _TmpfileUnusable:
                # Now with a named file.
                _write_meta(self._files, directory, meta, module, qualname)
        with self._guard:
            self._prepared.add(directory)
            self._dirs[(module, qualname)] = directory
        return directory

    # --- reading ----------------------------------------------------------------------

    def function(self, module: str, qualname: str) -> FunctionInfo:
        return FunctionInfo(module, qualname, self.root / function_dirname(module, qualname))

    def functions(self) -> list[FunctionInfo]:
        found = []
        try:
            entries = sorted(os.scandir(self._root), key=lambda entry: entry.name)
        except (FileNotFoundError, NotADirectoryError):
            return []
        for entry in entries:
            if not entry.is_dir(follow_symlinks=False) or entry.name.startswith("."):
                continue
            info = _read_meta(self.root / entry.name)
            if info is not None:
                found.append(info)
        return found

    def captures(self, info: FunctionInfo) -> Iterator[CaptureRef]:
        return _capture_refs(self.root, info)

    def stored_files(self, info: FunctionInfo) -> list[StoredPath]:
        return list(_stored_files(_local(info.directory)))

    def read_bytes(
        self, path: Any, function: str | None
    ) -> tuple[bytes, str | None, int | str | None]:
        from pathlib import Path  # noqa: PLC0415 - reading captures (see the class)

        path = Path(path)
        try:
            data = _read_file(path)
        except OSError as exc:
            reason = exc.strerror
            if exc.errno == errno.ELOOP:
                reason = "it is a symbolic link (refused)"
            raise CaptureFormatError(f"cannot read {path}: {reason}") from None
        if function is None:
            info = _read_meta(path.parent)
            function = None if info is None else info.name
        return data, function, _seq_of(path)

    # --- maintenance --------------------------------------------------------------------

    def prune(self, retention: int | None, max_age: float | None) -> int:
        removed = 0
        cutoff = None if max_age is None else self._files.now() - max_age
        for info in self.functions():
            directory = _local(info.directory)
            with self._dir_locks.exclusive(directory, _MAINTENANCE_TIMEOUT):
                if os.path.exists(directory / INDEX_NAME):
                    removed += self._prune_deduplicated(str(directory), retention, cutoff)
                    # Applied by last seen, from the index; file times lag it by up to
                    # _RECHECK_SECONDS (captures the index does not hold: by file time).
                    later = None if cutoff is None else cutoff - _RECHECK_SECONDS
                    removed += _prune_directory(directory, None, later)
                else:
                    removed += _prune_directory(directory, retention, cutoff)
        return removed

    def _prune_deduplicated(
        self, directory: str, retention: int | None, cutoff: float | None
    ) -> int:
        """Retention by last seen in a deduplicated directory; under its lock. The index is
        rebuilt first (it then holds exactly the captures there, counts kept)."""
        lock = self._dir_locks.writers(directory)
        index = self._index(directory)
        name = functools.partial(_capture_name, directory)
        index.ready(lock, name)
        index.rebuild(name)
        mapped = index.remap()  # rebuilt: mapped again
        doomed = index.evict(mapped, retention, cutoff)
        return sum(self._files.unlink(name(seq)) for seq in doomed)

    def clear(self, info: FunctionInfo) -> int:
        directory = _local(info.directory)
        if directory.is_symlink() or not directory.is_dir():
            return 0  # a link: never delete through it
        with self._dir_locks.exclusive(directory, _MAINTENANCE_TIMEOUT):
            removed = _clear_directory(directory)
            # Emptied in place: other writers have the index mapped (a new file would be
            # another table than theirs).
            self._rebuild_index(directory)
            return removed

    def calls(self, path: Any, data: bytes) -> tuple[int, float] | None:
        from pathlib import Path  # noqa: PLC0415 - reading captures (see the class)

        path = Path(path)
        seq = _seq_of(path)
        return None if seq is None else calls_of(str(path.parent), seq, data)

    def replace_files(self, info: FunctionInfo, changes: list[tuple[StoredPath, bytes]]) -> None:
        directory = _local(info.directory)
        with self._dir_locks.exclusive(directory, _MAINTENANCE_TIMEOUT):
            for path, data in changes:
                # A named temporary (prune removes it if we die): replaced over the capture,
                # so a reader sees the old bytes or the new, never a mix.
                temp = directory / f"{_TEMP_PREFIX}{os.getpid()}-migrate"
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
                fd = os.open(temp, flags, 0o600)
                try:
                    _write_all(fd, data)
                    os.fsync(fd)
                finally:
                    os.close(fd)
                os.replace(temp, _local(path))
            # The payloads changed: the index's digests are rebuilt from the files.
            self._rebuild_index(directory)

    def _rebuild_index(self, directory: Path) -> None:
        """Rebuild a deduplicated directory's index from its files, in place (the caller
        holds the directory's exclusive lock); nothing when it has no index."""
        if os.path.exists(directory / INDEX_NAME):
            lock = self._dir_locks.writers(str(directory))
            name = functools.partial(_capture_name, str(directory))
            index = self._index(str(directory))
            index.ready(lock, name)
            index.rebuild(name)
