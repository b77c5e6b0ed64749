"""Shared fixtures: every test starts with a private capture directory and clean global state."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from snapy_capture import config, storage
from snapy_capture.capture import _state as _sitestate
from snapy_capture.replay import loader


@pytest.fixture(autouse=True)
def isolated_capture_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Give each test its own default capture path and restore global state afterwards."""
    for name in list(os.environ):
        if name.startswith("SNAP_CAPTURE_"):
            monkeypatch.delenv(name)
    default = tmp_path / "captures"
    monkeypatch.setenv("SNAP_CAPTURE_DEFAULT_PATH", str(default))
    # The start-up cache of target files (hook._startup), per test: not the user's own.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    saved_modules = dict(sys.modules)
    saved_path = list(sys.path)
    saved_meta_path = list(sys.meta_path)
    _reset()
    yield default
    _reset()
    sys.meta_path[:] = saved_meta_path
    sys.path[:] = saved_path
    for name in set(sys.modules) - set(saved_modules):
        if name.startswith(("legacy_", "tgt_", "hooktest_")):
            del sys.modules[name]


def _reset() -> None:
    config.set_global_config(None)
    config.reload_environment()
    storage._written_roots.clear()
    loader._search_paths.clear()
    _sitestate._storages.clear()


@pytest.fixture
def capture_dir(isolated_capture_state: Path) -> Path:
    """The default capture path of this test."""
    return isolated_capture_state
