"""A call's arguments are bounded by the size limit, found by a walk that stops there.

Before, an argument of any size was filtered whole on the caller's thread (every string scanned
for secrets, every item visited), encoded whole and stored: a 6.25M-element list cost 4.1 s
and wrote 30 MiB. The arguments of one call now share a budget, the size limit (1 MiB, or 4x
``max_capture_size``): the walk counts an estimate of what it would store as it goes, and an
argument that would pass what is left becomes ``[FILTERED: too large (over N bytes): <what>]``
(reason ``snapshot_limit``, or ``max_capture_size``), the others kept.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from _modes import CAPTURE_MODES
from snapy_capture import ArgumentFilter, Redacted, capture_args, flush, load_capture_dict
from snapy_capture.filters import _scan, _traverse

MODES = CAPTURE_MODES

LIMIT = 1 << 20
CARD = "4111 1111 1111 1111"


class Row:
    def __init__(self, i: int) -> None:
        self.name = f"row-{i}"
        self.qty = i
        self.price = i + 0.5


def _huge(kind: str) -> Any:
    """About 8 MB of each shape, several times the limit."""
    if kind == "bytes":
        return b"\x01" * (8 << 20)
    if kind == "str":
        return "q" * (8 << 20)
    if kind == "ints":
        return list(range(1_000_000))
    if kind == "dict":
        return {i: i for i in range(300_000)}
    if kind == "objects":
        return [Row(i) for i in range(100_000)]
    assert kind == "nested"
    return [[i, i + 1] for i in range(300_000)]


WHAT = {
    "bytes": f"bytes of {8 << 20} bytes",
    "str": f"str of {8 << 20} characters",
    "ints": "list of 1000000 items",
    "dict": "dict of 300000 items",
    "objects": "list of 100000 items",
    "nested": "list of 300000 items",
}


def _files(capture_dir: Path) -> list[Path]:
    return list(capture_dir.rglob("*.cap"))


@pytest.mark.parametrize("options", MODES)
@pytest.mark.parametrize("kind", list(WHAT))
def test_a_huge_argument_is_a_placeholder_and_the_others_are_kept(
    capture_dir: Path, options: dict[str, Any], kind: str
) -> None:
    value = _huge(kind)

    @capture_args(retention=None, **options)
    def ingest(label: str, blob: Any, *, flag: bool = False) -> int:
        return 3

    assert ingest("batch-7", value, flag=True) == 3
    assert flush(timeout=60)
    record = load_capture_dict("ingest", capture_dir)
    assert record["args"][0] == "batch-7"
    assert record["kwargs"] == {"flag": True}
    assert str(record["args"][1]) == f"[FILTERED: too large (over {LIMIT} bytes): {WHAT[kind]}]"
    assert {"path": "blob", "reason": "snapshot_limit"} in record["metadata"]["redactions"]
    if options.get("record_result"):
        assert record["result"] == {"value": 3}
    [file] = _files(capture_dir)
    assert file.stat().st_size < 4096  # before: the whole argument, megabytes


@pytest.mark.parametrize("options", MODES[:3])
def test_arguments_under_the_limit_are_stored_whole(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    """A guard: big arguments that fit the budget together are kept as they are."""
    data = b"\x02" * 400_000
    text = "t" * 300_000
    rows = list(range(50_000))

    @capture_args(retention=None, **options)
    def keep(data: bytes, text: str, rows: list[int]) -> int:
        return 1

    keep(data, text, rows)
    assert flush(timeout=60)
    record = load_capture_dict("keep", capture_dir)
    assert record["args"] == [data, text, rows]
    assert record["metadata"]["redactions"] == []


@pytest.mark.parametrize("options", MODES[:3])
def test_the_budget_is_shared_by_the_arguments_of_a_call(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    """Each fits alone, not both: the first is kept, the second is the placeholder."""
    first, second = "a" * 700_000, "b" * 700_000

    @capture_args(retention=None, **options)
    def pair(first: str, second: str) -> int:
        return 2

    pair(first, second)
    assert flush(timeout=60)
    record = load_capture_dict("pair", capture_dir)
    assert record["args"][0] == first
    assert str(record["args"][1]).startswith(f"[FILTERED: too large (over {LIMIT} bytes)")
    assert record["metadata"]["redactions"] == [{"path": "second", "reason": "snapshot_limit"}]


def test_max_capture_size_sets_the_limit_either_way(capture_dir: Path) -> None:
    """4x max_capture_size: a larger one stores a larger argument (it could not be stored at
    all past 1 MiB), a smaller one cuts sooner and says so."""
    text = "m" * (3 << 19)  # 1.5 MiB

    @capture_args(retention=None, max_capture_size=2 << 20)
    def large(text: str) -> int:
        return 1

    @capture_args(retention=None, max_capture_size=4096)
    def small(text: str) -> int:
        return 1

    large(text)
    small(text)
    assert load_capture_dict("large", capture_dir)["args"] == [text]
    record = load_capture_dict("small", capture_dir)
    assert str(record["args"][0]) == (
        f"[FILTERED: too large (over 16384 bytes): str of {3 << 19} characters]"
    )
    assert record["metadata"]["redactions"] == [{"path": "text", "reason": "max_capture_size"}]


@pytest.mark.parametrize("options", MODES)
def test_secrets_in_a_huge_argument_never_reach_the_disk(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    """A secret under a sensitive name, and a card number in text, inside and next to a huge
    argument: none of it on disk, nor the argument."""
    payload = {"password": "hunter2-Secret!", "note": f"card {CARD} " + "p" * (4 << 20)}

    @capture_args(retention=None, **options)
    def submit(payload: dict[str, Any], api_key: str) -> int:
        return 1

    submit(payload, "sk-live-0123456789abcdef")
    assert flush(timeout=60)
    [file] = _files(capture_dir)
    data = file.read_bytes()
    for secret in (b"hunter2-Secret!", CARD.encode(), b"4111", b"sk-live-0123456789abcdef"):
        assert secret not in data
    assert len(data) < 4096
    record = load_capture_dict("submit", capture_dir)
    assert str(record["args"][0]).startswith("[FILTERED: too large")
    assert str(record["args"][1]) == "[FILTERED: name:api_key]"


def test_a_huge_string_is_neither_scanned_nor_stored(
    capture_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Secret-shaped text in a string past the limit: not stored, and never scanned (what the
    scan would cost grows with the string)."""
    scanned: list[int] = []
    spans = _scan.Compiled.spans

    def counting(self: _scan.Compiled, text: str) -> list[tuple[int, int]]:
        scanned.append(len(text))
        return spans(self, text)

    monkeypatch.setattr(_scan.Compiled, "spans", counting)
    text = f"card {CARD} " * 300_000  # 7 MB, a card number every 25 characters

    @capture_args(retention=None)
    def log(message: str, level: str) -> int:
        return 0

    log(text, "warning")
    [file] = _files(capture_dir)
    assert b"4111" not in file.read_bytes()
    assert str(load_capture_dict("log", capture_dir)["args"][0]).startswith("[FILTERED: too large")
    assert max(scanned) < LIMIT  # before: the whole 7 MB, scanned twice (found, then masked)


class _Counted:
    """Items handed out one at a time, counted: what pickle, and the filters, read of it."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.read = 0

    def __iter__(self) -> _Counted:
        return self

    def __next__(self) -> int:
        if self.read >= self.size:
            raise StopIteration
        self.read += 1
        return self.read


class Feed:
    """A container that pickles its items from an iterator (as a deque does)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.iterators: list[_Counted] = []

    def __reduce__(self) -> Any:
        items = _Counted(self.size)
        self.iterators.append(items)
        return (Feed, (0,), None, items)

    def extend(self, items: Any) -> None:  # what unpickling calls
        self.size += len(list(items))


def test_the_walk_reads_no_further_than_the_budget() -> None:
    """Ten million items: the walk draws at most a budget's worth (before: all of them)."""
    feed = Feed(10_000_000)
    result = ArgumentFilter().filter_call(["feed", "n"], [feed, 5], {}, budget=LIMIT)
    assert result.args[1] == 5
    assert isinstance(result.args[0], Redacted)
    assert result.redactions == [{"path": "feed", "reason": "budget"}]
    [items] = feed.iterators
    assert items.read <= LIMIT // 4 + 1


def test_the_walk_visits_no_more_values_than_the_budget_holds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Half a million small objects, or lists: the values visited are bounded by the budget
    (a few thousand), not by the argument (millions before)."""
    visits = [0]
    visit = _traverse._Walk.visit

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        visits[0] += 1
        return visit(self, *args, **kwargs)

    monkeypatch.setattr(_traverse._Walk, "visit", counting)
    flt = ArgumentFilter()
    for value in (
        [Row(i) for i in range(500_000)],
        [[i, str(i)] for i in range(500_000)],
        {f"k{i}": [i] for i in range(500_000)},
    ):
        visits[0] = 0
        result = flt.filter_call(["rows"], [value], {}, budget=LIMIT)
        assert isinstance(result.args[0], Redacted)
        assert visits[0] <= LIMIT // 4


def test_without_a_budget_nothing_changes() -> None:
    """``filter_call`` without ``budget`` (the default) keeps what it is given."""
    value = list(range(1_000_000))
    assert ArgumentFilter().filter_call(["rows"], [value], {}).args[0] is value


@pytest.mark.parametrize("kind", ["str", "result"])
def test_a_long_string_is_refused_by_its_length_not_copied(capture_dir: Path, kind: str) -> None:
    """A snapshot (async storage; a recorded result) refuses a string past the limit from the
    length pickle writes before it, rather than after pickle encoded a copy of it whole (what
    the caller allocates does not grow with the string: 20 MB before)."""
    text = "w" * (20 << 20)

    @capture_args(retention=None, async_storage=True, record_result=kind == "result")
    def echo(text: str) -> str:
        return text if kind == "result" else "ok"

    echo("warm")  # resolves the configuration, starts the writer
    assert flush(timeout=30)
    tracemalloc.start()
    try:
        echo(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert flush(timeout=30)
    assert peak < 1 << 20
    record = load_capture_dict("echo", capture_dir)
    assert str(record["args"][0]).startswith("[FILTERED: too large (over 1048576 bytes)")
    if kind == "result":
        assert str(record["result"]["value"]) == "[FILTERED: too large (over 1048576 bytes)]"
