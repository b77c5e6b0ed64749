"""gen-tests for the kinds of method a legacy class captured by a ``Class.*`` glob has besides
plain methods: the constructor (captured with no instance yet) and property getters (captured
with the instance as their argument). Each must replay what was captured, not skip or
snapshot a TypeError."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from _pytester import pytest_ini

from snapy_capture.pytest_plugin import replay_outcome
from snapy_capture.replay import generate_test_module
from snapy_capture.storage import CaptureStorage

pytest_plugins = ["pytester"]

SHOP = """
class Box:
    def __init__(self, width, height=1):
        if width <= 0:
            raise ValueError(f"bad width {width}")
        self.width, self.height = width, height

    @property
    def area(self):
        return self.width * self.height
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("SNAP_CAPTURE_DEFAULT_PATH", raising=False)
    for name in list(os.environ):
        if name.startswith("PYTEST_XDIST") or name == "PYTEST_ADDOPTS":
            monkeypatch.delenv(name)
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    pytester.makefile(".ini", pytest=pytest_ini())
    pytester.makepyfile(tgt_shop=SHOP)
    monkeypatch.syspath_prepend(str(pytester.path))
    return pytester


def _record(
    qualname: str, args: list[Any], kwargs: dict[str, Any], **fields: Any
) -> dict[str, Any]:
    return {
        "module": "tgt_shop",
        "qualname": qualname,
        "function_name": qualname.rsplit(".", 1)[-1],
        "timestamp": "2026-12-01T10:00:00.000000Z",
        "args": args,
        "kwargs": kwargs,
        "metadata": {"redactions": []},
        **fields,
    }


def _save_captures(root: Path) -> None:
    import tgt_shop as shop  # type: ignore[import-not-found]  # written by the fixture

    storage = CaptureStorage(root)
    # As the hook stores them: __init__ has no "self" (only what it built, as self_after);
    # a property getter has its instance as its one argument.
    storage.save(
        _record(
            "Box.__init__", [3], {"height": 2}, result={"value": None}, self_after=shop.Box(3, 2)
        )
    )
    storage.save(_record("Box.__init__", [0], {}, result={"exception": {"type": "ValueError"}}))
    storage.save(_record("Box.area", [shop.Box(4, 5)], {}, result={"value": 20}))


def test_constructor_and_property_suites_replay_the_captured_calls(
    project: pytest.Pytester,
) -> None:
    """The constructor's cases build the instance (its state snapshotted, its ValueError
    too); the property's case runs the getter on the captured instance; none skipped."""
    captures = project.path / "captures"
    _save_captures(captures)
    tests = project.path / "tests"
    init = generate_test_module(
        "tgt_shop:Box.__init__", path=captures, output=tests / "test_init.py"
    )
    area = generate_test_module("tgt_shop:Box.area", path=captures, output=tests / "test_area.py")
    assert "assert replay_outcome(Box, record) == snapshot" in init
    assert "assert replay_outcome(Box.area.fget, record) == snapshot" in area

    updated = project.runpytest_subprocess("--snapshot-update", "-rs", timeout=120)
    updated.assert_outcomes(passed=3)
    built = (tests / "__snapshots__" / "test_init.ambr").read_text()
    assert "'__class__': 'tgt_shop.Box'," in built
    assert "'height': 2," in built
    assert "'width': 3," in built
    assert "'message': 'bad width 0'," in built
    stored = (tests / "__snapshots__" / "test_area.ambr").read_text()
    assert "\n  20\n" in stored
    assert "TypeError" not in stored
    project.runpytest_subprocess(timeout=120).assert_outcomes(passed=3)

    (project.path / "tgt_shop.py").write_text(
        SHOP.replace("self.width * self.height", "self.width")
    )
    changed = project.runpytest_subprocess(timeout=120)
    changed.assert_outcomes(passed=2, failed=1)
    changed.stdout.fnmatch_lines(["E  *- 20", "E  *+ 4"])


def test_a_property_taken_from_its_class_replays_its_getter(project: pytest.Pytester) -> None:
    """``replay_outcome(Box.area, record)`` (the property object, as a user writes it) runs
    the getter on the captured instance."""
    import tgt_shop as shop  # type: ignore[import-not-found]  # written by the fixture

    record = _record("Box.area", [shop.Box(4, 5)], {}, result={"value": 20})
    assert replay_outcome(shop.Box.area, record) == 20
    assert replay_outcome(shop.Box.area.fget, record) == 20
