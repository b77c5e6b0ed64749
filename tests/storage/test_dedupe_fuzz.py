"""Deduplication's index against a model, under random writes by several writers.

Three storages write to one directory (each keeps its own mapping and, while nobody else
changed the index, its own dict of the keys), in random bursts of random contents, with
captures deleted by hand in between. After every step the index file must be a consistent
table (every entry findable, the recency list whole), each writer's dict (when it holds)
must equal the file's keys, and the captures, their order and their counts must be those
of a model: a least-recently-seen list cut to the retention.
"""

from __future__ import annotations

import os
import tempfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snapy_capture import CaptureStorage
from snapy_capture.storage import _dedupe, _local, function_dirname

WRITE, DELETE = 0, 1

steps = st.lists(
    st.one_of(
        # A burst of writes by one storage (long bursts let it keep its dict of the keys).
        st.tuples(
            st.just(WRITE),
            st.integers(0, 2),
            st.lists(st.integers(0, 11), min_size=1, max_size=12),
        ),
        # A capture deleted by hand (the n-th of those there, if any).
        st.tuples(st.just(DELETE), st.integers(0, 2), st.lists(st.integers(0, 50), max_size=1)),
    ),
    min_size=1,
    max_size=25,
)


class _Model:
    """What the index must hold: content -> [number, calls], least recently seen first."""

    def __init__(self, retention: int | None) -> None:
        self.retention = retention
        self.entries: OrderedDict[int, list[int]] = OrderedDict()
        self.deleted: set[int] = set()  # numbers deleted by hand
        self.next = 0

    def write(self, value: int) -> None:
        entry = self.entries.get(value)
        if entry is not None and entry[0] not in self.deleted:
            entry[1] += 1
            self.entries.move_to_end(value)
            return
        if entry is not None:  # its capture deleted by hand: forgotten, stored anew
            del self.entries[value]
        self.entries[value] = [self.next, 1]
        self.next += 1
        while self.retention is not None and len(self.entries) > self.retention:
            self.entries.popitem(last=False)


def _table(path: Path) -> tuple[dict[bytes, int], list[tuple[bytes, int, int]], int]:
    """The index file's keys (digest -> slot), its entries newest first (digest, number,
    calls) by the recency list, and its change counter; checks the table's consistency."""
    raw = path.read_bytes()
    capacity, live, deleted, head, tail, dirty, changes = _dedupe._HEADER.unpack_from(raw, 0)[1:]
    assert (deleted, dirty) == (0, 0)
    assert len(raw) >= 64 + 64 * capacity
    keys = {}
    for slot in range(capacity):
        state, digest = _dedupe._SLOT.unpack_from(raw, 64 + 64 * slot)[:2]
        assert state in (0, 1)
        if state == 1:
            assert digest not in keys
            keys[digest] = slot
            assert _dedupe._find(raw, capacity, digest) == slot  # reachable from its home
    assert len(keys) == live
    order, previous, slot = [], -1, head
    while slot != -1:
        state, digest, number, calls, _, prev, nxt = _dedupe._SLOT.unpack_from(raw, 64 + 64 * slot)
        assert (state, prev) == (1, previous)
        order.append((digest, number, calls))
        assert len(order) <= live
        previous, slot = slot, nxt
    assert len(order) == live
    assert previous == tail
    return keys, order, changes


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(retention=st.sampled_from([None, 1, 3, 5]), steps=steps)
def test_writers_in_turns_keep_the_index_equal_to_a_model(
    monkeypatch: pytest.MonkeyPatch, retention: int | None, steps: list[Any]
) -> None:
    monkeypatch.setattr(_local, "_RECHECK_SECONDS", 0.0)  # a capture deleted by hand: seen
    with tempfile.TemporaryDirectory() as root:
        storages = [CaptureStorage(root, retention=retention) for _ in range(3)]
        directory = Path(root) / function_dirname("m", "f")
        model = _Model(retention)
        digests: dict[int, bytes] = {}
        for kind, who, values in steps:
            if kind == DELETE:
                there = sorted(directory.glob("*.cap")) if directory.exists() else []
                if there and values:
                    doomed = there[values[0] % len(there)]
                    os.unlink(doomed)
                    model.deleted.add(int(doomed.stem))
                continue
            for value in values:
                data = storages[who].encode(
                    {"module": "m", "qualname": "f", "args": [value], "kwargs": {}}
                )
                digest = _dedupe.content_digest(data)
                assert digest is not None
                digests[value] = digest
                storages[who]._write("m", "f", data, retention, None, True)
                model.write(value)
            keys, order, changes = _table(directory / _dedupe.INDEX_NAME)
            by_digest = {digest: value for value, digest in digests.items()}
            expected = [(value, *entry) for value, entry in reversed(model.entries.items())]
            assert [(by_digest[d], n, c) for d, n, c in order] == expected
            for storage in storages:
                index = storage._backend._indexes.get(str(directory))
                if index is not None and index.keys is not None and index.changes == changes:
                    assert index.keys == keys  # a dict that holds is the file's keys
            on_disk = {int(p.stem) for p in directory.glob("*.cap")}
            assert on_disk == {n for n, _ in model.entries.values()} - model.deleted
