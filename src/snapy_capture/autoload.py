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

# typing, pathlib and sysconfig are imported only where needed: this module is imported at
# start-up of every process in an environment where autoload is enabled.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Final

__all__ = ["PTH_NAME", "disable", "enable"]

PTH_NAME: Final = "snapy_capture_autoload.pth"
_ENV: Final = "SNAP_CAPTURE_CONFIG"  # config.CONFIG_FILE_ENV, without importing config
#: ``site`` executes .pth lines that start with ``import``; the test keeps it free when unset.
PTH_LINE: Final = f"import os; {_ENV!r} in os.environ and __import__('snapy_capture.autoload')\n"


def _autoload() -> None:
    path = os.environ.get(_ENV)
    if not path:
        return
    try:
        from snapy_capture.hook._finder import install_import_hook  # noqa: PLC0415 - only when asked

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


def _site_dir(site_dir: str | os.PathLike[str] | None) -> Path:
    import sysconfig  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    return Path(site_dir) if site_dir is not None else Path(sysconfig.get_paths()["purelib"])


def enable(site_dir: str | os.PathLike[str] | None = None) -> Path:
    """Turn autoload on for this environment: write ``snapy_capture_autoload.pth``.

    Args:
        site_dir: the site-packages directory (default: the current environment's).

    Returns:
        The path of the ``.pth`` file written.
    """
    pth = _site_dir(site_dir) / PTH_NAME
    pth.parent.mkdir(parents=True, exist_ok=True)
    pth.write_text(PTH_LINE, encoding="utf-8")
    return pth


def disable(site_dir: str | os.PathLike[str] | None = None) -> bool:
    """Turn autoload off again: remove the ``.pth`` file; ``False`` if there was none.

    Args:
        site_dir: the site-packages directory (default: the current environment's).
    """
    pth = _site_dir(site_dir) / PTH_NAME
    try:
        pth.unlink()
    except FileNotFoundError:
        return False
    return True


_autoload()
