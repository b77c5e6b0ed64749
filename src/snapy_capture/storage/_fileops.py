"""The file-system operations of one capture write, in one replaceable object.

:class:`CaptureStorage <snapy_capture.storage.CaptureStorage>` makes every step of a write
that can fail the way a disk fails (a temporary file, its link into place, the ``.seq``
state, retention's deletions, the function directory, the clock max-age compares with)
through a :class:`FileOperations`. A test gives a storage a subclass to make one step fail as
the system would (``ENOSPC``, ``EACCES``, a crash between two steps) and checks what a
program notices; nothing else is replaced.
"""

from __future__ import annotations

import errno
import itertools
import os
import time

from snapy_capture.storage._files import _O_NOFOLLOW, _make_private_dirs, _unlink_quiet
from snapy_capture.storage._layout import _TEMP_PREFIX, _write_state

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Final
else:  # for typing.get_type_hints of the public names (see there)
    from snapy_capture._stdtypes import for_readers

    for_readers(globals(), {"Path": "pathlib:Path"})

#: Linux's ``O_TMPFILE``: a file with no name until it is linked, so a crash leaves nothing.
_O_TMPFILE: Final = getattr(os, "O_TMPFILE", 0)
#: Errors meaning "this kernel or filesystem cannot do it": use a named temporary file.
_NO_TMPFILE_ERRNOS: Final = frozenset(
    {errno.EISDIR, errno.EOPNOTSUPP, errno.EINVAL, errno.ENOTSUP, errno.EPERM, errno.EXDEV}
)
_HAS_TMPFILE: Final = bool(_O_TMPFILE) and os.path.isdir("/proc/self/fd")
#: A directory descriptor (any: the paths are absolute): makes ``os.link`` follow the
#: ``/proc/self/fd`` link. Opened on first use, shared by every instance.
_root_fd = -1


class _TmpfileUnusable(Exception):
    """An unnamed temporary file could not be linked into place: write with a named one."""


class FileOperations:
    """What a :class:`~snapy_capture.storage.CaptureStorage` asks of the file system to write.

    Every storage given none shares one instance. Subclass it and pass an instance as
    ``CaptureStorage(..., files=...)`` to make a step fail as the system would (raise
    ``OSError(errno.ENOSPC, ...)`` from :meth:`write_state`, say) or to stand a clock in
    for :meth:`now`; call ``super()`` for the real operation.

    Args:
        unnamed_temps: make temporary files unnamed (``O_TMPFILE``); ``None``: where this
            system offers them.

    Attributes:
        unnamed_temps: whether the next temporary file is unnamed. The first failure of that
            kind turns it off for this instance (for the shared one: for the process) without
            losing the capture that met it.
    """

    def __init__(self, *, unnamed_temps: bool | None = None) -> None:
        self.unnamed_temps = _HAS_TMPFILE if unnamed_temps is None else unnamed_temps
        # Per instance: the shared one makes names unique in the process; names taken by
        # another instance (or a dead process with our pid) are skipped on open.
        self._temp_numbers = itertools.count()

    def open_temp(self, directory: str) -> tuple[int, str | None]:
        """A new private file in ``directory`` for one capture's bytes: ``(fd, temp path)``.

        The path is ``None`` for an unnamed (``O_TMPFILE``) file, the cheapest kind and one
        a crash cannot leave behind; elsewhere the file is ``.tmp-<pid>-<n>``, which
        :meth:`CaptureStorage.prune` removes once stale. Mode 0600 either way.
        """
        if self.unnamed_temps:
            try:
                flags = _O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC | _O_NOFOLLOW
                return os.open(directory, flags, 0o600), None
            except OSError as exc:
                if exc.errno not in _NO_TMPFILE_ERRNOS:
                    raise
                self.unnamed_temps = False
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | _O_NOFOLLOW
        while True:  # a stale temp file of a crashed process with our pid: take the next number
            temp = f"{directory}{os.sep}{_TEMP_PREFIX}{os.getpid()}-{next(self._temp_numbers)}"
            try:
                return os.open(temp, flags, 0o600), temp
            except FileExistsError:
                continue

    def link(self, fd: int, temp: str | None, final: str) -> None:
        """Give the written temporary file its final name; ``FileExistsError`` if taken."""
        global _root_fd  # noqa: PLW0603 - one descriptor for the process, opened once
        if temp is None:
            if _root_fd < 0:
                _root_fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                # A directory descriptor makes CPython call linkat() with AT_SYMLINK_FOLLOW,
                # which links the open file itself, not the magic link.
                os.link(f"/proc/self/fd/{fd}", final, src_dir_fd=_root_fd, follow_symlinks=True)
            except FileExistsError:
                raise
            except OSError as exc:
                # ENOENT: no /proc. EACCES: a security policy (AppArmor, SELinux) refusing the
                # link through /proc; the O_TMPFILE open in the same directory has already
                # succeeded, so it is not the directory's permissions.
                if exc.errno in _NO_TMPFILE_ERRNOS or exc.errno in (errno.ENOENT, errno.EACCES):
                    self.unnamed_temps = False
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

    def write_state(self, directory: str, nxt: int, floor: int, fd: int | None) -> None:
        """Record the next sequence number and the floor in ``.seq`` (through ``fd`` if open)."""
        _write_state(directory, nxt, floor, fd)

    def unlink(self, path: str) -> int:
        """Delete one file retention lets go: 1, or 0 if it was already gone."""
        return _unlink_quiet(path)

    def make_dirs(self, path: Path) -> None:
        """Make a function directory and any missing parent, mode 0700."""
        _make_private_dirs(path)

    def now(self) -> float:
        """The time max-age compares file times with (``time.time()``)."""
        return time.time()


#: What every storage given no ``files`` uses.
DEFAULT_FILES: Final = FileOperations()
