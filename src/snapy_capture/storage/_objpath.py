"""Where a capture in an object store is: an ``ObjectPath`` (a URL), the remote counterpart of
a local :class:`~pathlib.Path` in :class:`~snapy_capture.storage.CaptureRef` and
:class:`~snapy_capture.storage.FunctionInfo`.

It offers what the layers above ask of a capture's path (its name, its parent, ``stat``,
``exists``, ``is_dir``, ``read_bytes``, ordering and hashing), through the file system object
of the store it was found in; it imports nothing of fsspec itself.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any, TypeAlias
else:  # for typing.get_type_hints of the public names (see there)
    from snapy_capture._stdtypes import for_readers

    for_readers(globals(), {"Any": "typing:Any"})

__all__ = ["ObjectPath", "StoredPath"]


class ObjectPath:
    """A key (or a prefix) in an object store, as a URL: ``s3://bucket/prefix/fn/id.cap``."""

    __slots__ = ("_fs", "key", "protocol")

    def __init__(self, protocol: str, key: str, fs: Any = None) -> None:
        self.protocol = protocol
        self.key = key.rstrip("/")
        self._fs = fs

    def __str__(self) -> str:
        return f"{self.protocol}://{self.key}"

    def __repr__(self) -> str:
        return f"ObjectPath({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ObjectPath) and str(self) == str(other)

    def __lt__(self, other: ObjectPath) -> bool:
        return str(self) < str(other)

    def __hash__(self) -> int:
        return hash(str(self))

    def __truediv__(self, name: str) -> ObjectPath:
        return ObjectPath(self.protocol, f"{self.key}/{name}", self._fs)

    @property
    def name(self) -> str:
        return self.key.rpartition("/")[2]

    @property
    def parent(self) -> ObjectPath:
        return ObjectPath(self.protocol, self.key.rpartition("/")[0], self._fs)

    def stat(self) -> os.stat_result:
        """Size and modification time (the store's), as ``os.stat`` gives them.

        Raises:
            OSError: the object does not exist or the store cannot be reached.
        """
        try:
            info = self._fs.info(self.key)
        except OSError:
            raise
        except Exception as exc:  # noqa: BLE001 - the store's own errors (botocore, aiohttp...)
            raise OSError(f"cannot reach {self}: {type(exc).__name__}") from None
        mtime = _timestamp(info.get("LastModified", info.get("mtime", info.get("created"))))
        size = int(info.get("size") or 0)
        return os.stat_result((0o100600, 0, 0, 1, 0, 0, size, int(mtime), int(mtime), int(mtime)))

    def exists(self) -> bool:
        try:
            return bool(self._fs.exists(self.key))
        except Exception:  # noqa: BLE001 - unreachable: "not there" to a reader
            return False

    def is_dir(self) -> bool:
        try:
            return bool(self._fs.isdir(self.key))
        except Exception:  # noqa: BLE001
            return False

    def is_symlink(self) -> bool:
        return False  # object stores have no links

    def read_bytes(self) -> bytes:
        return bytes(self._fs.cat_file(self.key))


def _timestamp(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, (int, float)):
        return float(value)
    stamp = getattr(value, "timestamp", None)
    return float(stamp()) if callable(stamp) else 0.0


if TYPE_CHECKING:
    #: A capture's (or a function directory's, or a root's) location: a local path or a URL.
    StoredPath: TypeAlias = "Path | ObjectPath"


def __getattr__(name: str) -> Any:  # PEP 562
    # ``StoredPath`` at run time (``Union[Path, ObjectPath]``), made where first asked for:
    # typing and pathlib cost a capturing process's start-up ~5 ms, and our own modules
    # name it in annotations only.
    if name == "StoredPath":
        from pathlib import Path  # noqa: PLC0415
        from typing import Union  # noqa: PLC0415

        alias = globals()["StoredPath"] = Union[Path, ObjectPath]  # noqa: UP007 - Python 3.10
        return alias
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
