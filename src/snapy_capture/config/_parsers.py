"""Value parsers for the option table in :mod:`snapy_capture.config`.

Each takes what code, YAML or an environment variable may give for one option, and returns the
normalized value or raises ``ValueError`` saying what is wrong; ``config.parse_option`` turns that
into a ``ConfigError`` naming the option.

Two options take objects of layers above this one: ``serializer`` and ``arg_filter``. Only their
shape is checked here; a serializer name is looked up by ``storage.serializers``, and a mapping
of filter options is checked key by key where filters are built
(``filters.check_filter_spec``, ``filters.resolve_filter_spec``).
"""

from __future__ import annotations

import functools
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping

from snapy_capture._stdtypes import datetime

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from typing import Any, Final
else:  # for typing.get_type_hints of the public names (see there)
    from snapy_capture._stdtypes import for_readers

    for_readers(globals(), {"Any": "typing:Any"})

__all__ = [
    "SERIALIZER_NAMES",
    "arg_filter",
    "boolean",
    "duration",
    "is_dotted_path",
    "is_url",
    "names",
    "optional",
    "optional_serializer",
    "path",
    "positive_float",
    "positive_int",
    "rate",
    "root",
    "serializer",
    "signing_key",
    "storage_options",
    "thaw",
]

_TRUE = frozenset({"1", "true", "yes", "on", "y", "t"})
_FALSE = frozenset({"0", "false", "no", "off", "n", "f", ""})
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
#: The built-in serializers' names: what the ``serializer`` option accepts as a string, and
#: the names ``storage.serializers`` registers its classes under.
SERIALIZER_NAMES: Final = ("pickle", "json", "jsonpickle")
_IDENT: Final = r"[A-Za-z_]\w*"


# Compiled where first used, not as the capture layer loads (~0.3 ms of its start-up): only a
# duration or a filter given as text needs them. (Thread-safe: two threads may both compile.)
@functools.cache
def _duration() -> re.Pattern[str]:
    return re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$", re.IGNORECASE)


@functools.cache
def _dotted() -> re.Pattern[str]:
    """``module:name`` (each side dotted names), or ``package.module.name`` (a dot at least:
    a bare word names no module to import the name from)."""
    return re.compile(
        rf"^(?:{_IDENT}(?:\.{_IDENT})*:{_IDENT}(?:\.{_IDENT})*|{_IDENT}(?:\.{_IDENT})+)$"
    )


def boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"expected a boolean (true/false), got {value!r}")


def positive_int(value: object) -> int:
    if isinstance(value, bool):
        raise ValueError(f"expected a positive integer, got {value!r}")
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise ValueError(f"expected a positive integer, got {value!r}") from None
    if not isinstance(value, int) or value < 1:
        raise ValueError(f"expected a positive integer, got {value!r}")
    return value


def optional(parse: Callable[[object], Any]) -> Callable[[object], Any]:
    def parse_optional(value: object) -> Any:
        if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "")):
            return None
        return parse(value)

    return parse_optional


def duration(value: object) -> float:
    """Seconds from a number, a ``timedelta`` or a string such as ``"90s"``, ``"12h"``, ``"7d"``."""
    if isinstance(value, datetime.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (match := _duration().match(value)):
        seconds = float(match.group(1)) * _DURATION_UNITS[(match.group(2) or "s").lower()]
    else:
        raise ValueError(f"expected a duration (seconds, or e.g. '30m', '7d'), got {value!r}")
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"expected a positive duration, got {value!r}")
    return seconds


def _number(value: object, expected: str, ok: Callable[[float], bool]) -> float:
    """``value`` as a float (not a bool) for which ``ok`` holds, else a ValueError."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"expected {expected}, got {value!r}") from None
    if isinstance(value, bool) or not ok(number):
        raise ValueError(f"expected {expected}, got {value!r}")
    return number


def rate(value: object) -> float:
    return _number(value, "a number between 0.0 and 1.0", lambda n: 0.0 <= n <= 1.0)


def positive_float(value: object) -> float:
    return _number(value, "a positive number", lambda n: math.isfinite(n) and n > 0)


def names(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        items: Iterable[object] = value.split(",")
    elif isinstance(value, Iterable):
        items = value
    else:
        raise ValueError(f"expected a list of names, got {value!r}")
    parsed = []
    for item in items:
        if not isinstance(item, str):
            raise ValueError(f"expected names (strings), got {item!r}")
        if item.strip():
            parsed.append(item.strip())
    return tuple(parsed)


def path(value: object) -> str:
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value.strip() or "\0" in value:
        raise ValueError(f"expected a directory path, got {value!r}")
    if is_url(value):
        if value.startswith("file://"):
            local = value[len("file://") :]
            if not local.strip():
                # Else '' reached the storage: the current directory for one caller, an
                # error for another (the decorator took it, load_capture refused it).
                raise ValueError(f"expected a URL with a directory, got {value!r}")
            return os.path.expanduser(local)
        scheme, _, rest = value.strip().partition("://")
        if not rest.strip("/"):
            raise ValueError(f"expected a URL with a bucket or directory, got {value!r}")
        # Lower-case scheme, no trailing slash: the one spelling storages are shared under.
        return f"{scheme.lower()}://{rest.rstrip('/')}"
    return os.path.expanduser(value)


#: ``scheme://``: a scheme of one letter is a Windows drive, not a URL.
_URL: Final = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+://")


def is_url(value: object) -> bool:
    """Whether a storage path names an object store (``s3://bucket/prefix``, ``memory://x``)
    rather than a local directory (``file://`` URLs are local: :func:`path` strips them)."""
    return isinstance(value, str) and _URL.match(value) is not None


def root(value: str) -> str:
    """A storage root as storages are keyed by: a URL as it is, a directory made absolute."""
    return value if is_url(value) else os.path.abspath(value)


def storage_options(value: object) -> tuple[tuple[str, Any], ...] | None:
    """Keyword arguments for an object store's file system (fsspec), as sorted pairs (a
    mapping's nested mappings too), so that a configuration stays hashable."""
    if value is None:
        return None
    if isinstance(value, tuple):
        value = thaw(value)  # parsed already (parsing again must give the same)
    if not isinstance(value, Mapping):
        raise ValueError(f"expected a mapping of fsspec options, got {type(value).__name__}")
    return _frozen(value)


def _frozen(value: Mapping[Any, Any]) -> tuple[tuple[str, Any], ...]:
    pairs = []
    for key, item in value.items():
        if not isinstance(key, str):
            raise ValueError(f"option names are strings, got {key!r}")
        frozen: Any = item
        if isinstance(item, Mapping):
            frozen = _frozen(item)
        elif isinstance(item, list):
            frozen = tuple(item)
        elif item is not None and not isinstance(item, (str, int, float, bool)):
            raise ValueError(f"{key}: expected a string, number or mapping")
        pairs.append((key, frozen))
    return tuple(sorted(pairs, key=lambda pair: pair[0]))


def thaw(value: Any) -> Any:
    """A :func:`storage_options` value back as the dicts fsspec takes."""
    if isinstance(value, tuple) and all(
        isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], str) for pair in value
    ):
        return {key: thaw(item) for key, item in value}
    return value


def serializer(value: object) -> object:
    if isinstance(value, str):
        name = value.strip().lower()
        if name not in SERIALIZER_NAMES:
            raise ValueError(f"expected one of {', '.join(SERIALIZER_NAMES)}, got {value!r}")
        return name
    if callable(getattr(value, "dumps", None)) and callable(getattr(value, "loads", None)):
        return value
    raise ValueError(f"expected a serializer name or an object with dumps/loads, got {value!r}")


def optional_serializer(value: object) -> object:
    return None if value is None else serializer(value)


def signing_key(value: object) -> bytes | None:
    # Set but blank (a CI secret missing on a fork's pull request) is kept as b"", which
    # refuses to read or write anything (``_envelope.check_key``): never silently "no key".
    if value is None:
        return None
    if not isinstance(value, (str, bytes)):
        raise ValueError("expected a string or bytes key")
    # What signing needs is imported where a key is given, not at the first capture (see
    # storage._envelope.load_signing; not imported from there: the storage layer is above).
    import hmac  # noqa: F401, PLC0415

    if isinstance(value, str):
        return value.encode() if value.strip() else b""
    return value if value.strip() else b""


def is_dotted_path(text: str) -> bool:
    """Whether ``text`` is shaped like ``"package.module:name"`` or ``"package.module.name"``."""
    return _dotted().match(text.strip()) is not None


def arg_filter(value: object) -> object:
    """An ArgumentFilter, a mapping of its options (YAML), or ``"package.module:name"``.

    The string is only imported on first use: the module may not be importable yet when YAML is
    read. The mapping's keys and values are checked where the filter is built.
    """
    if value is None or callable(getattr(value, "filter_call", None)):
        return value
    if isinstance(value, str):
        if not is_dotted_path(value):
            raise ValueError(f"expected 'package.module:name' for arg_filter, got {value!r}")
        return value.strip()
    if isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):
                raise ValueError(f"arg_filter option names are strings, got {key!r}")
        return dict(value)
    raise ValueError(
        f"expected an ArgumentFilter, a 'package.module:name' string or a mapping of "
        f"ArgumentFilter options, got {value!r}"
    )
