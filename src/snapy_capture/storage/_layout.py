"""The files of a capture directory: names, the ``.seq`` numbering state, low-level I/O.

:mod:`snapy_capture.storage` calls these through its own namespace (it imports them by
name), so a test that patches ``storage._link`` or ``storage._write_state`` still reaches
every call made while writing. Calls from one helper here to another are not patched that
way.
"""

from __future__ import annotations

import errno
import itertools
import json
import os
import re
import stat
import time
from pathlib import Path
from typing import Final
from urllib.parse import unquote

from snapy_capture.errors import UnsafeStorageError

CAPTURE_SUFFIX: Final = ".cap"
_CAPTURE_NAME: Final = re.compile(r"^(\d{12})\.cap$")
_TEMP_PREFIX: Final = ".tmp-"
_META: Final = ".function.json"
_SEQ_WIDTH: Final = 12
_STALE_TEMP_SECONDS: Final = 3600.0
#: 0 where the platform has no such flag (Windows): there, files are opened as before.
_O_NOFOLLOW: Final = getattr(os, "O_NOFOLLOW", 0)
_O_NONBLOCK: Final = getattr(os, "O_NONBLOCK", 0)
_O_CLOEXEC: Final = getattr(os, "O_CLOEXEC", 0)
#: Our bookkeeping files: none may be a symbolic link.
_BOOKKEEPING: Final = (".lock", ".seq", _META)


def _make_private_dirs(directory: Path) -> None:
    missing = []
    current = directory
    # lexists: a dangling symlink is not "missing" (creating through it would follow it).
    while not os.path.lexists(current):
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=0o700)
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


def _check_bookkeeping(directory: str | Path) -> None:
    """Refuse a function directory where one of our files is a symbolic link (planted)."""
    for name in _BOOKKEEPING:
        path = os.path.join(directory, name)
        if os.path.islink(path):
            raise UnsafeStorageError(
                f"refusing the capture directory {directory}: {name} is a symbolic link; "
                f"captures are dropped (remove it)"
            )


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


#: Linux's ``O_TMPFILE``: a file with no name until it is linked, so a crash leaves nothing.
_O_TMPFILE: Final = getattr(os, "O_TMPFILE", 0)
#: Errors meaning "this kernel or filesystem cannot do it": use a named temporary file.
_NO_TMPFILE_ERRNOS: Final = frozenset(
    {errno.EISDIR, errno.EOPNOTSUPP, errno.EINVAL, errno.ENOTSUP, errno.EPERM, errno.EXDEV}
)
_temp_numbers = itertools.count()


class _TmpfileUnusable(Exception):
    """An unnamed temporary file could not be linked into place: write with a named one."""


class _Tempfiles:
    """Whether this process still uses ``O_TMPFILE`` (switched off by the first failure)."""

    unnamed = bool(_O_TMPFILE) and os.path.isdir("/proc/self/fd")
    root_fd = -1  # a directory descriptor: makes os.link follow the /proc/self/fd link


def _open_temp(directory: str) -> tuple[int, str | None]:
    """A new private file in ``directory`` for one capture's bytes: ``(fd, temp path)``.

    The path is ``None`` for an unnamed (``O_TMPFILE``) file, the cheapest kind and one a
    crash cannot leave behind; elsewhere the file is ``.tmp-<pid>-<n>``, which
    :meth:`CaptureStorage.prune` removes once stale. Mode 0600 either way.
    """
    if _Tempfiles.unnamed:
        try:
            flags = _O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC | _O_NOFOLLOW
            return os.open(directory, flags, 0o600), None
        except OSError as exc:
            if exc.errno not in _NO_TMPFILE_ERRNOS:
                raise
            _Tempfiles.unnamed = False
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | _O_NOFOLLOW
    while True:  # a stale temp file of a crashed process with our pid: take the next number
        temp = f"{directory}{os.sep}{_TEMP_PREFIX}{os.getpid()}-{next(_temp_numbers)}"
        try:
            return os.open(temp, flags, 0o600), temp
        except FileExistsError:
            continue


def _link(fd: int, temp: str | None, final: str) -> None:
    """Give the written temporary file its final name; ``FileExistsError`` if taken."""
    if temp is None:
        if _Tempfiles.root_fd < 0:
            _Tempfiles.root_fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            # A directory descriptor (any: the path is absolute) makes CPython call linkat()
            # with AT_SYMLINK_FOLLOW, which links the open file itself, not the magic link.
            os.link(
                f"/proc/self/fd/{fd}", final, src_dir_fd=_Tempfiles.root_fd, follow_symlinks=True
            )
        except FileExistsError:
            raise
        except OSError as exc:
            # ENOENT: no /proc. EACCES: a security policy (AppArmor, SELinux) refusing the
            # link through /proc; the O_TMPFILE open in the same directory has already
            # succeeded, so it is not the directory's permissions.
            if exc.errno in _NO_TMPFILE_ERRNOS or exc.errno in (errno.ENOENT, errno.EACCES):
                _Tempfiles.unnamed = False
                raise _TmpfileUnusable(final) from exc
            raise
        return
    try:
        os.link(temp, final)
    except FileExistsError:
        raise
    except OSError:
        # Filesystems without hard links: fall back to rename, still atomic.
        if os.path.lexists(final):
            raise FileExistsError(final) from None
        os.replace(temp, final)
        return
    os.unlink(temp)


def _read_state(directory: str | Path, fd: int | None = None) -> tuple[int, int] | None:
    try:
        if fd is not None:
            raw = os.pread(fd, 64, 0)
        else:
            raw = _read_file(os.path.join(directory, ".seq"), 64)
        first, second = raw.split()
        nxt, floor = int(first), int(second)
    except (OSError, ValueError):
        return None
    if floor > nxt or nxt < 0 or floor < 0:
        return None
    return nxt, floor


def _write_state(directory: str | Path, nxt: int, floor: int, fd: int | None = None) -> None:
    data = b"%020d %020d\n" % (nxt, floor)
    if fd is not None:
        os.pwrite(fd, data, 0)  # fixed width: no truncate needed
        return
    flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | _O_NOFOLLOW
    fd = os.open(os.path.join(directory, ".seq"), flags, 0o600)
    try:
        os.pwrite(fd, data, 0)  # fixed width: no truncate needed
    finally:
        os.close(fd)


_CAPTURE_FORMAT: Final = f"%s{os.sep}%0{_SEQ_WIDTH}d{CAPTURE_SUFFIX}"


def _capture_name(directory: str, seq: int) -> str:
    """The path of capture number ``seq`` in ``directory``, as a string (the write path's)."""
    return _CAPTURE_FORMAT % (directory, seq)


def _capture_path(directory: Path, seq: int) -> Path:
    """:func:`_capture_name` as a ``Path`` (the reading side's)."""
    return Path(_capture_name(str(directory), seq))


def _write_all(fd: int, data: bytes) -> None:
    """Write ``data`` to ``fd`` (a file object would cost more than the write)."""
    written = os.write(fd, data)
    if written < len(data):  # a short write: a signal, a pipe; go on from there
        view = memoryview(data)[written:]
        while view:
            view = view[os.write(fd, view) :]


def _scan_state(directory: str | Path) -> tuple[int, int]:
    seqs = [int(m.group(1)) for name in os.listdir(directory) if (m := _CAPTURE_NAME.match(name))]
    if not seqs:
        return 0, 0
    return max(seqs) + 1, min(seqs)


def _capture_files(directory: Path) -> list[Path]:
    try:
        names = [name for name in os.listdir(directory) if _CAPTURE_NAME.match(name)]
    except (FileNotFoundError, NotADirectoryError):
        return []
    names.sort(reverse=True)
    return [directory / name for name in names]


def _delete_below(directory: str | Path, floor: int) -> None:
    for name in os.listdir(directory):
        match = _CAPTURE_NAME.match(name)
        if match and int(match.group(1)) < floor:
            _unlink_quiet(os.path.join(directory, name))


def _remove_stale_temps(directory: Path, older_than: float = _STALE_TEMP_SECONDS) -> int:
    removed = 0
    cutoff = time.time() - older_than
    for name in os.listdir(directory):
        if name.startswith(_TEMP_PREFIX) and _mtime(directory / name) <= cutoff:
            removed += _unlink_quiet(directory / name)
    return removed


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


def _read_meta(directory: Path) -> tuple[str, str] | None:
    """``(module, qualname)`` of a capture directory, from ``.function.json`` or its name.

    Returns a pair, not a ``FunctionInfo``: that class belongs to :mod:`.storage`, which
    imports this module.
    """
    try:
        meta = json.loads(_read_file(directory / _META).decode("utf-8"))
        return str(meta["module"]), str(meta["qualname"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    module, sep, qualname = unquote(directory.name).partition(":")
    if not sep or "~" in directory.name:  # a long name's shortened form: not reversible
        return None
    return module, qualname
