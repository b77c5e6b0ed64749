"""A recorded result is bounded like the arguments' snapshot: past the limit, a placeholder.

Before, a 10 MB result was walked by the filters and encoded in full on every call (1.7 s for
10 MB of bytes, 22 s for 500,000 rows, on the caller's thread in synchronous mode) and stored
whole in each capture. It is now pickled once, up to the limit, and replaced by
``[FILTERED: too large (over <limit> bytes)]``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from snapy_capture import capture_args, flush, load_capture_dict

MODES = [
    pytest.param({}, id="sync"),
    pytest.param({"async_storage": True}, id="async"),
    pytest.param({"async_storage": True, "lazy_serialization": True}, id="lazy"),
    pytest.param({"max_capture_size": 4096}, id="max_capture_size"),
]


@pytest.mark.parametrize("options", MODES)
@pytest.mark.parametrize("kind", ["bytes", "rows"])
def test_a_result_over_the_snapshot_limit_is_stored_as_a_placeholder(
    capture_dir: Path, options: dict[str, Any], kind: str
) -> None:
    value: Any = os.urandom(3 << 20) if kind == "bytes" else [(f"r{i}", i) for i in range(200_000)]

    @capture_args(retention=None, record_result=True, **options)
    def load(name: str) -> Any:
        return value

    assert load("table") is value  # the caller gets its value, untouched
    assert flush(timeout=60)
    record = load_capture_dict("load", capture_dir)
    assert record["args"] == ["table"]
    limit = 4 * 4096 if "max_capture_size" in options else 1 << 20
    assert str(record["result"]["value"]) == f"[FILTERED: too large (over {limit} bytes)]"
    reason = "max_capture_size" if "max_capture_size" in options else "snapshot_limit"
    assert {"path": "result", "reason": reason} in record["metadata"]["redactions"]
    [file] = list(capture_dir.rglob("*.cap"))
    assert file.stat().st_size < 4096


@pytest.mark.parametrize("options", MODES[:3])
def test_a_result_within_the_limit_is_stored_filtered(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    """A guard: a large-ish result under the limit is kept, and still filtered."""
    rows = [(f"r{i}", i) for i in range(20_000)]

    @capture_args(retention=None, record_result=True, **options)
    def load(name: str) -> Any:
        return {"rows": rows, "password": "hunter2-x"}

    load("table")
    assert flush(timeout=60)
    stored = load_capture_dict("load", capture_dir)["result"]["value"]
    assert stored["rows"] == rows
    assert str(stored["password"]).startswith("[FILTERED: ")
