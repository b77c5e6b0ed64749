"""The ``snapy_capture`` logger, without importing logging into a program that has not.

Importing logging (with traceback, textwrap and string) costs a capturing process ~2 ms of
start-up, and importing it at a capture's first warning instead is not fork-safe (see
docs/performance.md). It is not needed: until a program imports logging, nothing can have
configured it, so a record would reach only logging's last resort, which writes WARNING and
above to ``sys.stderr`` as the bare message and drops the rest. This module does exactly
that then, and hands every record to the real logger once the program has imported logging
(``caplog``, a handler or a level set on ``snapy_capture`` then apply as always).
"""

from __future__ import annotations

import sys

__all__ = ["NAME", "debug", "warning"]

NAME = "snapy_capture"
#: logging's levels (``logging.WARNING``, ``logging.DEBUG``).
_WARNING = 30
_DEBUG = 10


def warning(message: str, *args: object) -> None:
    """``logging.getLogger("snapy_capture").warning(message, *args)``, without the import."""
    if not _log(_WARNING, message, args, None):
        _last_resort(message, args)


def debug(message: str, *args: object, exc_info: object = None) -> None:
    """``logging.getLogger("snapy_capture").debug(...)``: nothing until logging is imported."""
    _log(_DEBUG, message, args, exc_info)


def _log(level: int, message: str, args: tuple[object, ...], exc_info: object) -> bool:
    """Log through logging if the program imported it; whether it did."""
    logging = sys.modules.get("logging")
    if logging is None:
        return False
    try:
        # stacklevel: the record names our caller's line (as a direct call would), not ours.
        logging.getLogger(NAME).log(level, message, *args, exc_info=exc_info, stacklevel=3)
    except Exception:  # noqa: BLE001 - logging half imported by another thread right now
        return False
    return True


def _last_resort(message: str, args: tuple[object, ...]) -> None:
    """What ``logging.lastResort`` does with an unconfigured logger's warning."""
    stream = sys.stderr
    if stream is None:  # pythonw: logging writes nowhere either
        return
    try:
        stream.write((message % args if args else message) + "\n")
        stream.flush()
    except Exception:  # noqa: BLE001, S110 - a closed stderr must not break the host
        pass
