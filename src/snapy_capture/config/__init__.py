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

from snapy_capture.config._options import (
    DEFAULT_PATH,
    DEFAULT_RETENTION,
    OPTIONS,
    CaptureConfig,
    Option,
    invalid_option,
    parse_option,
)
from snapy_capture.config._parsers import SERIALIZER_NAMES, is_dotted_path, is_url
from snapy_capture.config._parsers import root as storage_root
from snapy_capture.config._parsers import thaw as thaw_options
from snapy_capture.config._resolve import (
    get_global_config,
    is_suspended,
    notify_changed,
    reload_environment,
    resolve_config,
    set_global_config,
    set_suspended,
    subscribe,
)

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from typing import Final

    from snapy_capture.config._protocols import Filter, Serializer

__all__ = [
    "CONFIG_FILE_ENV",
    "DEFAULT_PATH",
    "DEFAULT_RETENTION",
    "OPTIONS",
    "SERIALIZER_NAMES",
    "CaptureConfig",
    "Filter",
    "Option",
    "Serializer",
    "get_global_config",
    "invalid_option",
    "is_dotted_path",
    "is_suspended",
    "is_url",
    "notify_changed",
    "parse_option",
    "reload_environment",
    "resolve_config",
    "set_global_config",
    "set_suspended",
    "storage_root",
    "subscribe",
    "thaw_options",
]

#: The environment variable naming the YAML target file of the import hook.
CONFIG_FILE_ENV: Final = "SNAP_CAPTURE_CONFIG"


def __getattr__(name: str) -> object:  # PEP 562
    # The two protocols, where first asked for: a capturing process never needs them (see
    # snapy_capture.config._protocols).
    if name in ("Filter", "Serializer"):
        from snapy_capture.config import _protocols  # noqa: PLC0415

        return getattr(_protocols, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:  # the names made where first asked for are listed, as they were
    return sorted({*globals(), *__all__})
