"""``import snapy_capture.autoload``: capture in any Python process that asks for it.

Put the import in a ``sitecustomize.py`` (or let :func:`enable` write a ``.pth`` file into the
environment's site-packages). When ``SNAP_CAPTURE_CONFIG`` names a target file, the import hook
is installed from it; when the variable is unset, nothing happens. A broken target file is a
warning on stderr and the program runs uncaptured: autoload never stops a program.

A target naming the script about to run (``app:summarize`` for ``python app.py``) is captured
too (see :mod:`snapy_capture.hook._script`). At exit, a process that imported one of the
targets' modules says in one line which targets captured nothing, and ``SNAP_CAPTURE_REPORT``
names a JSON report to write (see :mod:`snapy_capture.hook._report`); in a child of the
runner, the counts are left for the runner instead.

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
        # Only when asked: our warnings read "snapy_capture: <message>", one line each.
        from snapy_capture.hook._display import one_line_warnings  # noqa: PLC0415

        one_line_warnings()
    except Exception:  # noqa: BLE001, S110 - the default display still shows them
        pass
    try:
        _start(path)
    except Exception as exc:  # noqa: BLE001 - a broken target file must not stop the program
        _warn(f"snapy_capture: {_ENV}={path}: {exc}; running without capture")


def _start(path: str) -> None:
    """Install the hook; capture the script about to run if a target names it; at exit, say
    which targets captured nothing (and write ``SNAP_CAPTURE_REPORT``)."""
    import atexit  # noqa: PLC0415

    from snapy_capture.hook import install_import_hook  # noqa: PLC0415
    from snapy_capture.hook._finder import current  # noqa: PLC0415
    from snapy_capture.hook._report import COUNTS_ENV, REPORT_ENV  # noqa: PLC0415
    from snapy_capture.hook._script import WORKAROUND, capture_script, main_name  # noqa: PLC0415

    install_import_hook(config=path)
    hook = current()
    if hook is None:
        return
    name = main_name()
    if name is not None and f"{name}.__main__" in hook.modules:
        name = f"{name}.__main__"  # python -m package runs the package's __main__
    if name is not None and (name in hook.modules or "__main__" in hook.modules):
        why = capture_script(hook, name)
        if why is not None:
            _warn(f"snapy_capture: the script {name} runs uncaptured: {why}; {WORKAROUND}")
    pid = os.getpid()
    report = os.environ.get(REPORT_ENV) or None
    atexit.register(_at_exit, hook, path, report, os.environ.get(COUNTS_ENV), pid)


def _at_exit(hook: Any, config: str, report: str | None, counts: str | None, pid: int) -> None:
    """In a child of the runner, leave the counts for it; in a process of its own, report.
    A fork of this process says nothing (its parent reports)."""
    try:
        from snapy_capture.hook._report import finish  # noqa: PLC0415
        from snapy_capture.hook._startup import flush  # noqa: PLC0415

        flush(60.0)
        if counts:
            finish(hook, config=config, hint="", directory=counts, owner=False)
        elif os.getpid() == pid:
            path = report.replace("{pid}", str(pid)) if report else None
            hint = f"see {path}" if path else f"set {'SNAP_CAPTURE_REPORT'}=FILE for details"
            finish(hook, config=config, hint=hint, report_path=path, only_if_used=True)
    except KeyboardInterrupt:  # Ctrl-C while waiting on the queue: one line, no traceback
        _warn("snapy_capture: interrupted at exit; captures still queued are lost")
    except Exception as exc:  # noqa: BLE001 - the program's exit matters more
        _warn(f"snapy_capture: could not finish capturing: {exc!r}")
    try:
        # Last of the atexit handlers (registered before the program ran): see forget_program.
        hook.forget_program()
    except Exception as exc:  # noqa: BLE001
        _warn(f"snapy_capture: could not finish capturing: {exc!r}")


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
