"""Regenerate ``format0_capture.cap``: a capture as written before the file header existed.

Format 0 is a bare pickle (protocol 2) of the record dict, with no ``#snapy-capture`` header.
The committed file must not change; run this only to see how it was made::

    python tests/data/make_format0.py
"""

from __future__ import annotations

import pickle
from pathlib import Path

RECORD = {
    "function_name": "legacy_total",
    "module": "legacy_billing",
    "qualname": "legacy_total",
    "timestamp": "2023-09-15T10:30:00Z",
    "args": [[1, 2, 3]],
    "kwargs": {"currency": "EUR", "rounding": (2, "half-up")},
    "metadata": {"call_depth": 0, "thread_id": "MainThread", "python_version": "3.11.4"},
}

if __name__ == "__main__":
    Path(__file__).with_name("format0_capture.cap").write_bytes(pickle.dumps(RECORD, protocol=2))
