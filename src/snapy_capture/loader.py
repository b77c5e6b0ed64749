"""``snapy_capture.loader``: loading captures back (the seed's import path; ``replay.loader``)."""

from __future__ import annotations

from snapy_capture.replay.loader import *  # noqa: F403
from snapy_capture.replay.loader import __all__  # noqa: F401
