"""A class judged as pickling by its attributes, then given a reducer (an assignment,
``copyreg.pickle``): pickle uses the reducer from then on, so capture must read it too, or
what it returns reaches the disk unfiltered."""

from __future__ import annotations

import copyreg
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from snapy_capture import capture_args, flush

CARD = "4111 1111 1111 1111"


class Box:
    def __init__(self, label: str) -> None:
        self.label = label


def _rebuild(text: str) -> Box:
    return Box(text)


def _by_assignment() -> Callable[[], None]:
    Box.__reduce__ = lambda self: (_rebuild, (CARD,))  # type: ignore[method-assign]
    return lambda: delattr(Box, "__reduce__")


def _by_copyreg() -> Callable[[], None]:
    copyreg.pickle(Box, lambda box: (_rebuild, (CARD,)))

    def undo() -> None:
        del copyreg.dispatch_table[Box]

    return undo


@pytest.fixture(params=[_by_assignment, _by_copyreg], ids=["assignment", "copyreg"])
def add_reducer(request: pytest.FixtureRequest) -> Iterator[Callable[[], None]]:
    undo: list[Callable[[], None]] = []
    yield lambda: undo.append(request.param())
    for step in undo:
        step()


@pytest.mark.parametrize("async_storage", [False, True], ids=["sync", "async"])
def test_a_reducer_given_after_the_first_capture_is_filtered_like_any_other(
    tmp_path: Path, add_reducer: Callable[[], None], async_storage: bool
) -> None:
    @capture_args(path=tmp_path, retention=None, async_storage=async_storage)
    def ship(box: Any) -> None:
        pass

    ship(Box("plain"))  # judged: pickled by its attributes
    add_reducer()
    ship(Box("plain"))
    flush()
    on_disk = b"".join(path.read_bytes() for path in tmp_path.rglob("*") if path.is_file())
    assert b"4111" not in on_disk
