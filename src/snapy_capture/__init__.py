"""snapy_capture: capture function arguments from real runs, replay them in pytest.

Importing the package is nearly free: each public name is loaded from its module on first
use (PEP 562). That keeps ``import snapy_capture.autoload`` in a ``sitecustomize.py`` cheap
for every process that does not ask for capture, and keeps pytest and yaml out of
``import snapy_capture`` altogether.

PYTEST_DONT_REWRITE: the runner imports this package before it runs ``-m pytest``, and
pytest warns about a plugin's package it can no longer rewrite (an error under
``filterwarnings = error``) unless that marker is in the package's docstring; nothing here
relies on assert rewriting.
"""

from __future__ import annotations

import importlib

from snapy_capture._version import __version__
from snapy_capture.errors import (
    AmbiguousCaptureError,
    CaptureFormatError,
    CaptureIndexError,
    CaptureNotFoundError,
    ConfigError,
    GenerateError,
    NoRecordedResultError,
    SnapyCaptureError,
    SnapyCaptureWarning,
    UnsafeStorageError,
)

# Not ``typing.TYPE_CHECKING``: importing typing would cost every autoload process ~15 ms.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from snapy_capture.capture import CaptureProfiler, capture_args, flush
    from snapy_capture.config import CaptureConfig, get_global_config, set_global_config
    from snapy_capture.filters import SENSITIVE_PATTERNS, ArgumentFilter, Redacted
    from snapy_capture.hook import install_import_hook, uninstall_import_hook
    from snapy_capture.replay.loader import (
        CaptureLoader,
        has_capture,
        load_capture,
        load_capture_dict,
    )
    from snapy_capture.storage import CaptureStorage
    from snapy_capture.storage.serializers import (
        JSONPickleSerializer,
        JSONSerializer,
        PickleSerializer,
    )

_LAZY: dict[str, str] = {
    "install_import_hook": ".hook",
    "uninstall_import_hook": ".hook",
    "CaptureProfiler": ".capture",
    "capture_args": ".capture",
    "flush": ".capture",
    "CaptureConfig": ".config",
    "get_global_config": ".config",
    "set_global_config": ".config",
    "SENSITIVE_PATTERNS": ".filters",
    "ArgumentFilter": ".filters",
    "Redacted": ".filters",
    "CaptureLoader": ".replay.loader",
    "has_capture": ".replay.loader",
    "load_capture": ".replay.loader",
    "load_capture_dict": ".replay.loader",
    "JSONPickleSerializer": ".storage.serializers",
    "JSONSerializer": ".storage.serializers",
    "PickleSerializer": ".storage.serializers",
    "CaptureStorage": ".storage",
}

__all__ = [
    "SENSITIVE_PATTERNS",
    "AmbiguousCaptureError",
    "ArgumentFilter",
    "CaptureConfig",
    "CaptureFormatError",
    "CaptureIndexError",
    "CaptureLoader",
    "CaptureNotFoundError",
    "CaptureProfiler",
    "CaptureStorage",
    "ConfigError",
    "GenerateError",
    "JSONPickleSerializer",
    "JSONSerializer",
    "NoRecordedResultError",
    "PickleSerializer",
    "Redacted",
    "SnapyCaptureError",
    "SnapyCaptureWarning",
    "UnsafeStorageError",
    "__version__",
    "capture_args",
    "flush",
    "get_global_config",
    "has_capture",
    "install_import_hook",
    "load_capture",
    "load_capture_dict",
    "set_global_config",
    "uninstall_import_hook",
]


def __getattr__(name: str) -> Any:  # PEP 562: load public names on first use
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'snapy_capture' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
