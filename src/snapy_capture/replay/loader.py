"""Loading captures back: by function name, newest first, from every path that may hold them.

Newest first is storage's one order (:func:`~snapy_capture.storage.newest_first`): the
capture of the call made last comes first, whichever path holds it.

A name is ``module:qualname``, a qualname (``Svc.login``), a dotted suffix of one (``login``),
or ``module.qualname``. An exact qualname wins over a suffix; a name that still matches
several functions raises :class:`AmbiguousCaptureError` listing them.

With no ``path``, the loader searches the configured default path, the paths registered with
:func:`add_search_path` (the pytest plugin's option), and every path this process wrote to.
Corrupt, truncated or foreign files are skipped with a :class:`SnapyCaptureWarning`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from snapy_capture.config import parse_option, resolve_config, storage_root
from snapy_capture.errors import (
    AmbiguousCaptureError,
    CaptureIndexError,
    CaptureNotFoundError,
    ConfigError,
    SnapyCaptureWarning,
)
from snapy_capture.storage import (
    CaptureStorage,
    FunctionInfo,
    StoredCapture,
    check_key,
    newest_first,
    written_roots,
)

__all__ = [
    "CaptureLoader",
    "add_search_path",
    "criterion_holds",
    "has_capture",
    "load_capture",
    "load_capture_dict",
    "remove_search_path",
]

Args = tuple[tuple[Any, ...], dict[str, Any]]
_search_paths: dict[str, None] = {}


def add_search_path(path: str | os.PathLike[str]) -> bool:
    """Search ``path`` too when a loader is given no path; ``False`` if it already was."""
    key = storage_root(parse_option("path", path))
    if key in _search_paths:
        return False
    _search_paths[key] = None
    return True


def remove_search_path(path: str | os.PathLike[str]) -> None:
    """Stop searching ``path`` (added with :func:`add_search_path`) by default."""
    _search_paths.pop(storage_root(parse_option("path", path)), None)


def as_call(record: Mapping[str, Any]) -> Args:
    """``(args, kwargs)`` of a capture record, ready for ``f(*args, **kwargs)``."""
    return tuple(record["args"]), dict(record["kwargs"])


class CaptureLoader:
    """Finds and reads captures.

    Args:
        path: one storage root to search; ``None`` searches the default paths (see module).
        storage: a storage to read with (e.g. a ``CaptureStorage`` subclass); overrides ``path``.
    """

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, storage: CaptureStorage | None = None
    ) -> None:
        if storage is not None:
            if not isinstance(storage, CaptureStorage):
                raise ConfigError(
                    f"invalid value for option 'storage': expected a CaptureStorage, "
                    f"got {storage!r}"
                )
            self.storages = [storage]
        else:
            config = resolve_config()
            roots = (
                [parse_option("path", path)]
                if path is not None
                else [config.path, *_search_paths, *written_roots()]
            )
            unique = dict.fromkeys(storage_root(parse_option("path", root)) for root in roots)
            self.storages = [
                CaptureStorage(root, signing_key=config.signing_key) for root in unique
            ]
        for each in self.storages:
            # Set but empty: refuse now, with one line, rather than skip every file.
            check_key(each.signing_key)

    @property
    def paths(self) -> list[str]:
        """The storage roots this loader searches."""
        return [str(storage.path) for storage in self.storages]

    def __iter__(self) -> Iterator[str]:
        """The captured functions (``module:qualname``) found in the search paths."""
        return iter(self.functions())

    def functions(self) -> list[str]:
        """Every captured function's ``module:qualname``, sorted."""
        return sorted({info.name for storage in self.storages for info in storage.functions()})

    def resolve(self, name: str) -> str:
        """The ``module:qualname`` that ``name`` designates.

        Raises:
            CaptureNotFoundError: no captured function matches.
            AmbiguousCaptureError: several do.
        """
        return self.locate(name)[0][1].name

    def iter_captures(self, name: str) -> Iterator[dict[str, Any]]:
        """Capture records of ``name``, newest first, read lazily; unreadable files are skipped."""
        for item in self.stored(name):
            if item.error is not None:
                warnings.warn(
                    f"snapy_capture: skipping {item.ref.path}: {item.error}",
                    SnapyCaptureWarning,
                    stacklevel=3,
                )
            elif item.record is not None:
                yield item.record

    def stored(self, name: str) -> Iterator[StoredCapture]:
        """Every capture file of ``name``, read lazily, newest first (see
        :func:`~snapy_capture.storage.newest_first`), the unreadable ones included."""
        # By the directory found, not by the name this version would give it: directories
        # of older versions are read too. Each record must belong to the name resolved.
        return newest_first([storage.read_captures(info) for storage, info in self.locate(name)])

    def load_all(self, name: str, *, limit: int | None = None) -> list[dict[str, Any]]:
        """Every capture of ``name`` (at most ``limit``), newest first."""
        records: list[dict[str, Any]] = []
        for record in self.iter_captures(name):
            if limit is not None and len(records) >= limit:
                break
            records.append(record)
        return records

    def count(self, name: str) -> int:
        """How many capture files ``name`` has (without reading them)."""
        return sum(sum(1 for _ in storage.captures(info)) for storage, info in self.locate(name))

    def load_dict_by_index(self, name: str, index: int) -> dict[str, Any]:
        """The whole record of capture ``index`` of ``name`` (0 = newest).

        Raises:
            CaptureIndexError: (a ``CaptureNotFoundError`` and an ``IndexError``) when
                ``name`` has fewer captures.
        """
        if not isinstance(index, int) or isinstance(index, bool):
            raise TypeError(f"index must be an integer (0 = newest), got {index!r}")
        if index < 0:
            raise CaptureIndexError(name, self.paths, f"index {index} is negative")
        seen = 0
        for record in self.iter_captures(name):
            if seen == index:
                return record
            seen += 1
        raise CaptureIndexError(
            name, self.paths, f"asked for index {index}, found {seen} readable capture(s)"
        )

    def load_by_index(self, name: str, index: int) -> Args:
        """``(args, kwargs)`` of capture ``index`` of ``name`` (0 = newest)."""
        return as_call(self.load_dict_by_index(name, index))

    def load_latest(self, name: str) -> Args:
        """``(args, kwargs)`` of the newest capture of ``name``."""
        return self.load_by_index(name, 0)

    def select_by_criteria(
        self, captures: list[dict[str, Any]], criteria: Mapping[str, Any]
    ) -> Args:
        """``(args, kwargs)`` of the first (newest) capture matching every criterion.

        A criterion matches a top-level field or a ``metadata`` field with an equal value;
        a callable criterion is a predicate on that value.

        Raises:
            CaptureNotFoundError: when no capture matches.
        """
        for record in captures:
            if all(criterion_holds(record, key, want) for key, want in criteria.items()):
                return as_call(record)
        function = captures[0].get("qualname", "?") if captures else "?"
        raise CaptureNotFoundError(
            str(function),
            self.paths,
            f"none of {len(captures)} capture(s) matches {dict(criteria)!r}",
        )

    def locate(self, name: str) -> list[tuple[CaptureStorage, FunctionInfo]]:
        """The capture directories of the function ``name`` designates, in search order.

        Raises:
            CaptureNotFoundError: no captured function matches.
            AmbiguousCaptureError: several do.
        """
        if not isinstance(name, str):
            # Said here, not as "'int' object has no attribute 'partition'" from below.
            raise TypeError(
                f"name must be a string ('module:qualname', a qualname or a suffix of one), "
                f"got {name!r}"
            )
        found = [(storage, info) for storage in self.storages for info in storage.functions()]
        exact, suffix = _match(name, found)
        chosen = exact or suffix
        if not chosen:
            raise CaptureNotFoundError(name, self.paths)
        names = sorted({info.name for _, info in chosen})
        if len(names) > 1:
            raise AmbiguousCaptureError(name, names)
        return chosen


def _match(
    name: str, found: list[tuple[CaptureStorage, FunctionInfo]]
) -> tuple[list[tuple[CaptureStorage, FunctionInfo]], list[tuple[CaptureStorage, FunctionInfo]]]:
    exact, suffix = [], []
    module, sep, qualname = name.partition(":")
    for item in found:
        info = item[1]
        if sep:
            if info.module != module:
                continue
            if info.qualname == qualname:
                exact.append(item)
            elif info.qualname.endswith("." + qualname):
                suffix.append(item)
        elif name in (info.qualname, f"{info.module}.{info.qualname}"):
            exact.append(item)
        elif f"{info.module}.{info.qualname}".endswith("." + name):
            suffix.append(item)
    return exact, suffix


def criterion_holds(record: Mapping[str, Any], key: str, want: Any) -> bool:
    """Whether ``record``'s top-level or metadata field ``key`` equals (or satisfies) ``want``."""
    metadata = record.get("metadata") or {}
    if key in record:
        value = record[key]
    elif key in metadata:
        value = metadata[key]
    else:
        return False
    if callable(want):
        return bool(want(value))
    return bool(value == want)


def load_capture(
    name: str, path: str | os.PathLike[str] | None = None, *, storage: CaptureStorage | None = None
) -> Args:
    """``(args, kwargs)`` of the newest capture of ``name``.

    Raises:
        CaptureNotFoundError: naming the function and the paths searched.
        AmbiguousCaptureError: when ``name`` matches several functions.
    """
    return CaptureLoader(path, storage=storage).load_by_index(name, 0)


def load_capture_dict(
    name: str, path: str | os.PathLike[str] | None = None, *, storage: CaptureStorage | None = None
) -> dict[str, Any]:
    """The whole record of the newest capture of ``name`` (see :func:`load_capture`)."""
    return CaptureLoader(path, storage=storage).load_dict_by_index(name, 0)


def has_capture(
    name: str, path: str | os.PathLike[str] | None = None, *, storage: CaptureStorage | None = None
) -> bool:
    """Whether ``name`` has at least one readable capture (ambiguity still raises)."""
    try:
        CaptureLoader(path, storage=storage).load_dict_by_index(name, 0)
    except CaptureNotFoundError:
        return False
    return True


Predicate = Callable[[Any], bool]
