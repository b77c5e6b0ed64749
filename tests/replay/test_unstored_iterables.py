"""Iterators at replay: an argument that could not be stored, and a result that was.

Found on more-itertools: ``ilen(x for x in rows if x["token"])`` was captured with its
generator as ``[FILTERED: unstorable:generator]`` (capture never consumes the program's
generator); the replay ran ``ilen`` over the placeholder's 32 characters: snapshot mode
recorded 32 and passed on every run, result mode failed (``3 != 32``). Such a placeholder
now refuses to be iterated, so the case is skipped naming the part, as for any call that
fails without its unstorable parts. And ``always_iterable("abc")`` returns
``iter(("abc",))``, which pickles with its items: the replay drained its own iterator into a
list but compared it with the recorded iterator object: red on every run.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from snapy_capture import Redacted, capture_args, flush, load_capture_dict
from snapy_capture.replay import CannotReplayError, replay_and_compare, replay_outcome


def count(items: Iterable[Any]) -> int:
    return sum(1 for _ in items)


def chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def as_iterable(value: Any) -> Iterator[Any]:
    return iter((value,))


def _captured(func: Any, *args: Any) -> dict[str, Any]:
    wrapped = capture_args(record_result=True)(func)
    outcome = wrapped(*args)
    if isinstance(outcome, Iterator):
        list(outcome)  # the program consumes what it was given
    assert flush(timeout=30)
    return load_capture_dict(func.__name__)


def test_a_generator_argument_is_not_replayed_as_the_placeholder_text() -> None:
    record = _captured(count, (n for n in range(3)))
    assert record["args"][0] == "[FILTERED: unstorable:generator]"
    assert record["result"]["value"] == 3
    for replay in (replay_and_compare, replay_outcome):
        with pytest.raises(CannotReplayError) as caught:
            replay(count, record)
        assert "could not be stored at capture time: items (unstorable:generator)" in str(
            caught.value
        )


def test_a_generator_function_over_such_an_argument_skips_too() -> None:
    record = _captured(chunks, (n for n in range(5)), 2)
    with pytest.raises(CannotReplayError, match=r"items \(unstorable:generator\)"):
        replay_outcome(chunks, record)


def test_the_placeholder_of_a_secret_stays_text() -> None:
    """Only placeholders of parts that could not be stored refuse iteration: a secret's is
    replaced by a substitute before a replay, and stays a string everywhere else."""
    secret = Redacted("name:password")
    assert list(secret)[:3] == ["[", "F", "I"]
    assert "".join(secret) == "[FILTERED: name:password]"
    unstored = pickle.loads(pickle.dumps(Redacted("unstorable:generator")))
    assert str(unstored) == "[FILTERED: unstorable:generator]"
    with pytest.raises(TypeError, match="could not be stored"):
        list(unstored)


def test_a_returned_iterator_is_compared_by_its_items() -> None:
    record = _captured(as_iterable, "abc")
    result = replay_and_compare(as_iterable, record)
    assert result.matches, result.diff
    assert result.value == ["abc"]


def test_a_returned_iterator_that_changed_still_fails() -> None:
    record = _captured(as_iterable, "abc")
    result = replay_and_compare(lambda value: iter((value, value)), record)
    assert not result.matches
    assert "['abc']" in result.diff
    # The record is left as loaded: a second comparison reads the same items.
    assert replay_and_compare(as_iterable, record).matches
