"""Our files and directories, opened and made without following a link: private modes,
regular files only, checks on the directories we write to."""

from __future__ import annotations

import errno
import os
import stat

from snapy_capture.errors import UnsafeStorageError

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Final

#: 0 where the platform has no such flag (Windows): there, files are opened without it.
_O_NOFOLLOW: Final = getattr(os, "O_NOFOLLOW", 0)
_O_NONBLOCK: Final = getattr(os, "O_NONBLOCK", 0)
_O_CLOEXEC: Final = getattr(os, "O_CLOEXEC", 0)


def _make_private_dirs(directory: str | Path) -> None:
    missing = []
    current = os.fspath(directory)
    # lexists: a dangling symlink is not "missing" (creating through it would follow it).
    while not os.path.lexists(current):
        missing.append(current)
        current = os.path.dirname(current) or os.curdir
    for path in reversed(missing):
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue
        os.chmod(path, 0o700)  # mkdir's mode is masked by the umask


def _check_directory(directory: str | Path, what: str) -> None:
    """Refuse a storage root or function directory that others could redirect or fill.

    Refused: a symbolic link, anything not a directory, a directory writable by everybody
    (0777, even with the sticky bit), and a group-writable one that another user owns. Inside
    a directory that passes, only its owner can swap a name for a link; our own files are
    opened with ``O_NOFOLLOW`` on top of that (see :func:`_check_bookkeeping`).

    Raises:
        UnsafeStorageError: one line saying which directory and why.
    """
    try:
        info = os.lstat(directory)
    except FileNotFoundError:
        return  # created by us next, 0700
    reason = None
    if stat.S_ISLNK(info.st_mode):
        reason = "it is a symbolic link (give the real path)"
    elif not stat.S_ISDIR(info.st_mode):
        reason = "it is not a directory"
    elif os.name == "nt":  # pragma: no cover - no POSIX modes (every directory reads 0777)
        pass
    elif info.st_mode & stat.S_IWOTH:
        reason = f"it is writable by every user (mode {stat.S_IMODE(info.st_mode):04o})"
    elif info.st_mode & stat.S_IWGRP and info.st_uid != _uid():
        reason = (
            f"it is group-writable (mode {stat.S_IMODE(info.st_mode):04o}) and owned by "
            f"another user (uid {info.st_uid})"
        )
    if reason is not None:
        raise UnsafeStorageError(
            f"refusing the capture {what} {directory}: {reason}; captures are dropped "
            f"(chmod go-w it, or choose another path)"
        )


def _uid() -> int:
    getuid = getattr(os, "getuid", None)
    return -1 if getuid is None else int(getuid())


def _open_regular(path: str | Path) -> tuple[int, int]:
    """Open one of our files for reading, never through a symbolic link, never a FIFO or a
    device (a planted ``.cap`` pointing at ``/etc/shadow``, or a pipe): ``(fd, size)``.

    Raises:
        OSError: ``ELOOP`` for a link, ``EINVAL`` for a file that is not a regular one.
    """
    fd = os.open(path, os.O_RDONLY | _O_NOFOLLOW | _O_NONBLOCK | _O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
    except BaseException:
        os.close(fd)
        raise
    return fd, info.st_size


def _read_file(path: str | Path, limit: int | None = None) -> bytes:
    """The bytes of one of our files (at most ``limit``), opened by :func:`_open_regular`."""
    fd, size = _open_regular(path)
    try:
        if limit is not None:
            return os.read(fd, limit)  # a fresh descriptor: from the start
        chunks = []
        while chunk := os.read(fd, max(size, 1 << 16)):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    """Write ``data`` to ``fd`` (a file object would cost more than the write)."""
    written = os.write(fd, data)
    if written < len(data):  # a short write: a signal, a pipe; go on from there
        view = memoryview(data)[written:]
        while view:
            view = view[os.write(fd, view) :]


def _write_private(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` readable by its owner only (0600), whether the file is new
    or replaced: captures are filtered, not public. (``> FILE`` keeps the umask's mode.)"""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _O_CLOEXEC, 0o600)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT
        _write_all(fd, data)
    finally:
        os.close(fd)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return float("inf")


def _unlink_quiet(path: str | Path) -> int:
    try:
        os.unlink(path)
    except FileNotFoundError:
        return 0
    return 1
