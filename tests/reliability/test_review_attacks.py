"""A hostile review of the inert snapshots, result masking and frame changes (issue 15)."""

from __future__ import annotations

import collections
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from snapy_capture import CaptureLoader, capture_args, flush


def callback(value: Any) -> Any:
    return value


class Kind:
    pass


@pytest.fixture(autouse=True)
def _flushed() -> Iterator[None]:
    assert flush(timeout=30)
    yield
    assert flush(timeout=30)


ASYNC_MODES = [
    pytest.param({"async_storage": True}, id="async"),
    pytest.param({"async_storage": True, "record_result": True}, id="async-result"),
    pytest.param(
        {"serializer": "json", "fallback_serializer": "pickle", "async_storage": True},
        id="json-async",
    ),
    pytest.param({"serializer": "jsonpickle", "async_storage": True}, id="jsonpickle-async"),
]


@pytest.mark.parametrize("options", ASYNC_MODES)
def test_standard_containers_holding_classes_and_functions_survive_async_capture(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    """A deque, OrderedDict or Counter holding a class or a function is stored as it is,
    not as a placeholder (the stand-ins of globals were left inside them), and loads."""

    @capture_args(retention=None, **options)
    def handle(**kwargs: Any) -> None:
        return None

    given = {
        "queue": collections.deque([int, Kind, callback], maxlen=5),
        "handlers": collections.OrderedDict(handler=callback, kind=Kind),
        "counts": collections.Counter({Kind: 2, int: 1}),
    }
    handle(**given)
    assert flush(timeout=30)
    [record] = CaptureLoader(capture_dir).load_all("handle")
    assert record["kwargs"] == given
    assert type(record["kwargs"]["queue"]) is collections.deque
    assert record["kwargs"]["queue"].maxlen == 5
    assert record["metadata"]["redactions"] == []
