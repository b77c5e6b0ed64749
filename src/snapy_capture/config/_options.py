"""The option table: :class:`CaptureConfig`, whose every field is a row of :data:`OPTIONS`.

A field names the option once, with its type, its default, its parser (:mod:`._parsers`), its
environment variable, its production-profile value and its description; the YAML keys, the
environment variables and the documentation all read them from :data:`OPTIONS`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from snapy_capture._records import Record
from snapy_capture._stdtypes import settle_typing
from snapy_capture.config import _parsers
from snapy_capture.config._parsers import SERIALIZER_NAMES
from snapy_capture.errors import ConfigError

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from typing import Any, Final

    from snapy_capture.config._protocols import Filter, Serializer
else:  # for typing.get_type_hints of the public names (see there)
    from snapy_capture._stdtypes import for_readers

    for_readers(
        globals(),
        {
            "Any": "typing:Any",
            "Filter": "snapy_capture.config._protocols:Filter",
            "Serializer": "snapy_capture.config._protocols:Serializer",
        },
    )

__all__ = [
    "DEFAULT_PATH",
    "DEFAULT_RETENTION",
    "NO_PROFILE",
    "OPTIONS",
    "CaptureConfig",
    "Filter",
    "Option",
    "Serializer",
    "invalid_option",
    "option_named",
    "parse_option",
]

DEFAULT_PATH: Final = "./captures"
#: Captures kept per function when nothing says otherwise (``retention=None`` keeps all).
DEFAULT_RETENTION: Final = 10

#: The production value of an option the production profile leaves alone.
NO_PROFILE: Final[Any] = type("_NoProfile", (), {"__repr__": lambda self: "<none>"})()


class Option(Record):
    """One row of the option table: a :class:`CaptureConfig` field and how it is read.

    (A named tuple: a frozen dataclass costs every capturing process ~0.7 ms at start-up.)
    """

    name: str
    default: Any
    parse: Callable[[object], Any]
    env: str | None = None
    production: Any = NO_PROFILE
    additive: bool = False
    doc: str = ""


def _option(
    default: Any,
    parse: Callable[[object], Any],
    env: str | None,
    doc: str,
    *,
    production: Any = NO_PROFILE,
    additive: bool = False,
    hidden: bool = False,
) -> Any:
    """A :class:`CaptureConfig` field that is also a row of :data:`OPTIONS` (see there)."""
    row = {"parse": parse, "env": env, "production": production, "additive": additive, "doc": doc}
    return field(default=default, repr=not hidden, metadata={"option": row})


settle_typing()  # dataclasses reads typing if loaded (see there)


@dataclass(frozen=True)
class CaptureConfig:
    """Every capture option. Only the fields you pass count as set (see the module docstring).

    Each field is a row of the option table (:data:`OPTIONS`): its parser, its environment
    variable, its production-profile value and its description are given with it.
    """

    enabled: bool = _option(True, _parsers.boolean, "SNAP_CAPTURE_ENABLED", "capture at all")
    path: str = _option(
        DEFAULT_PATH,
        _parsers.path,
        "SNAP_CAPTURE_DEFAULT_PATH",
        "storage root: a directory, or an object-store URL (s3://bucket/prefix)",
    )
    # No environment variable (credentials come from the store's own: AWS_*), and never in
    # a repr: these options may hold a secret (a key, a token) and a repr reaches logs.
    storage_options: tuple[tuple[str, Any], ...] | None = _option(
        None,
        _parsers.storage_options,
        None,
        "keyword arguments for an object store's fsspec file system (endpoint, profile...)",
        hidden=True,
    )
    retention: int | None = _option(
        DEFAULT_RETENTION,
        _parsers.optional(_parsers.positive_int),
        "SNAP_CAPTURE_DEFAULT_RETENTION",
        "captures kept per function; none = no count limit",
    )
    max_age: float | None = _option(
        None,
        _parsers.optional(_parsers.duration),
        "SNAP_CAPTURE_MAX_AGE",
        "drop captures older than this (seconds or '7d')",
    )
    dedupe: bool = _option(
        True,
        _parsers.boolean,
        "SNAP_CAPTURE_DEDUPE",
        "a call equal to a kept capture counts on it instead of being stored again "
        "(local directories)",
    )
    ignore_args: tuple[str, ...] = _option(
        (),
        _parsers.names,
        "SNAP_CAPTURE_IGNORE_ARGS",
        "extra sensitive names, added to SENSITIVE_PATTERNS",
        additive=True,
    )
    allow_args: tuple[str, ...] = _option(
        (),
        _parsers.names,
        "SNAP_CAPTURE_ALLOW_ARGS",
        "names kept even though a sensitive pattern matches them",
        additive=True,
    )
    production_mode: bool = _option(
        False,
        _parsers.boolean,
        "SNAP_CAPTURE_PRODUCTION_MODE",
        "switch unset options to the production profile",
    )
    minimal_capture: bool = _option(
        False,
        _parsers.boolean,
        "SNAP_CAPTURE_MINIMAL_CAPTURE",
        "metadata keeps only call_depth and the redaction report",
        production=True,
    )
    sample_rate: float = _option(
        1.0, _parsers.rate, "SNAP_CAPTURE_SAMPLE_RATE", "fraction of calls captured"
    )
    max_per_second: float | None = _option(
        None,
        _parsers.optional(_parsers.positive_float),
        "SNAP_CAPTURE_MAX_PER_SECOND",
        "cap on captures per second per function",
        production=10.0,
    )
    async_storage: bool = _option(
        False,
        _parsers.boolean,
        "SNAP_CAPTURE_ASYNC_STORAGE",
        "write captures from a background thread",
        production=True,
    )
    lazy_serialization: bool = _option(
        False,
        _parsers.boolean,
        "SNAP_CAPTURE_LAZY_SERIALIZATION",
        "serialize on the background thread too",
    )
    queue_size: int = _option(
        10_000,
        _parsers.positive_int,
        "SNAP_CAPTURE_QUEUE_SIZE",
        "bound of the background writer's queue",
    )
    ignore_large_objects: bool = _option(
        False,
        _parsers.boolean,
        "SNAP_CAPTURE_IGNORE_LARGE_OBJECTS",
        "replace values larger than large_object_size",
        production=True,
    )
    large_object_size: int = _option(
        100_000,
        _parsers.positive_int,
        "SNAP_CAPTURE_LARGE_OBJECT_SIZE",
        "size limit (items, characters or bytes) of one value",
    )
    max_capture_size: int | None = _option(
        None,
        _parsers.optional(_parsers.positive_int),
        "SNAP_CAPTURE_MAX_CAPTURE_SIZE",
        "limit in bytes of one stored capture",
        production=65536,
    )
    max_depth: int = _option(
        32,
        _parsers.positive_int,
        "SNAP_CAPTURE_MAX_DEPTH",
        "nesting depth the filters descend into",
    )
    filter_pii: bool = _option(
        True, _parsers.boolean, "SNAP_CAPTURE_FILTER_PII", "mask secret-shaped values"
    )
    record_result: bool = _option(
        False,
        _parsers.boolean,
        "SNAP_CAPTURE_RECORD_RESULT",
        "store the return value or exception",
    )
    capture_self: bool = _option(
        True,
        _parsers.boolean,
        "SNAP_CAPTURE_CAPTURE_SELF",
        "store a method's receiver (self) beside its arguments, filtered like them",
    )
    serializer: str | Serializer = _option(  # noqa: RUF009 - a field() with its row
        SERIALIZER_NAMES[0],
        _parsers.serializer,
        "SNAP_CAPTURE_SERIALIZER",
        f"{', '.join(SERIALIZER_NAMES)}, or a serializer object",
    )
    fallback_serializer: str | Serializer | None = _option(  # noqa: RUF009 - a field() with its row
        None, _parsers.optional_serializer, None, "tried when the serializer fails"
    )
    ignore_serialization_errors: bool = _option(
        True,
        _parsers.boolean,
        "SNAP_CAPTURE_IGNORE_SERIALIZATION_ERRORS",
        "replace unserializable arguments instead of dropping the capture",
    )
    signing_key: bytes | None = _option(
        None,
        _parsers.signing_key,
        "SNAP_CAPTURE_SIGNING_KEY",
        "HMAC key: sign captures and refuse unsigned ones",
        hidden=True,
    )
    #: An ``ArgumentFilter``, a ``"package.module:name"`` string naming one (imported on first
    #: use), or a mapping of ``ArgumentFilter`` options (built when a function's options are
    #: resolved; ``capture_args`` and target files build it at once, to report mistakes there).
    arg_filter: Filter | str | Mapping[str, Any] | None = _option(  # noqa: RUF009 - a field() with its row
        None, _parsers.arg_filter, None, "ArgumentFilter used for this capture"
    )
    _explicit: frozenset[str] = field(default=frozenset(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for option in OPTIONS:
            raw = getattr(self, option.name)
            object.__setattr__(self, option.name, parse_option(option.name, raw))

    @property
    def explicit(self) -> frozenset[str]:
        """The names of the fields given to the constructor."""
        return self._explicit

    def with_options(self, **changes: Any) -> CaptureConfig:
        """Return a copy with ``changes`` applied; those fields count as set."""
        merged = {name: getattr(self, name) for name in self._explicit} | changes
        return CaptureConfig(**merged)


#: The option table: one row per :class:`CaptureConfig` field, in its order. The YAML keys,
#: the environment variables and the production profile all come from here.
OPTIONS: Final[tuple[Option, ...]] = tuple(
    Option(name=f.name, default=f.default, **f.metadata["option"])
    for f in dataclasses.fields(CaptureConfig)
    if "option" in f.metadata
)
_BY_NAME: Final = {option.name: option for option in OPTIONS}


def _track_explicit(init: Callable[..., None]) -> Callable[..., None]:
    # The production profile must only fill options nobody set, and "set" cannot be told
    # from "equal to the default" after the dataclass __init__ has run. Recording the names
    # given keeps the class a plain frozen dataclass with its generated, typed signature.
    names = [f.name for f in dataclasses.fields(CaptureConfig) if f.init]

    @functools.wraps(init)
    def __init__(self: CaptureConfig, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        object.__setattr__(self, "_explicit", frozenset(names[: len(args)]) | frozenset(kwargs))

    return __init__


CaptureConfig.__init__ = _track_explicit(CaptureConfig.__init__)  # type: ignore[method-assign]


def parse_option(name: str, value: object) -> Any:
    """Normalize ``value`` for option ``name``.

    Raises:
        ConfigError: (a ``ValueError``) naming the option when the value is invalid.
    """
    option = _BY_NAME.get(name)
    if option is None:
        known = ", ".join(sorted(_BY_NAME))
        raise ConfigError(f"unknown capture option {name!r} (known: {known})")
    try:
        return option.parse(value)
    except ValueError as exc:
        raise invalid_option(name, exc) from None


def option_named(name: str) -> Option:
    """The row of the option table for ``name`` (a ``KeyError`` for an unknown one)."""
    return _BY_NAME[name]


def invalid_option(name: str, problem: object) -> ConfigError:
    """The error for a bad value of option ``name`` (also raised where filters are built)."""
    return ConfigError(f"invalid value for option {name!r}: {problem}")


def __getattr__(name: str) -> object:  # PEP 562
    # The two protocols, where first asked for: a capturing process never needs them (see
    # snapy_capture.config._protocols).
    if name in ("Filter", "Serializer"):
        from snapy_capture.config import _protocols  # noqa: PLC0415

        return getattr(_protocols, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
