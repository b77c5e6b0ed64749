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


# --- an object store (S3 API: moto's server on 127.0.0.1) --------------------------------

#: Calls per burst of the paired caller rows; the queues are flushed (untimed) between bursts,
#: so neither side ever finds its queue full (a dropped capture would cost less).
BURST = 25
BURSTS = 12
WRITES = 150
LOADS = 40
#: A capture with an S3 path costs its caller what an async local capture does (both are a
#: snapshot queued for the writer thread): equal within this noise.
CALLER_GOAL = 1.25


def _moto() -> tuple[Any, str] | None:
    """A moto S3 server on a free port, or ``None`` when moto or s3fs is not installed."""
    import importlib.util
    import socket
    import subprocess
    import sys
    import urllib.request

    if importlib.util.find_spec("moto") is None or importlib.util.find_spec("s3fs") is None:
        return None
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()  # noqa: S310
            return process, endpoint
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("moto server did not start")


def _target(order: str, qty: int, note: str) -> int:
    return qty


def run_object_store() -> list[str]:
    """Caller cost with an S3 path against a local async capture (paired), write throughput
    to the local S3 server, and loading the newest among 10 vs 10,000 captures in S3."""
    started = _moto()
    if started is None:
        return ["(skipped: moto[server] and s3fs are not installed: pip install -e '.[test]')"]
    process, endpoint = started
    saved = dict(os.environ)
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )
    base = Path(tempfile.mkdtemp(prefix="snapy-bench-s3-"))
    try:
        import boto3

        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="bench")
        return [
            *_caller_rows(base, "s3://bench/caller"),
            *_throughput_rows("s3://bench/throughput"),
            *_load_rows("s3://bench/load"),
        ]
    finally:
        os.environ.clear()
        os.environ.update(saved)
        process.kill()
        process.wait()
        shutil.rmtree(base, ignore_errors=True)


def _caller_rows(base: Path, url: str) -> list[str]:
    from snapy_capture import capture_args, flush

    local = capture_args(base / "async", retention=None, async_storage=True)(_target)
    remote = capture_args(url, retention=None)(_target)
    calls = (local, remote)
    for func in calls:  # resolved, connected and warm before timing
        func("order-1", 2, "x" * 40)
    flush()
    times: tuple[list[float], list[float]] = ([], [])
    clock = time.perf_counter_ns
    for _ in range(BURSTS):
        gc.collect()
        gc.disable()
        try:
            for i in range(BURST):
                for slot in (0, 1) if i % 2 else (1, 0):
                    start = clock()
                    calls[slot]("order-1", 2, "x" * 40)
                    times[slot].append(clock() - start)
        finally:
            gc.enable()
        flush()
    ratio = statistics.median(b / a for a, b in zip(*times, strict=True))
    verdict = "ok" if ratio <= CALLER_GOAL else "MISSED"
    cell = [f"{fmt_ns(min(t))} / {fmt_ns(statistics.median(t))}" for t in times]
    return [
        f"{'caller cost (min / median)':36s}{'local async':>22s}{'s3:// path':>22s}{'paired':>9s}",
        f"{'one captured call':36s}{cell[0]:>22s}{cell[1]:>22s}{ratio:9.2f}"
        f"  <= {CALLER_GOAL}  {verdict}",
        f"  ({BURSTS} bursts of {BURST} calls each, alternating; queues flushed between bursts)",
    ]


def _throughput_rows(url: str) -> list[str]:
    lines = []
    for retention in (None, 10):
        store = CaptureStorage(url + f"-{retention}", retention=retention)
        data = store.encode(_record(1))
        store.write(MODULE, QUALNAME, data)  # connected, the function's directory made
        start = time.perf_counter()
        for _ in range(WRITES):
            store.write(MODULE, QUALNAME, data)
        elapsed = time.perf_counter() - start
        label = f"write throughput, retention={retention}"
        lines.append(
            f"{label:36s}{WRITES / elapsed:10.0f} captures/s per process "
            f"({elapsed / WRITES * 1000:.1f} ms each, one writer thread)"
        )
    return lines


def _load_rows(url: str) -> list[str]:
    import fsspec

    from snapy_capture.storage._objectstore import new_id

    times: dict[int, list[float]] = {size: [] for size in SIZES}
    fs = fsspec.filesystem("s3")
    for size in SIZES:
        store = CaptureStorage(f"{url}-{size}", retention=None)
        store.write(MODULE, QUALNAME, store.encode(_record(1)))
        directory = store.capture_files(MODULE, QUALNAME)[0].parent.key
        data = store.encode(_record(1))
        now = time.time() - 3600  # older than the newest, written below
        # Put in bulk (concurrent requests): what 10,000 captures would leave behind.
        batch = {f"{directory}/{new_id(now + i / 1000)}.cap": data for i in range(size - 2)}
        fs.pipe(batch)
        store.write(MODULE, QUALNAME, store.encode(_record(2)))
        if len(store.stored_files(store.functions()[0])) != size:
            raise RuntimeError(f"{url}-{size} does not hold {size} captures")
    requests = _count_requests(type(fs))
    for i in range(LOADS):
        for size in SIZES if i % 2 else SIZES[::-1]:
            requests[size] = requests.pop("now", {})
            requests["now"] = requests[size] = {}
            start = time.perf_counter_ns()
            args, _ = load_capture(NAME, f"{url}-{size}")
            times[size].append(time.perf_counter_ns() - start)
            if args[0] != 2:
                raise RuntimeError("load_capture did not return the newest capture")
    per_load = {
        size: ", ".join(f"{count} {method}" for method, count in sorted(requests[size].items()))
        for size in SIZES
    }
    ratio = statistics.median(b / a for a, b in zip(times[SIZES[0]], times[SIZES[-1]], strict=True))
    cells = "".join(
        f"{fmt_ns(min(times[size])) + ' / ' + fmt_ns(statistics.median(times[size])):>22s}"
        for size in SIZES
    )
    # Judged on the requests, which are ours: their time is moto's, whose server scans every
    # key of the bucket to answer a listing however few keys are asked for (S3 itself answers
    # from an index), so the wall ratio grows with the bucket on moto alone.
    same = per_load[SIZES[0]] == per_load[SIZES[-1]]
    verdict = "ok" if same else "MISSED"
    return [
        f"{'load newest from S3 (min / median)':36s}{'10 kept':>22s}{'10,000 kept':>22s}"
        f"{'paired':>9s}",
        f"{'load_capture (newest)':36s}{cells}{ratio:9.2f}  (moto's time: not judged)",
        f"  requests per load ({LOADS} loads each, alternating): {SIZES[0]} kept: "
        f"{per_load[SIZES[0]]}; {SIZES[-1]:,} kept: {per_load[SIZES[-1]]}",
        f"  the same requests whatever the count (the listing asks for the first keys, never "
        f"all): {verdict}; the time is not the same on moto, whose server scans every key of",
        "  the bucket to answer a listing, however few are asked for (S3 answers from an index)",
    ]


def _count_requests(cls: Any) -> dict[Any, dict[str, int]]:
    """Count the S3 requests (by API call) made through s3fs while loading."""
    counts: dict[Any, dict[str, int]] = {"now": {}}
    original = cls._call_s3

    async def counted(self: Any, method: str, *args: Any, **kwargs: Any) -> Any:
        now = counts["now"]
        now[method] = now.get(method, 0) + 1
        return await original(self, method, *args, **kwargs)

    cls._call_s3 = counted
    return counts


if __name__ == "__main__":
    print("\n".join(run()))
    print("\n".join(run_object_store()))
