"""``snapy-capture check`` follows ``from .module import *``, as the hook sees the names.

Found on python-dateutil: ``dateutil/tz/__init__.py`` is ``from .tz import *``, so the target
``dateutil.tz:gettz`` (the documented spelling) is captured by the runner, yet check said
``ERROR 'gettz' not found in dateutil.tz`` and exited 1 - a CI gate on check would refuse a
target file that works. Check still runs none of the modules it reads.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from _check import check

IMPL = """
__import__("pathlib").Path({marker!r}).write_text("ran")  # must never run under check

__all__ = ["helper", "gettz", "Zone"]

def helper(x):
    return x

def _make():
    return lambda name: name

gettz = _make()

class Zone:
    def utcoffset(self, when):
        return 0

def unexported():
    return 1
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    package = tmp_path / "tgt_star"
    package.mkdir()
    (package / "__init__.py").write_text("from .impl import *\nfrom .impl import __doc__\n")
    (package / "impl.py").write_text(IMPL.format(marker=str(tmp_path / "SIDE_EFFECT")))
    # A chain of star imports, absolute and relative, and one that imports itself; the
    # package's own __init__ is empty (check imports the package of a submodule target).
    chain = tmp_path / "tgt_chain"
    (chain / "sub").mkdir(parents=True)
    (chain / "__init__.py").write_text("")
    (chain / "deep.py").write_text("from tgt_chain.sub import *\n")
    (chain / "sub" / "__init__.py").write_text("from .inner import *\n")
    (chain / "sub" / "inner.py").write_text("def nested(x):\n    return x\n")
    (chain / "loop.py").write_text("from .loop import *\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_names_a_star_import_brings_in_resolve(project: Path) -> None:
    code, errors = check(
        project,
        "tgt_star:helper",
        "tgt_star:gettz",
        "tgt_star:Zone.utcoffset",
        "tgt_chain.deep:nested",
    )
    assert errors == dict.fromkeys(errors, "")
    assert code == 0
    assert not (project / "SIDE_EFFECT").exists()
    assert "tgt_star" not in sys.modules


def test_a_name_the_star_import_does_not_bring_in_is_still_an_error(project: Path) -> None:
    code, errors = check(
        project, "tgt_star:unexported", "tgt_star:nowhere", "tgt_chain.loop:f", "tgt_star:Zone.nope"
    )
    assert code == 1
    assert errors["tgt_star:unexported"] == "'unexported' not found in tgt_star"
    assert errors["tgt_star:nowhere"] == "'nowhere' not found in tgt_star"
    assert errors["tgt_chain.loop:f"] == "'f' not found in tgt_chain.loop"
    assert errors["tgt_star:Zone.nope"].startswith("'Zone.nope' not found in tgt_star")
    assert not (project / "SIDE_EFFECT").exists()


def test_the_hook_captures_what_check_accepted(project: Path, capture_dir: Path) -> None:
    from snapy_capture import flush, install_import_hook, uninstall_import_hook
    from snapy_capture.storage import CaptureStorage

    code, _errors = check(project, "tgt_star:helper", "tgt_star:Zone.utcoffset")
    assert code == 0
    sys.path.insert(0, str(project))
    install_import_hook(str(project / "capture.yaml"))
    try:
        import tgt_star  # type: ignore[import-not-found]

        tgt_star.helper(1), tgt_star.Zone().utcoffset(2)
        assert flush(10)
    finally:
        uninstall_import_hook()
        for name in [m for m in sys.modules if m.startswith("tgt_star")]:
            del sys.modules[name]
    captured = {f"{f.module}:{f.qualname}" for f in CaptureStorage(capture_dir).functions()}
    assert captured == {"tgt_star:helper", "tgt_star:Zone.utcoffset"}
