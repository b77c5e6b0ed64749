"""The capture paths a test runs through: the same call, synchronous or handed to the
background writer (as a snapshot, or serialized later), with and without a recorded result."""

from __future__ import annotations

import pytest

CAPTURE_MODES = [
    pytest.param({}, id="sync"),
    pytest.param({"async_storage": True}, id="async"),
    pytest.param({"async_storage": True, "lazy_serialization": True}, id="lazy"),
    pytest.param({"record_result": True}, id="sync-result"),
    pytest.param({"async_storage": True, "record_result": True}, id="async-result"),
]
