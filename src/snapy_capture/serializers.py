"""``snapy_capture.serializers``: where the serializers were, and where capture files name them.

Capture files written before the package had layer folders refer to
``snapy_capture.serializers._load_main_global`` (classes of a script run as ``__main__``), and
code imports the serializers from here: both keep working.
"""

from __future__ import annotations

from snapy_capture.storage.serializers import *  # noqa: F403
from snapy_capture.storage.serializers import __all__, _load_main_global  # noqa: F401
