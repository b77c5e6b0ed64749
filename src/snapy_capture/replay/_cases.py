"""Replaying captures: stable case ids for pytest, and recorded-result comparison.

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

Replaying a method: captures do not store ``self``/``cls``. Pass the bound method of an
instance you build for the test (``replay_and_compare(Service(cfg).charge, record)``), or the
class attribute for a classmethod or staticmethod.
"""

from __future__ import annotations

import asyncio
import difflib
import inspect
import os
import pprint
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from snapy_capture._text import safe_str
from snapy_capture.errors import (
    CaptureNotFoundError,
    NoRecordedResultError,
    SnapyCaptureError,
    SnapyCaptureWarning,
)
from snapy_capture.replay.loader import CaptureLoader, as_call, criterion_holds
from snapy_capture.storage import CaptureStorage, FunctionInfo, StoredPath, newest_first

__all__ = [
    "Case",
    "NoRecordedResultError",
    "ReplayResult",
    "assert_replay_matches",
    "collect_cases",
    "replay_and_compare",
]

_PLACEHOLDER: Final = re.compile(r"^\[FILTERED: .*\]$", re.DOTALL)

Where = Mapping[str, Any] | Callable[[dict[str, Any]], bool]


@dataclass(frozen=True)
class Case:
    """One capture ready to replay: a stable id and the whole record."""

    id: str
    record: dict[str, Any] = field(repr=False, compare=False)

    @property
    def args(self) -> tuple[Any, ...]:
        return as_call(self.record)[0]

    @property
    def kwargs(self) -> dict[str, Any]:
        return as_call(self.record)[1]


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
        A :class:`Cases`; unreadable capture files are skipped with a warning.

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
        if item.error is not None or item.record is None:
            warnings.warn(
                f"snapy_capture: skipping {item.ref.path}: {item.error}",
                SnapyCaptureWarning,
                stacklevel=2,
            )
            continue
        if where is not None and not _matches(item.record, where):
            continue
        cases.append(Case(ids.get(item.ref.path) or f"capture-{item.ref.seq}", item.record))
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


# --- result comparison ----------------------------------------------------------------------


@dataclass(frozen=True)
class ReplayResult:
    """The outcome of replaying one capture against the current code.

    Attributes:
        matches: whether the replay gave the recorded value (or raised the recorded exception).
        expected: the recorded outcome, ``{"value": v}`` or ``{"exception": {...}}``.
        value: what the replay returned (``None`` if it raised).
        exception: what the replay raised, if anything.
        diff: a readable explanation of the mismatch (empty when it matches).
    """

    record: dict[str, Any] = field(repr=False)
    expected: dict[str, Any]
    value: Any
    exception: BaseException | None
    matches: bool
    diff: str

    def assert_matches(self) -> None:
        """Raise ``AssertionError`` with the diff unless the replay matched."""
        __tracebackhide__ = True
        if not self.matches:
            raise AssertionError(self.diff)


def replay_and_compare(func: Callable[..., Any], record: Mapping[str, Any]) -> ReplayResult:
    """Call ``func`` with a capture's arguments and compare with the recorded result.

    A placeholder left by the filters in the recorded result (``[FILTERED: ...]``) matches
    any value at that place. When plain equality fails, tuples and lists are compared as
    equal, because text serializers (JSON) store tuples as lists.

    Args:
        func: the function to replay; for a method, the bound method of an instance you built
            (captures do not store ``self``). Coroutine functions are run to completion.
        record: a capture record (``load_capture_dict``, ``replay_records``, ``load_all``).

    Returns:
        A :class:`ReplayResult`.

    Raises:
        NoRecordedResultError: the capture has no recorded result.
    """
    expected = record.get("result")
    label = _label(record)
    if not isinstance(expected, dict) or not ({"value", "exception"} & expected.keys()):
        raise NoRecordedResultError(
            f"{label} has no recorded result; capture with record_result=True "
            "(or SNAP_CAPTURE_RECORD_RESULT=1) to compare results"
        )
    args, kwargs = as_call(record)
    value: Any = None
    raised: BaseException | None = None
    try:
        value = _call(func, args, kwargs)
    except Exception as exc:  # noqa: BLE001 - the exception is the outcome being compared
        raised = exc
    diff = _compare(label, expected, value, raised)
    return ReplayResult(dict(record), expected, value, raised, not diff, diff)


def assert_replay_matches(func: Callable[..., Any], record: Mapping[str, Any]) -> None:
    """Replay ``record`` through ``func``; ``AssertionError`` with a diff if the result differs.

    See :func:`replay_and_compare` for the arguments and the comparison rules.
    """
    __tracebackhide__ = True
    replay_and_compare(func, record).assert_matches()


def _call(func: Callable[..., Any], args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
    result = func(*args, **kwargs)
    if inspect.iscoroutine(result):
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(result)
        result.close()
        raise SnapyCaptureError(
            "cannot replay a coroutine function inside a running event loop; "
            "await it yourself and compare with record['result']"
        )
    return result


def _label(record: Mapping[str, Any]) -> str:
    name = f"{record.get('module', '?')}:{record.get('qualname', record.get('function_name', '?'))}"
    return f"capture of {name} from {record.get('timestamp', 'an unknown time')}"


def _compare(
    label: str, expected: Mapping[str, Any], value: Any, raised: BaseException | None
) -> str:
    call = "replayed call"
    if "exception" in expected:
        want = expected["exception"] or {}
        want_type = f"{want.get('module', '')}.{want.get('type', '?')}".lstrip(".")
        if raised is None:
            return (
                f"{label}: the recorded call raised {want_type}: {want.get('message', '')}\n"
                f"but the {call} returned:\n{_pformat(value)}"
            )
        got_type = f"{type(raised).__module__}.{type(raised).__qualname__}"
        got_message = safe_str(raised)
        want_message = str(want.get("message", ""))
        if got_type != want_type:
            return (
                f"{label}: the recorded call raised {want_type}: {want_message}\n"
                f"but the {call} raised {got_type}: {got_message}"
            )
        if not _is_placeholder(want_message) and got_message != want_message:
            return f"{label}: {want_type} message differs\n" + _diff(want_message, got_message)
        return ""
    want_value = expected["value"]
    if raised is not None:
        return (
            f"{label}: the recorded call returned:\n{_pformat(want_value)}\n"
            f"but the {call} raised {type(raised).__module__}."
            f"{type(raised).__qualname__}: {safe_str(raised)}"
        )
    masked = _mask(want_value, value)
    if _equal(want_value, masked):
        return ""
    return f"{label}: the result differs (- recorded, + replayed)\n" + _diff(
        _pformat(want_value), _pformat(masked)
    )


def _equal(expected: Any, actual: Any) -> bool:
    try:
        if bool(expected == actual):
            return True
        return bool(_lists(expected) == _lists(actual))
    except Exception:  # noqa: BLE001 - an __eq__ that raises is a mismatch, not a crash
        return False


def _lists(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_lists(item) for item in value]
    if isinstance(value, dict):
        return {key: _lists(item) for key, item in value.items()}
    return value


def _is_placeholder(value: Any) -> bool:
    return isinstance(value, str) and bool(_PLACEHOLDER.match(value))


def _mask(expected: Any, actual: Any) -> Any:
    """``actual`` with the places where ``expected`` holds a filter placeholder copied over."""
    if _is_placeholder(expected):
        return expected
    if isinstance(expected, dict) and isinstance(actual, dict):
        return {
            key: _mask(expected[key], item) if key in expected else item
            for key, item in actual.items()
        }
    if (
        isinstance(expected, (list, tuple))
        and isinstance(actual, (list, tuple))
        and (len(expected) == len(actual))
    ):
        masked = [_mask(want, got) for want, got in zip(expected, actual, strict=True)]
        return type(actual)(masked) if type(actual) in (list, tuple) else actual
    return actual


def _pformat(value: Any) -> str:
    try:
        return pprint.pformat(value, width=88, sort_dicts=True)
    except Exception:  # noqa: BLE001
        return f"<unprintable {type(value).__name__}>"


def _diff(expected: str, actual: str) -> str:
    lines = difflib.unified_diff(
        expected.splitlines(), actual.splitlines(), "recorded", "replayed", lineterm="", n=3
    )
    return "\n".join(lines)
