"""Classes defined in a script run as __main__: captured in a real process, loaded in tests."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from snapy_capture import CaptureFormatError, CaptureLoader, CaptureStorage, SnapyCaptureWarning

SCRIPT = textwrap.dedent(
    """
    import dataclasses
    import enum
    import os

    from snapy_capture import capture_args


    class Shape(enum.Enum):
        BOX = "box"


    @dataclasses.dataclass
    class Point:
        x: int
        y: int


    @capture_args(serializer=os.environ.get("TGT_SERIALIZER", "pickle"))
    def area(corner, *, shape):
        return corner.x * corner.y


    if __name__ == "__main__":
        print(area(Point(2, 3), shape=Shape.BOX))
    """
)


def run_script(tmp_path: Path, serializer: str, *, how: str = "python") -> Path:
    """Run the script and return its capture directory.

    ``how``: ``python`` (``python script.py``), ``runner`` (``python -m snapy_capture.run``),
    or ``stdin`` (fed on stdin, so the script has no file name).
    """
    script = tmp_path / "tgt_mainscript.py"
    script.write_text(SCRIPT)
    config = tmp_path / "capture.yaml"
    config.write_text("version: 1\ntargets: []\n")
    captures = tmp_path / f"captures-{serializer}"
    command = {
        "python": [sys.executable, str(script)],
        "runner": [sys.executable, "-m", "snapy_capture.run", "--config", str(config), str(script)],
        "stdin": [sys.executable, "-"],
    }[how]
    env = {**os.environ, "SNAP_CAPTURE_DEFAULT_PATH": str(captures), "TGT_SERIALIZER": serializer}
    result = subprocess.run(
        command,
        cwd=tmp_path,
        input=SCRIPT if how == "stdin" else None,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "6"
    return captures


@pytest.mark.parametrize(
    ("serializer", "how"), [("pickle", "python"), ("json", "python"), ("pickle", "runner")]
)
def test_script_classes_load_when_the_script_is_importable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, serializer: str, how: str
) -> None:
    """An instance of a class of the script loads as tgt_mainscript.Point in the tests."""
    captures = run_script(tmp_path, serializer, how=how)
    monkeypatch.syspath_prepend(str(tmp_path))
    if serializer == "json":
        # JSON loading imports nothing (issue 15): the tests import the code they replay.
        importlib.import_module("tgt_mainscript")
    args, kwargs = CaptureLoader(captures).load_latest("tgt_mainscript:area")
    module = sys.modules["tgt_mainscript"]
    assert args == (module.Point(2, 3),)
    assert type(args[0]) is module.Point
    assert kwargs == {"shape": module.Shape.BOX}


@pytest.mark.parametrize("serializer", ["pickle", "json"])
def test_script_not_importable_gives_a_fix(tmp_path: Path, serializer: str) -> None:
    """Without the script's directory on sys.path, the error says how to fix it."""
    captures = run_script(tmp_path, serializer)
    storage = CaptureStorage(captures)
    (info,) = storage.functions()
    (path,) = storage.capture_files(info.module, info.qualname)
    fix = {
        "pickle": "make the script's directory importable",
        "json": "module 'tgt_mainscript' is not imported",  # JSON loading imports nothing
    }[serializer]
    with pytest.raises(CaptureFormatError, match=fix):
        storage.read(path)
    with pytest.warns(SnapyCaptureWarning, match="tgt_mainscript.Point"):
        assert CaptureLoader(captures).load_all("area") == []


def test_script_without_a_file_name_gives_a_fix(tmp_path: Path) -> None:
    """A script fed on stdin has no module name: loading explains what to change."""
    captures = run_script(tmp_path, "pickle", how="stdin")
    with pytest.warns(SnapyCaptureWarning, match="move Point into a module"):
        assert CaptureLoader(captures).load_all("area") == []
