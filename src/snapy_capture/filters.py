"""Argument filtering: nothing sensitive may reach the disk.

Four kinds of filtering, applied together by :class:`ArgumentFilter`:

* **name-based** — parameter names (bound through the signature, so a secret passed
  positionally is caught), dict keys, dataclass and namedtuple fields and object attributes,
  at any depth, matched case- and separator-insensitively against :data:`SENSITIVE_PATTERNS`;
* **value-based** — :meth:`ArgumentFilter.contains_pii` over ``pii_patterns``; the matching
  span is masked and the rest of the string kept;
* **type-based** — values that cannot or should not be stored (locks, sockets, open files,
  threads, generators, database connections, and any ``filter_types``);
* **size-based** — values larger than a limit, when ``ignore_large_objects`` is on.

A filtered value is replaced *in place* by a :class:`Redacted` placeholder so that replay still
binds. The traversal is copy-on-write: the caller's objects are never mutated, and an argument
with nothing to filter is passed through as the same object. If filtering an argument fails in
any way, the whole argument is redacted (fail closed).
"""

from __future__ import annotations

import copy
import dataclasses
import io
import re
import threading
import types
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

__all__ = ["PII_PATTERNS", "SENSITIVE_PATTERNS", "ArgumentFilter", "FilterResult", "Redacted"]

#: The seed's list, kept first and exactly; then the names users expect to be caught too.
SENSITIVE_PATTERNS: Final[list[str]] = [
    "password", "token", "secret", "key", "auth",
    "api_key", "access_token", "refresh_token",
    "session_id", "csrf_token", "oauth_token",
    "passwd", "pwd", "passphrase", "private_key", "credential", "cookie",
    "authorization", "jwt", "bearer", "signature", "ssn", "cvv", "pin_code",
]

_CARD = r"\b(?:\d[ -]?){12,18}\d\b"
#: Default value patterns: secrets and payment data, not ordinary PII such as e-mail addresses
#: (masking those by default would break the replay of most user-facing functions; add
#: ``EMAIL_PATTERN`` to ``pii_patterns`` to mask them too).
PII_PATTERNS: Final[list[str]] = [
    r"\b\d{3}-\d{2}-\d{4}\b",  # US social security number
    _CARD,  # payment card numbers, Luhn-checked below
    r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+",  # JSON web token
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)",
    r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",  # AWS access key id
    r"\bgh[pousr]_[A-Za-z0-9]{36,}\b",  # GitHub token
    r"\bxox[abposr]-[A-Za-z0-9-]{10,}",  # Slack token
    r"\bAIza[0-9A-Za-z_-]{35}\b",  # Google API key
    r"\b[sr]k_(?:live|test)_[0-9A-Za-z]{16,}\b",  # Stripe secret key
    r"\bsk-[A-Za-z0-9_-]{20,}\b",  # OpenAI-style secret key
    r"(?i)\bbearer\s+[A-Za-z0-9._~+/-]{16,}=*",  # bearer credentials in headers
]
EMAIL_PATTERN: Final = r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b"

# Types that cannot or should not be stored, named by "module.qualname" anywhere in the MRO so
# that checking them imports nothing (sqlite3 or socket may never be loaded in the host).
_UNSTORABLE_NAMES: Final = frozenset({
    "socket.socket", "_socket.socket", "ssl.SSLSocket", "sqlite3.Connection", "sqlite3.Cursor",
    "_thread.lock", "_thread.RLock", "threading.Condition", "threading.Semaphore",
    "threading.Event", "threading.Thread", "multiprocessing.process.BaseProcess",
    "asyncio.events.AbstractEventLoop", "selectors.BaseSelector", "subprocess.Popen",
    "psycopg2.extensions.connection", "psycopg.Connection", "pymysql.connections.Connection",
    "sqlalchemy.engine.base.Connection", "sqlalchemy.orm.session.Session",
})
_UNSTORABLE_TYPES: Final = (
    io.IOBase, types.GeneratorType, types.AsyncGeneratorType, types.CoroutineType,
    types.FrameType, types.TracebackType, types.ModuleType,
)
_ATOMIC: Final = frozenset({int, float, complex, bool, type(None), type(Ellipsis)})
_NORMALIZE = re.compile(r"[^a-z0-9]")


class Redacted(str):
    """Placeholder left where a value was filtered; a ``str``, so replay binds and JSON stores it.

    ``str(placeholder)`` is ``"[FILTERED: <reason>]"``; the reason never contains the value.
    """

    reason: str

    def __new__(cls, reason: str) -> Redacted:
        obj = super().__new__(cls, f"[FILTERED: {reason}]")
        obj.reason = reason
        return obj

    def __reduce__(self) -> tuple[Any, ...]:
        return (Redacted, (self.reason,))

    def __repr__(self) -> str:
        return str.__repr__(str(self))


@dataclasses.dataclass(frozen=True)
class FilterResult:
    """What :meth:`ArgumentFilter.filter_call` returns: filtered arguments and a report."""

    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    #: One ``{"path": ..., "reason": ...}`` per filtered value, never the value itself.
    redactions: list[dict[str, str]]


CustomFilter = Callable[[str, "str | None", Any], Any]


class _Restart(Exception):
    """A cycle reached an object still being filtered: redo the argument in copying mode."""


def _luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        number = ord(char) - 48
        if position % 2:
            number = number * 2 - 9 if number > 4 else number * 2
        total += number
    return total % 10 == 0


class ArgumentFilter:
    """Replaces sensitive, unstorable and oversized values in call arguments by placeholders.

    Args:
        ignore_args: extra sensitive names, added to ``patterns``.
        allow_args: names kept even though a pattern matches them (e.g. ``"sort_key"``).
        patterns: the sensitive name patterns; :data:`SENSITIVE_PATTERNS` by default.
        pii_patterns: regular expressions for secret-shaped values; :data:`PII_PATTERNS`.
        filter_pii: whether values are checked at all.
        filter_types: more types to replace by a placeholder naming the type.
        max_size: values with more items, characters or bytes are replaced (``None``: no limit).
        max_depth: deeper values are replaced, since they cannot be inspected.
    """

    def __init__(
        self,
        ignore_args: Iterable[str] = (),
        *,
        allow_args: Iterable[str] = (),
        patterns: Iterable[str] | None = None,
        pii_patterns: Iterable[str] | None = None,
        filter_pii: bool = True,
        filter_types: Sequence[type] = (),
        max_size: int | None = None,
        max_depth: int = 32,
    ) -> None:
        self.patterns = list(SENSITIVE_PATTERNS if patterns is None else patterns)
        self.ignore_args = list(ignore_args)
        self.allow_args = list(allow_args)
        self.pii_patterns: list[str] = list(PII_PATTERNS if pii_patterns is None else pii_patterns)
        self.filter_pii = filter_pii
        self.filter_types = tuple(filter_types)
        self.max_size = max_size
        self.max_depth = max_depth
        self.custom_filters: list[CustomFilter] = []
        self._name_cache: dict[str, str | None] = {}
        self._name_key: tuple[Any, ...] = ()
        self._pii_key: tuple[str, ...] = ()
        self._pii_regex: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def derive(self, **changes: Any) -> ArgumentFilter:
        """A copy (same class, same custom filters) with ``changes`` applied to its attributes."""
        derived = copy.copy(self)
        for attr, value in changes.items():
            setattr(derived, attr, value)
        derived._name_cache = {}
        derived._name_key = ()
        derived._pii_regex = None
        derived._lock = threading.Lock()
        return derived

    # --- extension points -------------------------------------------------------------

    def add_filter(self, func: CustomFilter) -> CustomFilter:
        """Register ``func(path, name, value)``; return ``value`` to keep it, or a replacement.

        Usable as a decorator. ``name`` is the parameter, key or attribute name, or ``None``.
        """
        self.custom_filters.append(func)
        return func

    def sensitive_pattern(self, name: str) -> str | None:
        """Return the pattern that makes ``name`` sensitive, or ``None``."""
        key = (tuple(self.patterns), tuple(self.ignore_args), tuple(self.allow_args))
        if key != self._name_key:
            with self._lock:
                self._name_cache = {}
                self._name_key = key
        cache = self._name_cache
        if name in cache:
            return cache[name]
        normalized = _NORMALIZE.sub("", name.lower())
        allowed = {_NORMALIZE.sub("", allow.lower()) for allow in self.allow_args}
        verdict = None
        if normalized not in allowed:
            for pattern in (*self.patterns, *self.ignore_args):
                needle = _NORMALIZE.sub("", pattern.lower())
                if needle and needle in normalized:
                    verdict = pattern
                    break
        if len(cache) < 10_000:
            cache[name] = verdict
        return verdict

    def is_sensitive_name(self, name: str) -> bool:
        """Whether a parameter, key or attribute called ``name`` must not be stored."""
        return self.sensitive_pattern(name) is not None

    def contains_pii(self, value: Any) -> bool:
        """Whether ``value`` (a string) holds something shaped like a secret."""
        if not isinstance(value, str):
            return False
        regex = self._compiled_pii()
        return any(self._valid_match(m) for m in regex.finditer(value))

    def mask_pii(self, value: str) -> str:
        """Return ``value`` with every span matching ``pii_patterns`` masked."""
        regex = self._compiled_pii()

        def replace(match: re.Match[str]) -> str:
            return "[FILTERED: pii]" if self._valid_match(match) else match.group(0)

        return regex.sub(replace, value)

    def unstorable_reason(self, value: Any) -> str | None:
        """A placeholder reason when ``value``'s type must not be stored, else ``None``."""
        kind = type(value)
        if self.filter_types and isinstance(value, self.filter_types):
            return f"type {kind.__qualname__}"
        if isinstance(value, _UNSTORABLE_TYPES):
            return f"unstorable {kind.__qualname__}"
        for klass in kind.__mro__:
            if f"{klass.__module__}.{klass.__qualname__}" in _UNSTORABLE_NAMES:
                return f"unstorable {kind.__qualname__}"
        return None

    # --- the traversal ----------------------------------------------------------------

    def filter_call(
        self, param_names: Sequence[str], args: Sequence[Any], kwargs: dict[str, Any]
    ) -> FilterResult:
        """Filter one call's arguments.

        Args:
            param_names: the parameter name of each positional argument, as bound through the
                signature (``*args`` overflow is named after the var-positional parameter).
            args: positional arguments as called (without ``self``/``cls``).
            kwargs: keyword arguments as called.
        """
        report: list[dict[str, str]] = []
        new_args = []
        for index, value in enumerate(args):
            name = param_names[index] if index < len(param_names) else None
            path = name if name is not None else f"args[{index}]"
            new_args.append(self._filter_argument(path, name, value, report))
        new_kwargs = {
            key: self._filter_argument(key, key, value, report) for key, value in kwargs.items()
        }
        return FilterResult(tuple(new_args), new_kwargs, report)

    def filter_value(self, value: Any, name: str | None = None) -> tuple[Any, list[dict[str, str]]]:
        """Filter one value (e.g. a recorded return value); returns it and the report."""
        report: list[dict[str, str]] = []
        return self._filter_argument(name or "value", name, value, report), report

    def _filter_argument(
        self, path: str, name: str | None, value: Any, report: list[dict[str, str]]
    ) -> Any:
        mark = len(report)
        try:
            try:
                return _Walk(self, report, copying=False).visit(path, name, value, 0)
            except _Restart:
                del report[mark:]
                return _Walk(self, report, copying=True).visit(path, name, value, 0)
        except Exception as exc:  # noqa: BLE001 - fail closed: what we cannot inspect is not stored
            del report[mark:]
            report.append({"path": path, "reason": f"filter error ({type(exc).__name__})"})
            return Redacted(f"could not be inspected: {type(value).__name__}")

    def _compiled_pii(self) -> re.Pattern[str]:
        key = tuple(self.pii_patterns)
        if self._pii_regex is None or key != self._pii_key:
            # One alternation is far cheaper than one search per pattern on every string.
            parts = [f"(?P<p{i}>{p})" if not p.startswith("(?i)") else f"(?P<p{i}>(?i:{p[4:]}))"
                     for i, p in enumerate(key)]
            self._pii_regex = re.compile("|".join(parts) or r"(?!x)x")
            self._pii_key = key
        return self._pii_regex

    def _valid_match(self, match: re.Match[str]) -> bool:
        group = match.lastgroup
        if group is not None and self._pii_key[int(group[1:])] == _CARD:
            digits = re.sub(r"\D", "", match.group(0))
            return 13 <= len(digits) <= 19 and _luhn(digits)
        return True


class _Walk:
    """One traversal of one argument (copy-on-write, or copying when a cycle needs it)."""

    __slots__ = ("copying", "flt", "in_progress", "memo", "report")

    def __init__(self, flt: ArgumentFilter, report: list[dict[str, str]], *, copying: bool):
        self.flt = flt
        self.report = report
        self.copying = copying
        self.memo: dict[int, tuple[Any, Any]] = {}
        self.in_progress: set[int] = set()

    def redact(self, path: str, reason: str) -> Redacted:
        self.report.append({"path": path, "reason": reason})
        return Redacted(reason)

    def visit(self, path: str, name: str | None, value: Any, depth: int) -> Any:
        flt = self.flt
        if name is not None and (pattern := flt.sensitive_pattern(name)) is not None:
            return self.redact(path, f"sensitive name ({pattern})")
        for custom in flt.custom_filters:
            replaced = custom(path, name, value)
            if replaced is not value:
                self.report.append({"path": path, "reason": "custom filter"})
                return replaced
        kind = type(value)
        if kind in _ATOMIC:
            return value
        if kind is str or kind is Redacted:
            return self.visit_str(path, value)
        limit = flt.max_size
        if kind is bytes or kind is bytearray:
            if limit is not None and len(value) > limit:
                return self.redact(path, f"{kind.__name__} of {len(value)} bytes")
            return value
        if depth >= flt.max_depth:
            return self.redact(path, f"nested deeper than {flt.max_depth}")
        if (reason := flt.unstorable_reason(value)) is not None:
            return self.redact(path, reason)
        if isinstance(value, str):
            return self.visit_str(path, value)
        key = id(value)
        if key in self.memo:
            return self.memo[key][1]
        if key in self.in_progress:
            if not self.copying:
                raise _Restart
            # Lists, dicts and objects are memoized before their items are visited, so only an
            # immutable container (a tuple) can be met again here; fail closed.
            return self.redact(path, "cyclic reference")
        self.in_progress.add(key)
        try:
            result = self.visit_container(path, value, depth + 1)
        finally:
            self.in_progress.discard(key)
        self.memo[key] = (value, result)
        return result

    def visit_str(self, path: str, value: str) -> Any:
        flt = self.flt
        if flt.max_size is not None and len(value) > flt.max_size:
            return self.redact(path, f"str of {len(value)} characters")
        if flt.filter_pii and flt.contains_pii(value):
            masked = flt.mask_pii(value)
            if masked == value:
                masked = Redacted("pii")
            self.report.append({"path": path, "reason": "pii"})
            return masked
        return value

    def too_big(self, path: str, value: Any) -> Redacted | None:
        limit = self.flt.max_size
        if limit is not None and len(value) > limit:
            return self.redact(path, f"{type(value).__name__} of {len(value)} items")
        return None

    def visit_container(self, path: str, value: Any, depth: int) -> Any:
        if isinstance(value, dict):
            if (big := self.too_big(path, value)) is not None:
                return big
            return self.visit_dict(path, value, depth)
        if isinstance(value, (list, tuple, set, frozenset)):
            if (big := self.too_big(path, value)) is not None:
                return big
            return self.visit_sequence(path, value, depth)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            names = [f.name for f in dataclasses.fields(value)]
            return self.visit_object(path, value, names, depth)
        if isinstance(value, type) or callable(value) and not hasattr(value, "__dict__"):
            return value
        names = _attribute_names(value)
        if names is None:
            return value
        return self.visit_object(path, value, names, depth)

    def visit_dict(self, path: str, value: dict[Any, Any], depth: int) -> Any:
        out: dict[Any, Any] | None = None
        if self.copying:
            out = _empty_like(value)
            self.memo[id(value)] = (value, out)
        for index, (key, item) in enumerate(value.items()):
            name = key if isinstance(key, str) else (
                key.decode("utf-8", "replace") if isinstance(key, bytes) else None
            )
            new = self.visit(f"{path}[{key!r}]" if name is not None else f"{path}[#{index}]",
                             name, item, depth)
            if out is None and new is not item:
                out = _empty_like(value)
                for done_key, done_item in list(value.items())[:index]:
                    out[done_key] = done_item
            if out is not None:
                out[key] = new
        return value if out is None else out

    def visit_sequence(self, path: str, value: Any, depth: int) -> Any:
        items = list(value)
        fields = getattr(type(value), "_fields", None) if isinstance(value, tuple) else None
        copied: list[Any] | None = None
        if self.copying and isinstance(value, list):
            copied = []
            self.memo[id(value)] = (value, copied)
        changed = False
        new_items = []
        for index, item in enumerate(items):
            name = fields[index] if fields and index < len(fields) else None
            where = f"{path}.{name}" if name else f"{path}[{index}]"
            new = self.visit(where, name, item, depth)
            changed = changed or new is not item
            new_items.append(new)
        if copied is not None:
            copied.extend(new_items)
            return copied
        if not changed:
            return value
        if isinstance(value, list):
            return new_items
        if fields is not None:
            return type(value)(*new_items)
        if isinstance(value, tuple):
            return tuple(new_items) if type(value) is tuple else type(value)(new_items)
        return type(value)(new_items) if type(value) in (set, frozenset) else set(new_items)

    def visit_object(self, path: str, value: Any, names: list[str], depth: int) -> Any:
        duplicate = None
        if self.copying:
            duplicate = _copy_object(value)
            self.memo[id(value)] = (value, duplicate)
        changes: dict[str, Any] = {}
        for attr in names:
            try:
                item = getattr(value, attr)
            except Exception:  # noqa: BLE001, S112 - a raising attribute is simply not stored
                continue
            new = self.visit(f"{path}.{attr}", attr, item, depth)
            if new is not item:
                changes[attr] = new
        if not changes:
            return value if duplicate is None else duplicate
        if duplicate is None:
            duplicate = _copy_object(value)
        for attr, new in changes.items():
            object.__setattr__(duplicate, attr, new)
        return duplicate


def _copy_object(value: Any) -> Any:
    duplicate = copy.copy(value)
    if duplicate is value:
        raise TypeError(f"{type(value).__name__} cannot be copied")
    return duplicate


def _empty_like(value: dict[Any, Any]) -> dict[Any, Any]:
    if type(value) is dict:
        return {}
    duplicate = copy.copy(value)
    duplicate.clear()
    return duplicate


def _attribute_names(value: Any) -> list[str] | None:
    """Names of the instance attributes pickle would store, or ``None`` for opaque objects."""
    names: list[str] = []
    instance_dict = getattr(value, "__dict__", None)
    if isinstance(instance_dict, dict):
        names.extend(key for key in instance_dict if isinstance(key, str))
    for klass in type(value).__mro__:
        slots = klass.__dict__.get("__slots__", ())
        for slot in (slots,) if isinstance(slots, str) else slots:
            if slot not in ("__dict__", "__weakref__") and slot not in names:
                names.append(slot)
    return names if names or instance_dict is not None else None
