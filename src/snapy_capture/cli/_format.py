"""Text and JSON rendering for the command line (no colour: plain text reads everywhere).

:func:`to_jsonable` turns any captured object into JSON without ever failing: the types
:class:`~snapy_capture.storage.serializers.JSONSerializer` knows use its tagged encoding
(``{"__snapy__": "tuple", ...}``), placeholders stay placeholders, and anything else becomes
``{"__repr__": ..., "__type__": ...}`` so an export of odd objects still reads.
"""

from __future__ import annotations

import datetime as dt
import itertools
import pprint
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from snapy_capture._text import printable as _printable
from snapy_capture._text import safe_repr
from snapy_capture.replay._budget import SnapshotTimeout, time_budget
from snapy_capture.storage.serializers import JSONSerializer

__all__ = ["format_record", "format_size", "format_table", "format_time", "to_jsonable"]

_TAG: Final = "__snapy__"
_JSON: Final = JSONSerializer()
_MAX_DEPTH: Final = 64
_REPR_LIMIT: Final = 2000
_WIDTH: Final = 100
#: What ``show`` prints of a value unless given ``--full``: items of a list, tuple, set or
#: mapping, characters of a string or bytes, levels of nesting.
SHOW_ITEMS: Final = 20
SHOW_CHARS: Final = 300
SHOW_DEPTH: Final = 6
_CONTAINERS: Final = (list, tuple, dict, set, frozenset)


def type_path(kind: type) -> str:
    """``module:qualname`` of a type, as the JSON serializer tags it."""
    return f"{kind.__module__}:{kind.__qualname__}"


def _fallback(obj: object) -> dict[str, str]:
    # The object's own __repr__, under show's time budget (show --json and export too).
    text = _bounded(safe_repr, obj, _REPR_LIMIT)
    return {"__repr__": _no_repr(obj) if text is None else text, "__type__": type_path(type(obj))}


def to_jsonable(obj: object, _depth: int = 0, _seen: frozenset[int] = frozenset()) -> Any:
    """A JSON-ready version of ``obj`` (strict JSON: no NaN, every key a string).

    Everything :class:`JSONSerializer` can store uses its exact tagged encoding, so an export
    decodes back with ``JSONSerializer().from_jsonable``. Never raises: containers holding
    something it cannot store are exported item by item, and what is left (cycles, excessive
    nesting, unknown types) falls back to ``{"__repr__": ..., "__type__": ...}``.
    """
    try:
        return _JSON.to_jsonable(obj)
    except Exception:  # noqa: BLE001, S110 - exporting must never crash on a strange object
        pass
    if _depth < _MAX_DEPTH and id(obj) not in _seen:
        try:
            return _by_item(obj, _depth + 1, _seen | {id(obj)})
        except Exception:  # noqa: BLE001, S110
            pass
    return _fallback(obj)


def _by_item(obj: object, depth: int, seen: frozenset[int]) -> Any:
    kind = type(obj)
    if kind is list:
        return [to_jsonable(item, depth, seen) for item in obj]  # type: ignore[attr-defined]
    if kind is tuple:
        return {_TAG: "tuple", "items": [to_jsonable(item, depth, seen) for item in obj]}  # type: ignore[attr-defined]
    if kind is dict:
        items = obj.items()  # type: ignore[attr-defined]
        if all(type(key) is str and key != _TAG for key, _ in items):
            return {key: to_jsonable(value, depth, seen) for key, value in items}
        return {
            _TAG: "dict",
            "items": [[to_jsonable(k, depth, seen), to_jsonable(v, depth, seen)] for k, v in items],
        }
    return _fallback(obj)


# --- terminal text ------------------------------------------------------------------------


def format_size(size: int) -> str:
    """``532 B``, ``1.2 KiB``, ``3.4 MiB``."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def format_time(timestamp: float | None) -> str:
    """A file time as ISO-8601 UTC to the second (``2024-05-01T12:00:00Z``), or ``-``."""
    if timestamp is None:
        return "-"
    moment = dt.datetime.fromtimestamp(timestamp, tz=dt.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def format_table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], right: frozenset[int] = frozenset()
) -> str:
    """Columns padded to their widest cell; columns in ``right`` are right-aligned."""
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    lines = []
    for row in [headers, *rows]:
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


class _Shown:
    """Stands for what ``show`` left out of a value; its repr says how much."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


class _Shortener:
    """A copy of a value cut to what ``show`` prints, built from the kept parts only: the time
    is bounded by what is printed, never by the size of the value (issue 21)."""

    def __init__(self) -> None:
        self.cut = False

    def __call__(self, value: object, depth: int = 0) -> object:
        kind = type(value)
        if kind in (str, bytes, bytearray):
            return self._text(value)  # type: ignore[arg-type]
        if kind in (int, float, complex, bool) or value is None:
            return value
        base = next((base for base in _CONTAINERS if isinstance(value, base)), None)
        if base is None:  # any other object: its repr, cut
            text = _bounded(safe_repr, value)
            if text is None:
                return _Shown(_no_repr(value))
            if len(text) <= SHOW_CHARS:
                return value
            self.cut = True
            return _Shown(f"{text[:SHOW_CHARS]}... ({len(text) - SHOW_CHARS:,} more characters)")
        if kind is not base:  # a subclass (OrderedDict, a namedtuple...): as is while short
            if len(value) <= SHOW_ITEMS:  # type: ignore[arg-type]
                return value
            return _Shown(f"{kind.__qualname__}({self._container(value, base, depth)!r})")
        return self._container(value, base, depth)

    def _container(self, value: Any, kind: type, depth: int) -> object:
        size = len(value)
        if depth >= SHOW_DEPTH and size:
            self.cut = True
            return _Shown(f"<{kind.__name__} of {size:,} item(s)>")
        more = [_Shown(f"... {size - SHOW_ITEMS:,} more item(s)")] if size > SHOW_ITEMS else []
        self.cut = self.cut or bool(more)
        if kind is dict:
            shown = {
                self(key, depth + 1): self(item, depth + 1)
                for key, item in itertools.islice(value.items(), SHOW_ITEMS)
            }
            if more:
                shown[_Shown("...")] = _Shown(f"{size - SHOW_ITEMS:,} more item(s)")
            return shown
        items = [self(item, depth + 1) for item in itertools.islice(value, SHOW_ITEMS)]
        if kind in (set, frozenset):
            return kind(items + more)
        return tuple(items + more) if kind is tuple else items + more

    def _text(self, value: str | bytes | bytearray) -> object:
        if len(value) <= SHOW_CHARS:
            return value
        self.cut = True
        head = repr(value[:SHOW_CHARS])
        unit = "character" if isinstance(value, str) else "byte"
        return _Shown(f"{head}... ({len(value) - SHOW_CHARS:,} more {unit}s)")


#: How long showing one value may run its own ``__repr__`` (a loaded capture's object runs
#: the program's code there) before it is shown as a placeholder: ``show`` never hangs.
REPR_SECONDS = 5.0


def _pretty(value: object, indent: int) -> str:
    text = _bounded(_pformat, value, indent)
    if text is None:
        text = _no_repr(value)
    pad = " " * indent
    return text.replace("\n", "\n" + pad)


def _pformat(value: object, indent: int) -> str:
    try:
        return pprint.pformat(value, width=max(40, _WIDTH - indent), sort_dicts=False)
    except Exception:  # noqa: BLE001 - pprint calls the object's __repr__
        return safe_repr(value, _REPR_LIMIT)


#: Classes a value of which ran past the budget: their other values are not tried (an export
#: of a thousand such values would otherwise take a thousand budgets).
_stuck: set[type] = set()


def _bounded(show: Callable[..., str], value: object, *args: Any) -> str | None:
    """``show(value, *args)``, or ``None`` when the value's own code (its ``__repr__``) ran
    past :data:`REPR_SECONDS`, or a value of its class did: ``show`` and ``export`` never
    hang on a loaded object."""
    kind = type(value)
    if kind in _stuck:
        return None
    try:
        with time_budget("show", REPR_SECONDS, doing="showing a value"):
            return show(value, *args)
    except SnapshotTimeout:
        _stuck.add(kind)
        return None


def _no_repr(value: object) -> str:
    return f"<a {_class_name(value)} whose repr did not return within {REPR_SECONDS:g} s>"


def _class_name(value: object) -> str:
    try:
        return str(type.__dict__["__qualname__"].__get__(type(value)))
    except Exception:  # noqa: BLE001 - a hostile metaclass: a generic name
        return "object"


def format_record(
    record: Mapping[str, Any], *, name: str, index: int, file: str, full: bool = False
) -> str:
    """One capture as readable text: arguments, metadata, redaction report, result.

    Long values are cut (``SHOW_ITEMS`` items per container, ``SHOW_CHARS`` characters per
    string, ``SHOW_DEPTH`` levels), saying how much was left out, unless ``full``.
    """
    shorten = _Shortener()
    if not full:  # each argument on its own, however many there are
        record = {
            **record,
            "args": [shorten(value) for value in record.get("args") or []],
            "kwargs": {key: shorten(value) for key, value in (record.get("kwargs") or {}).items()},
            **({"result": shorten(record["result"])} if "result" in record else {}),
        }
    lines = [
        f"{name}  capture #{index} (0 = newest)",
        f"  file:      {file}",
        f"  timestamp: {_printable(record.get('timestamp', '-'))}",
    ]
    metadata = dict(record.get("metadata") or {})
    if "calls" in metadata:
        # Deduplicated: the calls this capture stands for, the first at ``timestamp``.
        calls, last = metadata.pop("calls"), metadata.pop("last_seen", "-")
        lines.append(f"  calls:     {_printable(calls)} (last seen {_printable(last)})")
    args = list(record.get("args") or [])
    kwargs = dict(record.get("kwargs") or {})
    lines.append("args:" if args else "args: (none)")
    lines.extend(f"  [{i}] {_pretty(value, 6)}" for i, value in enumerate(args))
    lines.append("kwargs:" if kwargs else "kwargs: (none)")
    lines.extend(
        f"  {_printable(key)} = {_pretty(value, 5 + len(_printable(key)))}"
        for key, value in kwargs.items()
    )
    for key in ("self", "self_after"):
        if key in record:
            lines.extend(_format_receiver(key, record[key], None if full else shorten))
    redactions = metadata.pop("redactions", None) or []
    lines.append("metadata:" if metadata else "metadata: (none)")
    lines.extend(
        f"  {_printable(key)}: {_pretty(value, 4 + len(_printable(key)))}"
        for key, value in metadata.items()
    )
    if redactions:
        lines.append(f"redactions: {len(redactions)} value(s) filtered before storing")
        for item in redactions:
            if isinstance(item, Mapping):
                path, reason = item.get("path", "?"), item.get("reason", "?")
                lines.append(f"  {_printable(path)}: {_printable(reason)}")
            else:
                lines.append(f"  {safe_repr(item, _REPR_LIMIT)}")
    else:
        lines.append("redactions: none")
    lines.extend(_format_result(record))
    if shorten.cut:
        lines.append("(long values shortened; --full shows them whole)")
    return "\n".join(lines)


def _format_receiver(key: str, value: object, shorten: _Shortener | None) -> list[str]:
    """A method's receiver: its class and attributes (its repr says little: ``<C at 0x…>``),
    each cut like an argument unless ``shorten`` is None (``--full``)."""

    def cut(item: object) -> object:
        return item if shorten is None else shorten(item)

    if isinstance(value, str):  # a placeholder: why it could not be stored
        return [f"{key}: {_pretty(cut(value), len(key) + 2)}"]
    kind = type(value)
    try:
        state = dict(vars(value))
    except TypeError:  # no __dict__ (slots, a builtin type): as it prints
        return [f"{key}: {_pretty(cut(value), len(key) + 2)}"]
    lines = [
        f"{key}: {_printable(f'{kind.__module__}.{kind.__qualname__}')}"
        + ("" if state else " (no attributes)")
    ]
    lines.extend(
        f"  .{_printable(name)} = {_pretty(cut(item), 6 + len(_printable(name)))}"
        for name, item in state.items()
    )
    return lines


def _format_result(record: Mapping[str, Any]) -> list[str]:
    if "result" not in record:
        return ["result: not recorded (record_result is off)"]
    result = record["result"]
    if isinstance(result, Mapping) and "exception" in result:
        exc = result["exception"]
        if isinstance(exc, Mapping):
            where = f"{exc.get('module')}." if exc.get("module") not in (None, "builtins") else ""
            raised = f"{where}{exc.get('type')}: {exc.get('message')}"
            return [f"result: raised {_printable(raised)}"]
        return [f"result: raised {safe_repr(exc, _REPR_LIMIT)}"]
    if isinstance(result, Mapping) and result.get("is_self"):
        return ["result: returned self (its state is self_after)"]
    if isinstance(result, Mapping) and "value" in result:
        return [f"result: returned {_pretty(result['value'], 17)}"]
    return [f"result: {_pretty(result, 8)}"]
