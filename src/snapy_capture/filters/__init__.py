"""Argument filtering: nothing sensitive may reach the disk.

Four kinds of filtering, applied together by :class:`ArgumentFilter`:

* **name-based** — parameter names (bound through the signature, so a secret passed
  positionally is caught), dict keys, dataclass and namedtuple fields and object attributes,
  at any depth, matched by whole words and known compounds against :data:`SENSITIVE_PATTERNS`
  (``db_password``, ``X-Api-Key``, ``apiKey``; not ``sort_key``, ``tokens``, ``author``);
* **value-based** — :meth:`ArgumentFilter.contains_pii` over ``pii_patterns``; the matching
  span is masked and the rest of the string kept;
* **type-based** — values that cannot or should not be stored (locks, sockets, open files,
  threads, generators, database connections, and any ``filter_types``);
* **size-based** — values larger than ``max_size`` (the configuration's
  ``ignore_large_objects`` / ``large_object_size`` set it).

A filtered value is replaced *in place* by a :class:`Redacted` placeholder so that replay still
binds. Cycles and shared references are kept, not filtered: an object reached twice in one
call is stored once. The traversal is copy-on-write: the caller's objects
are never mutated, and an argument with nothing to filter is passed through as the same
object. If filtering an argument fails in any way, the whole argument is redacted (fail closed).
Most arguments never need the traversal: a fast path proves from the same caches that they
pass unchanged.

Where things are: the filter class in :mod:`._filter`; name matching and
:data:`SENSITIVE_PATTERNS` in :mod:`._names`; secret-shaped values in :mod:`._pii`; unstorable
types in :mod:`._unstorable`; the walk in :mod:`._traverse` (objects in :mod:`._objects`); the
fast path in :mod:`._quick`; the ``arg_filter`` option in :mod:`._filterspec`; the placeholder
in :mod:`._redacted`; inert copies of objects in :mod:`._inert`. This module only re-exports.
"""

from __future__ import annotations

from snapy_capture.filters._filter import ArgumentFilter, FilterResult
from snapy_capture.filters._filterspec import check_filter_spec, resolve_filter_spec
from snapy_capture.filters._inert import Inert, inert_loads
from snapy_capture.filters._names import SENSITIVE_PATTERNS
from snapy_capture.filters._pickled import attribute_names
from snapy_capture.filters._pii import EMAIL_PATTERN, PII_PATTERNS
from snapy_capture.filters._redacted import Redacted

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from snapy_capture.filters._questions import CustomFilter

__all__ = [
    "EMAIL_PATTERN",
    "PII_PATTERNS",
    "SENSITIVE_PATTERNS",
    "ArgumentFilter",
    "CustomFilter",
    "FilterResult",
    "Inert",
    "Redacted",
    "attribute_names",
    "check_filter_spec",
    "inert_loads",
    "resolve_filter_spec",
]


def __getattr__(name: str) -> object:  # PEP 562: made where first asked for (see there)
    if name == "CustomFilter":
        from snapy_capture.filters import _questions  # noqa: PLC0415

        return _questions.CustomFilter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:  # the names made where first asked for are listed, as they were
    return sorted({*globals(), *__all__})
