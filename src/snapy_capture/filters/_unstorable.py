"""Type-based filtering for :class:`~snapy_capture.filters.ArgumentFilter`: values not to store."""

from __future__ import annotations

import io
import sys
import types
from collections.abc import Iterable
from typing import Final

__all__ = ["type_reason"]

# Types that cannot or should not be stored, named by "module.qualname" anywhere in the MRO so
# that checking them imports nothing (sqlite3 or socket may never be loaded in the host).
_UNSTORABLE_NAMES: Final = frozenset(
    {
        "socket.socket",
        "_socket.socket",
        "ssl.SSLSocket",
        "ssl.SSLContext",
        "sqlite3.Connection",
        "sqlite3.Cursor",
        "_thread.lock",
        "_thread.RLock",
        "_thread._local",
        "threading.Condition",
        "threading.Semaphore",
        "threading.Event",
        "threading.Thread",
        "threading.Barrier",
        "multiprocessing.process.BaseProcess",
        "multiprocessing.queues.Queue",
        "queue.Queue",
        "queue.SimpleQueue",
        "_queue.SimpleQueue",
        "asyncio.events.AbstractEventLoop",
        "asyncio.locks.Lock",
        "asyncio.locks.Event",
        "asyncio.locks.Condition",
        "asyncio.locks.Semaphore",
        "asyncio.queues.Queue",
        "asyncio.futures.Future",
        "_asyncio.Future",
        "_asyncio.Task",
        "asyncio.streams.StreamReader",
        "asyncio.streams.StreamWriter",
        "concurrent.futures._base.Executor",
        "concurrent.futures._base.Future",
        "selectors.BaseSelector",
        "subprocess.Popen",
        "mmap.mmap",
        "psycopg2.extensions.connection",
        "psycopg2.extensions.cursor",
        "psycopg.Connection",
        "psycopg.Cursor",
        "pymysql.connections.Connection",
        "sqlalchemy.engine.base.Connection",
        "sqlalchemy.engine.base.Engine",
        "sqlalchemy.orm.session.Session",
    }
)
_UNSTORABLE_TYPES: Final = (
    io.IOBase,
    types.GeneratorType,
    types.AsyncGeneratorType,
    types.CoroutineType,
    types.FrameType,
    types.TracebackType,
    types.ModuleType,
)
#: In-memory streams are stored when their content passes the filters (parsers take them).
_MEMORY_STREAMS: Final = (io.StringIO, io.BytesIO)


def type_reason(kind: type, filter_types: Iterable[type | str]) -> str | None:
    """A placeholder reason when values of type ``kind`` must not be stored, else ``None``."""
    names = {f"{klass.__module__}.{klass.__qualname__}" for klass in kind.__mro__}
    for filtered in filter_types:
        if (
            names_type(filtered, kind, names)
            if isinstance(filtered, str)
            else issubclass(kind, filtered)
        ):
            return f"type:{kind.__qualname__}"
    if issubclass(kind, _MEMORY_STREAMS):
        return None
    if issubclass(kind, _UNSTORABLE_TYPES) or any(
        names_type(name, kind, names) for name in _UNSTORABLE_NAMES
    ):
        return f"unstorable:{kind.__qualname__}"
    return None


def names_type(spec: str, kind: type, names: set[str]) -> bool:
    """Whether ``"module.Name"`` names ``kind`` or a base of it, importing nothing.

    ``names`` holds the ``"module.qualname"`` of every class in ``kind``'s MRO. The defining
    module may differ from the public one (``pathlib.PurePath`` is defined in
    ``pathlib._local`` on 3.13), so a public name whose module is already loaded is resolved.
    """
    if spec in names:
        return True
    module, _, attr = spec.rpartition(".")
    target = getattr(sys.modules.get(module), attr, None)
    return isinstance(target, type) and issubclass(kind, target)
