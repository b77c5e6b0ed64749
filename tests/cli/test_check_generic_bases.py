"""``snapy-capture check`` finds methods inherited through a subscripted (generic) base.

Found on marshmallow: ``marshmallow.fields:Integer._deserialize`` and ``Date._deserialize`` were
captured by the runner, yet check said ``ERROR 'Integer._deserialize' not found in
marshmallow.fields ... (if it is inherited from Number[int], defined in another module ...)``
and exited 1, while ``Number`` is defined in that very module: ``class Integer(Number[int])``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _check import check

BASE = """
import typing

T = typing.TypeVar("T")

class Remote(typing.Generic[T]):
    def fetch(self):
        return 1
"""

FIELDS = """
import typing
from tgt_gen import base
from tgt_gen.base import Remote

T = typing.TypeVar("T")

class Number(typing.Generic[T]):
    def _deserialize(self, value):
        return value

class Integer(Number[int]):
    pass

class Nested(Number[typing.Dict[str, int]]):
    pass

class Imported(Remote[int]):
    pass

class ByModule(base.Remote[str]):
    pass
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    package = tmp_path / "tgt_gen"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "base.py").write_text(BASE)
    (package / "fields.py").write_text(FIELDS)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_methods_inherited_through_generic_bases_resolve(project: Path) -> None:
    targets = [
        "tgt_gen.fields:Integer._deserialize",
        "tgt_gen.fields:Nested._deserialize",
        "tgt_gen.fields:Imported.fetch",
        "tgt_gen.fields:ByModule.fetch",
    ]
    code, errors = check(project, *targets)
    assert errors == dict.fromkeys(targets, "")
    assert code == 0
