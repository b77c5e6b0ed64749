"""``snapy-capture check`` finds methods inherited from a class defined in another module.

Found on tomlkit: ``tomlkit.items:Array.extend`` is captured by the runner (``Array`` inherits
it from ``_CustomList`` of ``tomlkit._types``, which has it from ``collections.abc``'s
``MutableSequence``), yet check said ``ERROR 'Array.extend' not found in tomlkit.items (if it is
inherited from _CustomList, defined in another module, check cannot see it)`` and exited 1: a CI
gate on check refused a target file that works. The bases' modules are now read too, along
their imports (``from m import C``, ``import m``, relative ones, star imports), and none runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _check import check

BASE = """
__import__("pathlib").Path({marker!r}).write_text("ran")  # must never run under check
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from builtins import list as _Base
else:
    from collections.abc import MutableSequence

    class _Base(MutableSequence, list):
        def extra(self):
            return 1

class Outer:
    class Inner:
        def deep(self):
            return 2
"""

ITEMS = """
__import__("pathlib").Path({marker!r}).write_text("ran")
import tgt_inh.base
import tgt_inh.base as aliased
from tgt_inh.base import _Base
from tgt_inh.reexport import Again
from . import base as basemod
from .base import _Base as Rel, Outer

class Item:
    pass

class Array(Item, _Base):
    pass

class ByModule(basemod._Base):
    pass

class ByDotted(tgt_inh.base._Base):
    pass

class ByAlias(aliased._Base):
    pass

class ByRelative(Rel):
    pass

class ByNested(Outer.Inner):
    pass

class ByReexport(Again):
    pass
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    package = tmp_path / "tgt_inh"
    package.mkdir()
    (package / "__init__.py").write_text("")
    marker = str(tmp_path / "SIDE_EFFECT")
    (package / "base.py").write_text(BASE.format(marker=marker))
    (package / "items.py").write_text(ITEMS.format(marker=marker))
    (package / "reexport.py").write_text("from .star import *\n")
    (package / "star.py").write_text("from .base import _Base as Again\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_methods_inherited_from_other_modules_resolve(project: Path) -> None:
    code, errors = check(
        project,
        "tgt_inh.items:Array.extra",
        "tgt_inh.items:Array.extend",  # from collections.abc, through its star import
        "tgt_inh.items:ByModule.extra",
        "tgt_inh.items:ByDotted.extra",
        "tgt_inh.items:ByAlias.extra",
        "tgt_inh.items:ByRelative.extend",
        "tgt_inh.items:ByNested.deep",
        "tgt_inh.items:ByReexport.extra",
    )
    assert errors == dict.fromkeys(errors, "")
    assert code == 0
    assert not (project / "SIDE_EFFECT").exists()


def test_a_name_no_base_defines_is_still_an_error(project: Path) -> None:
    code, errors = check(project, "tgt_inh.items:Array.nothing", "tgt_inh.items:ByNested.extra")
    assert code == 1
    assert "'Array.nothing' not found in tgt_inh.items" in errors["tgt_inh.items:Array.nothing"]
    assert "not found" in errors["tgt_inh.items:ByNested.extra"]
    assert not (project / "SIDE_EFFECT").exists()
