"""Replay helpers: case ids, replay_cases/replay_records entries, recorded-result comparison."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from snapy_capture import (
    AmbiguousCaptureError,
    NoRecordedResultError,
    capture_args,
    flush,
)
from snapy_capture.pytest_plugin import (
    MISSING_PREFIX,
    assert_replay_matches,
    replay_and_compare,
    replay_cases,
    replay_records,
)
from snapy_capture.replay import collect_cases
from snapy_capture.storage import CaptureStorage


def _ids(entries: list[Any]) -> list[str]:
    return [entry.id for entry in entries]


def test_case_ids_are_sequence_numbers_newest_first(capture_dir: Path) -> None:
    """Each capture gets the id capture-<sequence>, newest first."""

    @capture_args()
    def area(width: int, height: int = 1) -> int:
        return width * height

    area(2, height=3)
    area(4)
    area(5, 6)
    entries = replay_cases("area")
    assert _ids(entries) == ["capture-2", "capture-1", "capture-0"]
    assert [entry.values for entry in entries] == [((5, 6), {}), ((4,), {}), ((2,), {"height": 3})]


def test_ids_survive_retention_rotating_old_captures_out(capture_dir: Path) -> None:
    """A capture keeps its id when newer captures push older ones out."""

    @capture_args(retention=2)
    def double(x: int) -> int:
        return 2 * x

    double(1)
    double(2)
    before = dict(
        zip(_ids(replay_cases("double")), [e.values for e in replay_cases("double")], strict=True)
    )
    double(3)
    after = dict(
        zip(_ids(replay_cases("double")), [e.values for e in replay_cases("double")], strict=True)
    )
    assert before == {"capture-1": ((2,), {}), "capture-0": ((1,), {})}
    assert after == {"capture-2": ((3,), {}), "capture-1": ((2,), {})}


def test_limit_keeps_the_newest(capture_dir: Path) -> None:
    """limit=N replays the N newest captures."""

    @capture_args()
    def ident(x: int) -> int:
        return x

    for value in range(5):
        ident(value)
    assert [entry.values[0] for entry in replay_cases("ident", limit=2)] == [(4,), (3,)]
    with pytest.raises(pytest.fail.Exception, match="limit must be a positive integer"):
        replay_cases("ident", limit=0)


def test_where_selects_by_metadata_or_predicate(capture_dir: Path) -> None:
    """where= filters captures by field/metadata values or by a predicate."""

    @capture_args()
    def greet(name: str) -> str:
        return f"hi {name}"

    greet("ann")
    greet("bob")
    by_pred = replay_cases("greet", where=lambda record: record["args"] == ["ann"])
    assert [entry.values for entry in by_pred] == [(("ann",), {})]
    by_field = replay_cases("greet", where={"thread_id": "MainThread"})
    assert len(by_field) == 2
    nothing = replay_cases("greet", where={"thread_id": "elsewhere"})
    assert _ids(nothing) == ["no-captures"]
    assert "matching the criteria" in nothing[0].marks[0].kwargs["reason"]


def test_no_captures_is_one_skipped_entry_naming_function_and_path(capture_dir: Path) -> None:
    """Without captures, one skipped entry says which function and where it looked."""
    entries = replay_cases("app:never_called")
    assert _ids(entries) == ["no-captures"]
    assert entries[0].values == (None, None)
    (mark,) = entries[0].marks
    assert mark.name == "skip"
    reason = mark.kwargs["reason"]
    assert reason.startswith(MISSING_PREFIX + "app:never_called")
    assert str(capture_dir) in reason
    assert _ids(replay_records("app:never_called")) == ["no-captures"]


def test_explicit_path_is_searched_alone(tmp_path: Path, capture_dir: Path) -> None:
    """path= reads one directory, and the skip reason names it."""

    @capture_args(path=tmp_path / "elsewhere")
    def tagged(x: int) -> int:
        return x

    tagged(7)
    assert [e.values for e in replay_cases("tagged", path=tmp_path / "elsewhere")] == [((7,), {})]
    missing = replay_cases("tagged", path=tmp_path / "empty")
    assert str(tmp_path / "empty") in missing[0].marks[0].kwargs["reason"]


def test_custom_storage_subclass_is_used_for_reading(tmp_path: Path) -> None:
    """storage= reads captures written by a CaptureStorage subclass."""

    class Upper(CaptureStorage):
        def serialize_data(self, data: dict[str, Any]) -> bytes | str:
            import json

            return json.dumps(data)

        def deserialize_data(self, data: bytes | str) -> dict[str, Any]:
            import json

            return dict(json.loads(data))

    store = Upper(tmp_path / "json")

    @capture_args(storage=store)
    def concat(a: str, b: str) -> str:
        return a + b

    concat("x", b="y")
    assert [e.values for e in replay_cases("concat", storage=store)] == [(("x",), {"b": "y"})]


def test_ambiguous_name_fails_collection_with_one_line(capture_dir: Path) -> None:
    """A name matching two functions fails with a message listing both, no traceback."""
    storage = CaptureStorage(capture_dir)
    for module in ("pkg_a", "pkg_b"):
        storage.save(
            {
                "module": module,
                "qualname": "run",
                "function_name": "run",
                "args": [],
                "kwargs": {},
                "metadata": {},
            }
        )
    with pytest.raises(pytest.fail.Exception) as info:
        replay_cases("run")
    assert "pkg_a:run" in str(info.value)
    assert "pkg_b:run" in str(info.value)
    assert info.value.pytrace is False
    with pytest.raises(AmbiguousCaptureError):
        collect_cases("run")


def test_corrupt_capture_is_a_failing_case_naming_the_file(capture_dir: Path) -> None:
    """An unreadable capture file is a case of its own, marked to fail naming the file and
    the reason (it used to be dropped with a warning); the others still replay."""

    @capture_args()
    def inc(x: int) -> int:
        return x + 1

    inc(1)
    inc(2)
    flush()
    newest = next(iter(sorted(capture_dir.rglob("*.cap"))[-1:]))
    newest.write_bytes(b"garbage")
    entries = replay_cases("inc")
    assert [e.values for e in entries] == [(None, None), ((1,), {})]
    [mark] = entries[0].marks
    assert mark.name == "snapy_capture_unloadable"
    assert mark.kwargs["reason"].startswith(f"cannot load {newest}: ")


# --- recorded results -------------------------------------------------------------------


def _record(result: dict[str, Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
    return {
        "module": "m",
        "qualname": "f",
        "function_name": "f",
        "timestamp": "T",
        "args": list(args),
        "kwargs": kwargs,
        "metadata": {},
        "result": result,
    }


def test_matching_result_passes_and_differing_result_shows_a_diff() -> None:
    """A changed return value fails with a unified diff of recorded vs replayed."""

    def report(n: int) -> dict[str, Any]:
        return {"count": n, "items": list(range(n))}

    record = _record({"value": {"count": 3, "items": [0, 1, 2]}}, 3)
    assert replay_and_compare(report, record).matches
    assert_replay_matches(report, record)

    def changed(n: int) -> dict[str, Any]:
        return {"count": n + 1, "items": list(range(n))}

    outcome = replay_and_compare(changed, record)
    assert not outcome.matches
    assert outcome.value == {"count": 4, "items": [0, 1, 2]}
    assert "--- recorded" in outcome.diff
    assert "-{'count': 3, 'items': [0, 1, 2]}" in outcome.diff
    assert "+{'count': 4, 'items': [0, 1, 2]}" in outcome.diff
    with pytest.raises(AssertionError, match="the result differs"):
        assert_replay_matches(changed, record)


def test_recorded_exception_is_compared_by_type_and_message() -> None:
    """A recorded exception matches the same type and message, and nothing else."""

    def parse(text: str) -> int:
        return int(text)

    record = _record(
        {
            "exception": {
                "type": "ValueError",
                "module": "builtins",
                "message": "invalid literal for int() with base 10: 'x'",
            }
        },
        "x",
    )
    assert_replay_matches(parse, record)
    with pytest.raises(
        AssertionError, match=r"(?s)raised builtins\.ValueError.*but the replayed call returned"
    ):
        assert_replay_matches(lambda text: 0, record)

    def other(text: str) -> int:
        raise KeyError(text)

    with pytest.raises(AssertionError, match=r"but the replayed call raised builtins\.KeyError"):
        assert_replay_matches(other, record)

    def reworded(text: str) -> int:
        raise ValueError("bad number")

    with pytest.raises(AssertionError, match="message differs"):
        assert_replay_matches(reworded, record)


def test_recorded_value_but_replay_raises_says_so() -> None:
    """A call that used to return and now raises fails naming the exception."""

    def broken(x: int) -> int:
        raise RuntimeError("boom")

    with pytest.raises(AssertionError, match=r"raised builtins\.RuntimeError: boom"):
        assert_replay_matches(broken, _record({"value": 1}, 1))


def test_filtered_parts_of_the_recorded_result_match_anything() -> None:
    """A [FILTERED: ...] placeholder in the recorded result is a wildcard."""

    def login(user: str) -> dict[str, str]:
        return {"user": user, "token": "s3cr3t-new"}

    record = _record({"value": {"user": "ann", "token": "[FILTERED: sensitive name]"}}, "ann")
    assert_replay_matches(login, record)
    with pytest.raises(AssertionError):
        assert_replay_matches(lambda user: {"user": "bob", "token": "x"}, record)


def test_tuples_recorded_as_lists_by_json_still_match() -> None:
    """JSON stores tuples as lists; that alone is not a mismatch."""
    assert_replay_matches(lambda: (1, (2, 3)), _record({"value": [1, [2, 3]]}))


def test_capture_without_result_raises_a_clear_error() -> None:
    """Comparing a capture recorded without record_result says how to record results."""
    record = _record({})
    del record["result"]
    with pytest.raises(NoRecordedResultError, match="record_result=True"):
        replay_and_compare(lambda: None, record)


def test_real_capture_with_record_result_replays_methods_and_coroutines(
    capture_dir: Path,
) -> None:
    """Captured results replay through a bound method and through a coroutine function."""

    class Cart:
        def __init__(self, rate: int) -> None:
            self.rate = rate

        @capture_args(record_result=True)
        def price(self, n: int) -> int:
            return n * self.rate

    @capture_args(record_result=True)
    async def fetch(word: str) -> str:
        return word.upper()

    Cart(3).price(4)
    asyncio.run(fetch("k"))
    (record,) = [entry.values[0] for entry in replay_records("Cart.price", with_result=True)]
    assert record["args"] == [4]  # self is not stored
    assert_replay_matches(Cart(3).price, record)
    with pytest.raises(AssertionError, match=r"(?m)^-12\n\+20$"):
        assert_replay_matches(Cart(5).price, record)
    (coroutine_record,) = [e.values[0] for e in replay_records("fetch", with_result=True)]
    outcome = replay_and_compare(fetch, coroutine_record)
    assert (outcome.matches, outcome.value) == (True, "K")


def test_replay_records_with_result_skips_captures_without_one(capture_dir: Path) -> None:
    """with_result=True leaves out captures recorded without results, and says so."""

    @capture_args()
    def plain(x: int) -> int:
        return x

    plain(1)
    assert len(replay_records("plain")) == 1
    entries = replay_records("plain", with_result=True)
    assert _ids(entries) == ["no-captures"]
    assert "with a recorded result" in entries[0].marks[0].kwargs["reason"]


def test_result_replay_skips_captures_whose_arguments_were_filtered(capture_dir: Path) -> None:
    """A capture whose password was redacted cannot reproduce its result: skipped, with why."""

    @capture_args(record_result=True, retention=None)
    def login(user: str, password: str) -> bool:
        return password == "hunter22"

    login("bob", "hunter22")
    assert len(replay_records("login")) == 1
    (entry,) = replay_records("login", with_result=True)
    reason = entry.marks[0].kwargs["reason"]
    assert "filtered at capture time (password)" in reason
    assert "hunter22" not in reason
