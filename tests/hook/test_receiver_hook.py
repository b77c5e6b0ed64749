"""The import hook captures a method's receiver too (issue 17): a real program run under
``python -m snapy_capture.run`` with method globs in its target file, never edited for it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from snapy_capture import CaptureLoader, load_capture, load_capture_dict

KEY = "sk-live-Hk7unlikelyVaultKey"

APP = f"""
import difflib
import textwrap
import threading


class Vault:
    def __init__(self, owner):
        self.owner = owner
        self.api_key = "{KEY}"
        self.lock = threading.Lock()
        self.entries = []

    def store(self, name):
        with self.lock:
            self.entries.append(name)

    def count(self):
        return len(self.entries)


class Quiet:
    def __init__(self):
        self.level = 3

    def shout(self, text):
        return text.upper()


vault = Vault("ops")
vault.store("alpha")
vault.store("beta")
print(vault.count(), Quiet().shout("hi"))
print(textwrap.TextWrapper(width=10, break_long_words=False).wrap("one two three four"))
print(difflib.SequenceMatcher(None, "abcd", "abxd").ratio())
"""

TARGETS = """
version: 1
defaults: {{record_result: true, async_storage: {async_storage}}}
targets:
  - app:Vault.*
  - target: app:Quiet.*
    capture_self: false
  - textwrap:TextWrapper.wrap
  - difflib:SequenceMatcher.ratio
"""


@pytest.mark.parametrize("async_storage", ["false", "true"])
def test_the_runner_captures_receivers_of_method_globs(
    tmp_path: Path, capture_dir: Path, async_storage: str
) -> None:
    (tmp_path / "app.py").write_text(APP, encoding="utf-8")
    (tmp_path / "capture.yaml").write_text(
        textwrap.dedent(TARGETS.format(async_storage=async_storage)), encoding="utf-8"
    )
    env = {**os.environ, "SNAP_CAPTURE_DEFAULT_PATH": str(capture_dir)}
    plain = subprocess.run(
        [sys.executable, "app.py"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    done = subprocess.run(
        [sys.executable, "-m", "snapy_capture.run", "app.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, plain.stdout, plain.stderr)

    data = b"".join(p.read_bytes() for p in capture_dir.rglob("*") if p.is_file())
    assert KEY.encode() not in data
    sys.path.insert(0, str(tmp_path))  # the loader rebuilds app.Vault (conftest restores it)

    loader = CaptureLoader(capture_dir)
    stores = loader.load_all("app:Vault.store")
    assert [r["args"] for r in stores] == [["beta"], ["alpha"]]
    assert load_capture("app:Vault.store", capture_dir) == (("beta",), {})
    last = stores[0]
    assert last["self"].owner == "ops"
    assert last["self"].entries == ["alpha"]
    assert last["self_after"].entries == ["alpha", "beta"]
    assert str(last["self"].api_key).startswith("[FILTERED: name:")
    assert str(last["self"].lock) == "[FILTERED: unstorable:lock]"
    paths = {item["path"] for item in last["metadata"]["redactions"]}
    assert {"self.api_key", "self.lock", "self_after.api_key", "self_after.lock"} <= paths

    init = load_capture_dict("app:Vault.__init__", capture_dir)
    assert "self" not in init  # half-built when called: only what __init__ built
    assert init["self_after"].owner == "ops"
    assert load_capture_dict("app:Vault.count", capture_dir)["result"]["value"] == 2

    shout = load_capture_dict("app:Quiet.shout", capture_dir)
    assert shout["args"] == ["hi"]
    assert "self" not in shout
    assert "self_after" not in shout

    wrapped = load_capture_dict("textwrap:TextWrapper.wrap", capture_dir)
    assert (wrapped["self"].width, wrapped["self"].break_long_words) == (10, False)
    assert wrapped["self"].wrap(*wrapped["args"]) == wrapped["result"]["value"]
    ratio = load_capture_dict("difflib:SequenceMatcher.ratio", capture_dir)
    assert ratio["self"].ratio() == ratio["result"]["value"] == 0.75
