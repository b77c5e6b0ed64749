"""The start-up cache copies no secret a target file holds.

The cache (``$XDG_CACHE_HOME/snapy_capture``) keeps a target file's text and parsed document
so that the next process need not parse it. A target file may hold a secret: a signing key,
an object store's options (its credentials), a storage URL with a password. The cache copied
them into the user's cache directory, where they outlived the file's own (rotated) key. Such
a file is now parsed by every process, and an entry an earlier version wrote for it removed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from snapy_capture.hook import _startup
from snapy_capture.hook._finder import read_targets

SECRET = "Zq8-unlikely-key-93"
HOLDING = {
    "signing key": f"defaults: {{signing_key: '{SECRET}'}}\ntargets: ['pkg.mod:f']\n",
    "storage options": (
        "defaults:\n  path: s3://bucket/captures\n"
        f"  storage_options: {{key: AKIA0000, secret: '{SECRET}'}}\n"
        "targets: ['pkg.mod:f']\n"
    ),
    "url password": f"defaults: {{path: 'sftp://me:{SECRET}@host/caps'}}\ntargets: ['pkg.mod:f']\n",
    "per target": f"targets:\n  - target: pkg.mod:f\n    signing_key: '{SECRET}'\n",
}


def _cache_bytes() -> bytes:
    root = Path(os.environ["XDG_CACHE_HOME"])  # per test (conftest)
    return b"".join(p.read_bytes() for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize("how", list(HOLDING))
def test_a_target_file_holding_a_secret_is_not_cached(tmp_path: Path, how: str) -> None:
    path = tmp_path / "capture.yaml"
    path.write_text(HOLDING[how], encoding="utf-8")
    read_targets(str(path))
    read_targets(str(path))  # a second process: parsed again, still nothing cached
    assert SECRET.encode() not in _cache_bytes()


def test_an_entry_an_earlier_version_wrote_is_removed(tmp_path: Path) -> None:
    path = tmp_path / "capture.yaml"
    text = HOLDING["signing key"]
    path.write_text(text, encoding="utf-8")
    _startup.remember(str(path), text, (("pkg.mod", "f", f"{path}:2"),), None)  # as before
    assert SECRET.encode() in _cache_bytes()
    spec = read_targets(str(path))
    assert [t.name for t in spec.targets] == ["pkg.mod:f"]
    assert SECRET.encode() not in _cache_bytes()


def test_a_file_without_secrets_is_still_cached(tmp_path: Path) -> None:
    path = tmp_path / "capture.yaml"
    text = "defaults: {path: 'captures', record_result: true}\ntargets: ['pkg.mod:f']\n"
    path.write_text(text, encoding="utf-8")
    read_targets(str(path))
    assert isinstance(read_targets(str(path)), _startup.Deferred)
