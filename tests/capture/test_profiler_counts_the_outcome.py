"""``CaptureProfiler.capture_time_ms`` (and ``stats()["capture_ns"]``) count what capturing
costs the caller after the call too: with ``record_result``, the state the method left in its
instance, the result, and (synchronously) encoding and storing the capture.

Found capturing tomlkit's own suite (3.8 s bare, 314 s captured): a profiler around 30 calls
of a method on a 2,000-row instance said 1.36 s of capturing in a 2.17 s block whose function
itself takes microseconds; everything done as the call returned was missing.

The clock is the caller's own (``_caller._perf_counter_ns``), replaced by one that the slow
part advances by a known amount: no timing of the machine is asserted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from snapy_capture import CaptureProfiler, capture_args, flush
from snapy_capture.capture import _caller, stats

STEP_NS = 3_000_000_000  # what the fake clock adds while the after-call part runs: 3 s


class Ledger:
    def __init__(self) -> None:
        self.rows = {1: "one"}

    def add(self, key: int, value: str) -> int:
        self.rows[key] = value
        return len(self.rows)


@pytest.mark.parametrize("options", [{}, {"async_storage": True}], ids=["sync", "async"])
def test_time_spent_as_the_call_returns_is_counted(
    capture_dir: Path, monkeypatch: pytest.MonkeyPatch, options: dict[str, Any]
) -> None:
    now = [0]
    monkeypatch.setattr(_caller, "_perf_counter_ns", lambda: now[0])
    real_finish_part = _caller.receiver_state if not options else None

    def slow_after(*args: Any, **kwargs: Any) -> Any:
        now[0] += STEP_NS  # the instance after the call: what a big receiver costs
        return real_finish_part(*args, **kwargs)  # type: ignore[misc]

    if real_finish_part is not None:
        monkeypatch.setattr(_caller, "receiver_state", slow_after)
    else:
        # Asynchronously, the caller's part after the call is handing the outcome over.
        real_submit = _caller.Deferred.submit

        def slow_submit(self: Any) -> None:
            now[0] += STEP_NS
            real_submit(self)

        monkeypatch.setattr(_caller.Deferred, "submit", slow_submit)

    cls = type("Ledger", (Ledger,), {"__module__": __name__})
    cls.add = capture_args(retention=None, record_result=True, **options)(Ledger.add)  # type: ignore[method-assign]
    ledger = cls()
    before = stats()["capture_ns"]
    with CaptureProfiler() as profiler:
        assert ledger.add(2, "two") == 2
        assert ledger.add(3, "three") == 3
    assert flush(timeout=30)
    assert profiler.captures == 2
    assert profiler.capture_time_ms >= 2 * STEP_NS / 1e6
    assert stats()["capture_ns"] - before >= 2 * STEP_NS
