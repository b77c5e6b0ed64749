"""Building and degrading a capture record: the pieces the pipeline shares across threads.

Everything here works on a plain record dict, so the caller's thread (synchronous capture) and
the background writer (deferred capture) build and shrink records the same way.
"""

from __future__ import annotations

import inspect
import os
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

from .filters import ArgumentFilter, Redacted
from .storage import CaptureStorage

__all__ = [
    "PID",
    "Signature",
    "callable_kind",
    "exception_result",
    "format_timestamp",
    "read_signature",
    "replace_unserializable",
    "result_filter",
    "safe_repr",
    "safe_str",
    "shrink",
]

#: This process's id, read once (glibc no longer caches ``getpid()``): ``PID[0]``, one list
#: item rather than a function call per capture; a forked child puts its own in.
PID = [os.getpid()]


def _new_process() -> None:
    PID[0] = os.getpid()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_process)

#: The second last formatted, in microseconds, and its timestamp with a ``%06d`` left for
#: the microseconds: a one-entry cache, swapped whole (thread-safe).
_last_second: tuple[int, str] = (1 << 62, "")


def format_timestamp(now: float) -> str:
    """ISO-8601 UTC with microseconds (truncated); the date and time are formatted once a second."""
    global _last_second  # noqa: PLW0603 - a one-entry cache, swapped whole (thread-safe)
    micros = int(now * 1e6)
    start, pattern = _last_second
    if not 0 <= micros - start < 1_000_000:
        # The second and the microseconds both from one product: they always agree.
        second = micros // 1_000_000
        start = second * 1_000_000
        # "%%" survives strftime as "%": the pattern takes the microseconds with one "%".
        pattern = time.strftime("%Y-%m-%dT%H:%M:%S.%%06dZ", time.gmtime(second))
        _last_second = (start, pattern)
    return pattern % (micros - start)


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


def callable_kind(func: Any) -> str:
    """What calling ``func`` returns: ``"coroutine"``, ``"asyncgen"``, ``"generator"`` or
    ``"function"`` (a plain value)."""
    if inspect.iscoroutinefunction(func):
        return "coroutine"
    if inspect.isasyncgenfunction(func):
        return "asyncgen"
    if inspect.isgeneratorfunction(func):
        return "generator"
    return "function"


def result_filter(
    flt: ArgumentFilter, names: Sequence[str], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> ArgumentFilter:
    """The filter for a call's result: ``flt``, also masking secrets the call was given by name.

    A password redacted from the arguments must not come back in a recorded return value
    or exception message (``f"bad password {password!r}"``), under a harmless key.
    """
    given = [*zip(names, args, strict=False), *kwargs.items()]
    secrets = {
        value: f"name:{pattern}"
        for name, value in given
        if isinstance(value, str)
        and len(value) >= 4
        and (pattern := flt.sensitive_pattern(name)) is not None
    }
    if not secrets:
        return flt
    derived = flt.derive()
    ordered = sorted(secrets, key=len, reverse=True)

    def mask_given_secrets(path: str, name: str | None, value: Any) -> Any:
        if isinstance(value, str) and any(secret in value for secret in ordered):
            for secret in ordered:
                value = value.replace(secret, f"[FILTERED: {secrets[secret]}]")
            return value
        return value

    derived.add_filter(mask_given_secrets)
    return derived


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
