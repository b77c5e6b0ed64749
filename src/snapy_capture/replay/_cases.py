"""Replay cases: a function's captures, each with a stable id for pytest.

Nothing here imports pytest; :mod:`snapy_capture.pytest_plugin` turns :class:`Case` lists into
``pytest.param`` entries.

Case ids come from the capture file's sequence number (``capture-42``). A capture keeps its
number for life: new captures get higher numbers and retention deletes the lowest ones, so the
id of a capture that is still there never changes, and a syrupy snapshot named after it never
churns. (Content hashes were rejected: pickled sets and dicts of objects need not pickle to the
same bytes in two processes, and pytest-xdist requires every worker to collect the same ids.)
Cases come newest first in storage's order, the loader's; where several storage roots hold
the function, a number two of them hold is told apart by the root's position in the search
(``capture-3-root1``), the first root searched keeping the plain id.

Replaying a method: a capture holds the instance the method was called on
(``record["self"]``, filtered like an argument); :attr:`Case.instance` gives a fresh copy of it,
and the replay helpers (:mod:`._compare`) run ``Owner.method`` on one.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from snapy_capture.errors import CaptureNotFoundError
from snapy_capture.hook import resolve
from snapy_capture.replay._call import (
    CannotReplayError,
    captured_instance,
    copied,
    filtered_reason,
    substituted,
)
from snapy_capture.replay._substitutes import covered, merged, split_filtered
from snapy_capture.replay.loader import CaptureLoader, as_call, criterion_holds
from snapy_capture.storage import CaptureStorage, FunctionInfo, StoredPath, newest_first

__all__ = ["Case", "Cases", "Where", "case_arguments", "collect_cases", "skip_reason"]

Where = Mapping[str, Any] | Callable[[dict[str, Any]], bool]


@dataclass(frozen=True)
class Case:
    """One capture ready to replay: a stable id and the whole record."""

    id: str
    record: dict[str, Any] = field(repr=False, compare=False)
    source: Any = field(default=None, repr=False, compare=False)
    """The capture file (a ``Path``, or an object store's path) the case was read from."""
    error: str | None = None
    """Why the capture file could not be loaded (its path and the reason); ``record`` is
    then empty. Such a case is reported, never dropped: a suite whose captures stopped
    loading (a dependency upgrade, a bad key) must fail, not shrink quietly."""

    @property
    def args(self) -> tuple[Any, ...]:
        return as_call(self.record)[0]

    @property
    def kwargs(self) -> dict[str, Any]:
        return as_call(self.record)[1]

    @property
    def instance(self) -> Any:
        """A fresh copy of the instance the captured method was called on (each access makes
        one, so a mutating call leaves the next one untouched), suite-wide and attached
        substitutes for its filtered attributes put in place.

        Raises:
            CannotReplayError: the capture holds no instance (a function, ``capture_self``
                off, an old capture) or only a placeholder for it (it could not be stored).
        """
        return captured_instance(self.record, merged(None, self.record))


@dataclass(frozen=True)
class Cases:
    """What :func:`collect_cases` found, and where it looked."""

    name: str
    paths: tuple[str, ...]
    cases: tuple[Case, ...]
    found: bool
    """Whether the function has a capture directory at all (``False``: never captured)."""


def collect_cases(
    name: str,
    *,
    path: str | os.PathLike[str] | None = None,
    limit: int | None = None,
    storage: CaptureStorage | None = None,
    where: Where | None = None,
) -> Cases:
    """The captures of ``name`` as replay cases, newest first.

    Args:
        name: ``module:qualname``, a qualname or a dotted suffix of one.
        path: one storage root; ``None`` searches the default paths (see ``loader``).
        limit: keep at most this many (the newest) matching captures.
        storage: read with this storage (e.g. a ``CaptureStorage`` subclass).
        where: keep only captures matching these criteria (as ``select_by_criteria``), or
            for which this predicate on the record is true.

    Returns:
        A :class:`Cases`; a capture file that cannot be read is a case with
        :attr:`Case.error` set (counted by ``limit``, not filtered by ``where``).

    Raises:
        AmbiguousCaptureError: ``name`` matches several captured functions.
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit must be a positive integer or None, got {limit!r}")
    loader = CaptureLoader(path, storage=storage)
    paths = tuple(loader.paths)
    try:
        resolved = loader.resolve(name)
    except CaptureNotFoundError:
        return Cases(name, paths, (), found=False)
    sources = loader.locate(resolved)
    ids = _case_ids(sources, loader.storages)
    cases: list[Case] = []
    for item in newest_first([storage.read_captures(info) for storage, info in sources]):
        if limit is not None and len(cases) >= limit:
            break
        case_id = ids.get(item.ref.path) or f"capture-{item.ref.seq}"
        if item.error is not None or item.record is None:
            reason = item.error or "no record in it"
            error = f"cannot load {item.ref.path}: {reason}"
            cases.append(Case(case_id, {}, source=item.ref.path, error=error))
            continue
        if where is not None and not _matches(item.record, where):
            continue
        cases.append(Case(case_id, item.record, source=item.ref.path))
    return Cases(resolved, paths, tuple(cases), found=True)


def _case_ids(
    sources: Sequence[tuple[CaptureStorage, FunctionInfo]], roots: Sequence[CaptureStorage]
) -> dict[StoredPath, str]:
    """The ids of captures whose number another capture directory of the function also
    holds (several roots): ``capture-<seq>`` stays with the first directory searched, the
    others add their root's position (``capture-<seq>-root<i>``).

    Worked out from every capture listed, not from those kept (``limit``, ``where``) nor
    from their order, so an id does not change with them. With one directory, nothing to
    tell apart: an empty mapping (no listing).
    """
    if len(sources) < 2:
        return {}
    position = {id(storage): index for index, storage in enumerate(roots)}
    ids: dict[StoredPath, str] = {}
    taken: set[str] = set()
    for storage, info in sources:
        for ref in storage.captures(info):
            case_id = f"capture-{ref.seq}"
            if case_id in taken:
                case_id = f"{case_id}-root{position[id(storage)]}"
                suffix = 1
                while case_id in taken:  # two directories of one function in one root
                    case_id = f"capture-{ref.seq}-root{position[id(storage)]}-{suffix}"
                    suffix += 1
            taken.add(case_id)
            ids[ref.path] = case_id
    return ids


def _matches(record: dict[str, Any], where: Where) -> bool:
    if callable(where):
        return bool(where(record))
    return all(criterion_holds(record, key, want) for key, want in where.items())


# --- what a case can replay -----------------------------------------------------------------


def skip_reason(
    record: Mapping[str, Any],
    substitutes: Mapping[str, Any] | None = None,
    *,
    arguments_only: bool = False,
) -> str | None:
    """Why ``record`` cannot be replayed as it is, or ``None``: secrets the filters removed
    from its inputs that no substitute replaces (the instance's too, unless
    ``arguments_only``), or an instance that could not be stored. Parts that could not be
    stored (``unstorable: ...``) do not count: the call runs without them (see ``_call``)."""
    blocking, _unstored = split_filtered(record, merged(substitutes, record))
    missing = [path for path in blocking if not (arguments_only and covered(path, ("self",)))]
    return filtered_reason(record, missing) if missing else None


def case_arguments(
    record: Mapping[str, Any], substitutes: Mapping[str, Any] | None = None
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """``(args, kwargs)`` of ``record`` with the substitutes for filtered arguments in place.

    Which positional argument a parameter name is comes from the captured function's
    signature (imported through its module, when the module can be).

    Raises:
        CannotReplayError: a filtered argument has no substitute, or one cannot be placed.
    """
    reason = skip_reason(record, substitutes, arguments_only=True)
    if reason is not None:
        raise CannotReplayError(reason)
    args, kwargs = as_call(record)
    values = merged(substitutes, record)
    if not any(not key.startswith("self") for key in values):
        return args, kwargs
    func, skip_first = _captured_function(record)
    return substituted(
        func, record, values, list(copied(args)), dict(copied(kwargs)), skip_first=skip_first
    )


def _captured_function(record: Mapping[str, Any]) -> tuple[Any, bool]:
    """The function the capture is of, and whether its first parameter is the receiver."""
    try:
        module = importlib.import_module(str(record.get("module")))
        member = resolve(module, str(record.get("qualname")))
    except Exception:  # noqa: BLE001 - unimportable: positional names stay unknown
        return None, False
    raw = member.raw
    if isinstance(raw, staticmethod):
        return raw.__func__, False
    if isinstance(raw, classmethod):
        return raw.__func__, True
    return raw, isinstance(member.owner, type)
