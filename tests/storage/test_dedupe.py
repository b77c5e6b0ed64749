"""Deduplication: a call equal to a kept capture counts on it instead of being stored again."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from snapy_capture import CaptureStorage, capture_args, flush
from snapy_capture.hook import install_import_hook, uninstall_import_hook
from snapy_capture.replay.loader import CaptureLoader
from snapy_capture.storage import function_dirname

MODES = [
    pytest.param({}, id="sync"),
    pytest.param({"async_storage": True}, id="async"),
    pytest.param({"async_storage": True, "lazy_serialization": True}, id="lazy"),
]


def _caps(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.cap"))


def _calls(storage: CaptureStorage, name: str) -> list[tuple[Any, int]]:
    """``(first argument, calls)`` of each capture, newest first (by number)."""
    out = []
    for item in storage.read_captures(name):
        assert item.record is not None
        out.append((item.record["args"][0], item.record["metadata"].get("calls", 1)))
    return out


@pytest.mark.parametrize("options", MODES)
def test_identical_calls_leave_one_capture_per_distinct_call_decorator(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    """100 identical calls plus 5 distinct ones leave 6 captures; the repeated one counts 100."""

    @capture_args(retention=None, **options)
    def price(item: str, qty: int = 1) -> int:
        return qty

    for _ in range(100):
        price("apple", qty=2)
    for n in range(5):
        price(f"pear-{n}")
    assert flush(timeout=30)
    directory = capture_dir / function_dirname(price.__module__, price.__qualname__)
    assert len(_caps(directory)) == 6
    storage = CaptureStorage(capture_dir)
    counted = dict(_calls(storage, f"{price.__module__}:{price.__qualname__}"))
    assert counted == {"apple": 100, **{f"pear-{n}": 1 for n in range(5)}}
    record = CaptureLoader(capture_dir).load_all("price")[-1]  # the oldest: apple
    assert record["args"] == ["apple"]
    assert record["metadata"]["calls"] == 100
    assert record["metadata"]["last_seen"] >= record["timestamp"]
    assert "pid" in record["metadata"]  # the call's own fields come back as captured


@pytest.fixture
def modules(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "mods"
    root.mkdir()
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    yield root
    uninstall_import_hook()


@pytest.mark.parametrize("options", MODES)
def test_identical_calls_leave_one_capture_per_distinct_call_hook(
    modules: Path, capture_dir: Path, options: dict[str, Any]
) -> None:
    """The same through the import hook, on a method (its receiver is part of the content)."""
    (modules / "hooktest_dedupe.py").write_text(
        textwrap.dedent(
            """
            class Cart:
                def __init__(self, owner):
                    self.owner = owner
                def add(self, item):
                    return item
            """
        ),
        encoding="utf-8",
    )
    install_import_hook(
        {"defaults": {"retention": None, **options}, "targets": ["hooktest_dedupe:Cart.add"]}
    )
    import hooktest_dedupe  # type: ignore[import-not-found]

    cart = hooktest_dedupe.Cart("ann")
    for _ in range(100):
        cart.add("milk")
    for n in range(5):
        cart.add(f"egg-{n}")
    hooktest_dedupe.Cart("bob").add("milk")  # another receiver state: another capture
    assert flush(timeout=30)
    directory = capture_dir / function_dirname("hooktest_dedupe", "Cart.add")
    assert len(_caps(directory)) == 7
    counted = _calls(CaptureStorage(capture_dir), "hooktest_dedupe:Cart.add")
    assert sorted(n for _, n in counted) == [1] * 6 + [100]


def test_dedupe_off_stores_one_capture_per_call(capture_dir: Path) -> None:
    @capture_args(retention=None, dedupe=False)
    def ping(x: int) -> int:
        return x

    for _ in range(20):
        ping(1)
    assert flush(timeout=30)
    records = CaptureLoader(capture_dir).load_all("ping")
    assert len(records) == 20
    assert all("calls" not in r["metadata"] for r in records)


def test_dedupe_off_by_environment_variable(
    capture_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SNAP_CAPTURE_DEDUPE", "false")
    from snapy_capture import config

    config.reload_environment()

    @capture_args(retention=None)
    def pong(x: int) -> int:
        return x

    for _ in range(3):
        pong(1)
    assert len(CaptureLoader(capture_dir).load_all("pong")) == 3


def test_retention_keeps_the_most_recently_seen_distinct_calls(capture_dir: Path) -> None:
    """retention=3: a capture seen again is kept over newer ones seen less recently, and
    keeps its number (a replay case's id)."""

    @capture_args(retention=3)
    def tax(x: str) -> str:
        return x

    for name in ["a", "b", "c"]:
        tax(name)
    directory = capture_dir / function_dirname(tax.__module__, tax.__qualname__)
    numbers = {CaptureStorage(capture_dir).read(p)["args"][0]: p.name for p in _caps(directory)}
    tax("a")  # a seen again: now b is the least recently seen
    tax("d")  # evicts b
    kept = {CaptureStorage(capture_dir).read(p)["args"][0]: p.name for p in _caps(directory)}
    assert sorted(kept) == ["a", "c", "d"]
    assert kept["a"] == numbers["a"]
    assert kept["c"] == numbers["c"]
    tax("c")
    tax("e")  # evicts a (seen before c, d)
    tax("f")  # evicts d
    kept = {CaptureStorage(capture_dir).read(p)["args"][0] for p in _caps(directory)}
    assert kept == {"c", "e", "f"}


def test_retention_with_dedupe_against_plain_retention_of_repeated_calls(
    capture_dir: Path,
) -> None:
    """The issue's case: a hot helper called with few distinct argument sets keeps them all."""

    @capture_args(retention=10)
    def helper(x: int) -> int:
        return x

    for i in range(1000):
        helper(i % 7)
    records = CaptureLoader(capture_dir).load_all("helper")
    assert sorted(r["args"][0] for r in records) == list(range(7))
    assert sum(r["metadata"]["calls"] for r in records) == 1000


def test_signed_duplicates_count_on_the_signed_capture(tmp_path: Path) -> None:
    """A signed capture is deduplicated too; it still verifies (its number is unchanged)."""
    storage = CaptureStorage(tmp_path, retention=None, signing_key=b"k" * 32)
    record = {"module": "m", "qualname": "f", "args": [1], "kwargs": {}, "metadata": {}}
    first = storage.save({**record, "timestamp": "2024-01-01T00:00:00.000000Z"}, dedupe=True)
    again = storage.save({**record, "timestamp": "2024-01-02T00:00:00.000000Z"}, dedupe=True)
    assert first == again
    loaded = storage.read(first)
    assert loaded["metadata"]["calls"] == 2
    assert loaded["timestamp"] == "2024-01-01T00:00:00.000000Z"


def test_a_capture_deleted_by_hand_is_stored_again(tmp_path: Path) -> None:
    storage = CaptureStorage(tmp_path, retention=None)
    record = {"module": "m", "qualname": "f", "args": [1], "kwargs": {}}
    path = storage.save(record, dedupe=True)
    Path(path).unlink()
    again = storage.save(record, dedupe=True)
    assert Path(again).exists()
    assert again != path
    assert storage.read(again).get("metadata", {}).get("calls") in (None, 1)


def test_clear_and_prune_keep_the_index_in_step(tmp_path: Path) -> None:
    storage = CaptureStorage(tmp_path, retention=None)
    for i in [1, 2, 3, 1, 1, 4]:
        storage.save({"module": "m", "qualname": "f", "args": [i], "kwargs": {}}, dedupe=True)
    assert storage.prune(retention=2) == 2  # the least recently seen distinct ones: 2 and 3
    assert sorted(storage.read(p)["args"][0] for p in storage.capture_files("m", "f")) == [1, 4]
    assert storage.read(storage.capture_files("m", "f")[-1])["metadata"]["calls"] == 3
    storage.clear()
    path = storage.save({"module": "m", "qualname": "f", "args": [1], "kwargs": {}}, dedupe=True)
    assert storage.read(path).get("metadata", {}).get("calls") in (None, 1)


def test_captures_written_before_are_indexed_and_merged(tmp_path: Path) -> None:
    """A directory captured without dedupe: its equal captures merge into the newest."""
    storage = CaptureStorage(tmp_path, retention=None)
    record = {"module": "m", "qualname": "f", "args": [1], "kwargs": {}}
    for _ in range(3):
        storage.save(record)
    storage.save({**record, "args": [2]})
    storage.save(record, dedupe=True)
    files = storage.capture_files("m", "f")
    assert [storage.read(p)["args"][0] for p in files] == [2, 1]
    assert storage.read(files[1])["metadata"]["calls"] == 4


WORKER = textwrap.dedent(
    """
    import sys, threading
    from snapy_capture import capture_args, flush
    root, mode = sys.argv[1], sys.argv[2]

    @capture_args(root, retention=5, async_storage=mode == "async")
    def same(a, b=2):
        return a

    def work():
        for _ in range(50):
            same(1, b={"k": [1, 2]})

    pool = [threading.Thread(target=work) for _ in range(2)]
    for t in pool: t.start()
    for t in pool: t.join()
    assert flush(timeout=60)
    """
)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_across_processes_and_threads_one_capture_counts_every_call(
    tmp_path: Path, mode: str
) -> None:
    """4 processes x 2 threads x 50 identical calls: one capture, 400 calls."""
    script = tmp_path / "worker.py"
    script.write_text(WORKER, encoding="utf-8")
    root = tmp_path / "caps"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAP_CAPTURE_")}
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(root), mode],
            cwd=tmp_path,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert (proc.returncode, err) == (0, "")
    (directory,) = [d for d in root.iterdir() if d.is_dir()]
    (only,) = _caps(directory)
    assert CaptureStorage(root).read(only)["metadata"]["calls"] == 400


def test_cli_list_and_show_print_the_calls(tmp_path: Path) -> None:
    storage = CaptureStorage(tmp_path, retention=None)
    for i in [1] * 12 + [2]:
        storage.save({"module": "app", "qualname": "f", "args": [i], "kwargs": {}}, dedupe=True)
    script = Path(sys.executable).parent / "snapy-capture"
    if not script.exists():
        pytest.skip("the snapy-capture console script is not installed in this environment")
    cli = [str(script), "--path", str(tmp_path)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAP_CAPTURE_")}

    listed = subprocess.run([*cli, "list"], capture_output=True, text=True, env=env, check=False)
    assert listed.returncode == 0, listed.stderr
    row = next(line.split() for line in listed.stdout.splitlines() if line.startswith("app:f"))
    assert row[1:3] == ["2", "13"]  # captures, calls
    assert "2 capture(s) standing for 13 call(s)" in listed.stdout

    shown = subprocess.run(
        [*cli, "show", "app:f", "--index", "1"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert "  calls:     12 (last seen " in shown.stdout

    as_json = subprocess.run(
        [*cli, "list", "--json"], capture_output=True, text=True, env=env, check=False
    )
    (function,) = json.loads(as_json.stdout)["functions"]
    assert (function["count"], function["calls"]) == (2, 13)


def test_an_index_left_mid_change_is_rebuilt_from_the_captures(tmp_path: Path) -> None:
    """A writer killed while changing the index leaves it marked: the next writer rebuilds
    it from the files (counts of the entries that still match kept), never double-stores."""
    storage = CaptureStorage(tmp_path, retention=None)
    record = {"module": "m", "qualname": "f", "args": [1], "kwargs": {}}
    for _ in range(3):
        storage.save(record, dedupe=True)
    storage.save({**record, "args": [2]}, dedupe=True)
    index = tmp_path / function_dirname("m", "f") / ".dedupe"
    raw = bytearray(index.read_bytes())
    raw[28] = 1  # the dirty flag, as a writer killed mid-change leaves it
    index.write_bytes(bytes(raw))
    fresh = CaptureStorage(tmp_path, retention=None)  # another process's view
    fresh.save(record, dedupe=True)
    files = fresh.capture_files("m", "f")
    assert [fresh.read(p)["args"][0] for p in files] == [2, 1]
    assert fresh.read(files[1])["metadata"]["calls"] == 4


def test_the_index_grows_under_threads_and_keeps_every_count(tmp_path: Path) -> None:
    """300 distinct contents, each called 3 times from 2 threads at once (the table grows
    several times while the other thread looks up): 300 captures, 1800 calls."""
    storage = CaptureStorage(tmp_path, retention=None)
    datas = [
        storage.encode({"module": "m", "qualname": "f", "args": [i], "kwargs": {}})
        for i in range(300)
    ]

    def work() -> None:
        for _ in range(3):
            for data in datas:
                storage._write("m", "f", data, None, None, True)

    pool = [threading.Thread(target=work) for _ in range(2)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    files = storage.capture_files("m", "f")
    assert len(files) == 300
    counts = [storage.calls(p) for p in files]
    assert all(c is not None and c[0] == 6 for c in counts)
