"""Replaying a capture and comparing: with its recorded result, or producing a snapshot value.

Both modes replay the same way (:mod:`._call`): on the captured instance for a method taken
from its class, skipping what cannot be replayed (:class:`CannotReplayError`), consuming
generators into lists, an exception being part of the outcome. Values compare by state
(:mod:`._state`): an object without its own ``__eq__`` equals another of its class holding
the same state.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from snapy_capture._text import printable, safe_str
from snapy_capture.errors import NoRecordedResultError
from snapy_capture.replay._budget import time_budget
from snapy_capture.replay._call import (
    CannotReplayError,
    Outcome,
    Prepared,
    check_record,
    check_unstored,
    label,
    prepare,
    recorded_items,
    run,
    unstored_list,
)
from snapy_capture.replay._determinism import deterministic as frozen_clock
from snapy_capture.replay._state import (
    SnapshotTooLarge,
    describe_difference,
    equal,
    snapshot_state,
    state_view,
)

__all__ = ["ReplayResult", "assert_replay_matches", "replay_and_compare", "replay_outcome"]

_PLACEHOLDER_START = "[FILTERED: "
_ABSENT: Any = object()
_INLINE = re.compile(r"\[FILTERED: [^\]]*\]")


@dataclass(frozen=True)
class ReplayResult:
    """The outcome of replaying one capture against the current code.

    Attributes:
        matches: whether the replay gave the recorded value (or raised the recorded
            exception) and, when the capture holds it, left the instance in the recorded state.
        expected: the recorded outcome, ``{"value": v}`` or ``{"exception": {...}}``.
        value: what the replay returned (``None`` if it raised; a generator's items).
        exception: what the replay raised, if anything.
        diff: a readable explanation of the mismatch (empty when it matches).
        instance: the copy of the captured instance the call ran on (``None`` if none).
    """

    record: dict[str, Any] = field(repr=False)
    expected: dict[str, Any]
    value: Any
    exception: BaseException | None
    matches: bool
    diff: str
    instance: Any = field(default=None, repr=False)

    def assert_matches(self) -> None:
        """Raise ``AssertionError`` with the diff unless the replay matched."""
        __tracebackhide__ = True
        if not self.matches:
            raise AssertionError(self.diff)


def replay_and_compare(
    func: Callable[..., Any],
    record: Mapping[str, Any],
    *,
    substitutes: Mapping[str, Any] | None = None,
    deterministic: bool = False,
    max_seconds: float | None = None,
) -> ReplayResult:
    """Replay a capture through ``func`` and compare with the recorded result.

    A placeholder left by the filters inside the recorded result (``[FILTERED: ...]``)
    matches any value at that place; a recorded result that is a placeholder as a whole (a
    generator, a closure: nothing was stored) cannot be compared: the case is skipped
    saying so, once what can be checked (the call did not raise, the instance's state
    after it) holds. Tuples and lists compare equal (JSON stores tuples as lists);
    objects without their own ``__eq__`` compare by state. With ``record_result`` the
    capture of a method also holds the instance's state after the call (``self_after``):
    a replay on the captured instance must leave it in that state too. An ``__init__``
    capture is replayed through the class (``Owner``) and compares the instance built with
    ``self_after``.

    Args:
        func: the function; for a method, ``Owner.method`` runs on a fresh copy of the
            captured instance, a bound method (``Owner(cfg).method``) on that instance.
            Coroutine functions are run to completion; generators are drained into a list.
        record: a capture record (``load_capture_dict``, ``replay_records``, ``load_all``).
        substitutes: values for what the filters removed, keyed by redaction path.
        deterministic: freeze the clock at the capture's time and seed ``random``.
        max_seconds: time budget of the comparison, which runs the values' own code
            (``__eq__``, ``__repr__`` for the diff); default: the snapshot time budget.

    Returns:
        A :class:`ReplayResult`.

    Raises:
        NoRecordedResultError: the capture has no recorded result.
        CannotReplayError: filtered values without substitutes, no usable instance,
            ``deterministic`` without time-machine, nothing recorded to compare with, or a
            call that raised after running without parts that could not be stored.
        SnapshotTimeout: the comparison took longer than ``max_seconds``.
    """
    check_record(record)
    expected = record.get("result")
    if not isinstance(expected, dict) or not ({"value", "exception"} & expected.keys()):
        raise NoRecordedResultError(
            f"{label(record)} has no recorded result; capture with record_result=True "
            "(or SNAP_CAPTURE_RECORD_RESULT=1) to compare results"
        )
    prepared = prepare(func, record, substitutes)
    with frozen_clock(record) if deterministic else contextlib.nullcontext():
        outcome = run(prepared)
    check_unstored(prepared, record, outcome)
    with time_budget(label(record), max_seconds, doing="comparing with the recorded result"):
        diff = _compared(prepared, record, expected, outcome)
    if diff and prepared.substituted:
        diff += (
            "\n(replayed with test values (substitutes) for: "
            f"{', '.join(prepared.substituted)}; production's values were filtered out)"
        )
    if diff and prepared.unstored:
        diff += (
            "\n(replayed without parts that could not be stored at capture time: "
            f"{unstored_list(prepared.unstored)})"
        )
    instance = prepared.value_instance(outcome)
    return ReplayResult(
        dict(record), expected, outcome.value, outcome.raised, not diff, diff, instance
    )


def _compared(
    prepared: Prepared, record: Mapping[str, Any], expected: Mapping[str, Any], outcome: Outcome
) -> str:
    """The mismatch between the replay and the record ("" if none).

    Raises:
        CannotReplayError: nothing recorded to compare the replay with (a result that could
            not be stored, an ``__init__`` capture without the instance's state).
    """
    name = label(record)
    if prepared.constructs and "exception" not in expected:
        # __init__ returns None: what it did is the instance it built.
        if outcome.raised is not None:
            return _compare(name, {"value": None}, None, outcome.raised)
        after = record.get("self_after", _ABSENT)
        if after is _ABSENT:
            raise CannotReplayError(
                f"{name}: the capture of __init__ holds no state of the instance it built "
                "(self_after: record_result with capture_self on)"
            )
        if _is_placeholder(after):
            raise CannotReplayError(f"{name}: the instance built could not be stored ({after})")
        return _compare_state(name, after, outcome.value)
    recorded = expected.get("value") if "exception" not in expected else None
    if isinstance(recorded, str) and _is_placeholder(recorded):
        return _unrecorded_result(prepared, record, recorded, outcome)
    if outcome.items is not None:
        # The replay's iterator was drained: so is the recorded one (more_itertools'
        # always_iterable returns iter(...), which pickles with its items), else its items
        # were compared with the iterator object and never matched.
        items = recorded_items(recorded)
        if items is not None:
            expected = {**expected, "value": items}
    diff = _compare(name, expected, outcome.value, outcome.raised)
    if not diff and prepared.on_captured_instance and "self_after" in record:
        diff = _compare_state(name, record["self_after"], prepared.instance)
    return diff


def _unrecorded_result(
    prepared: Prepared, record: Mapping[str, Any], recorded: str, outcome: Outcome
) -> str:
    """A recorded result that is a placeholder (a generator, a closure, a secret) checks
    only what can be checked: that the call returned rather than raised, and the instance's
    state after it. The rest is not a pass: the case is skipped saying so."""
    name = label(record)
    if outcome.raised is not None and outcome.items is None:
        return _compare(name, {"value": recorded}, None, outcome.raised)
    if prepared.on_captured_instance and "self_after" in record:
        diff = _compare_state(name, record["self_after"], prepared.instance)
        if diff:
            return diff
    if outcome.items is not None:
        what = (
            "the call returned a generator, which capture never consumes (it is the "
            f"program's), so its items were not recorded ({recorded})"
        )
    else:
        what = f"the recorded result is a placeholder ({recorded}): nothing was stored"
    checked = "the call returned"
    if outcome.raised is not None:
        checked += (
            f" (replayed, its items then raised {type(outcome.raised).__qualname__}: "
            f"{safe_str(outcome.raised)})"
        )
    if prepared.on_captured_instance and "self_after" in record:
        checked += " and left the instance in the recorded state"
    raise CannotReplayError(
        f"{name}: {what}; only that {checked} was checked: snapshot mode characterizes it"
    )


def assert_replay_matches(
    func: Callable[..., Any],
    record: Mapping[str, Any],
    *,
    substitutes: Mapping[str, Any] | None = None,
    deterministic: bool = False,
) -> None:
    """Replay ``record`` through ``func``; ``AssertionError`` with a diff if the result differs.

    See :func:`replay_and_compare` for the arguments and the comparison rules.
    """
    __tracebackhide__ = True
    replay_and_compare(
        func, record, substitutes=substitutes, deterministic=deterministic
    ).assert_matches()


def replay_outcome(
    func: Callable[..., Any],
    record: Mapping[str, Any],
    *,
    substitutes: Mapping[str, Any] | None = None,
    deterministic: bool = False,
    max_seconds: float | None = None,
) -> Any:
    """Replay a capture through ``func`` and return a value to snapshot.

    The value is the result's :func:`snapshot_state` (objects as their class and state, so
    the snapshot is the same every run); a call that raised gives
    ``{"raised": "ValueError", "message": "..."}`` (with ``"items"`` for what a generator
    yielded first). A method run on the captured instance gives
    ``{"outcome": <that>, "self_after": <the instance's state after the call>}``: what it
    did to its instance is characterized too. An ``__init__`` capture replayed through the
    class gives the state of the instance built. ``func``, ``substitutes`` and
    ``deterministic`` are as for :func:`replay_and_compare`.

    The value is inert for a serializer (builtin containers and atoms, and
    :class:`~snapy_capture.replay.Shown` texts for objects kept by their own ``__repr__``,
    each cut at 10,000 characters) and bounded as a whole. Building it runs some of the
    value's own code (a ``__repr__``, an exception's ``__str__``): that has ``max_seconds``
    (default: the snapshot time budget, 5 s, or ``--snapy-capture-snapshot-timeout``;
    enforced in the main thread on POSIX).

    Raises:
        CannotReplayError: as for :func:`replay_and_compare`.
        SnapshotTooLarge: the value to snapshot is over the snapshot budget (100,000 items
            or 10,000,000 characters of text): the case fails saying so.
        SnapshotTimeout: building the value took longer than ``max_seconds`` (a
            ``__repr__`` that never returns): the case fails naming the value's type.
    """
    prepared = prepare(func, record, substitutes)
    with frozen_clock(record) if deterministic else contextlib.nullcontext():
        outcome = run(prepared)
    check_unstored(prepared, record, outcome)
    try:
        with time_budget(label(record), max_seconds):
            return _snapshot_of(prepared, outcome)
    except SnapshotTooLarge as exc:
        # This case fails, naming itself; the value is never handed to the serializer.
        raise SnapshotTooLarge(f"{label(record)}: {exc}") from None


def _snapshot_of(prepared: Prepared, outcome: Outcome) -> Any:
    if prepared.on_captured_instance:
        # What a method did to its instance is part of its behaviour (one that returns
        # None and mutates self is characterized by nothing else).
        return {
            "outcome": outcome.snapshot(),
            "self_after": snapshot_state(prepared.instance),
        }
    return outcome.snapshot()


def _compare(
    label: str, expected: Mapping[str, Any], value: Any, raised: BaseException | None
) -> str:
    call = "replayed call"
    if "exception" in expected:
        want = expected["exception"] or {}
        want_type = f"{want.get('module', '')}.{want.get('type', '?')}".lstrip(".")
        if raised is None:
            recorded = printable(f"{want_type}: {want.get('message', '')}")
            return (
                f"{label}: the recorded call raised {recorded}\n"
                f"but the {call} returned:\n{_shown(state_view(value))}"
            )
        got_type = f"{type(raised).__module__}.{type(raised).__qualname__}"
        got_message = safe_str(raised)
        want_message = str(want.get("message", ""))
        if got_type != want_type:
            # Messages as a terminal shows them: a captured one holds what the program was
            # sent (an escape sequence would act on the terminal pytest writes to).
            recorded = printable(f"{want_type}: {want_message}")
            return (
                f"{label}: the recorded call raised {recorded}\n"
                f"but the {call} raised {printable(f'{got_type}: {got_message}')}"
            )
        if not _is_placeholder(want_message) and got_message != want_message:
            return f"{label}: {want_type} message differs\n" + describe_difference(
                want_message, got_message, "message"
            )
        return ""
    want_value = state_view(expected["value"])
    if raised is not None:
        return (
            f"{label}: the recorded call returned:\n{_shown(want_value)}\n"
            f"but the {call} raised {type(raised).__module__}."
            f"{type(raised).__qualname__}: {safe_str(raised)}"
        )
    masked = _mask(want_value, state_view(value))
    if equal(want_value, masked):
        return ""
    return f"{label}: the result differs (- recorded, + replayed)\n" + describe_difference(
        want_value, masked
    )


def _compare_state(label: str, recorded: Any, instance: Any) -> str:
    want = state_view(recorded)
    masked = _mask(want, state_view(instance))
    if equal(want, masked):
        return ""
    return (
        f"{label}: the instance's state after the call differs (- recorded, + replayed)\n"
        + describe_difference(want, masked, "self")
    )


def _shown(value: Any) -> str:
    import pprint  # noqa: PLC0415 - only a failing comparison prints

    try:
        return pprint.pformat(value, width=88, sort_dicts=True)
    except Exception:  # noqa: BLE001
        return f"<unprintable {type(value).__name__}>"


def _is_placeholder(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(_PLACEHOLDER_START) and value.endswith("]")


def _mask(expected: Any, actual: Any) -> Any:
    """``actual`` with the places where ``expected`` holds a filter placeholder copied over."""
    if _is_placeholder(expected):
        return expected
    if isinstance(expected, str) and isinstance(actual, str) and _PLACEHOLDER_START in expected:
        # A secret masked inside a longer text (the result echoed a filtered argument).
        parts = _INLINE.split(expected)
        pattern = "(?s:.*?)".join(re.escape(part) for part in parts)
        return expected if re.fullmatch(pattern, actual) else actual
    if isinstance(expected, dict) and isinstance(actual, dict):
        return {
            key: _mask(expected[key], item) if key in expected else item
            for key, item in actual.items()
        }
    if (
        isinstance(expected, (list, tuple))
        and isinstance(actual, (list, tuple))
        and (len(expected) == len(actual))
    ):
        masked = [_mask(want, got) for want, got in zip(expected, actual, strict=True)]
        return type(actual)(masked) if type(actual) in (list, tuple) else actual
    return actual
