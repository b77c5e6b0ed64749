"""The autoload switch: a ``.pth`` file that turns the import hook on in every Python process
of an environment that asks for it with ``SNAP_CAPTURE_CONFIG``.

``site`` executes a ``.pth`` line that starts with ``import``. The line checks the variable
itself, so processes that do not ask for capture pay nothing, not even ``import
snapy_capture``; those that do import :mod:`snapy_capture.autoload`, which installs the hook.
"""

from __future__ import annotations

import os
import sysconfig
from pathlib import Path
from typing import Final

from snapy_capture.config import CONFIG_FILE_ENV

__all__ = ["PTH_LINE", "PTH_NAME", "disable", "enable"]

PTH_NAME: Final = "snapy_capture_autoload.pth"
PTH_LINE: Final = (
    f"import os; {CONFIG_FILE_ENV!r} in os.environ and __import__('snapy_capture.autoload')\n"
)


def _site_dir(site_dir: str | os.PathLike[str] | None) -> Path:
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
