"""Regenerate ``flat_layout_capture.cap``: a capture written before the package had layer folders.

Capture files name functions of the library: ``snapy_capture.filters.Redacted`` for a filtered
value and ``snapy_capture.serializers._load_main_global`` for a class of a script run as
``__main__``. This file was written by the flat layout (commit dfde4ca^); the test loading it
checks that those names still resolve. The committed file must not change; run this only to
see how it was made, with that version installed::

    python tests/data/make_flat_layout_capture.py
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from snapy_capture import ArgumentFilter, CaptureStorage
from snapy_capture.serializers import set_main_module_name


@dataclasses.dataclass
class Point:
    """Stored as a class of ``__main__``, found again as ``flat_layout_main.Point``."""

    x: int
    y: int


if __name__ == "__main__":
    set_main_module_name("flat_layout_main")
    args, _ = ArgumentFilter().filter_value(({"user": "bob", "password": "hunter2"},), "args")
    record = {
        "function_name": "move",
        "module": "flat_layout_main",
        "qualname": "move",
        "timestamp": "2026-12-04T23:59:00Z",
        "args": [Point(1, 2), *args],
        "kwargs": {},
        "metadata": {"call_depth": 0},
    }
    here = Path(__file__).parent
    path = CaptureStorage(here / "_flat_layout_tmp", retention=None).save(record)
    here.joinpath("flat_layout_capture.cap").write_bytes(path.read_bytes())
