"""Name matching for :class:`~snapy_capture.filters.ArgumentFilter`: is this name sensitive?

Also the watched lists that hold the filter's name and PII patterns: they count their own
changes, so a filter's caches are validated by one integer compare instead of by rebuilding
tuples of patterns on every call.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, Final

from snapy_capture.errors import ConfigError
from snapy_capture.filters._redacted import Redacted

__all__ = [
    "SENSITIVE_PATTERNS",
    "Watched",
    "changed",
    "generation",
    "match_name",
    "name_list",
    "names_key",
    "pair_key",
    "version",
]

_NORMALIZE: Final = re.compile(r"[^a-z0-9]")
_WORDS: Final = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
#: Patterns that name a secret only as the last word of a name (digits aside): ``pin``,
#: ``userPin``, ``db_pass``, ``pin2`` match; ``spinner``, ``pinned``, ``pin_count``, ``bypass``,
#: ``passenger``, ``sidebar``, ``session_count`` do not. Read as substrings (or as the start of
#: a word), these short words would match far too many ordinary names.
LAST_WORD: Final = frozenset({"pass", "pin", "sid", "session", "dsn", "creds"})

#: The default sensitive name patterns: the contract's minimum list first, then the names
#: users expect to be caught too. Matching: see :meth:`ArgumentFilter.sensitive_pattern`.
SENSITIVE_PATTERNS: Final[list[str]] = [
    "password",
    "token",
    "secret",
    "key",
    "auth",
    "api_key",
    "access_token",
    "refresh_token",
    "session_id",
    "csrf_token",
    "oauth_token",
    "passwd",
    "pwd",
    "pw",
    "passphrase",
    "private_key",
    "credential",
    "cookie",
    "authorization",
    "jwt",
    "bearer",
    "signature",
    "otp",
    "ssn",
    "cvv",
    "cvc",
    "pin_code",
    "card_number",
    "credit_card",
    "passcode",
    "mfa_code",
    "conn_str",
    # Only as the last word of a name (see ``LAST_WORD``): "db_pass", not "bypass".
    "pass",
    "pin",
    "sid",
    "session",
    "dsn",
    "creds",
]

#: Bumped on every change to any watched list; a one-item list so importers share the counter.
generation = [0]


def name_list(value: str | Iterable[str] | None) -> list[str]:
    """Names from a list, or from a comma-separated string (as written in a config file)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    names = list(value)
    for name in names:
        if not isinstance(name, str):
            raise ConfigError(f"expected names (strings), got {name!r}")
    return names


def changed() -> None:
    """Invalidate every cache keyed on :data:`generation`."""
    generation[0] += 1


class Watched(list):  # type: ignore[type-arg]
    """A list that tells the filters' caches when it changes (see :func:`version`)."""

    __slots__ = ()


def _watching(name: str) -> Callable[..., Any]:
    method = getattr(list, name)

    def mutate(self: list[Any], *args: Any) -> Any:
        result = method(self, *args)
        changed()
        return result

    mutate.__name__ = name
    return mutate


for _mutator in (
    "__setitem__",
    "__delitem__",
    "__iadd__",
    "__imul__",
    "append",
    "extend",
    "insert",
    "pop",
    "remove",
    "clear",
    "sort",
    "reverse",
):
    setattr(Watched, _mutator, _watching(_mutator))


def version(items: Any) -> Any:
    """A cache key for ``items`` that changes whenever its contents do."""
    # Watched lists are validated by the change counter; anything else (a list a subclass put
    # in place of the property) by its contents.
    if type(items) is Watched:
        return generation[0]
    return tuple(items)


def names_key(patterns: Any, ignore: Any, allow: Any) -> Any:
    """The cache key for name verdicts made with these three lists (see :func:`version`)."""
    if type(patterns) is Watched and type(ignore) is Watched and type(allow) is Watched:
        return generation[0]
    return (tuple(patterns), tuple(ignore), tuple(allow))


def match_name(name: str, patterns: Iterable[str], allow: Iterable[str]) -> str | None:
    """The first of ``patterns`` that makes ``name`` sensitive, or ``None``.

    The rules are documented on :meth:`~snapy_capture.filters.ArgumentFilter.sensitive_pattern`.
    """
    normalized = _NORMALIZE.sub("", name.lower())
    if not normalized:
        return None
    if normalized in {_NORMALIZE.sub("", allowed.lower()) for allowed in allow}:
        return None
    # Offsets in ``normalized`` where a word of ``name`` starts or ends: short patterns must
    # line up with them, so ``ssn`` does not match ``business``.
    bounds = {0}
    words = _WORDS.findall(name)
    for word in words:
        bounds.add(max(bounds) + len(word))
    last = next((word.lower() for word in reversed(words) if not word.isdigit()), None)
    for pattern in patterns:
        needle = _NORMALIZE.sub("", pattern.lower())
        if not needle:
            continue
        if needle in LAST_WORD:
            if needle == last:
                return pattern
            continue
        start = normalized.find(needle)
        while start >= 0:
            end = start + len(needle)
            if (
                len(needle) >= 4
                or (len(needle) == 3 and (start in bounds or end in bounds))
                or (start in bounds and end in bounds)
            ):
                return pattern
            start = normalized.find(needle, start + 1)
    return None


def pair_key(value: Any, items: list[Any]) -> str | None:
    """The key of a ``(key, value)`` pair, else ``None``.

    A pair is a list or a plain tuple (not a namedtuple: its fields name its items) of two
    items whose first is text: ``("password", pw)``, an HTTP header ``("Authorization", ...)``.
    Its second item is then checked by that name, as a dict value is by its key.
    """
    if len(items) != 2 or not isinstance(value, (list, tuple)) or hasattr(type(value), "_fields"):
        return None
    key = items[0]
    if not isinstance(key, str) or type(key) is Redacted:
        return None
    return str.__str__(key)  # a plain str: no __hash__ or __eq__ of a subclass runs on it
