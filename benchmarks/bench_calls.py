"""Per-call cost of capturing: from a bare call up to a synchronous capture written to disk.

Cheap variants (bare call ... async caller side) run in rounds, each once per round in a
shuffled order (see ``_timing.interleaved``); their figures are the min and the median over
rounds. The disk-bound ones (a synchronous capture against the raw pickle + atomic write it
must compete with) are single calls paired with the raw write, in alternation, because this
disk's speed drifts several-fold from one second to the next; their figures are the min and
the median of the calls. The async caller is judged against synchronous captures timed in
its own rounds ("synchronous, same rounds"): two figures taken minutes apart on this machine
can differ twofold. A tmpfs pair (``/dev/shm``) shows our own CPU cost without a disk. With
MonkeyType installed (the ``bench`` extra), its per-call tracing is timed in the same rounds as
the async caller, which is judged against it too.
"""

from __future__ import annotations

import functools
import gc
import os
import pickle
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import wrapt

import snapy_capture
from snapy_capture import capture_args
from snapy_capture.capture._proxies import proxy

from ._timing import Timing, Variant, fmt_ns, interleaved, per_call, report

#: Arguments of the benchmarked call: small, typical values.
ARGS: tuple[Any, ...] = (42, "order-1234")
KWARGS: dict[str, Any] = {"items": [("sku-1", 2), ("sku-2", 1)], "discount": 0.1}


def target(order_id: int, reference: str, items: list[tuple[str, int]], discount: float) -> int:
    """The benchmarked function: trivial, so the figures are the wrapper's cost."""
    return order_id


def _record() -> dict[str, Any]:
    """A record of the same shape and size as the pipeline builds for ``target``."""
    return {
        "function_name": "target",
        "module": __name__,
        "qualname": "target",
        "timestamp": "2024-01-01T00:00:00.000000Z",
        "args": list(ARGS),
        "kwargs": dict(KWARGS),
        "metadata": {
            "call_depth": 0,
            "thread_id": "MainThread",
            "python_version": "3.11.0",
            "pid": os.getpid(),
            "redactions": [],
        },
    }


def _clear_captures(directory: Path) -> None:
    # Keeps every directory the same size from round to round; never timed.
    for path in directory.rglob("*.cap"):
        path.unlink()


def _raw_writer(directory: Path, *, keep: int | None) -> Callable[[], None]:
    """The floor: pickle the record, mkstemp + write + rename in the same directory (and, with
    ``keep``, unlink the capture that falls out of retention).

    ``directory`` is the capture directory of the function it is paired with: on this virtual
    disk two directories can differ several-fold in write speed (their blocks lie on parts of
    the disk image the host has or has not allocated yet), so the floor shares ours. Its
    files are named ``raw-<n>.cap``, which the storage ignores.
    """
    record = _record()
    counter = [0]
    where = str(directory)

    def write() -> None:
        data = pickle.dumps(record, pickle.HIGHEST_PROTOCOL)
        fd, temp = tempfile.mkstemp(prefix=".tmp-", dir=where)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        counter[0] += 1
        os.rename(temp, f"{where}/raw-{counter[0]:012d}.cap")
        if keep is not None and counter[0] > keep:
            try:  # noqa: SIM105 - suppress() would add its own cost to the floor
                os.unlink(f"{where}/raw-{counter[0] - keep:012d}.cap")
            except FileNotFoundError:
                pass

    return write


def _paired(
    floor: Callable[[], object], ours: Callable[[], object], pairs: int, dirs: list[Path]
) -> tuple[Timing, Timing]:
    """Per-call times of ``floor`` and ``ours`` called in alternation, one right after the
    other, so that both see the same state of a disk whose speed drifts by the second."""
    times: tuple[list[float], list[float]] = ([], [])
    clock = time.perf_counter_ns
    gc.collect()
    gc.disable()
    try:
        _alternate((floor, ours), pairs, dirs, times, clock)
    finally:
        gc.enable()
    return Timing("floor", times[0]), Timing("ours", times[1])


def _alternate(
    funcs: tuple[Callable[[], object], Callable[[], object]],
    pairs: int,
    dirs: list[Path],
    times: tuple[list[float], list[float]],
    clock: Callable[[], int],
) -> None:
    for i in range(pairs):
        if i % 50 == 0:
            for directory in dirs:
                _clear_captures(directory)
        floor, ours = funcs
        order = ((0, floor), (1, ours)) if i % 2 else ((1, ours), (0, floor))
        for slot, func in order:
            start = clock()
            func()
            times[slot].append(clock() - start)


def _async_variant(func: Callable[..., Any], root: Path, calls: int) -> tuple[Variant, list[float]]:
    """The caller's side of a burst of ``calls`` captures, and the list of flush times.

    The flush after each burst (the writer storing what the burst queued) is timed apart and
    appended to the list, per capture.
    """
    flushed: list[float] = []

    def caller(_round: int) -> float:
        snapy_capture.flush()
        _clear_captures(root)
        start = time.perf_counter_ns()
        for _ in range(calls):
            func(*ARGS, **KWARGS)
        elapsed = time.perf_counter_ns() - start
        start = time.perf_counter_ns()
        snapy_capture.flush()
        flushed.append((time.perf_counter_ns() - start) / calls)
        return elapsed / calls

    return caller, flushed


def _sync_variant(func: Callable[..., Any], root: Path, calls: int) -> Variant:
    """Synchronous captures in a short burst, timed in the same rounds as the async caller so
    that both see the same state of the machine (their ratio is a goal)."""

    def burst(_round: int) -> float:
        _clear_captures(root)
        start = time.perf_counter_ns()
        for _ in range(calls):
            func(*ARGS, **KWARGS)
        return (time.perf_counter_ns() - start) / calls

    return burst


def _monkeytype_variant(calls: int) -> Variant | None:
    """MonkeyType's per-call tracing, as ``monkeytype run`` sets it up (its default code
    filter, its trace logger buffering the traces), in bursts timed in the same rounds as
    the async caller; its flush to SQLite at the end of a run is left out, as the writer's
    flush is left out of the async caller's row. ``None`` without MonkeyType (``pip install
    -e '.[bench]'``)."""
    try:
        from monkeytype.config import DefaultConfig
        from monkeytype.db.base import CallTraceStore, CallTraceStoreLogger
        from monkeytype.tracing import trace_calls
    except ImportError:
        return None

    class _Discarded(CallTraceStore):  # what SQLite would get at the end of the run
        def add(self, traces: Any) -> None:
            pass

        def filter(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - unused
            return []

        @classmethod
        def make_store(cls, connection_string: str) -> CallTraceStore:  # pragma: no cover
            return cls()

    config = DefaultConfig()
    logger = CallTraceStoreLogger(_Discarded())
    size, code_filter = config.max_typed_dict_size(), config.code_filter()

    def burst(_round: int) -> float:
        clock = time.perf_counter_ns
        with trace_calls(logger, size, code_filter):
            start = clock()
            for _ in range(calls):
                target(*ARGS, **KWARGS)
            elapsed = clock() - start
        return elapsed / calls

    burst(0)  # MonkeyType's code filter caches its answer per code object
    return burst


def run(rounds: int = 40) -> list[str]:
    """Measure and return the table lines."""
    root = Path(tempfile.mkdtemp(prefix="snapy-bench-calls-"))
    shm = Path("/dev/shm")  # noqa: S108 - a tmpfs, to tell our CPU cost from the disk's
    memory = Path(tempfile.mkdtemp(prefix="snapy-bench-", dir=shm)) if shm.is_dir() else None
    try:
        return _run(root, memory, rounds)
    finally:
        snapy_capture.flush()
        shutil.rmtree(root, ignore_errors=True)
        if memory is not None:
            shutil.rmtree(memory, ignore_errors=True)


def _run(root: Path, memory: Path | None, rounds: int) -> list[str]:
    fast, pairs = 2_000, 400
    passthrough = wrapt.FunctionWrapper(target, lambda w, i, a, k: w(*a, **k))
    # The same pass-through on our proxy, which skips wrapt's per-call ``__self__`` lookup for
    # plain functions (see snapy_capture.capture._proxies): the floor our own calls stand on.
    unprobed = proxy(target, lambda w, i, a, k: w(*a, **k), [True])
    disabled = capture_args(root / "off", enabled=False)(target)
    sampled = capture_args(root / "sampled", sample_rate=1e-12)(target)
    sync = capture_args(root / "sync", retention=None, dedupe=False)(target)
    sync10 = capture_args(root / "sync10", retention=10, dedupe=False)(target)
    in_rounds = capture_args(root / "rounds", retention=None, dedupe=False)(target)
    queued = capture_args(root / "async", retention=None, async_storage=True, dedupe=False)(target)
    lazy = capture_args(
        root / "lazy",
        retention=None,
        async_storage=True,
        lazy_serialization=True,
        dedupe=False,
    )(target)
    funcs = [disabled, sampled, sync, sync10, in_rounds, queued, lazy]
    comparisons = [
        (
            "synchronous capture",
            "raw pickle + atomic write",
            sync,
            root / "sync",
            None,
        ),
        (
            "synchronous, retention=10",
            "raw ... + unlink oldest",
            sync10,
            root / "sync10",
            10,
        ),
    ]
    if memory is not None:
        in_memory = capture_args(memory / "sync", retention=None, dedupe=False)(target)
        funcs.append(in_memory)
        comparisons.append(
            (
                "tmpfs: synchronous capture",
                "tmpfs: raw pickle + atomic write",
                in_memory,
                memory / "sync",
                None,
            )
        )
    for func in funcs:
        func(*ARGS, **KWARGS)  # resolve the configuration, create the directories
    snapy_capture.flush()

    variants: dict[str, Variant] = {
        "bare call": per_call(lambda: target(*ARGS, **KWARGS), fast),
        "wrapt pass-through": per_call(lambda: passthrough(*ARGS, **KWARGS), fast),
        "our proxy, pass-through": per_call(lambda: unprobed(*ARGS, **KWARGS), fast),
        "capture disabled": per_call(lambda: disabled(*ARGS, **KWARGS), fast),
        "sampled out": per_call(lambda: sampled(*ARGS, **KWARGS), fast),
    }
    variants["synchronous, same rounds"] = _sync_variant(in_rounds, root / "rounds", 25)
    variants["async capture (caller)"], async_flushed = _async_variant(queued, root / "async", 100)
    variants["async+lazy (caller)"], lazy_flushed = _async_variant(lazy, root / "lazy", 100)
    monkeytype = _monkeytype_variant(100)
    if monkeytype is not None:
        variants["MonkeyType tracing"] = monkeytype
    results = interleaved(variants, rounds)
    results["  flush, per capture queued"] = Timing("  flush, per capture queued", async_flushed)
    results["  lazy flush, per capture"] = Timing("  lazy flush, per capture", lazy_flushed)
    for ours_name, floor_name, func, ours_dir, keep in comparisons:
        [directory] = [path for path in ours_dir.iterdir() if path.is_dir()]
        floor, ours = _paired(
            _raw_writer(directory, keep=keep),
            functools.partial(func, *ARGS, **KWARGS),
            pairs,
            [directory],
        )
        results[floor_name] = Timing(floor_name, floor.rounds)
        results[ours_name] = Timing(ours_name, ours.rounds)
    results.update(_dedupe_rows(root, pairs, "disk: "))
    if memory is not None:
        results.update(_dedupe_rows(memory, pairs, "tmpfs: "))
    return _table(results)


#: Pairs of calls per deduplication row (issue 21 asks for 1,500 or more).
_DEDUPE_PAIRS = 3_000


def _dedupe_rows(root: Path, pairs: int, where: str) -> dict[str, Timing]:
    """Deduplication's two goals, each a pair of synchronous captures called in alternation
    (on the disk, and on tmpfs where our own cost shows most, without a disk's time):

    - distinct calls (a new order id each call) with dedupe on against off: the content hash
      and the index are all that on adds (goal <= 1.05);
    - the same call again with dedupe on (counted on the kept capture: no file written)
      against the same call stored with dedupe off (goal <= 0.5).
    """
    count = iter(range(10**9))
    distinct_on = capture_args(root / "distinct-on", retention=10)(target)
    distinct_off = capture_args(root / "distinct-off", retention=10, dedupe=False)(target)
    same_on = capture_args(root / "same-on", retention=10)(target)
    same_off = capture_args(root / "same-off", retention=10, dedupe=False)(target)
    for func in (distinct_on, distinct_off, same_on, same_off):
        func(*ARGS, **KWARGS)
    snapy_capture.flush()
    rest = ARGS[1:]
    pairs_of = {
        ("distinct, dedupe on", "distinct, dedupe off"): (
            lambda: distinct_on(next(count), *rest, **KWARGS),
            lambda: distinct_off(next(count), *rest, **KWARGS),
        ),
        ("duplicate, dedupe on (counted)", "same call, dedupe off (stored)"): (
            lambda: same_on(*ARGS, **KWARGS),
            lambda: same_off(*ARGS, **KWARGS),
        ),
    }
    results: dict[str, Timing] = {}
    for (on_name, off_name), (on, off) in pairs_of.items():
        # Many pairs: the goals are a few microseconds apart, and this machine's noise is
        # about as large (a few seconds in all).
        off_times, on_times = _paired(off, on, max(_DEDUPE_PAIRS, pairs * 2), [])
        results[where + on_name] = Timing(where + on_name, on_times.rounds)
        results[where + off_name] = Timing(where + off_name, off_times.rounds)
    return results


def _table(results: dict[str, Timing]) -> list[str]:
    lines = [f"{'per call':34s} {'min':>10s} {'median':>10s}"]
    order = [
        "bare call",
        "wrapt pass-through",
        "our proxy, pass-through",
        "capture disabled",
        "sampled out",
        "raw pickle + atomic write",
        "synchronous capture",
        "raw ... + unlink oldest",
        "synchronous, retention=10",
        "synchronous, same rounds",
        "async capture (caller)",
        "  flush, per capture queued",
        "async+lazy (caller)",
        "  lazy flush, per capture",
        "MonkeyType tracing",
        "tmpfs: raw pickle + atomic write",
        "tmpfs: synchronous capture",
        *(
            where + name
            for where in ("disk: ", "tmpfs: ")
            for name in (
                "distinct, dedupe off",
                "distinct, dedupe on",
                "same call, dedupe off (stored)",
                "duplicate, dedupe on (counted)",
            )
        ),
    ]
    shown = [results[name] for name in order if name in results]
    lines += [f"{t.name:34s} {fmt_ns(t.min):>10s} {fmt_ns(t.median):>10s}" for t in shown]
    report(
        "per_call",
        rows=[{"name": t.name.strip(), "min_ns": t.min, "median_ns": t.median} for t in shown],
    )
    ratios: list[dict[str, object]] = []
    # (label, numerator, denominator, goal). Judged on the median of the paired ratios: the
    # two rows' figures from the same round (or the same pair of calls), divided, then the
    # median over rounds. This machine's speed drifts twofold within a run; a ratio of two
    # figures taken at different moments (mins, medians) can miss or meet by luck alone.
    goals = [
        (
            "capture disabled / wrapt pass-through",
            "capture disabled",
            "wrapt pass-through",
            1.2,
        ),
        ("sampled out / wrapt pass-through", "sampled out", "wrapt pass-through", 1.2),
        (
            "disabled / our proxy, pass-through",
            "capture disabled",
            "our proxy, pass-through",
            None,
        ),
        (
            "sampled out / our proxy, pass-through",
            "sampled out",
            "our proxy, pass-through",
            None,
        ),
        (
            "async caller / synchronous capture",
            "async capture (caller)",
            "synchronous, same rounds",
            0.05,
        ),
        (
            "async+lazy caller / synchronous",
            "async+lazy (caller)",
            "synchronous, same rounds",
            0.05,
        ),
        (
            "async caller / MonkeyType tracing",
            "async capture (caller)",
            "MonkeyType tracing",
            0.5,
        ),
        (
            "async+lazy caller / MonkeyType tracing",
            "async+lazy (caller)",
            "MonkeyType tracing",
            None,
        ),
        (
            "synchronous / raw pickle + atomic write",
            "synchronous capture",
            "raw pickle + atomic write",
            1.5,
        ),
        (
            "synchronous retention=10 / raw + unlink",
            "synchronous, retention=10",
            "raw ... + unlink oldest",
            1.5,
        ),
        *(
            goal
            for where in ("disk: ", "tmpfs: ")
            for goal in (
                (
                    f"{where}distinct: dedupe on / off",
                    f"{where}distinct, dedupe on",
                    f"{where}distinct, dedupe off",
                    1.05,
                ),
                (
                    f"{where}duplicate (counted) / stored",
                    f"{where}duplicate, dedupe on (counted)",
                    f"{where}same call, dedupe off (stored)",
                    0.5,
                ),
            )
        ),
        (
            "tmpfs: synchronous / raw (no disk)",
            "tmpfs: synchronous capture",
            "tmpfs: raw pickle + atomic write",
            None,
        ),
    ]
    lines.append("")
    lines.append(f"{'ratio':42s} {'of mins':>8s} {'medians':>8s} {'paired':>8s} {'goal':>7s}")
    for label, a, b, goal in goals:
        if a not in results or b not in results:
            continue
        by_min = results[a].min / results[b].min
        by_median = results[a].median / results[b].median
        paired = statistics.median(
            x / y for x, y in zip(results[a].rounds, results[b].rounds, strict=True)
        )
        ratios.append({"label": label, "paired": paired, "goal": goal})
        verdict = "" if goal is None else ("ok" if paired <= goal else "MISSED")
        target_text = "" if goal is None else f"<= {goal}"
        lines.append(
            f"{label:42s} {by_min:8.3f} {by_median:8.3f} {paired:8.3f} {target_text:>7s}  {verdict}"
        )
    if "MonkeyType tracing" not in results:
        lines.append("MonkeyType rows skipped: not installed (pip install -e '.[bench]')")
    report("per_call", ratios=ratios)
    if "tmpfs: synchronous capture" in results:
        ours = results["tmpfs: synchronous capture"].median
        floor = results["tmpfs: raw pickle + atomic write"].median
        lines.append(
            f"our own cost (tmpfs medians): {fmt_ns(ours - floor)} per synchronous capture above "
            "the raw pickle + atomic write: binding, filtering, record, envelope, lock, sequence"
        )
    lines.append(
        "rows per call: fast ones in rounds (min/median of the rounds; 'synchronous, same "
        "rounds' is a burst of 25 timed in those rounds, against which the async caller is "
        "judged); the other disk rows are single calls paired with the raw write (min/median "
        "of the calls). Goals are judged on 'paired': the median over rounds (or pairs of "
        "calls) of the two rows' ratio within the round"
    )
    return lines
