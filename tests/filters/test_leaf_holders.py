"""Values the filters took for leaves hold what pickle stores with them.

A slice's bounds, a datetime's or a time's ``tzinfo`` and a timezone's name can be any
object or text: they were stored unfiltered (``slice(0, config)`` with ``config.password``,
a tzinfo holding an API key, ``timezone(offset, "password=...")``). They are leaves now only
when what they hold is plain; otherwise they are filtered like any object.
"""

from __future__ import annotations

import datetime
import zoneinfo
from pathlib import Path
from typing import Any

import pytest

from _modes import CAPTURE_MODES
from snapy_capture import CaptureLoader, capture_args, flush

SECRET = "Zq8-unlikely-pw-41"


class Settings:
    def __init__(self) -> None:
        self.host = "db.internal"
        self.password = SECRET


class KeyedZone(datetime.tzinfo):
    """A zone that keeps a credential for the service it looks offsets up in."""

    def __init__(self) -> None:
        self.api_key = SECRET

    def utcoffset(self, dt: datetime.datetime | None) -> datetime.timedelta:
        return datetime.timedelta(hours=1)


class Office(datetime.tzinfo):
    def __init__(self) -> None:
        self.label = "office"

    def utcoffset(self, dt: datetime.datetime | None) -> datetime.timedelta:
        return datetime.timedelta(hours=1)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Office) and other.label == self.label

    __hash__ = datetime.tzinfo.__hash__


def _on_disk(root: Path) -> bytes:
    assert flush(timeout=30)
    return b"".join(path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file())


@pytest.mark.parametrize("options", CAPTURE_MODES)
def test_secrets_held_by_slices_datetimes_and_timezones_never_reach_the_disk(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    @capture_args(retention=None, **options)
    def query(rows: Any, since: Any, zone: Any, when: Any) -> None:
        return None

    query(
        [1, slice(0, Settings())],
        datetime.datetime(2026, 1, 2, 3, 4, tzinfo=KeyedZone()),
        datetime.timezone(datetime.timedelta(hours=2), f"password={SECRET}"),
        {"at": datetime.time(9, 30, tzinfo=KeyedZone()), "step": slice("a", SECRET[:0] + "z")},
    )
    assert SECRET.encode() not in _on_disk(capture_dir)
    [record] = CaptureLoader(capture_dir).load_all("query")
    reasons = {item["path"]: item["reason"] for item in record["metadata"]["redactions"]}
    assert reasons["rows[1]"].startswith("opaque:slice")
    assert reasons["since"].startswith("opaque:datetime")
    assert record["args"][3]["step"] == slice("a", "z")


@pytest.mark.parametrize("options", CAPTURE_MODES)
def test_plain_slices_datetimes_and_zones_are_stored_as_they_are(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    @capture_args(retention=None, **options)
    def schedule(*values: Any) -> None:
        return None

    given = (
        slice(1, 10, 2),
        slice("2026-01", "2026-02"),
        datetime.datetime(2026, 1, 2, 3, 4),
        datetime.datetime(2026, 1, 2, 3, 4, tzinfo=datetime.timezone.utc),
        datetime.datetime(2026, 1, 2, 3, 4, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")),
        datetime.datetime(2026, 1, 2, 3, 4, tzinfo=Office()),
        datetime.time(9, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=2), "CEST")),
    )
    schedule(*given)
    assert flush(timeout=30)
    [record] = CaptureLoader(capture_dir).load_all("schedule")
    assert tuple(record["args"]) == given
    assert record["metadata"]["redactions"] == []
