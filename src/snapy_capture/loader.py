"""``snapy_capture.loader``: loading captures back (``replay.loader``, at its documented path)."""

from __future__ import annotations

from snapy_capture.replay.loader import *  # noqa: F403
from snapy_capture.replay.loader import __all__  # noqa: F401
