"""The files of a capture directory: the only code that knows their names and numbering.

Layout under a storage root::

    <root>/<function_dirname(module, qualname)>/
        .function.json        the function's module and qualname
        .lock                 filelock, held while a capture is numbered and retention applied
        .seq                  next sequence number and the lowest one that may still exist
        .tmp-<pid>-<n>        a capture being written (where unnamed files are not available)
        000000000041.cap      one capture; names sort in write order, so "newest" reads no file

Other layers see captures as :class:`CaptureRef` (root, function, number, path), never as
names. A write makes its system calls through :mod:`._fileops` (which names its temporary
files with :data:`_TEMP_PREFIX`); retention on a write (:func:`_retire`) deletes through it.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator

from snapy_capture import _logger as logger
from snapy_capture._digests import sha256
from snapy_capture._records import Record
from snapy_capture.errors import UnsafeStorageError
from snapy_capture.storage._files import (
    _O_NOFOLLOW,
    _mtime,
    _read_file,
    _unlink_quiet,
)
from snapy_capture.storage._objpath import ObjectPath

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Final, Protocol

    from snapy_capture.storage._objpath import StoredPath
else:  # for typing.get_type_hints of the public names (see there)
    from snapy_capture._stdtypes import for_readers

    for_readers(globals(), {"StoredPath": "snapy_capture.storage._objpath:StoredPath"})

CAPTURE_SUFFIX: Final = ".cap"
#: ASCII digits and the very end (``\d`` takes Arabic-Indic digits, ``$`` a trailing newline:
#: names planted in the directory would pass for captures, int() reading them as numbers).
_CAPTURE_NAME: Final = re.compile(r"([0-9]{12})\.cap\Z")
_TEMP_PREFIX: Final = ".tmp-"
_META: Final = ".function.json"
_SEQ_WIDTH: Final = 12
_STALE_TEMP_SECONDS: Final = 3600.0
#: Our bookkeeping files: none may be a symbolic link.
_BOOKKEEPING: Final = (".lock", ".seq", ".dedupe", _META)
#: Newest captures looked up by sequence number before the directory is listed (loading).
_PROBES: Final = 8
#: Beyond this many sequence numbers to delete on a write, scan the directory instead.
_MAX_RANGE: Final = 4096
#: ``urllib.parse.quote(name, safe="._-")`` then ``~`` as ``%7E``, as one table over a name's
#: UTF-8 bytes read as Latin-1 (one character a byte): urllib.parse (with ipaddress) would
#: cost every capturing process's start-up ~1.5 ms, and the standard library quotes in C
#: nowhere else. Directory names are on disk already: the same bytes, to the last one.
_UNQUOTED: Final = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
_QUOTE: Final = {byte: f"%{byte:02X}" for byte in range(256) if byte not in _UNQUOTED}


if TYPE_CHECKING:  # protocols: annotations only

    class RetentionFiles(Protocol):
        """What retention on a write needs of :class:`._fileops.FileOperations` (below it)."""

        def unlink(self, path: str) -> int: ...

        def now(self) -> float: ...


def function_dirname(module: str, qualname: str) -> str:
    """A file name for ``module:qualname`` that cannot escape the root (``/``, ``..``, NUL...).

    Distinct functions get distinct names: a name is percent-quoted, except that a quoted
    name over 150 characters is cut to ``<120 characters>~<16 hex digits of its SHA-256>``.
    ``~`` is quoted (``%7E``) in every other name, so no short name can take a long one's
    place. (Versions up to 0.1 left ``~`` as it was; only names containing ``~`` differ, and
    the loader finds directories by their ``.function.json``, not by this name.)
    """
    # A surrogate raises UnicodeEncodeError, as quote() does.
    name = f"{module}:{qualname}".encode().decode("latin-1").translate(_QUOTE)
    if name.startswith("."):
        name = "%2E" + name[1:]  # dot-names are our bookkeeping (and hidden): never use one
    if len(name) > 150 or ":" in module:
        # "a:b" + "c" and "a" + "b:c" quote alike: then the pair itself is hashed (a module
        # name with a colon is no importable module; only records saved by hand carry one).
        hashed = name if ":" not in module else json.dumps([module, qualname])
        digest = sha256(hashed.encode()).hexdigest()[:16]
        name = f"{name[:120]}~{digest}"
    return name


# FunctionInfo and CaptureRef: named tuples (immutable, compared and printed as the frozen
# dataclasses they were), as a dataclass costs every capturing process ~0.5 ms to create.
class FunctionInfo(Record):
    """A function that has a capture directory under a storage root."""

    module: str
    qualname: str
    directory: StoredPath

    @property
    def name(self) -> str:
        return f"{self.module}:{self.qualname}"


class CaptureRef(Record):
    """One capture file, as the layers above see it.

    Attributes:
        root: the storage root it was found under.
        function: the ``module:qualname`` of its directory.
        seq: its sequence number: higher is newer, within one function directory (in an
            object store: the id in its key, a string; see :mod:`._objectstore`).
        path: the file (in an object store: an :class:`~._objpath.ObjectPath`).
    """

    root: StoredPath
    function: str
    seq: int | str
    path: StoredPath


def _check_bookkeeping(directory: str | Path) -> None:
    """Refuse a function directory where one of our files is a symbolic link (planted)."""
    for name in _BOOKKEEPING:
        path = os.path.join(directory, name)
        if os.path.islink(path):
            raise UnsafeStorageError(
                f"refusing the capture directory {directory}: {name} is a symbolic link; "
                f"captures are dropped (remove it)"
            )


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
    return directory / f"{seq:0{_SEQ_WIDTH}d}{CAPTURE_SUFFIX}"


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


def _delete_below(files: RetentionFiles, directory: str, floor: int) -> None:
    for name in os.listdir(directory):
        match = _CAPTURE_NAME.match(name)
        if match and int(match.group(1)) < floor:
            files.unlink(os.path.join(directory, name))


def _retire(
    files: RetentionFiles,
    directory: str,
    placed: int,
    floor: int,
    *,
    retention: int | None,
    max_age: float | None,
) -> int:
    """Apply retention and max-age once capture number ``placed`` is in place; returns the
    new floor. Never raises: the capture is in place, and must not be reported lost."""
    new_floor = floor if retention is None else max(floor, placed + 1 - retention)
    try:
        if new_floor - floor > _MAX_RANGE:
            _delete_below(files, directory, new_floor)
        else:
            for seq in range(floor, new_floor):
                files.unlink(_capture_name(directory, seq))
        if max_age is not None:
            new_floor = _expire(directory, new_floor, placed, max_age, files.now())
    except OSError:
        # EACCES on an old file: the floor stays, so the next write tries again.
        logger.debug("snapy_capture: retention in %s failed", directory, exc_info=True)
        return floor
    return new_floor


def _expire(directory: str, floor: int, placed: int, max_age: float, now: float) -> int:
    """Delete captures older than ``max_age`` seconds at ``now`` from ``floor`` up, never
    ``placed`` (just written); returns the new floor."""
    cutoff = now - max_age
    while floor < placed:
        path = _capture_name(directory, floor)
        try:
            if os.lstat(path).st_mtime >= cutoff:
                break
            os.unlink(path)
        except FileNotFoundError:
            pass
        floor += 1
    return floor


def _remove_stale_temps(directory: Path, older_than: float = _STALE_TEMP_SECONDS) -> int:
    removed = 0
    cutoff = time.time() - older_than
    for name in os.listdir(directory):
        if name.startswith(_TEMP_PREFIX) and _mtime(directory / name) <= cutoff:
            removed += _unlink_quiet(directory / name)
    return removed


def _read_meta(directory: Path) -> FunctionInfo | None:
    """The function of a capture directory, from ``.function.json`` or its name."""
    try:
        meta = json.loads(_read_file(directory / _META).decode("utf-8"))
        return FunctionInfo(str(meta["module"]), str(meta["qualname"]), directory)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    from urllib.parse import unquote  # noqa: PLC0415 - reading captures (see _QUOTE)

    module, sep, qualname = unquote(directory.name).partition(":")
    if not sep or "~" in directory.name:  # a long name's shortened form: not reversible
        return None
    return FunctionInfo(module, qualname, directory)


def _seq_of(path: Path) -> int | None:
    """The sequence number in a capture file's name (``None``: not a capture's name)."""
    match = _CAPTURE_NAME.match(path.name)
    return int(match.group(1)) if match else None


def _capture_refs(root: Path, info: FunctionInfo) -> Iterator[CaptureRef]:
    """The captures of a function directory found under ``root``, newest first, lazily.

    The newest captures are found from the ``.seq`` state by sequence number, without
    listing the directory (listing 10,000 names takes milliseconds); the directory is listed
    only when the caller reads further back, or when the state cannot be trusted.
    """
    directory = info.directory
    assert not isinstance(directory, ObjectPath)  # noqa: S101 - a local backend's function
    function = info.name
    below: int | None = None  # captures numbered below this are left to the listing
    state = _read_state(directory)
    # A capture already numbered ``next`` means the state is behind (restored, edited):
    # then only the listing is trusted.
    if state is not None and not _capture_path(directory, state[0]).exists():
        nxt, floor = state
        below = nxt
        for seq in range(nxt - 1, max(floor, nxt - _PROBES) - 1, -1):
            path = _capture_path(directory, seq)
            below = seq
            if path.exists():
                yield CaptureRef(root, function, seq, path)
    for path in _capture_files(directory):
        seq = int(path.name[:_SEQ_WIDTH])
        if below is None or seq < below:
            yield CaptureRef(root, function, seq, path)


def _stored_files(directory: Path) -> list[Path]:
    """The captures of a function directory and the temporary files being (or left) written."""
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    return [
        directory / name
        for name in names
        if _CAPTURE_NAME.match(name) or name.startswith(_TEMP_PREFIX)
    ]


def is_temporary(path: StoredPath) -> bool:
    """Whether ``path`` (from :meth:`CaptureStorage.stored_files`) is a temporary file."""
    return path.name.startswith(_TEMP_PREFIX)


def _prune_directory(directory: Path, retention: int | None, cutoff: float | None) -> int:
    """Keep the newest ``retention`` captures, none written before ``cutoff``, no stale
    temporary file; then record the state found. Under the directory's lock. Returns the
    number of files removed."""
    removed = 0
    files = _capture_files(directory)
    doomed = files[retention:] if retention is not None else []
    if cutoff is not None:
        doomed += [p for p in files[: len(files) - len(doomed)] if _mtime(p) < cutoff]
    for path in doomed:
        removed += _unlink_quiet(path)
    removed += _remove_stale_temps(directory)
    _write_state(directory, *_scan_state(directory))
    return removed


def _clear_directory(directory: Path) -> int:
    """Delete every capture and temporary file; under the directory's lock. Returns the
    number of captures removed."""
    removed = 0
    for path in _capture_files(directory):
        removed += _unlink_quiet(path)
    _remove_stale_temps(directory, older_than=0.0)
    return removed
