"""Methods replay on a fresh copy of the instance captured with the call (``record["self"]``)."""

from __future__ import annotations

import difflib
import fractions
import textwrap
from collections import OrderedDict
from pathlib import Path
from typing import Any

import pytest

from snapy_capture import capture_args
from snapy_capture.pytest_plugin import (
    assert_replay_matches,
    replay_and_compare,
    replay_outcome,
    replay_records,
)
from snapy_capture.replay import CannotReplayError, collect_cases
from snapy_capture.replay import replay_and_compare as plain_replay_and_compare
from snapy_capture.storage import CaptureStorage

TEXT = "The quick brown fox jumps over the lazy dog near the river bank"


def _record(
    qualname: str, args: list[Any], module: str = "textwrap", **extra: Any
) -> dict[str, Any]:
    return {
        "module": module,
        "qualname": qualname,
        "function_name": qualname.rsplit(".", 1)[-1],
        "timestamp": "2026-12-01T10:00:00.000000Z",
        "args": args,
        "kwargs": {},
        "metadata": {"redactions": []},
        **extra,
    }


def test_unbound_method_runs_on_the_captured_instance(capture_dir: Path) -> None:
    """TextWrapper.wrap replays with the captured wrapper's width, not a blank TextWrapper()."""
    wrapper = textwrap.TextWrapper(width=20, initial_indent="> ")
    expected = wrapper.wrap(TEXT)
    CaptureStorage(capture_dir).save(
        _record("TextWrapper.wrap", [TEXT], self=wrapper, result={"value": expected})
    )
    (entry,) = replay_records("TextWrapper.wrap", with_result=True)
    record = entry.values[0]
    assert_replay_matches(textwrap.TextWrapper.wrap, record)
    snapshot = replay_outcome(textwrap.TextWrapper.wrap, record)
    assert snapshot["outcome"] == expected
    assert snapshot["self_after"]["width"] == 20
    assert expected != textwrap.TextWrapper().wrap(TEXT)  # a blank instance would differ
    (case,) = collect_cases("TextWrapper.wrap").cases
    assert case.instance.width == 20
    assert case.instance is not case.instance  # a fresh copy on each access


def test_a_bound_method_given_explicitly_wins() -> None:
    """Owner(cfg).method runs on the instance given, not the captured one."""
    record = _record(
        "TextWrapper.wrap",
        [TEXT],
        self=textwrap.TextWrapper(width=20),
        result={"value": textwrap.TextWrapper(width=30).wrap(TEXT)},
    )
    assert replay_and_compare(textwrap.TextWrapper(width=30).wrap, record).matches
    outcome = replay_and_compare(textwrap.TextWrapper.wrap, record)
    assert not outcome.matches
    assert "the result differs" in outcome.diff


def test_state_after_the_call_is_compared(capture_dir: Path) -> None:
    """A method that returns None and mutates self is checked through self_after."""
    matcher = difflib.SequenceMatcher(None, "kitten", "sitting")
    after = difflib.SequenceMatcher(None, "kitten", "mitten")
    record = _record(
        "SequenceMatcher.set_seq2",
        ["mitten"],
        module="difflib",
        self=matcher,
        self_after=after,
        result={"value": None},
    )
    result = replay_and_compare(difflib.SequenceMatcher.set_seq2, record)
    assert result.matches, result.diff
    assert result.instance.b == "mitten"
    assert matcher.b == "sitting"  # the record's instance is left as it was

    changed = {**record, "args": ["smitten"]}
    mismatch = replay_and_compare(difflib.SequenceMatcher.set_seq2, changed)
    assert not mismatch.matches
    assert "the instance's state after the call differs" in mismatch.diff
    assert "first difference at self.b: 'mitten' != 'smitten'" in mismatch.diff


def test_each_replay_starts_from_the_captured_state() -> None:
    """A mutating method replayed twice sees the same starting state both times."""
    ordered = OrderedDict([("a", 1), ("b", 2), ("c", 3)])
    record = _record(
        "OrderedDict.move_to_end",
        ["a"],
        module="collections",
        self=ordered,
        self_after=OrderedDict([("b", 2), ("c", 3), ("a", 1)]),
        result={"value": None},
    )
    for _ in range(2):
        outcome = replay_and_compare(OrderedDict.move_to_end, record)
        assert outcome.matches, outcome.diff
        assert list(outcome.instance) == ["b", "c", "a"]
    assert list(record["self"]) == ["a", "b", "c"]


def test_classmethods_replay_on_the_class() -> None:
    """Fraction.from_float is bound to the class: no instance is needed or used."""
    record = _record(
        "Fraction.from_float", [0.5], module="fractions", result={"value": fractions.Fraction(1, 2)}
    )
    assert_replay_matches(fractions.Fraction.from_float, record)
    assert replay_outcome(fractions.Fraction.from_float, record) == fractions.Fraction(1, 2)


def test_unstorable_instance_is_skipped_with_its_reason(tmp_path: Path) -> None:
    """A placeholder instead of the instance: the test is skipped saying why."""
    record = _record(
        "TextWrapper.wrap",
        [TEXT],
        self="[FILTERED: unstorable: holds a lock]",
        result={"value": []},
    )
    with pytest.raises(pytest.skip.Exception, match=r"could not be stored \(FILTERED: unstorable"):
        replay_outcome(textwrap.TextWrapper.wrap, record)
    with pytest.raises(CannotReplayError, match="unstorable: holds a lock"):
        plain_replay_and_compare(textwrap.TextWrapper.wrap, record)
    CaptureStorage(tmp_path).save(record)
    (entry,) = replay_records("TextWrapper.wrap", path=tmp_path)
    assert "could not be stored" in entry.marks[0].kwargs["reason"]


def test_method_captured_without_its_instance_is_skipped_not_run_on_a_blank_one() -> None:
    """No "self" in the record: skipped with the reason, never TextWrapper()."""
    record = _record("TextWrapper.wrap", [TEXT], result={"value": []})
    with pytest.raises(pytest.skip.Exception, match=r"captured without its instance"):
        assert_replay_matches(textwrap.TextWrapper.wrap, record)
    # A function that is not a method still replays without an instance.
    plain = _record("dedent", ["  a\n  b"], result={"value": "a\nb"})
    assert_replay_matches(textwrap.dedent, plain)


class Ledger:
    """A decorated method, as the decorator and the import hook wrap it."""

    def __init__(self, currency: str) -> None:
        self.currency = currency
        self.entries: list[int] = []

    @capture_args(record_result=True)
    def add(self, amount: int) -> str:
        self.entries.append(amount)
        return f"{sum(self.entries)} {self.currency}"


def test_a_decorated_method_replays_on_the_captured_instance(tmp_path: Path) -> None:
    """Ledger.add (wrapped by capture_args) binds to record["self"], and self_after is checked."""
    before = Ledger("EUR")
    before.entries = [5]
    after = Ledger("EUR")
    after.entries = [5, 7]
    record = _record(
        "Ledger.add",
        [7],
        module=__name__,
        self=before,
        self_after=after,
        result={"value": "12 EUR"},
    )
    assert_replay_matches(Ledger.add, record)
    assert replay_outcome(Ledger.add, record) == {
        "outcome": "12 EUR",
        "self_after": {"__class__": f"{__name__}.Ledger", "currency": "EUR", "entries": [5, 7]},
    }
    wrong = {**record, "self_after": before}
    with pytest.raises(AssertionError, match=r"first difference at len\(self\.entries\): 1 != 2"):
        assert_replay_matches(Ledger.add, wrong)


def test_filtered_instance_parts_do_not_block_a_bound_method_given() -> None:
    """self.<attr> filtered matters only when the call runs on the captured instance."""
    wrapper = textwrap.TextWrapper(width=20)
    wrapper.placeholder = "[FILTERED: name:token]"
    record = _record(
        "TextWrapper.wrap",
        [TEXT],
        self=wrapper,
        result={"value": textwrap.TextWrapper(width=20).wrap(TEXT)},
        metadata={"redactions": [{"path": "self.placeholder", "reason": "name:token"}]},
    )
    with pytest.raises(pytest.skip.Exception, match=r"\(self\.placeholder\)"):
        assert_replay_matches(textwrap.TextWrapper.wrap, record)
    assert_replay_matches(textwrap.TextWrapper(width=20).wrap, record)


def test_snapshot_mode_characterizes_what_a_method_did_to_its_instance() -> None:
    """set_seq2 returns None: its snapshot holds the instance's state after the call, so a
    change in what it stores is caught in snapshot mode too (before: just None)."""
    record = _record(
        "SequenceMatcher.set_seq2",
        ["mitten"],
        module="difflib",
        self=difflib.SequenceMatcher(None, "kitten", "sitting"),
    )
    snapshot = replay_outcome(difflib.SequenceMatcher.set_seq2, record)
    assert snapshot["outcome"] is None
    assert snapshot["self_after"]["__class__"] == "difflib.SequenceMatcher"
    assert snapshot["self_after"]["b"] == "mitten"
    other = replay_outcome(difflib.SequenceMatcher.set_seq2, {**record, "args": ["smitten"]})
    assert other != snapshot
    # Functions, classmethods and bound methods given explicitly have no captured instance.
    assert replay_outcome(fractions.Fraction.from_float, _record("Fraction.from_float", [0.5])) == (
        fractions.Fraction(1, 2)
    )
