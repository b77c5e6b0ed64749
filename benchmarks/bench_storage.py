"""Does storage slow down as captures pile up? Writes and loads with 10 vs 10,000 retained.

Each case is a capture directory of one function holding 10 or 10,000 captures (hard links of
one capture file: the directory's size is what matters, and linking is quick to set up).
Writes go through ``CaptureStorage.write`` with ``retention=None`` (nothing deleted),
``retention=10000`` (at 10,000, every write deletes the oldest) and ``retention`` equal to
the number kept (every write deletes the oldest); loads through ``load_capture``, which
returns the newest capture.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from snapy_capture import CaptureStorage, load_capture

from ._timing import Timing, Variant, fmt_ns, interleaved

MODULE, QUALNAME = "bench_app.orders", "OrderService.place"
SIZES = (10, 10_000)
WRITES = 100
LOADS = 40


def _record(i: int) -> dict[str, Any]:
    return {
        "function_name": "place",
        "module": MODULE,
        "qualname": QUALNAME,
        "timestamp": "2024-01-01T00:00:00.000000Z",
        "args": [i, "order-1234"],
        "kwargs": {"items": [("sku-1", 2)]},
        "metadata": {"call_depth": 0, "redactions": []},
    }


def _fill(root: Path, count: int) -> tuple[CaptureStorage, Path]:
    """A storage whose function directory holds ``count`` captures."""
    storage = CaptureStorage(root, retention=None)
    first = storage.save(_record(0))
    directory = first.parent
    for seq in range(1, count):
        os.link(first, directory / f"{seq:012d}.cap")
    (directory / ".seq").unlink()  # the first timed-out write rebuilds it by listing
    storage.save(_record(count), retention=None)
    return storage, directory


def _trim(directory: Path, keep: int) -> None:
    # Back to ``keep`` captures between rounds (never timed), oldest first.
    names = sorted(name for name in os.listdir(directory) if name.endswith(".cap"))
    for name in names[: max(0, len(names) - keep)]:
        os.unlink(directory / name)


def _write_variant(
    storage: CaptureStorage, directory: Path, size: int, retention: int | None
) -> Variant:
    data = storage.encode(_record(1))

    def variant(_round: int) -> float:
        _trim(directory, size)
        start = time.perf_counter_ns()
        for _ in range(WRITES):
            storage.write(MODULE, QUALNAME, data, retention=retention)
        return (time.perf_counter_ns() - start) / WRITES

    return variant


def _load_variant(root: Path) -> Variant:
    def variant(_round: int) -> float:
        start = time.perf_counter_ns()
        for _ in range(LOADS):
            load_capture(f"{MODULE}:{QUALNAME}", root)
        return (time.perf_counter_ns() - start) / LOADS

    return variant


def run(rounds: int = 5) -> list[str]:
    """Measure and return the table lines."""
    base = Path(tempfile.mkdtemp(prefix="snapy-bench-storage-"))
    try:
        return _run(base, rounds)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _run(base: Path, rounds: int) -> list[str]:
    variants: dict[str, Variant] = {}
    cases: list[tuple[str, int | None]] = [("None", None), ("10000", 10_000), ("N", None)]
    for key, retention in cases:
        for size in SIZES:
            root = base / f"write-{key}-{size}"
            storage, directory = _fill(root, size)
            keep = size if key == "N" else retention
            variants[f"write|{key}|{size}"] = _write_variant(storage, directory, size, keep)
    for size in SIZES:
        root = base / f"load-{size}"
        _fill(root, size)
        load_capture(f"{MODULE}:{QUALNAME}", root)
        variants[f"load|{size}"] = _load_variant(root)
    results = interleaved(variants, rounds)
    return _table(results)


def _table(results: dict[str, Timing]) -> list[str]:
    rows = [
        ("write, retention=None", "write|None|"),
        ("write, retention=10000 (*)", "write|10000|"),
        ("write, retention=N, N kept", "write|N|"),
        ("load_capture (newest)", "load|"),
    ]
    head = "".join(f"{f'{size:,} kept':>22s}" for size in SIZES)
    lines = [f"{'per operation (min / median)':30s}{head}{'ratio':>9s}{'goal':>8s}"]
    for label, key in rows:
        small, large = results[f"{key}{SIZES[0]}"], results[f"{key}{SIZES[-1]}"]
        cells = "".join(f"{fmt_ns(t.min) + ' / ' + fmt_ns(t.median):>22s}" for t in (small, large))
        ratio = large.min / small.min
        verdict = "ok" if ratio <= 1.5 else "MISSED"
        lines.append(f"{label:30s}{cells}{ratio:9.2f}{'<= 1.5':>8s}  {verdict}")
    lines += [
        "ratio: of the minimums, 10,000 kept / 10 kept",
        "(*) with 10 kept nothing is deleted; with 10,000 kept every write also deletes the",
        "    oldest capture, one more file operation. 'retention=N, N kept' compares like with",
        "    like: every write deletes one capture, with 10 or 10,000 kept.",
    ]
    return lines
