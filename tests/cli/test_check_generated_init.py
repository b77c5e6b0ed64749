"""``snapy-capture check`` lists the ``__init__`` a dataclass or attrs decorator writes.

Found on an attrs application: ``models:*`` was listed by check as ``matches 6: Money.scaled,
Item.price_with_vat, ...`` while the runner captured nine functions: ``Money.__init__``,
``Item.__init__`` and ``Supplier.__init__``, written by ``@attrs.define`` / ``@frozen``, are
not in the source check reads, but the hook finds them on the classes. An exact target
``models:Item.__init__`` was an error ("not found") although it captures. The docs promise
that check lists exactly what the hook wraps: the test compares the two.
"""

from __future__ import annotations

import importlib
import io
import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from snapy_capture import install_import_hook, uninstall_import_hook
from snapy_capture.capture import site_of
from snapy_capture.cli import main

pytest.importorskip("attrs")

SOURCE = """
import dataclasses
import functools
from dataclasses import dataclass

import attr
import attrs
from attrs import define, frozen


@dataclass
class Point:
    x: int

    def norm(self):
        return abs(self.x)


@dataclasses.dataclass(frozen=True)
class Frozen:
    x: int


@dataclass(init=False)
class NoInit:
    x: int = 0


@define
class Box:
    w: int


@frozen
class Money:
    cents: int


@attrs.define(slots=False)
class Dicty:
    w: int


@attr.s(auto_attribs=True)
class Old:
    w: int


@dataclass
class Own:
    x: int

    def __init__(self, x):
        self.x = x


@functools.total_ordering
class Ordered:
    def __lt__(self, other):
        return False

    def __eq__(self, other):
        return True
"""


@pytest.fixture
def made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    (tmp_path / "tgt_made.py").write_text(textwrap.dedent(SOURCE))
    monkeypatch.chdir(tmp_path)
    sys.path.insert(0, str(tmp_path))
    importlib.invalidate_caches()
    yield tmp_path
    uninstall_import_hook()


def _check_matches(root: Path, target: str) -> tuple[int, dict[str, object]]:
    config = root / "capture.yaml"
    config.write_text(f"version: 1\ntargets:\n  - '{target}'\n")
    out, err = io.StringIO(), io.StringIO()
    code = main(["check", str(config), "--json"], stdout=out, stderr=err, stdin=io.StringIO())
    assert out.getvalue(), err.getvalue()
    (entry,) = json.loads(out.getvalue())["targets"]
    return code, entry


def _wrapped(module: object) -> set[str]:
    found = set()
    for name, cls in vars(module).items():
        if isinstance(cls, type) and cls.__module__ == module.__name__:  # type: ignore[attr-defined]
            for attribute, value in vars(cls).items():
                if site_of(value) is not None:
                    found.add(f"{name}.{attribute}")
    return found


def test_check_lists_what_the_hook_wraps_generated_init_included(made: Path) -> None:
    code, entry = _check_matches(made, "tgt_made:*")
    assert code == 0, entry
    listed = set(entry["matches"])  # type: ignore[arg-type]

    install_import_hook({"targets": ["tgt_made:*"]})
    import tgt_made  # type: ignore[import-not-found]

    wrapped = _wrapped(tgt_made)
    assert listed == wrapped
    assert {"Point.__init__", "Frozen.__init__", "Box.__init__", "Money.__init__"} <= listed
    assert {"Dicty.__init__", "Old.__init__", "Own.__init__"} <= listed
    assert "NoInit.__init__" not in listed
    assert "Ordered.__init__" not in listed


@pytest.mark.parametrize("name", ["Item", "Box"])
def test_an_exact_generated_init_resolves(made: Path, name: str) -> None:
    (made / "tgt_made.py").write_text(
        textwrap.dedent(SOURCE) + "\n\n@define\nclass Item:\n    sku: str\n"
    )
    code, entry = _check_matches(made, f"tgt_made:{name}.__init__")
    assert (code, entry["errors"]) == (0, [])
