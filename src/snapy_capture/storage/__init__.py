"""Persistence: one file (or object) per capture, written whole, retention without a lock
server.

What the layers above use: :class:`CaptureStorage` (one storage root), the captures it
holds as :class:`CaptureRef` (never file names or keys: the backends alone know those) and
:func:`newest_first`, the one order of captures found under several roots.

A storage root is a local directory or an object-store URL (``s3://bucket/prefix``,
``memory://name``: any fsspec store). Both are backends of one contract
(:class:`._backend.Backend`): :mod:`._local` (files numbered under a file lock, see there) and
:mod:`._objectstore` (keys that sort newest first and never collide, see there). The codec,
signing and everything above are the same for both.
"""

from __future__ import annotations

import os

from snapy_capture.config import is_url, parse_option, thaw_options
from snapy_capture.errors import ConfigError
from snapy_capture.storage import _envelope
from snapy_capture.storage._backend import Backend
from snapy_capture.storage._envelope import check_key
from snapy_capture.storage._fileops import DEFAULT_FILES, FileOperations
from snapy_capture.storage._layout import (
    CaptureRef,
    FunctionInfo,
    function_dirname,
    is_temporary,
)
from snapy_capture.storage._local import LocalDirectory
from snapy_capture.storage._objpath import ObjectPath
from snapy_capture.storage._reading import CaptureReader
from snapy_capture.storage.serializers import get_serializer

__all__ = [
    "Backend",
    "CaptureRef",
    "CaptureStorage",
    "FileOperations",
    "FunctionInfo",
    "ObjectPath",
    "StoredCapture",
    "StoredPath",
    "check_key",
    "function_dirname",
    "is_temporary",
    "newest_first",
    "written_roots",
]

#: Seconds a write waits for another process's lock before giving up on that one capture.
#: Read on every local write (documented as tunable), so it lives here.
LOCK_TIMEOUT = 10.0

# Every storage root this process wrote to, in order: the loader searches them by default.
_written_roots: dict[str, None] = {}

# The order of stored captures is for the processes that read them; ``StoredPath`` (a
# ``Union`` of ``Path``) and ``Serializer`` (a protocol) are for annotations: a capturing
# process loads none of them (issue 21, start-up).
TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from typing import Any

    from snapy_capture.storage._objpath import StoredPath
    from snapy_capture.storage._order import StoredCapture, newest_first
    from snapy_capture.storage.serializers import Serializer
else:  # for typing.get_type_hints of the public names (see there)
    from snapy_capture._stdtypes import for_readers

    for_readers(
        globals(),
        {
            "Any": "typing:Any",
            "Serializer": "snapy_capture.config._protocols:Serializer",
            "StoredPath": "snapy_capture.storage._objpath:StoredPath",
        },
    )


def __getattr__(name: str) -> Any:  # PEP 562
    if name in ("StoredCapture", "newest_first"):
        from snapy_capture.storage import _order  # noqa: PLC0415

        return getattr(_order, name)
    if name == "StoredPath":
        from snapy_capture.storage import _objpath  # noqa: PLC0415

        return _objpath.StoredPath
    if name == "Serializer":  # see snapy_capture.config._protocols
        from snapy_capture.config import _protocols  # noqa: PLC0415

        return _protocols.Serializer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:  # the names made where first asked for are listed, as they were
    return sorted({*globals(), *__all__})


_KEEP: Any = object()


def written_roots() -> list[str]:
    """The storage roots this process has written captures to, oldest first."""
    return list(_written_roots)


def open_backend(path: str, files: FileOperations | None, storage_options: Any = None) -> Backend:
    """The backend of a storage root: an object store for a URL, else a local directory."""
    if is_url(path):
        if files is not None:
            raise ConfigError(f"{path}: files= applies to local directories only")
        from snapy_capture.storage._objectstore import ObjectStore  # noqa: PLC0415 - optional

        return ObjectStore(path, thaw_options(parse_option("storage_options", storage_options)))
    return LocalDirectory(os.path.abspath(path), DEFAULT_FILES if files is None else files)


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
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        if path is None or signing_key is None:
            from snapy_capture.config import resolve_config  # noqa: PLC0415 - resolved on use, not import

            resolved = resolve_config()
            if path is None:
                path = resolved.path
                if storage_options is None:
                    storage_options = resolved.storage_options  # type: ignore[assignment]
            # A configured key binds every storage, custom subclasses included: an unsigned
            # capture must never be written, nor read, where signatures are required.
            signing_key = resolved.signing_key if signing_key is None else signing_key
        self._backend = open_backend(parse_option("path", path), files, storage_options)
        self._path = None  # ``path`` reads the backend's root (made where first asked for)
        self._root = self._backend.root_name  # for written_roots(), on every write
        self._own_name: tuple[object, str] = (None, "")
        self.retention: int | None = parse_option("retention", retention)
        self.max_age: float | None = parse_option("max_age", max_age)
        self.serializer = get_serializer(parse_option("serializer", serializer or "pickle"))
        self.signing_key: bytes | None = parse_option("signing_key", signing_key)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._root!r}, retention={self.retention!r})"

    @property
    def _guard(self) -> Any:
        """The lock guarding the backend's own bookkeeping (fork-safe; for tests that hold
        it across a fork)."""
        return self._backend._guard

    @property
    def remote(self) -> bool:
        """Whether captures go over a network (an object store): the capture layer then
        always writes them on its background writer, never on the caller's thread."""
        return self._backend.remote

    # --- writing ----------------------------------------------------------------------

    def save(
        self,
        record: dict[str, Any],
        *,
        retention: Any = _KEEP,
        max_age: Any = _KEEP,
        dedupe: bool = False,
    ) -> StoredPath:
        """Serialize and store one record; returns where the capture was stored."""
        module = str(record.get("module", "__unknown__"))
        qualname = str(record.get("qualname", record.get("function_name", "__unknown__")))
        return self.write(
            module,
            qualname,
            self.encode(record),
            retention=retention,
            max_age=max_age,
            dedupe=dedupe,
        )

    def write(
        self,
        module: str,
        qualname: str,
        data: bytes,
        *,
        retention: Any = _KEEP,
        max_age: Any = _KEEP,
        dedupe: bool = False,
    ) -> StoredPath:
        """Store the bytes of one capture atomically, then apply retention.

        With ``dedupe``, a capture whose content (its record but the call's time, thread,
        pid and depth) equals one kept for the function is not stored again: that capture
        counts one more call and becomes the most recently seen, so ``retention`` keeps the
        most recently seen distinct captures. Local directories only (an object store
        stores every call); the count is kept beside the capture, outside its signature.
        """
        where = self._write(module, qualname, data, retention, max_age, dedupe)
        if isinstance(self.path, ObjectPath):
            return ObjectPath(self.path.protocol, where, self.path._fs)
        from pathlib import Path  # noqa: PLC0415 - not on a capture's path (see ``path``)

        return Path(where)

    def _write(  # noqa: PLR0917 - every captured call: positional arguments cost less
        self,
        module: str,
        qualname: str,
        data: bytes,
        retention: Any = _KEEP,
        max_age: Any = _KEEP,
        dedupe: bool = False,
    ) -> str:
        """:meth:`write`, returning where as a string (every captured call comes here)."""
        if retention is _KEEP:
            retention = self.retention
        if max_age is _KEEP:
            max_age = self.max_age
        key = self.signing_key
        # Hashed here, off the lock; the short HMAC is made once the capture's place is known.
        signer = None if key is None else _envelope.signer_for(key, data, f"{module}:{qualname}")
        final = self._backend.write(
            module,
            qualname,
            data,
            signer=signer,
            retention=retention,
            max_age=max_age,
            dedupe=dedupe,
        )
        if self._root not in _written_roots:
            _written_roots[self._root] = None
        return final

    # --- maintenance --------------------------------------------------------------------

    def prune(self, retention: Any = _KEEP, max_age: Any = _KEEP) -> int:
        """Apply retention and max-age to every function now, and remove stale temp files.

        Returns:
            The number of files removed.
        """
        retention = self.retention if retention is _KEEP else retention
        max_age = self.max_age if max_age is _KEEP else max_age
        return self._backend.prune(retention, max_age)

    def clear(self, module: str | None = None, qualname: str | None = None) -> int:
        """Delete the captures of one function, or of every function when none is named."""
        if module is None or qualname is None:
            infos = self.functions()
        else:
            infos = [self._backend.function(module, qualname)]
        return sum(self._backend.clear(info) for info in infos)
