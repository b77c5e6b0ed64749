"""How snapy_capture's own warnings read on stderr: ``snapy_capture: <message>``, one line.

Python shows a warning as ``file:line: Category: message`` followed by the source line: for
a warning raised inside the import hook, that is one of our files and one of our lines,
which says nothing to the user. The runner and autoload (processes that asked for capture)
install :func:`one_line_warnings`, which shows :class:`~snapy_capture.SnapyCaptureWarning`
as its message alone; every other warning is shown exactly as before, by the function that
showed it before. The same format as our logger's lines and the runner's own.

The display is all that changes: filters (``-W error``, ``-W ignore``), ``catch_warnings``
and pytest's recording see the same warnings as before.
"""

from __future__ import annotations

import contextlib
import sys
import warnings

from snapy_capture.errors import SnapyCaptureWarning

TYPE_CHECKING = False  # not typing's: this module is imported at start-up (see _startup)
if TYPE_CHECKING:
    from typing import Any

__all__ = ["PREFIX", "one_line", "one_line_warnings"]

PREFIX = "snapy_capture: "
_installed: list[Any] = []


def one_line(message: str) -> str:
    """``message`` as one line starting with :data:`PREFIX`."""
    text = " ".join(message.splitlines())
    return text if text.startswith(PREFIX) else f"{PREFIX}{text}"


def one_line_warnings() -> None:
    """Show :class:`SnapyCaptureWarning` as ``snapy_capture: <message>`` (idempotent).

    Replaces ``warnings._showwarnmsg_impl``, the default display that ``showwarning`` ends
    in, rather than ``showwarning`` or ``formatwarning``: replacing those makes Python hand
    every warning to them without its ``source`` (the allocation traceback a
    ``ResourceWarning`` shows under tracemalloc). A program that installs its own
    ``showwarning`` (``logging.captureWarnings``) still receives our warnings, in its format.
    """
    show = getattr(warnings, "_showwarnmsg_impl", None)
    if show is None or (_installed and show is _installed[0]):
        return

    def showwarnmsg(msg: Any) -> None:
        category = getattr(msg, "category", None)
        if not (isinstance(category, type) and issubclass(category, SnapyCaptureWarning)):
            show(msg)
            return
        stream = msg.file if msg.file is not None else sys.stderr
        if stream is None:
            return  # pythonw: nowhere to show it, as for any warning
        # As warnings does: a closed or broken stderr loses the warning, not the program.
        with contextlib.suppress(OSError):
            stream.write(f"{one_line(str(msg.message))}\n")

    _installed[:] = [showwarnmsg]
    warnings._showwarnmsg_impl = showwarnmsg  # type: ignore[attr-defined]
