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

from snapy_capture.filters import ArgumentFilter, Redacted
from snapy_capture.filters._inert import Inert
from snapy_capture.storage import CaptureStorage

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
    flt: ArgumentFilter, names: Sequence[str], args: Sequence[Any], kwargs: dict[str, Any]
) -> ArgumentFilter:
    """The filter for a call's result: ``flt``, also masking every secret the call was given.

    A value redacted by name anywhere in the arguments (a parameter, a dict key, an attribute,
    a field, at any depth) must not come back in a recorded return value or exception message
    (``f"bad password {password!r}"``, ``[host, password]``) under a harmless name. Secrets of
    3 characters or more are masked wherever they appear in text; a value equal to a secret
    (``pin=739`` returned as ``739``) is replaced whatever its length.
    """
    found = _GivenSecrets(flt)
    for name, value in [*zip(names, args, strict=False), *kwargs.items()]:
        found.visit(name if isinstance(name, str) else None, value, 0)
    secrets = found.secrets
    if not secrets:
        return flt
    derived = flt.derive()
    texts = sorted(
        (
            (text, reason)
            for text, reason in secrets.items()
            if isinstance(text, str) and len(text) >= 3
        ),
        key=lambda item: len(item[0]),
        reverse=True,
    )
    raw = [(text.encode(), reason) for text, reason in texts]
    raw += [(b, r) for b, r in secrets.items() if isinstance(b, bytes) and len(b) >= 3]

    def mask_given_secrets(path: str, name: str | None, value: Any) -> Any:
        kind = type(value)
        if kind in _ATOMS:
            whole = secrets.get((kind, value))
            if whole is not None:
                return Redacted(whole)
        if kind is str:
            for text, reason in texts:
                if text in value:
                    value = value.replace(text, f"[FILTERED: {reason}]")
        elif kind is bytes:
            for data, reason in raw:
                if data in value:
                    value = value.replace(data, f"[FILTERED: {reason}]".encode())
        return value

    derived.add_filter(mask_given_secrets)
    return derived


_ATOMS = (int, float, str, bytes)
#: How many values of the arguments are looked at for secrets given by name.
_SECRET_BUDGET = 10_000


class _GivenSecrets:
    """The values held under sensitive names anywhere in a call's arguments (reading only)."""

    __slots__ = ("budget", "flt", "secrets", "seen")

    def __init__(self, flt: ArgumentFilter) -> None:
        self.flt = flt
        #: text or bytes -> reason (masked inside text); (type, value) -> reason (whole values)
        self.secrets: dict[Any, str] = {}
        self.seen: set[int] = set()
        self.budget = _SECRET_BUDGET

    def visit(self, name: str | None, value: Any, depth: int, reason: str | None = None) -> None:
        self.budget -= 1
        if self.budget < 0 or depth > self.flt.max_depth:
            return
        if reason is None and name is not None:
            pattern = self.flt.sensitive_pattern(name)
            if pattern is not None:
                reason = f"name:{pattern}"
        kind = type(value)
        if kind in _ATOMS and kind is not bool:
            if reason is not None:
                self.secrets[(kind, value)] = reason
                if kind is str or kind is bytes:
                    self.secrets[value] = reason
                else:
                    self.secrets.setdefault(str(value), reason)
            return
        if id(value) in self.seen:
            return
        self.seen.add(id(value))
        try:
            items = self.items(value)
        except Exception:  # noqa: BLE001 - a hostile container: what it hides was filtered whole
            return
        for item_name, item in items:
            self.visit(item_name, item, depth + 1, reason)

    def items(self, value: Any) -> list[tuple[str | None, Any]]:
        kind = type(value)
        # Types, not isinstance(): an object's own __class__ is not asked.
        if issubclass(kind, dict):
            return [(k if isinstance(k, str) else None, v) for k, v in list(dict.items(value))]
        if issubclass(kind, (list, tuple, set, frozenset)):
            fields = getattr(kind, "_fields", None)
            items = list(tuple.__iter__(value) if issubclass(kind, tuple) else value)
            if isinstance(fields, tuple):
                return [
                    (f if isinstance(f, str) else None, v)
                    for f, v in zip(fields, items, strict=False)
                ]
            if len(items) == 2 and isinstance(items[0], str):
                return [(None, items[0]), (items[0], items[1])]  # a ("password", value) pair
            return [(None, item) for item in items]
        if kind is Inert:
            parts: list[tuple[str | None, Any]] = [(None, a) for a in value.args]
            parts += self.state_items(value.state)
            parts += [(None, item) for item in value.listitems or ()]
            parts += [(k if isinstance(k, str) else None, v) for k, v in value.dictitems or ()]
            return parts
        try:
            state = object.__getattribute__(value, "__dict__")
        except AttributeError:
            return []
        return self.state_items(state)

    def state_items(self, state: Any) -> list[tuple[str | None, Any]]:
        parts: list[tuple[str | None, Any]] = []
        for part in state if type(state) is tuple else (state,):
            if type(part) is dict:
                parts += [(k if isinstance(k, str) else None, v) for k, v in part.items()]
            elif type(part) is list:
                parts += [(None, v) for v in part]
        return parts


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
