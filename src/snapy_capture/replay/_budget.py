"""A time budget for building a snapshot, which runs code of the value's own.

A snapshot view (:mod:`._state`) calls an object's ``__repr__`` once (objects kept by their
own repr), reads its attributes, and an exception's ``__str__``: code of the replayed value,
which may never return. On POSIX, in the main thread, :func:`time_budget` arms
``ITIMER_REAL``; when it expires, the ``SIGALRM`` handler raises inside that code and the case
fails with :class:`SnapshotTimeout`, naming the value's type, where it was stuck and the
budget. Elsewhere (another thread, Windows, a ``SIGALRM`` handler installed outside Python)
the budget is not enforced: there is no portable way to stop code running in this thread.

It composes with another user of ``SIGALRM`` (pytest-timeout's signal method): that
handler and its timer are put back afterwards, the timer's remaining time less the time
spent here (an interval timer keeps its interval); when that timer is due first, its handler
is called then, as it would have been, and its exception (the test's timeout) wins.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
import types
from collections.abc import Iterator
from typing import Any, Final

from snapy_capture import _text
from snapy_capture._text import qualified_name
from snapy_capture.errors import SnapyCaptureError

__all__ = [
    "SNAPSHOT_SECONDS",
    "SnapshotTimeout",
    "get_snapshot_seconds",
    "set_snapshot_seconds",
    "time_budget",
]

#: The default budget of building one case's snapshot value, in seconds.
SNAPSHOT_SECONDS: Final = 5.0
#: A timer of zero means "off" for setitimer: the shortest delay asked for instead.
_SOON: Final = 1e-6
#: Once expired, the alarm comes again this often: the value's code may catch the first.
_AGAIN: Final = 0.1
#: A signal this early before a deadline is that deadline's (timers are not that exact).
_SLACK: Final = 0.002


class _Settings:
    seconds: float | None = SNAPSHOT_SECONDS
    guarding = False  # a budget is running: an inner one is the outer's


class SnapshotTimeout(SnapyCaptureError, TimeoutError):
    """Building a snapshot ran the value's own code (its ``__repr__``, a property, an
    exception's ``__str__``) past the snapshot time budget: the case fails saying so."""


class _Expired(BaseException):
    """Raised by the alarm inside the value's code. Not an ``Exception``, so neither the
    value's own ``except Exception`` nor the snapshot view's (around each ``repr``) holds it."""


def set_snapshot_seconds(seconds: float | None) -> None:
    """The budget :func:`time_budget` uses when none is given; ``None`` or ``0``: no budget."""
    if seconds is not None and seconds < 0:
        raise ValueError(f"the snapshot time budget must be >= 0 seconds, got {seconds}")
    _Settings.seconds = seconds or None


def get_snapshot_seconds() -> float | None:
    """The budget in force (``None``: not enforced)."""
    return _Settings.seconds


@contextlib.contextmanager
def time_budget(
    what: str, seconds: float | None = None, *, doing: str = "building the snapshot"
) -> Iterator[None]:
    """Raise :class:`SnapshotTimeout` if the block runs longer than ``seconds``.

    ``seconds=None`` uses :func:`get_snapshot_seconds`. ``what`` starts the message (the
    case's label). Not enforced outside the main thread, where ``signal.setitimer`` is
    missing, or inside another budget (the outer one holds).
    """
    limit = _Settings.seconds if seconds is None else seconds
    if not limit or limit <= 0 or _Settings.guarding or not _can_guard():
        yield
        return
    alarm = _Alarm(limit)
    try:
        previous = signal.signal(signal.SIGALRM, alarm.on_alarm)
    except ValueError:  # not the main interpreter's main thread after all
        yield
        return
    alarm.previous = previous
    _Settings.guarding = True
    alarm.arm()
    try:
        yield
    except _Expired as exc:
        raise SnapshotTimeout(_message(what, doing, limit, exc.__traceback__)) from None
    finally:
        _Settings.guarding = False
        alarm.restore()
    if alarm.expired:
        # The value's code caught the alarm and returned after all: still over the budget.
        raise SnapshotTimeout(_message(what, doing, limit, None))


def _can_guard() -> bool:
    if not hasattr(signal, "setitimer") or not hasattr(signal, "SIGALRM"):
        return False
    if threading.current_thread() is not threading.main_thread():
        return False
    # A handler installed outside Python (None) could not be put back.
    return signal.getsignal(signal.SIGALRM) is not None


class _Alarm:
    """One budget's ``SIGALRM`` handler, and the timer and handler it stands in front of."""

    def __init__(self, limit: float) -> None:
        self.start = time.monotonic()
        self.deadline = self.start + limit
        self.previous: Any = signal.getsignal(signal.SIGALRM)
        delay, interval = signal.getitimer(signal.ITIMER_REAL)
        self.outer_deadline: float | None = self.start + delay if delay > 0 else None
        self.outer_interval = interval
        self.expired = False
        self.done = False

    def arm(self) -> None:
        until = self.deadline
        if self.outer_deadline is not None:
            until = min(until, self.outer_deadline)
        signal.setitimer(signal.ITIMER_REAL, max(until - time.monotonic(), _SOON))

    def on_alarm(self, signum: int, frame: types.FrameType | None) -> None:
        if self.done:
            return  # delivered late, after the block: nothing left to stop
        now = time.monotonic()
        outer = self.outer_deadline
        if outer is not None and outer <= self.deadline and now >= outer - _SLACK:
            # The outer timer's moment: its handler runs now, as it would have.
            self.outer_deadline = now + self.outer_interval if self.outer_interval > 0 else None
            self._outer(signum, frame)
            self.arm()
            return
        if now < self.deadline - _SLACK:
            self.arm()
            return
        self.expired = True
        signal.setitimer(signal.ITIMER_REAL, _AGAIN)
        raise _Expired

    def _outer(self, signum: int, frame: types.FrameType | None) -> None:
        handler = self.previous
        if callable(handler):
            handler(signum, frame)  # pytest-timeout's fails the test: that exception wins
        elif handler == signal.SIG_DFL:
            # The default action of SIGALRM ends the process: as it would have without us.
            self.restore()
            signal.raise_signal(signum)

    def restore(self) -> None:
        if self.done:
            return
        self.done = True
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self.previous)
        if self.outer_deadline is not None:
            remaining = max(self.outer_deadline - time.monotonic(), _SOON)
            signal.setitimer(signal.ITIMER_REAL, remaining, self.outer_interval)


def _message(what: str, doing: str, limit: float, trace: types.TracebackType | None) -> str:
    value_type, stuck = _where(trace)
    whose = f"the code of a {value_type} value" if value_type else "the value's code"
    at = f" (stopped in {stuck})" if stuck else ""
    mode = " or use --mode result" if doing == "building the snapshot" else ""
    return (
        f"{what}: {doing} took longer than {limit:g} s (the snapshot time budget): {whose} "
        f"did not return{at}; fix that code, narrow the target{mode}, or raise the budget "
        "(--snapy-capture-snapshot-timeout SECONDS, ini snapy_capture_snapshot_timeout)"
    )


def _where(trace: types.TracebackType | None) -> tuple[str, str]:
    """The type of the value the snapshot view was at, and the innermost running function."""
    value_type = stuck = ""
    viewers = _viewer_files()
    while trace is not None:
        frame = trace.tb_frame
        code = frame.f_code
        if code.co_filename in viewers and "value" in frame.f_locals:
            value_type = qualified_name(type(frame.f_locals["value"]))
        if code.co_filename != __file__:  # the alarm's own frame is the innermost
            name = getattr(code, "co_qualname", code.co_name)
            stuck = f"{name} at {code.co_filename}:{trace.tb_lineno}"
        trace = trace.tb_next
    return value_type, stuck


def _viewer_files() -> frozenset[str]:
    """Files whose frames hold the value being viewed in a local named ``value``."""
    # _state's file is named, not imported: _state imports this module.
    return frozenset({os.path.join(os.path.dirname(__file__), "_state.py"), _text.__file__})
