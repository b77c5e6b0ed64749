"""Deterministic replay: the clock frozen at the capture's time, ``random`` seeded per case.

Functions that read the clock or ``random`` would give a different outcome on every run.
The capture's ``timestamp`` (the call's wall-clock time, recorded anyway) is where the clock
is frozen, with time-machine (the optional extra ``time``); the seed comes from the
function's name and that timestamp, so each case has its own, the same on every run.
Other sources (``os.urandom``, ``uuid.uuid4``, numpy's generators) are not controlled.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import random
from collections.abc import Iterator, Mapping
from typing import Any

from snapy_capture.replay._call import CannotReplayError, label

__all__ = ["TIME_MACHINE_MISSING", "deterministic"]

TIME_MACHINE_MISSING = (
    "deterministic replay freezes the clock with time-machine, which is not installed "
    "(pip install 'snapy-capture[time]')"
)


@contextlib.contextmanager
def deterministic(record: Mapping[str, Any]) -> Iterator[None]:
    """Freeze the clock at the capture's timestamp and seed ``random`` from the capture.

    The seed comes from the function's name and the capture's timestamp, so each case has
    its own, the same on every run; ``random``'s state is restored afterwards.

    Raises:
        CannotReplayError: time-machine is not installed, or the capture has no timestamp.
    """
    try:
        import time_machine  # noqa: PLC0415 - an optional extra
    except ImportError:
        raise CannotReplayError(f"{label(record)}: {TIME_MACHINE_MISSING}") from None
    when = _timestamp(record)
    identity = f"{record.get('module')}:{record.get('qualname')}@{record.get('timestamp')}"
    seed = int.from_bytes(hashlib.sha256(identity.encode()).digest()[:8], "big")
    saved = random.getstate()
    random.seed(seed)
    try:
        with time_machine.travel(when, tick=False):
            yield
    finally:
        random.setstate(saved)


def _timestamp(record: Mapping[str, Any]) -> datetime.datetime:
    text = record.get("timestamp")
    if isinstance(text, str):
        with contextlib.suppress(ValueError):
            parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)
    raise CannotReplayError(f"{label(record)}: no readable timestamp to freeze the clock at")
