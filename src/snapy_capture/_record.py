"""Building and degrading a capture record: the pieces the pipeline shares across threads.

Everything here works on a plain record dict, so the caller's thread (synchronous capture) and
the background writer (deferred capture) build and shrink records the same way.
"""

from __future__ import annotations

import inspect
import os
import time
from typing import Any, NamedTuple

from .filters import ArgumentFilter, Redacted
from .storage import CaptureStorage

__all__ = [
    "Signature",
    "exception_result",
    "format_timestamp",
    "process_id",
    "read_signature",
    "replace_unserializable",
    "safe_repr",
    "safe_str",
    "shrink",
]

_last_second: tuple[int, str] = (-1, "")
_pid = os.getpid()


def process_id() -> int:
    """``os.getpid()`` without a system call per capture (glibc no longer caches it)."""
    return _pid


def _new_process() -> None:
    global _pid  # noqa: PLW0603 - one value per process, reset in a forked child
    _pid = os.getpid()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_process)


def format_timestamp(now: float) -> str:
    """ISO-8601 UTC with microseconds; the date and time part is formatted once a second."""
    global _last_second  # noqa: PLW0603 - a one-entry cache, swapped whole (thread-safe)
    second = int(now // 1)
    cached = _last_second
    if cached[0] != second:
        cached = _last_second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)))
    return f"{cached[1]}.{int(now % 1 * 1e6):06d}Z"


class Signature(NamedTuple):
    """What filtering needs to know of a function's parameters."""

    positional: list[str]
    var_positional: str | None
    var_keyword: str | None
    keyword: frozenset[str]


def read_signature(func: Any) -> Signature:
    """The parameter names of ``func``; none at all when it has no readable signature."""
    try:
        parameters = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return Signature([], None, None, frozenset())
    kind = inspect.Parameter
    positional = [
        p.name for p in parameters if p.kind in (kind.POSITIONAL_ONLY, kind.POSITIONAL_OR_KEYWORD)
    ]
    var = next((p.name for p in parameters if p.kind is kind.VAR_POSITIONAL), None)
    var_keyword = next((p.name for p in parameters if p.kind is kind.VAR_KEYWORD), None)
    keyword = frozenset(
        p.name for p in parameters if p.kind in (kind.POSITIONAL_OR_KEYWORD, kind.KEYWORD_ONLY)
    )
    return Signature(positional, var, var_keyword, keyword)


def exception_result(
    flt: ArgumentFilter, record: dict[str, Any], qualname: str, module: str, message: str
) -> None:
    """Record a raised exception as the call's result, its message filtered like a value."""
    masked, report = flt.filter_value(message, "result.exception")
    record["result"] = {"exception": {"type": qualname, "module": module, "message": masked}}
    record["metadata"].setdefault("redactions", []).extend(report)


def safe_str(value: object) -> str:
    """``str(value)``, or a placeholder when the object's ``__str__`` raises."""
    try:
        return str(value)
    except Exception:  # noqa: BLE001
        return f"<unprintable {type(value).__name__}>"


def safe_repr(value: object) -> str:
    """``repr(value)``, or a placeholder when the object's ``__repr__`` raises."""
    try:
        return repr(value)
    except Exception:  # noqa: BLE001
        return f"<unprintable {type(value).__name__}>"


def _slots(record: dict[str, Any]) -> list[tuple[Any, Any, str]]:
    """(container, key, path) of each argument (and the result value) in a record."""
    slots: list[tuple[Any, Any, str]] = [
        (record["args"], i, f"args[{i}]") for i in range(len(record["args"]))
    ]
    slots += [(record["kwargs"], key, key) for key in record["kwargs"]]
    result = record.get("result")
    if isinstance(result, dict) and "value" in result:
        slots.append((result, "value", "result"))
    return slots


def replace_unserializable(storage: CaptureStorage, record: dict[str, Any]) -> None:
    """Redact, in place, each value of ``record`` that ``storage`` cannot encode on its own."""
    report = record["metadata"].setdefault("redactions", [])
    for container, key, path in _slots(record):
        value = container[key]
        try:
            storage.encode({"args": [value], "kwargs": {}})
        except Exception:  # noqa: BLE001
            container[key] = Redacted(f"unserializable {type(value).__qualname__}")
            report.append({"path": path, "reason": "unserializable"})


def shrink(
    storage: CaptureStorage, record: dict[str, Any], limit: int, serializer: Any = None
) -> bytes | None:
    """The record encoded within ``limit`` bytes, largest values redacted first, or ``None``.

    ``serializer`` is the one that encoded the record (a fallback, or ``None`` for the
    storage's own): every size is measured, and the result written, with that same one.
    """
    sizes = []
    for container, key, path in _slots(record):
        try:
            size = len(storage.encode({"args": [container[key]], "kwargs": {}}, serializer))
        except Exception:  # noqa: BLE001 - cannot be measured alone: give way first
            size = limit + 1
        sizes.append((size, container, key, path))
    report = record["metadata"].setdefault("redactions", [])
    for size, container, key, path in sorted(sizes, key=lambda item: -item[0]):
        container[key] = Redacted(f"too large ({size} bytes)")
        report.append({"path": path, "reason": "max_capture_size"})
        data = storage.encode(record, serializer)
        if len(data) <= limit:
            return data
    data = storage.encode(record, serializer)
    return data if len(data) <= limit else None
