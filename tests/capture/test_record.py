"""Building a capture record: the timestamp, and the metadata that comes with it."""

from __future__ import annotations

import re
import time

import pytest

from snapy_capture.capture._record import format_timestamp


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (0.0, "1970-01-01T00:00:00.000000Z"),
        (1.5, "1970-01-01T00:00:01.500000Z"),
        (1732000000.999999, "2024-11-19T07:06:40.999999Z"),
        # The microseconds are those of the time as printed (repr 1795694401.260484): taken
        # from ``now % 1`` they came out one less for about one time in eight.
        (1795694401.260484, "2026-11-26T12:00:01.260484Z"),
        (1.9999999999999998, "1970-01-01T00:00:01.999999Z"),
        (-0.5, "1969-12-31T23:59:59.500000Z"),
    ],
)
def test_timestamp_is_iso_8601_utc_with_microseconds(now: float, expected: str) -> None:
    assert format_timestamp(now) == expected


def test_timestamp_cache_follows_the_clock_both_ways() -> None:
    """The date part is cached for one second: a clock that jumps back or forth gets its own."""
    now = time.time()
    stamps = [format_timestamp(t) for t in (now, now + 0.25, now - 86400, now + 3600, now)]
    assert stamps[0][:19] == stamps[1][:19] or stamps[1] > stamps[0]
    assert stamps[0] == stamps[4]
    assert stamps[2] < stamps[0] < stamps[3]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", s) for s in stamps)
