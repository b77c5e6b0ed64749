"""Start-up of a captured process: what it needs before any target module is imported.

A process started with capture on (``python -m snapy_capture.run``, or autoload in each of its
children) must watch the target file's module names from its first import on, but needs
nothing else until one of them is imported: not yaml to read the file, not wrapt, the filters
or the storage to capture. This module is all that start-up imports (with ``os``, ``sys`` and
``marshal``, already loaded by the interpreter), so a program that never imports a target
module pays a few milliseconds, not the whole capture machinery.

A target file's targets (module, qualified name, line: what the hook watches and the report
at exit names) come from a per-user cache when the cache holds an entry for this very file
and this very text, written by an earlier process that parsed and validated the same text
(:class:`Deferred`); otherwise the file is parsed now, by the caller, and its targets cached
for the next process. The entry holds the parsed YAML document too (when it is plain
data), so that even the process that imports a target module does not import yaml.

The cache is only read from a directory and a file that this user owns and nobody else may
write (checked on the opened descriptors, no symlink followed); any problem with it (missing,
foreign, corrupt, unwritable) means parsing the file, silently, as without a cache. The entry
holds no secret: a target file's own text, what it parses to and its targets' names; a file
that holds one (a signing key, an object store's options, a URL with a password) is not
cached (:func:`holds_secret`): it is parsed by every process.

The runner's two calls into the capture layer (:func:`own_code`, :func:`flush`) are here too,
as stand-ins that reach the capture layer only once it is loaded.
"""

from __future__ import annotations

import _thread
import marshal
import os
import stat
import sys

from snapy_capture._version import __version__
from snapy_capture.errors import ConfigError

TYPE_CHECKING = False  # not typing's: typing costs more than this whole module
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any, Final

__all__ = [
    "CONFIG_FILE_ENV",
    "MAX_FILE_BYTES",
    "Deferred",
    "absent_module",
    "cached",
    "flush",
    "own_code",
    "plain_document",
    "read_target_file",
    "remember",
]

#: The environment variable naming the target file (``config.CONFIG_FILE_ENV``, repeated here
#: because importing ``snapy_capture.config`` costs more than the rest of start-up).
CONFIG_FILE_ENV: Final = "SNAP_CAPTURE_CONFIG"
#: The largest target file read, in bytes (checked before reading it).
MAX_FILE_BYTES: Final = 1 << 20
#: Entries the cache may hold: one per target file path, in a slot chosen by a hash of the
#: path, so the directory never grows past this however many files are used (two paths that
#: share a slot take turns in it).
CACHE_SLOTS: Final = 4096
#: Changed whenever what an entry means changes (with the package version, part of each entry).
_FORMAT: Final = "snapy_capture-targets-3"
#: The types of a YAML document the cache keeps (what marshal stores and gives back as is).
_PLAIN: Final = (str, int, float, bool, type(None))


def read_target_file(path: str) -> str:
    """The text of the target file at ``path``.

    Raises:
        ConfigError: naming the file: missing, unreadable, not UTF-8, or over
            :data:`MAX_FILE_BYTES`.
    """
    try:
        with open(path, "rb") as stream:
            # Checked before reading, and the read bounded, in case the file grows meanwhile.
            size = os.fstat(stream.fileno()).st_size
            raw = stream.read(MAX_FILE_BYTES + 1) if size <= MAX_FILE_BYTES else b""
        if size > MAX_FILE_BYTES or len(raw) > MAX_FILE_BYTES:
            raise ConfigError(
                f"{path}: the target file is larger than {MAX_FILE_BYTES >> 20} MiB "
                f"({max(size, len(raw))} bytes); refusing to read it"
            )
        return raw.decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: target file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read target file: {exc}") from None


class Listed:
    """A target as the cache lists it: its module, qualified name and where the file names
    it; enough to watch its module and to report on it at exit, without parsing the file."""

    __slots__ = ("module", "qualname", "where")

    def __init__(self, module: str, qualname: str, where: str) -> None:
        self.module = module
        self.qualname = qualname
        self.where = where

    @property
    def name(self) -> str:
        """``module:qualname``, as written in the file."""
        return f"{self.module}:{self.qualname}"


class Deferred:
    """A target file whose text an earlier process parsed and found valid (the cache said so):
    its targets' names now, its targets themselves when the import hook first needs them.

    It stands for a :class:`~snapy_capture.hook._targets.TargetSpec` until then:
    ``targets`` lists each target's module, name and place in the file (:class:`Listed`, for
    the report at exit), ``by_module`` has every module name (with no targets yet), and
    nothing is refused (a file with refused targets is never cached). The hook parses the
    cached document, else :attr:`text` (never the file again, which may have changed since).
    """

    __slots__ = ("base_dir", "by_module", "document", "source", "targets", "text")

    # Empty: no target is parsed yet (typed loosely: ``_targets`` imports this module).
    refused: tuple[Any, ...] = ()

    def __init__(
        self,
        source: str,
        text: str,
        base_dir: str,
        listed: tuple[tuple[str, str, str], ...],
        document: tuple[object, object] | None = None,
    ) -> None:
        self.source = source
        self.text = text
        #: Relative ``path`` options resolve against it: the file's directory at start-up.
        self.base_dir = base_dir
        self.targets = tuple(Listed(*entry) for entry in listed)
        self.by_module: dict[str, tuple[Any, ...]] = dict.fromkeys(
            (entry.module for entry in self.targets), ()
        )
        #: What the text parses to, as :func:`plain_document` gave it, if it was plain data.
        self.document = document

    def refusals(self) -> list[str]:
        """None: a file with refused targets is parsed by every process, never cached."""
        return []


def cached(
    path: str, text: str
) -> tuple[tuple[tuple[str, str, str], ...], tuple[object, object] | None] | None:
    """The targets (module, qualified name, where) and the document cached for the target
    file at ``path`` (absolute) with this ``text``; ``None`` when there is no such entry, or
    it cannot be trusted."""
    try:
        directory = _open_cache_dir(create=False)
        if directory is None:
            return None
        try:
            fd = os.open(_entry_name(path), os.O_RDONLY | os.O_NOFOLLOW, dir_fd=directory)
        finally:
            os.close(directory)
        with open(fd, "rb") as stream:
            info = os.fstat(stream.fileno())
            if not _own_and_private(info, stat.S_ISREG) or info.st_size > 4 * MAX_FILE_BYTES:
                return None
            entry = marshal.loads(stream.read())  # noqa: S302 - our own file, checked above
    except (OSError, ValueError, EOFError, TypeError):
        return None
    if (
        type(entry) is tuple
        and len(entry) == 6
        and entry[:4] == (_FORMAT, __version__, path, text)
        and type(entry[4]) is tuple
        and all(
            type(listed) is tuple and len(listed) == 3 and all(type(s) is str for s in listed)
            for listed in entry[4]
        )
        and (entry[5] is None or (type(entry[5]) is tuple and len(entry[5]) == 2))
    ):
        return entry[4], entry[5]
    return None


def _nodes(data: object) -> Iterator[object]:
    """Every value of the YAML document ``data``, each mapping and list once (a YAML alias is
    one object reached twice; its values are given once)."""
    pending = [data]
    seen: set[int] = set()
    while pending:
        value = pending.pop()
        if type(value) is dict or type(value) is list:
            if id(value) in seen:
                continue
            seen.add(id(value))
            pending.extend(value)
            if type(value) is dict:
                pending.extend(value.values())
        yield value


def plain_document(data: object, lines: object) -> tuple[object, object] | None:
    """``(data, lines)`` if the YAML document ``data`` is plain data (mappings, lists,
    strings, numbers, booleans, nulls), which the cache stores; else ``None`` (a date, a
    set...: the cache keeps the module names alone, and the text is parsed again)."""
    for value in _nodes(data):
        if type(value) is not dict and type(value) is not list and type(value) not in _PLAIN:
            return None
    return data, lines


#: Options whose values are secrets (an object store's options hold its credentials).
_SECRET_OPTIONS: Final = frozenset({"signing_key", "storage_options"})


def may_hold_secret(text: str) -> bool:
    """Whether a target file's ``text`` may hold what :func:`holds_secret` finds: such a file
    is parsed, never taken from the cache (whose entry, an earlier version's, may hold it)."""
    return any(name in text for name in _SECRET_OPTIONS) or ("://" in text and "@" in text)


def holds_secret(data: object) -> bool:
    """Whether the YAML document ``data`` holds a secret the cache must not copy: a signing
    key, an object store's options, or a URL with a password (``sftp://user:pw@host/dir``)."""
    for value in _nodes(data):
        if type(value) is dict and not _SECRET_OPTIONS.isdisjoint(value):
            return True
        if isinstance(value, str) and "://" in value:
            authority = value.partition("://")[2].partition("/")[0]
            if ":" in authority.rpartition("@")[0]:
                return True
    return False


def remember(
    path: str,
    text: str,
    listed: tuple[tuple[str, str, str], ...],
    document: tuple[object, object] | None,
) -> None:
    """Cache the targets (module, qualified name, where) and the document of the target file
    at ``path`` (absolute), valid with ``text``.

    Only for a text that was just parsed and validated, with no refused target. Written to a
    new file renamed over the old entry, so a reader sees the old entry or the new one; any
    failure leaves the cache as it was.
    """
    entry: Any = (_FORMAT, __version__, path, text, listed, document)
    try:
        content = marshal.dumps(entry)
    except ValueError:  # nested too deeply for marshal: the module names alone, then
        content = marshal.dumps((_FORMAT, __version__, path, text, listed, None))
    try:
        directory = _open_cache_dir(create=True)
        if directory is None:
            return
        name = _entry_name(path)
        temporary = f".{name}.{os.getpid()}.{_thread.get_ident()}"
        try:
            fd = os.open(
                temporary,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW,
                0o600,
                dir_fd=directory,
            )
            try:
                with open(fd, "wb") as stream:
                    stream.write(content)
                os.replace(temporary, name, src_dir_fd=directory, dst_dir_fd=directory)
            except BaseException:
                os.unlink(temporary, dir_fd=directory)
                raise
        finally:
            os.close(directory)
    except (OSError, ValueError):
        pass


def forget(path: str) -> None:
    """Remove the cache's entry for the target file at ``path`` (absolute), if any: one an
    earlier version wrote for a file that holds a secret, or that another path shares."""
    try:
        directory = _open_cache_dir(create=False)
    except OSError:
        return
    if directory is None:
        return
    try:
        os.unlink(_entry_name(path), dir_fd=directory)
    except OSError:
        pass
    finally:
        os.close(directory)


def _cache_root() -> str | None:
    """``$XDG_CACHE_HOME/snapy_capture``, else ``~/.cache/snapy_capture``; ``None`` where
    file ownership cannot be checked (no ``os.geteuid``: Windows)."""
    if not hasattr(os, "geteuid") or not {os.open, os.rename} <= os.supports_dir_fd:
        return None
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # as the XDG spec says: a relative value is ignored
        home = os.path.expanduser("~")
        if not os.path.isabs(home):
            return None
        base = os.path.join(home, ".cache")
    return os.path.join(base, "snapy_capture")


def _open_cache_dir(*, create: bool) -> int | None:
    """A descriptor of the cache directory, if it is ours and private (created so if asked)."""
    root = _cache_root()
    if root is None:
        return None
    if create:
        os.makedirs(root, mode=0o700, exist_ok=True)
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    if not _own_and_private(os.fstat(fd), stat.S_ISDIR):
        os.close(fd)
        return None
    return fd


def _own_and_private(info: os.stat_result, is_kind: Callable[[int], bool]) -> bool:
    """Of that kind, owned by this user, and writable by nobody else."""
    return (
        is_kind(info.st_mode)
        and info.st_uid == os.geteuid()
        and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    )


def _entry_name(path: str) -> str:
    # FNV-1a: stable across processes (str hashes are salted), and no hashlib to import.
    value = 0x811C9DC5
    for byte in path.encode("utf-8", "surrogateescape"):
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return f"targets-{value % CACHE_SLOTS:03x}"


def absent_module(name: str) -> str | None:
    """The first missing package or module on the way to ``name``, found without importing
    anything new (a package not imported yet is not searched: it may run code)."""
    import importlib.util  # noqa: PLC0415 - at exit only, and already loaded by ``-m``

    parts = name.split(".")
    for index in range(len(parts)):
        prefix = ".".join(parts[: index + 1])
        if prefix in sys.modules:
            continue
        parent = ".".join(parts[:index])
        if parent and parent not in sys.modules:
            return None
        try:
            found = importlib.util.find_spec(prefix)
        except Exception:  # noqa: BLE001 - unknowable without importing: say nothing
            return None
        return prefix if found is None else None
    return None


# --- the runner's calls into the capture layer ----------------------------------------------

#: Per thread, the states of the :func:`own_code` blocks it is in, innermost last.
_own_states: dict[int, list[bool]] = {}


class own_code:
    """``capture.own_code(own)``, without importing the capture layer.

    Until the capture layer is loaded no call can be captured, so there is nothing to do but
    remember the state; when the first target module loads it (on any thread), the import
    hook calls :func:`sync_own_code` for that thread, and each block entered or left later
    sets the state directly.
    """

    __slots__ = ("own",)

    def __init__(self, own: bool = True) -> None:
        self.own = own

    def __enter__(self) -> None:
        _own_states.setdefault(_thread.get_ident(), []).append(self.own)
        sync_own_code()

    def __exit__(self, *exc_info: object) -> None:
        ident = _thread.get_ident()
        states = _own_states[ident]
        states.pop()
        if not states:
            del _own_states[ident]
        # Outside every block, a thread runs the host's code (a slot's initial state).
        _set_own(states[-1] if states else False)


def sync_own_code() -> None:
    """Give the capture layer this thread's :class:`own_code` state, if it has one."""
    states = _own_states.get(_thread.get_ident())
    if states:
        _set_own(states[-1])


def _set_own(own: bool) -> None:
    context = sys.modules.get("snapy_capture.capture._context")
    per_thread = getattr(context, "per_thread", None)
    if per_thread is not None:
        per_thread.slot.capturing = own


def flush(timeout: float | None = None) -> bool:
    """``capture.flush(timeout)``: wait for queued captures; ``True`` at once when the capture
    layer was never loaded (nothing can be queued then)."""
    writer = sys.modules.get("snapy_capture.capture._writer")
    if writer is None:
        return True
    done: bool = writer.flush(timeout)
    return done
