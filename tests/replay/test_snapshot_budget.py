"""Snapshots that cannot explode: the value handed to syrupy is inert and bounded."""

from __future__ import annotations

import os
import textwrap
import time
from fractions import Fraction
from typing import Any

import pytest
from syrupy.extensions.amber.serializer import AmberDataSerializer

from snapy_capture.replay import Shown, SnapshotTooLarge, replay_outcome, snapshot_state

pytest_plugins = ["pytester"]

CALLS: dict[str, int] = {"repr": 0, "getattr": 0, "items": 0}


class Huge:
    """Has its own ``__eq__`` and ``__repr__`` (so it was kept as it is): a 50 MB repr."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Huge)

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return "H" * 50_000_000


class Spawning:
    """Like sqlparse's token types: asking for any attribute makes (and keeps) a new one."""

    def __init__(self, name: str = "root") -> None:
        self.name = name

    def __getattr__(self, name: str) -> Any:
        CALLS["getattr"] += 1
        if name.startswith("__"):
            raise AttributeError(name)
        child = Spawning(f"{self.name}.{name}")
        setattr(self, name, child)
        return child

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Spawning) and other.name == self.name

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        CALLS["repr"] += 1
        return f"Spawning({self.name!r})"


class Registry(dict[str, Any]):
    """Another module's dict subclass: its methods are code syrupy would run."""

    def items(self) -> Any:  # type: ignore[override]
        CALLS["items"] += 1
        return super().items()

    def __getattr__(self, name: str) -> Any:
        CALLS["getattr"] += 1
        raise AttributeError(name)


def _record(*args: Any) -> dict[str, Any]:
    return {
        "module": "m",
        "qualname": "f",
        "timestamp": "2026-12-01T10:00:00.000000Z",
        "args": list(args),
        "kwargs": {},
        "metadata": {},
    }


def _serialized(value: Any) -> str:
    return AmberDataSerializer.serialize(value)


def test_a_huge_repr_is_cut_in_the_snapshot() -> None:
    """A result whose repr is 50 MB is snapshotted as 10,000 characters of it, marked."""
    start = time.perf_counter()
    view = replay_outcome(lambda: [Huge()], _record())
    text = _serialized(view)
    assert len(text) < 20_000
    assert "HHHH" in text
    assert "49990000 more characters" in text
    assert time.perf_counter() - start < 10


def test_serializing_a_snapshot_runs_none_of_the_values_code() -> None:
    """Objects kept by their repr and dict subclasses reach syrupy as inert builtins: it
    calls no ``__repr__``, ``__getattr__`` or ``items`` of theirs, and the text is the one
    it wrote for the objects themselves."""
    value = {"tokens": {Spawning("a"), Spawning("b")}, "reg": Registry(x=Spawning("x"))}
    view = snapshot_state(value)
    assert type(view["reg"]) is not Registry
    assert isinstance(view["reg"], dict)
    CALLS.update(repr=0, getattr=0, items=0)
    text = _serialized(view)
    assert CALLS == {"repr": 0, "getattr": 0, "items": 0}
    assert "Registry({" in text
    assert "Spawning('a')" in text
    assert "set({" in text
    assert "x='x'" not in text  # no attribute was probed and made


def test_objects_kept_by_repr_still_compare_with_what_they_stand_for() -> None:
    """``replay_outcome(f, r) == Fraction(1, 2)`` keeps working; the snapshot text is unchanged."""
    view = snapshot_state([Fraction(1, 2)])
    assert isinstance(view[0], Shown)
    assert view == [Fraction(1, 2)]
    assert _serialized(view) == _serialized([Fraction(1, 2)])


def nested_million() -> list[list[int]]:
    return [list(range(1000)) for _ in range(1000)]


def test_a_snapshot_over_the_budget_fails_its_case_quickly() -> None:
    """A million items (only a quarter of them under the per-container cut) is over the
    budget: replay_outcome raises, naming the capture, the budget and what to do."""
    start = time.perf_counter()
    with pytest.raises(SnapshotTooLarge) as raised:
        replay_outcome(nested_million, _record())
    assert time.perf_counter() - start < 10
    message = str(raised.value)
    assert message.startswith("capture of m:f from 2026-12-01")
    assert "over 100000 items" in message
    assert "--mode result" in message


def test_a_huge_string_is_over_the_budget() -> None:
    with pytest.raises(SnapshotTooLarge, match="over 10000000 characters"):
        snapshot_state(["x" * 6_000_000, "y" * 6_000_000])


MODULE = textwrap.dedent(
    """
    from snapy_capture.replay import replay_outcome

    def small():
        return [1, 2, 3]

    def huge():
        return [list(range(1000)) for _ in range(1000)]

    def record():
        return {"module": "m", "qualname": "f", "timestamp": "2026-12-01T10:00:00.000000Z",
                "args": [], "kwargs": {}, "metadata": {}}

    def test_small(snapshot):
        assert replay_outcome(small, record()) == snapshot

    def test_huge(snapshot):
        assert replay_outcome(huge, record()) == snapshot

    def test_after(snapshot):
        assert replay_outcome(small, record()) == snapshot
    """
)


def test_only_the_case_over_the_budget_fails(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("PYTEST_XDIST") or name == "PYTEST_ADDOPTS":
            monkeypatch.delenv(name)
    pytester.makefile(
        ".ini",
        pytest="[pytest]\npythonpath = .\naddopts = -p no:hypothesispytest -p no:cacheprovider\n",
    )
    pytester.makepyfile(test_snap=MODULE)
    result = pytester.runpytest_subprocess("-p", "no:randomly", "--snapshot-update", timeout=120)
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        ["*SnapshotTooLarge: capture of m:f from * the snapshot is over 100000 items*"]
    )
    snapshots = pytester.path / "__snapshots__" / "test_snap.ambr"
    assert "test_small" in snapshots.read_text()
    assert "test_huge" not in snapshots.read_text()
    assert len(snapshots.read_text()) < 10_000
