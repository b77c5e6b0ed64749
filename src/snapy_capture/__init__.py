"""snapy_capture: capture function arguments from real runs, replay them in pytest.

Only light modules are imported here (no pytest, no yaml); the import hook is loaded on
first use of :func:`install_import_hook`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._errors import (
    AmbiguousCaptureError,
    CaptureFormatError,
    CaptureNotFoundError,
    ConfigError,
    SnapyCaptureError,
    SnapyCaptureWarning,
)
from ._version import __version__
from .capture import CaptureProfiler, capture_args, flush
from .config import CaptureConfig, get_global_config, set_global_config
from .filters import SENSITIVE_PATTERNS, ArgumentFilter, Redacted
from .loader import CaptureLoader, has_capture, load_capture, load_capture_dict
from .serializers import JSONPickleSerializer, JSONSerializer, PickleSerializer
from .storage import CaptureStorage

if TYPE_CHECKING:
    from ._importhook import install_import_hook, uninstall_import_hook

__all__ = [
    "SENSITIVE_PATTERNS",
    "AmbiguousCaptureError",
    "ArgumentFilter",
    "CaptureConfig",
    "CaptureFormatError",
    "CaptureLoader",
    "CaptureNotFoundError",
    "CaptureProfiler",
    "CaptureStorage",
    "ConfigError",
    "JSONPickleSerializer",
    "JSONSerializer",
    "PickleSerializer",
    "Redacted",
    "SnapyCaptureError",
    "SnapyCaptureWarning",
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


def __getattr__(name: str) -> Any:
    if name in ("install_import_hook", "uninstall_import_hook"):
        from . import _importhook  # noqa: PLC0415 - keeps yaml out of `import snapy_capture`

        return getattr(_importhook, name)
    raise AttributeError(f"module 'snapy_capture' has no attribute {name!r}")
