"""Configuration: one frozen dataclass, one table of options, one resolution function.

Every option is resolved per wrapped function with this priority (highest first):

1. an argument given to ``capture_args(...)`` (or a per-target key in the YAML target file);
2. an environment variable (``SNAP_CAPTURE_*``, see :data:`OPTIONS`);
3. the global configuration set with :func:`set_global_config` (only the fields it was given);
4. the production profile, when ``production_mode`` resolves to true;
5. the built-in default.

``ignore_args`` and ``allow_args`` are the exception: they are *added up* across the levels,
so no level can silently drop a sensitive name another level asked for.

Resolution is cached; the cache is dropped by :func:`set_global_config`,
:func:`reload_environment` and the pytest plugin (between tests), so changing ``os.environ``
at run time takes effect after one of those.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
import threading
import warnings
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol

from snapy_capture._forksafe import fork_safe
from snapy_capture.config import _parsers
from snapy_capture.errors import ConfigError, SnapyCaptureWarning

if TYPE_CHECKING:
    from snapy_capture.filters import ArgumentFilter
    from snapy_capture.storage.serializers import Serializer

__all__ = [
    "DEFAULT_PATH",
    "DEFAULT_RETENTION",
    "OPTIONS",
    "CaptureConfig",
    "get_global_config",
    "reload_environment",
    "resolve_config",
    "set_global_config",
]

DEFAULT_PATH: Final = "./captures"
#: Captures kept per function when nothing says otherwise (``retention=None`` keeps all).
DEFAULT_RETENTION: Final = 10
CONFIG_FILE_ENV: Final = "SNAP_CAPTURE_CONFIG"

_NO_PROFILE: Final[Any] = type("_NoProfile", (), {"__repr__": lambda self: "<none>"})()


@dataclass(frozen=True)
class Option:
    """One row of the option table: the single source of truth for a configuration key."""

    name: str
    parse: Callable[[object], Any]
    env: str | None = None
    production: Any = _NO_PROFILE
    additive: bool = False
    doc: str = ""


#: The option table. ``CaptureConfig``'s fields, the YAML keys and the environment variables
#: all come from here.
OPTIONS: Final[tuple[Option, ...]] = (
    Option("enabled", _parsers.boolean, "SNAP_CAPTURE_ENABLED", doc="capture at all"),
    Option("path", _parsers.path, "SNAP_CAPTURE_DEFAULT_PATH", doc="storage root"),
    Option(
        "retention",
        _parsers.optional(_parsers.positive_int),
        "SNAP_CAPTURE_DEFAULT_RETENTION",
        doc="captures kept per function; none = no count limit",
    ),
    Option(
        "max_age",
        _parsers.optional(_parsers.duration),
        "SNAP_CAPTURE_MAX_AGE",
        doc="drop captures older than this (seconds or '7d')",
    ),
    Option(
        "ignore_args",
        _parsers.names,
        "SNAP_CAPTURE_IGNORE_ARGS",
        additive=True,
        doc="extra sensitive names, added to SENSITIVE_PATTERNS",
    ),
    Option(
        "allow_args",
        _parsers.names,
        "SNAP_CAPTURE_ALLOW_ARGS",
        additive=True,
        doc="names kept even though a sensitive pattern matches them",
    ),
    Option(
        "production_mode",
        _parsers.boolean,
        "SNAP_CAPTURE_PRODUCTION_MODE",
        doc="switch unset options to the production profile",
    ),
    Option(
        "minimal_capture",
        _parsers.boolean,
        "SNAP_CAPTURE_MINIMAL_CAPTURE",
        production=True,
        doc="metadata keeps only call_depth and the redaction report",
    ),
    Option(
        "sample_rate", _parsers.rate, "SNAP_CAPTURE_SAMPLE_RATE", doc="fraction of calls captured"
    ),
    Option(
        "max_per_second",
        _parsers.optional(_parsers.positive_float),
        "SNAP_CAPTURE_MAX_PER_SECOND",
        production=10.0,
        doc="cap on captures per second per function",
    ),
    Option(
        "async_storage",
        _parsers.boolean,
        "SNAP_CAPTURE_ASYNC_STORAGE",
        production=True,
        doc="write captures from a background thread",
    ),
    Option(
        "lazy_serialization",
        _parsers.boolean,
        "SNAP_CAPTURE_LAZY_SERIALIZATION",
        doc="serialize on the background thread too",
    ),
    Option(
        "queue_size",
        _parsers.positive_int,
        "SNAP_CAPTURE_QUEUE_SIZE",
        doc="bound of the background writer's queue",
    ),
    Option(
        "ignore_large_objects",
        _parsers.boolean,
        "SNAP_CAPTURE_IGNORE_LARGE_OBJECTS",
        production=True,
        doc="replace values larger than large_object_size",
    ),
    Option(
        "large_object_size",
        _parsers.positive_int,
        "SNAP_CAPTURE_LARGE_OBJECT_SIZE",
        doc="size limit (items, characters or bytes) of one value",
    ),
    Option(
        "max_capture_size",
        _parsers.optional(_parsers.positive_int),
        "SNAP_CAPTURE_MAX_CAPTURE_SIZE",
        production=65536,
        doc="limit in bytes of one stored capture",
    ),
    Option(
        "max_depth",
        _parsers.positive_int,
        "SNAP_CAPTURE_MAX_DEPTH",
        doc="nesting depth the filters descend into",
    ),
    Option(
        "filter_pii", _parsers.boolean, "SNAP_CAPTURE_FILTER_PII", doc="mask secret-shaped values"
    ),
    Option(
        "record_result",
        _parsers.boolean,
        "SNAP_CAPTURE_RECORD_RESULT",
        doc="store the return value or exception",
    ),
    Option(
        "serializer",
        _parsers.serializer,
        "SNAP_CAPTURE_SERIALIZER",
        doc="pickle, json, jsonpickle, or a serializer object",
    ),
    Option(
        "fallback_serializer",
        _parsers.optional_serializer,
        None,
        doc="tried when the serializer fails",
    ),
    Option(
        "ignore_serialization_errors",
        _parsers.boolean,
        "SNAP_CAPTURE_IGNORE_SERIALIZATION_ERRORS",
        doc="replace unserializable arguments instead of dropping the capture",
    ),
    Option(
        "signing_key",
        _parsers.signing_key,
        "SNAP_CAPTURE_SIGNING_KEY",
        doc="HMAC key: sign captures and refuse unsigned ones",
    ),
    Option("arg_filter", _parsers.arg_filter, None, doc="ArgumentFilter used for this capture"),
)
_BY_NAME: Final = {option.name: option for option in OPTIONS}


@dataclass(frozen=True)
class CaptureConfig:
    """Every capture option. Only the fields you pass count as set (see the module docstring)."""

    enabled: bool = True
    path: str = DEFAULT_PATH
    retention: int | None = DEFAULT_RETENTION
    max_age: float | None = None
    ignore_args: tuple[str, ...] = ()
    allow_args: tuple[str, ...] = ()
    production_mode: bool = False
    minimal_capture: bool = False
    sample_rate: float = 1.0
    max_per_second: float | None = None
    async_storage: bool = False
    lazy_serialization: bool = False
    queue_size: int = 10_000
    ignore_large_objects: bool = False
    large_object_size: int = 100_000
    max_capture_size: int | None = None
    max_depth: int = 32
    filter_pii: bool = True
    record_result: bool = False
    serializer: str | Serializer = "pickle"
    fallback_serializer: str | Serializer | None = None
    ignore_serialization_errors: bool = True
    signing_key: bytes | None = field(default=None, repr=False)
    arg_filter: ArgumentFilter | str | None = None
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
        raise ConfigError(f"invalid value for option {name!r}: {exc}") from None


class _Subscriber(Protocol):
    def invalidate(self) -> None: ...


_lock = fork_safe(threading.Lock())
_global_config = CaptureConfig()
_env_cache: dict[str, Any] | None = None
_subscribers: weakref.WeakSet[_Subscriber] = weakref.WeakSet()
# Set by the pytest plugin: while tests run, capturing is off unless the user turned it on.
_suspended = False


def set_global_config(config: CaptureConfig | None) -> None:
    """Install ``config`` as the process-wide configuration (``None`` restores the defaults)."""
    global _global_config  # noqa: PLW0603 - the one process-wide setting, guarded by _lock
    if config is not None and not isinstance(config, CaptureConfig):
        raise ConfigError(f"set_global_config expects a CaptureConfig, got {config!r}")
    with _lock:
        _global_config = config if config is not None else CaptureConfig()
    _invalidate()


def get_global_config() -> CaptureConfig:
    """Return the configuration installed by :func:`set_global_config`."""
    return _global_config


def reload_environment() -> None:
    """Re-read the ``SNAP_CAPTURE_*`` environment variables on next use."""
    global _env_cache  # noqa: PLW0603
    with _lock:
        _env_cache = None
    _invalidate()


def set_suspended(suspended: bool) -> None:
    """Turn every capture off (``True``) or back to its configuration (pytest plugin)."""
    global _suspended  # noqa: PLW0603
    _suspended = suspended
    _invalidate()


def is_suspended() -> bool:
    """Whether capturing is suspended process-wide (see :func:`set_suspended`)."""
    return _suspended


def subscribe(subscriber: _Subscriber) -> None:
    """Call ``subscriber.invalidate()`` whenever the resolved configuration may change."""
    _subscribers.add(subscriber)


def _invalidate() -> None:
    for subscriber in list(_subscribers):
        subscriber.invalidate()


def _environment() -> dict[str, Any]:
    global _env_cache  # noqa: PLW0603
    cache = _env_cache
    if cache is not None:
        return cache
    cache = {}
    for option in OPTIONS:
        if option.env is None or option.env not in os.environ:
            continue
        raw = os.environ[option.env]
        try:
            cache[option.name] = option.parse(raw)
        except ValueError as exc:
            # A bad variable must never stop the host program: warn once, use the next source.
            _warn_without_raising(f"snapy_capture: ignoring {option.env}={raw!r}: {exc}")
    _env_cache = cache
    return cache


def _warn_without_raising(message: str) -> None:
    try:
        warnings.warn(message, SnapyCaptureWarning, stacklevel=4)
    except Exception:  # noqa: BLE001 - under -W error the warning is raised: say it, go on
        sys.stderr.write(f"{message}\n")


def resolve_config(overrides: Mapping[str, Any] | None = None) -> CaptureConfig:
    """Resolve every option for one wrapped function.

    Args:
        overrides: options given to the decorator or YAML target, already parsed.

    Returns:
        A ``CaptureConfig`` whose every field holds the value in force.
    """
    overrides = overrides or {}
    env = _environment()
    glob = _global_config
    production = _pick("production_mode", overrides, env, glob, production=False)
    values = {
        option.name: _pick(option.name, overrides, env, glob, production=production)
        for option in OPTIONS
    }
    values["path"] = os.path.abspath(values["path"])
    if _suspended:
        values["enabled"] = False
    return CaptureConfig(**values)


def _pick(
    name: str,
    overrides: Mapping[str, Any],
    env: Mapping[str, Any],
    glob: CaptureConfig,
    *,
    production: bool,
) -> Any:
    option = _BY_NAME[name]
    if option.additive:
        layers = (getattr(glob, name), env.get(name, ()), overrides.get(name, ()))
        merged: dict[str, None] = {}
        for layer in layers:
            merged.update(dict.fromkeys(layer))
        return tuple(merged)
    if name in overrides:
        return overrides[name]
    if name in env:
        return env[name]
    if name in glob.explicit:
        return getattr(glob, name)
    if production and option.production is not _NO_PROFILE:
        return option.production
    return CaptureConfig.__dataclass_fields__[name].default
