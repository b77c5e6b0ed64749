"""Bootstrap for child processes of ``python -m snapy_capture.run``.

The runner puts this directory first on ``PYTHONPATH``, so ``site`` imports this file as
``sitecustomize`` in every Python child. It takes itself off ``sys.path`` (grandchildren still
inherit ``PYTHONPATH``), runs the user's own ``sitecustomize`` if there is one, then turns
capture on through :mod:`snapy_capture.autoload`. No error escapes: a child that cannot
capture still runs.
"""

from __future__ import annotations

import os
import sys


def _bootstrap() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    this = sys.modules.pop("sitecustomize", None)
    try:
        # The user's own, now that this directory is off the path.
        import sitecustomize  # type: ignore[import-not-found]  # noqa: F401, PLC0415
    except ImportError as exc:
        if exc.name != "sitecustomize":
            _report(exc)
    except Exception as exc:  # noqa: BLE001 - as site.py does: report and go on
        _report(exc)
    if "sitecustomize" not in sys.modules and this is not None:
        sys.modules["sitecustomize"] = this
    if "snapy_capture.autoload" in sys.modules or not os.environ.get("SNAP_CAPTURE_CONFIG"):
        return  # idempotent (the user's sitecustomize imported it), or nothing asked for
    try:
        import snapy_capture.autoload  # noqa: F401, PLC0415
    except ImportError:
        pass  # another interpreter, without snapy_capture: nothing to capture there
    except Exception as exc:  # noqa: BLE001
        sys.stderr.write(f"snapy_capture: capture disabled in this process: {exc!r}\n")


def _report(exc: BaseException) -> None:
    sys.stderr.write(
        f"Error in sitecustomize; set PYTHONVERBOSE for traceback:\n{type(exc).__name__}: {exc}\n"
    )


try:  # noqa: SIM105 - contextlib is one more import in every child process
    _bootstrap()
except Exception:  # noqa: BLE001, S110 - never let the bootstrap stop a child process
    pass
