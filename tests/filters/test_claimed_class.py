"""An object's own ``__class__`` (a property: proxies, mocks) and a metaclass's
``__getattr__`` are host code, which capture must not run; ``isinstance`` asks the first
when the type does not answer, ``getattr`` on a class the second for a missing name.

An object claiming to be a function (``__class__`` returning ``FunctionType``) was taken for
one by ``isinstance`` and kept by reference, its attributes unfiltered: its password reached
the disk in every capture mode.
"""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import pytest

from _modes import CAPTURE_MODES
from snapy_capture import capture_args, flush

SECRET = "glx-hunter2-zebra-91"  # no known shape: found by its name only
ASKED: list[str] = []


class ClaimsToBeAFunction:
    @property  # type: ignore[misc]
    def __class__(self) -> type:  # type: ignore[override]
        ASKED.append("__class__")
        return types.FunctionType

    def __init__(self, password: str) -> None:
        self.password = password


class ClaimsToBeASet(set[int]):
    @property  # type: ignore[misc]
    def __class__(self) -> type:  # type: ignore[override]
        ASKED.append("__class__")
        return set


class Answering(type):
    def __getattr__(cls, name: str) -> Any:
        ASKED.append(name)
        raise AttributeError(name)


class Row(tuple[str, ...], metaclass=Answering):
    pass


@pytest.mark.parametrize("options", CAPTURE_MODES)
def test_an_object_claiming_another_class_is_filtered_without_asking_it(
    tmp_path: Path, options: dict[str, Any]
) -> None:
    @capture_args(path=tmp_path, **options)
    def login(account: Any, ids: set[int], row: tuple[str, ...]) -> int:
        return 1

    del ASKED[:]
    assert login(ClaimsToBeAFunction(SECRET), ClaimsToBeASet({1, 2}), Row(("token", SECRET))) == 1
    flush()
    on_disk = b"".join(path.read_bytes() for path in tmp_path.rglob("*") if path.is_file())
    assert SECRET.encode() not in on_disk
    if not options.get("async_storage"):
        # An async snapshot's pickling asks ``__class__`` itself (pickle's own check).
        assert "__class__" not in ASKED
    assert "_fields" not in ASKED
