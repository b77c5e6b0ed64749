"""Does storage slow down as captures pile up? Writes and loads with 10 vs 10,000 retained.

Each case is a capture directory of one function holding 10 or 10,000 captures. Writes go
through ``CaptureStorage.write`` with ``retention=None`` (nothing deleted), ``retention=10000``
(at 10,000, every write deletes the oldest) and ``retention`` equal to the number kept (every
write deletes the oldest); loads through ``load_capture``, which returns the newest capture.

Paired, like the disk-bound rows of ``bench_calls``: this virtual disk's speed flips twofold
from minute to minute, and two directories can differ several-fold in write speed (their
blocks lie on parts of the disk image the host has or has not allocated yet), so a 10 and a
10,000 measured at different moments or in unrelated directories can miss or meet the goal
by luck alone (one row swung from 0.59x to 2.97x between two runs). So the rows are measured
on several pairs of directories, one row after the other on each pair. A pair's two storage
roots are siblings, created one right after the other, and which of the two holds the 10
swaps from one pair to the next; their calls alternate one by one, so both see the same
moment of the disk. A row is judged on the median over pairs of directories of the median
ratio of those calls (10,000 / 10). Every directory is checked to hold the count it stands
for after its calls, and loading to return the newest capture.
"""

from __future__ import annotations

import functools
import gc
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from snapy_capture import CaptureStorage, load_capture

from ._timing import fmt_ns, report

MODULE, QUALNAME = "bench_app.orders", "OrderService.place"
NAME = f"{MODULE}:{QUALNAME}"
SIZES = (10, 10_000)
#: Pairs of directories, each measured with every row: even, so each of the two creation
#: orders holds the 10 as often as the 10,000.
PAIRS = 6
#: Calls to each directory of a pair per row, in alternation.
CALLS = 150
#: Captures at the start of a 10,000 that are files of their own (see ``_fill``): as many
#: as the timed writes that delete one (the two rows measured first, see ``MEASURED``).
REAL = CALLS * 2
#: A directory that grows (nothing to delete yet) is trimmed back this often (never timed):
#: it holds between its size and this many more.
TRIM_EVERY = 10
GOAL = 1.5


@dataclass(frozen=True)
class Row:
    """One line of the table: what is done to the 10 and to the 10,000 captures."""

    label: str
    key: str  # "None", "10000", "N" (the retention) or "load"

    def retention(self, size: int) -> int | None:
        return {"None": None, "10000": 10_000, "N": size}[self.key]

    def grows(self, size: int) -> bool:
        """Whether a write keeps the capture it would delete at ``size`` (retention above it)."""
        if self.key == "load":
            return False
        kept = self.retention(size)
        return kept is None or kept > size


ROWS = (
    Row("write, retention=None", "None"),
    Row("write, retention=10000 (*)", "10000"),
    Row("write, retention=N, N kept", "N"),
    Row("load_capture (newest)", "load"),
)
#: The order the rows are measured in on a pair of directories. The two whose writes delete
#: first: each write's ``.seq`` floor is then the one the previous delete left (the
#: trims of a growing row, not timed, do not move it; a stale floor would send the first
#: write after it deleting a range of captures already gone), and what they delete at
#: 10,000 is the oldest, the ``REAL`` files.
MEASURED = ("N", "10000", "None", "load")


def _record(marker: int) -> dict[str, Any]:
    # ``marker`` is 1 or 2: a one-byte int either way, so every capture has the same size.
    return {
        "function_name": "place",
        "module": MODULE,
        "qualname": QUALNAME,
        "timestamp": "2024-01-01T00:00:00.000000Z",
        "args": [marker, "order-1234"],
        "kwargs": {"items": [("sku-1", 2)]},
        "metadata": {"call_depth": 0, "redactions": []},
    }


@dataclass
class Side:
    """One capture directory of a pair: its storage, and the count it must hold when timed."""

    root: Path
    storage: CaptureStorage
    directory: Path
    size: int

    def count(self) -> int:
        return sum(1 for name in os.listdir(self.directory) if name.endswith(".cap"))

    def trim(self) -> None:
        """Back to ``size`` captures, oldest first (never timed).

        By hand, not through ``prune``: that takes tens of milliseconds at 10,000, longer
        than the calls timed between two trims. The ``.seq`` floor is left where it was.
        """
        names = sorted(name for name in os.listdir(self.directory) if name.endswith(".cap"))
        for name in names[: max(0, len(names) - self.size)]:
            os.unlink(self.directory / name)


def _start(root: Path) -> Side:
    """A storage root whose function directory holds its first capture (number 0)."""
    storage = CaptureStorage(root, retention=None)
    directory = storage.write(MODULE, QUALNAME, storage.encode(_record(1)), retention=None).parent
    return Side(root, storage, directory, 1)


def _fill(side: Side, size: int) -> None:
    """Numbers 1 .. size - 2 next to the first capture, then number size - 1 by a write.

    The oldest ``REAL`` are files of their own: they are what retention deletes, as at 10
    kept, and deleting a file's last link costs more than deleting one of many. Like those
    deleted at 10 kept they are seconds old, not yet written back (the kernel waits 30 s):
    here a capture already on disk costs some 0.2 ms more to delete (its blocks are freed and
    discarded), whatever the count, and this compares counts, not ages. The rest are hard
    links of one file kept outside the function directory: the directory's size is what
    matters, and linking is quick to set up.
    """
    data = side.storage.encode(_record(1))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    bulk = side.root / "bulk"  # a file in the root, not a function directory: never listed
    if size - 1 > REAL:
        bulk.write_bytes(data)
    for seq in range(1, size - 1):
        path = side.directory / f"{seq:012d}.cap"
        if seq <= REAL:
            fd = os.open(path, flags, 0o600)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
        else:
            os.link(bulk, path)
    (side.directory / ".seq").unlink()  # this write rebuilds it by listing the directory
    side.storage.write(MODULE, QUALNAME, data, retention=None)
    side.size = size
    _check(side, size, size, "after setup")


def _pair(parent: Path, swap: bool) -> tuple[Side, Side]:
    """The 10 and the 10,000 of one pair: sibling roots created in alternation.

    ``swap``: the root created second holds the 10 (a per-directory speed that follows the
    creation order then favours each size in half the pairs).
    """
    first, second = _start(parent / "a"), _start(parent / "b")
    small, large = (second, first) if swap else (first, second)
    _fill(small, SIZES[0])
    _fill(large, SIZES[-1])
    return small, large


def _check(side: Side, low: int, high: int, when: str) -> None:
    """Refuse figures for a directory that did not hold the count it stands for."""
    count = side.count()
    if not low <= count <= high:
        raise RuntimeError(f"{side.directory} held {count} captures {when}, not {low}..{high}")


def _newest_is_loaded(side: Side) -> None:
    """Write a newest capture unlike the others (of the same size), and check that loading
    finds it among ``size``."""
    side.storage.write(MODULE, QUALNAME, side.storage.encode(_record(2)), retention=side.size)
    _check(side, side.size, side.size, "before loading")
    args, _ = load_capture(NAME, side.root)
    if args[0] != 2:
        raise RuntimeError(f"load_capture did not return the newest capture of {side.root}")


def _operation(row: Row, side: Side) -> Callable[[], object]:
    if row.key == "load":
        return functools.partial(load_capture, NAME, side.root)
    retention = row.retention(side.size)
    data = side.storage.encode(_record(1))  # the same bytes on both sides
    return functools.partial(side.storage.write, MODULE, QUALNAME, data, retention=retention)


def _alternate(row: Row, small: Side, large: Side) -> tuple[list[float], list[float]]:
    """Per-call times of the two sides called one right after the other (the first of the
    two alternates), so that both see the same moment of a disk whose speed drifts."""
    sides = (small, large)
    for side in sides:
        side.trim()  # what the row before left
        if row.key == "load":
            _newest_is_loaded(side)
    calls = [_operation(row, side) for side in sides]
    growing = [side for side in sides if row.grows(side.size)]
    times: tuple[list[float], list[float]] = ([], [])
    clock = time.perf_counter_ns
    gc.collect()
    gc.disable()
    try:
        for i in range(CALLS):
            if i % TRIM_EVERY == 0:
                for side in growing:
                    side.trim()
            for slot in (0, 1) if i % 2 else (1, 0):
                start = clock()
                calls[slot]()
                times[slot].append(clock() - start)
    finally:
        gc.enable()
    for side in sides:
        extra = TRIM_EVERY if side in growing else 0
        _check(side, side.size, side.size + extra, f"after the '{row.label}' calls")
    return times


def _measure(parent: Path, swap: bool) -> dict[str, tuple[list[float], list[float]]]:
    """Every row, one after the other, on one pair of directories."""
    parent.mkdir()
    try:
        small, large = _pair(parent, swap)
        rows = {row.key: row for row in ROWS}
        return {key: _alternate(rows[key], small, large) for key in MEASURED}
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def run(pairs: int = PAIRS) -> list[str]:
    """Measure and return the table lines."""
    base = Path(tempfile.mkdtemp(prefix="snapy-bench-storage-"))
    try:
        results: dict[str, list[tuple[list[float], list[float]]]] = {row.key: [] for row in ROWS}
        for number in range(pairs):
            measured = _measure(base / str(number), swap=number % 2 == 1)
            for key, times in measured.items():
                results[key].append(times)
        return _table(results)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _paired(small: list[float], large: list[float]) -> float:
    """The median ratio of the calls made one right after the other (10,000 / 10)."""
    return statistics.median(b / a for a, b in zip(small, large, strict=True))


def _table(results: dict[str, list[tuple[list[float], list[float]]]]) -> list[str]:
    head = "".join(f"{f'{size:,} kept':>22s}" for size in SIZES)
    lines = [
        f"{'per operation (min / median)':30s}{head}"
        f"{'paired':>9s}{'pairs of dirs':>15s}{'goal':>8s}"
    ]
    rows: list[dict[str, object]] = []
    for row in ROWS:
        pairs = results[row.key]
        small = [t for times, _ in pairs for t in times]
        large = [t for _, times in pairs for t in times]
        cells = "".join(
            f"{fmt_ns(min(times)) + ' / ' + fmt_ns(statistics.median(times)):>22s}"
            for times in (small, large)
        )
        by_pair = sorted(_paired(*times) for times in pairs)
        paired = statistics.median(by_pair)
        spread = f"{by_pair[0]:.2f} - {by_pair[-1]:.2f}"
        rows.append({"name": row.label, "paired": paired, "goal": GOAL, "spread": by_pair})
        verdict = "ok" if paired <= GOAL else "MISSED"
        lines.append(
            f"{row.label:30s}{cells}{paired:9.2f}{spread:>15s}{f'<= {GOAL}':>8s}  {verdict}"
        )
    report("storage_10_vs_10000", rows=rows)
    lines += [
        f"min / median: of single calls, {len(results[ROWS[0].key])} pairs of directories of "
        f"{CALLS} calls each",
        "paired (judged): the median over pairs of directories of the median ratio, 10,000 / 10,",
        "    of calls made one right after the other; 'pairs of dirs': lowest - highest of them",
        "(*) with 10 kept nothing is deleted; with 10,000 kept every write also deletes the",
        "    oldest capture, one more file operation. 'retention=N, N kept' compares like with",
        "    like: every write deletes one capture, with 10 or 10,000 kept.",
        f"where nothing is deleted the directory grows, and is trimmed back (untimed) every "
        f"{TRIM_EVERY} calls:",
        f"    it holds {SIZES[0]}..{SIZES[0] + TRIM_EVERY} or "
        f"{SIZES[-1]:,}..{SIZES[-1] + TRIM_EVERY:,} captures",
    ]
    return lines


if __name__ == "__main__":
    print("\n".join(run()))
