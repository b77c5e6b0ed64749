"""``import snapy_capture.autoload``: capture in any Python process that asks for it.

Put the import in a ``sitecustomize.py`` (or let :func:`enable` write a ``.pth`` file into the
environment's site-packages). When ``SNAP_CAPTURE_CONFIG`` names a target file, the import hook
is installed from it; when the variable is unset, nothing happens. A broken target file is a
warning on stderr and the program runs uncaptured: autoload never stops a program.

The ``.pth`` line checks the variable itself, so an environment with autoload enabled pays
nothing (not even ``import snapy_capture``) in processes that do not ask for capture.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Final

    from snapy_capture.hook.switch import PTH_NAME, disable, enable

__all__ = ["PTH_NAME", "disable", "enable"]

_ENV: Final = "SNAP_CAPTURE_CONFIG"  # config.CONFIG_FILE_ENV, without importing config
#: Names of the ``.pth`` switch (:mod:`snapy_capture.hook.switch`), kept importable from here.
_SWITCH: Final = frozenset({"PTH_LINE", "PTH_NAME", "disable", "enable"})


def _autoload() -> None:
    path = os.environ.get(_ENV)
    if not path:
        return
    try:
        from snapy_capture.hook import install_import_hook  # noqa: PLC0415 - only when asked

        install_import_hook(config=path)
    except Exception as exc:  # noqa: BLE001 - a broken target file must not stop the program
        _warn(f"snapy_capture: {_ENV}={path}: {exc}; running without capture")


def _warn(message: str) -> None:
    try:
        import warnings  # noqa: PLC0415

        from snapy_capture.errors import SnapyCaptureWarning  # noqa: PLC0415

        warnings.warn(message, SnapyCaptureWarning, stacklevel=3)
    except Exception:  # noqa: BLE001 - e.g. -W error: still say it, and carry on
        sys.stderr.write(f"{message}\n")


def __getattr__(name: str) -> Any:
    # Imported on use: this module is imported at start-up of every process that asks for
    # capture, and the switch is only for the command line (``snapy-capture enable``).
    if name in _SWITCH:
        from snapy_capture.hook import switch  # noqa: PLC0415

        return getattr(switch, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_autoload()
