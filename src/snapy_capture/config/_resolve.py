"""Resolution: the process-wide configuration, the environment, and one function's options.

The order of precedence is documented in :mod:`snapy_capture.config`.
"""

from __future__ import annotations

import os
import sys
import threading
import warnings
import weakref
from collections.abc import Mapping

from snapy_capture._forksafe import fork_safe
from snapy_capture.config import _parsers
from snapy_capture.config._options import NO_PROFILE, OPTIONS, CaptureConfig, option_named
from snapy_capture.errors import ConfigError, SnapyCaptureWarning

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from typing import Any, Protocol
else:  # for typing.get_type_hints of the public names (see there)
    from snapy_capture._stdtypes import for_readers

    for_readers(globals(), {"Any": "typing:Any"})

__all__ = [
    "get_global_config",
    "is_suspended",
    "reload_environment",
    "resolve_config",
    "set_global_config",
    "set_suspended",
    "subscribe",
]


if TYPE_CHECKING:  # protocols: annotations only

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
    # A signing key the variables now hold is parsed at the next capture: what signing needs
    # is imported here instead, not in that capture (see storage._envelope.load_signing).
    _parsers.signing_key(os.environ.get(option_named("signing_key").env or ""))
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


def notify_changed() -> None:
    """Call every subscriber's ``invalidate()``: something they resolve with has changed (the
    capture layer's clock, say), not only the configuration."""
    _invalidate()


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
    values["path"] = _parsers.root(values["path"])
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
    option = option_named(name)
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
    if production and option.production is not NO_PROFILE:
        return option.production
    return option.default
