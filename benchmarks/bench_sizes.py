"""Huge arguments: what a call given 50 MB costs under capture, paired with the bare call.

One row per shape (bytes, str, a list of 6.25M ints, a dict of 1M items, a list of 100k small
objects, nested lists), each about 50 MB. The bare call and the captured call run in
alternation, one right after the other, with default options (synchronous, then
``async_storage``, each to its own directory); the figure is the median of the paired
differences. The goal: at most 20 ms more than the bare call, a capture file of a few hundred
bytes, and no memory that grows with the argument (the peak that tracemalloc sees during one
captured call, the argument itself not counted).
"""

from __future__ import annotations

import datetime
import gc
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import snapy_capture
from snapy_capture import capture_args

from ._timing import fmt_ns, report

GOAL_NS = 20e6
_SIZE = 50_000_000


class _Row:
    """A small object of about 500 bytes (100k of them: 50 MB)."""

    def __init__(self, i: int) -> None:
        self.name = f"row-{i:06d}-" + "n" * 440
        self.qty = i
        self.price = i + 0.5
        self.tags = ["a", "b"]


def _shapes() -> dict[str, Callable[[], Any]]:
    return {
        "bytes, 50 MB": lambda: b"\x01" * _SIZE,
        "str, 50 MB": lambda: "s" * _SIZE,
        "list of 6.25M ints": lambda: list(range(_SIZE // 8)),
        "dict of 1M items": lambda: {i: str(i) for i in range(1_000_000)},
        "list of 100k objects": lambda: [_Row(i) for i in range(100_000)],
        "nested lists, 625k x 10": lambda: [list(range(i, i + 10)) for i in range(625_000)],
    }


def _target(data: Any, n: int) -> int:
    return n


def _paired(bare: Callable[[int], object], captured: Callable[[int], object], pairs: int) -> float:
    """Median of (captured - bare) over ``pairs`` alternating calls, in ns."""
    clock = time.perf_counter_ns
    differences = []
    for i in range(pairs):
        start = clock()
        bare(i)
        middle = clock()
        captured(i)
        end = clock()
        differences.append((end - middle) - (middle - start))
    return statistics.median(differences)


def _peak(call: Callable[[], object]) -> int:
    """Peak bytes allocated during one call (tracemalloc: slower, so timed apart)."""
    gc.collect()
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def run(pairs: int = 9) -> list[str]:
    lines = [
        f"{'argument':<26}{'bare':>10}{'+ sync':>12}{'+ async':>12}{'peak':>11}{'file':>10}",
    ]
    rows = []
    with tempfile.TemporaryDirectory() as root:
        for index, (name, make) in enumerate(_shapes().items()):
            value = make()
            sync_dir, async_dir = Path(root, f"s{index}"), Path(root, f"a{index}")
            sync = capture_args(path=str(sync_dir), retention=3, dedupe=False)(_target)
            deferred = capture_args(
                path=str(async_dir), retention=3, dedupe=False, async_storage=True
            )(_target)

            def bare(i: int, value: Any = value) -> object:
                return _target(value, i)

            def sync_call(i: int, value: Any = value, sync: Any = sync) -> object:
                return sync(value, i)

            def async_call(i: int, value: Any = value, deferred: Any = deferred) -> object:
                return deferred(value, i)

            sync_call(-1)  # resolves the configuration, opens the storage
            async_call(-1)
            snapy_capture.flush()
            bare_ns = statistics.median(_time(bare) for _ in range(pairs))
            sync_ns = _paired(bare, sync_call, pairs)
            async_ns = _paired(bare, async_call, pairs)
            snapy_capture.flush()
            peak = _peak(lambda sync_call=sync_call: sync_call(10**6))
            size = max(p.stat().st_size for p in sync_dir.rglob("*.cap"))
            rows.append(
                {
                    "name": name,
                    "bare_ns": bare_ns,
                    "sync_extra_ns": sync_ns,
                    "async_extra_ns": async_ns,
                    "peak_bytes": peak,
                    "capture_bytes": size,
                    "goal_ns": GOAL_NS,
                }
            )
            mark = "" if max(sync_ns, async_ns) <= GOAL_NS else "  (over the 20 ms goal)"
            lines.append(
                f"{name:<26}{fmt_ns(bare_ns):>10}{fmt_ns(sync_ns):>12}{fmt_ns(async_ns):>12}"
                f"{peak / 1024:>9.0f} K{size:>10}{mark}"
            )
            del value, sync, deferred
            gc.collect()
    generated = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    report("huge_arguments", rows=rows, generated=generated)
    lines.append(
        "(+: median of paired differences with the bare call; peak: memory allocated during "
        "one synchronous capture; file: its size in bytes)"
    )
    return lines


def _time(func: Callable[[int], object]) -> float:
    start = time.perf_counter_ns()
    func(0)
    return float(time.perf_counter_ns() - start)


if __name__ == "__main__":
    print("\n".join(run()))
