"""Deduplication: a call equal to a kept capture counts on it instead of being stored again."""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from snapy_capture import CaptureStorage, capture_args, flush
from snapy_capture.hook import install_import_hook, uninstall_import_hook
from snapy_capture.replay.loader import CaptureLoader
from snapy_capture.storage import FileOperations, _dedupe, _envelope, function_dirname
from snapy_capture.storage._dedupe import content_digest

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


# --- a process's copy of the index's keys (issue 21) ---------------------------------------
# A writer keeps the index's keys in a dict while the index's change counter is the one its
# last change left. Another process's changes in between must be seen: a stale copy would
# store a second capture of a content already kept, or count a call on the wrong capture.

OTHER_PROCESS = textwrap.dedent(
    """
    import sys
    from snapy_capture import CaptureStorage
    root, action = sys.argv[1], sys.argv[2]
    storage = CaptureStorage(root, retention=3)

    def save(value):
        storage.save({"module": "m", "qualname": "f", "args": [value], "kwargs": {}},
                     dedupe=True)

    if action == "write":
        for value in [1, 1, 1, 1, 1, 4, 5]:
            save(value)
    elif action == "prune":
        storage.prune(retention=1)
    elif action == "clear":
        storage.clear()
    """
)


def _in_another_process(tmp_path: Path, action: str) -> None:
    script = tmp_path / "other.py"
    script.write_text(OTHER_PROCESS, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAP_CAPTURE_")}
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "caps"), action],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert (done.returncode, done.stderr) == (0, "")


def _counts(storage: CaptureStorage) -> dict[Any, int]:
    """``{first argument: calls}`` of every capture of m:f (a content stored twice fails)."""
    found: dict[Any, int] = {}
    for path in storage.capture_files("m", "f"):
        record = storage.read(path)
        assert record["args"][0] not in found, f"{record['args'][0]} stored twice"
        found[record["args"][0]] = record["metadata"].get("calls", 1)
    return found


def _save_all(storage: CaptureStorage, values: list[int]) -> None:
    for value in values:
        storage.save({"module": "m", "qualname": "f", "args": [value], "kwargs": {}}, dedupe=True)


def test_writers_taking_turns_across_processes_count_every_call_once(tmp_path: Path) -> None:
    """This process writes long enough to keep its copy of the keys, another process counts
    and stores in between, then this one writes again: one capture per content, exact
    counts, retention by last seen over both processes' calls."""
    storage = CaptureStorage(tmp_path / "caps", retention=3)
    _save_all(storage, [1, 2, 3] * 10)  # this process's copy is made and used
    _in_another_process(tmp_path, "write")  # 1 x5 (counted), then 4 and 5 evict 2 and 3
    _save_all(storage, [1, 4, 5, 4])
    assert _counts(storage) == {1: 16, 4: 3, 5: 2}
    _in_another_process(tmp_path, "write")
    _save_all(storage, [5, 1])
    assert _counts(storage) == {1: 22, 4: 4, 5: 4}


@pytest.mark.parametrize("action", ["prune", "clear"])
def test_a_writer_sees_another_process_prune_or_clear_the_index(
    tmp_path: Path, action: str
) -> None:
    """Another process's ``prune`` (the index relaid) or ``clear`` (emptied) between two
    writes of this process: its next calls count on the captures that are there, or are
    stored anew, never on a capture gone or on another content's."""
    storage = CaptureStorage(tmp_path / "caps", retention=3)
    _save_all(storage, [1, 2, 3] * 10)  # 3 is the most recently seen
    _in_another_process(tmp_path, action)
    _save_all(storage, [3, 2, 2, 1])
    if action == "prune":  # 3 kept with its 10 calls; 1 and 2 stored anew
        assert _counts(storage) == {3: 11, 2: 2, 1: 1}
    else:
        assert _counts(storage) == {3: 1, 2: 2, 1: 1}
    # The order of last calls holds too: retention lets go of the least recently seen.
    _save_all(storage, [4, 2, 5])
    assert _counts(storage) == {2: 3, 4: 1, 5: 1}


def test_a_writer_with_its_keys_rebuilds_an_index_another_process_left_mid_change(
    tmp_path: Path,
) -> None:
    """A writer killed mid-change elsewhere leaves the index marked, its counter unchanged:
    a writer whose copy of the keys matches that counter still rebuilds it from the files."""
    storage = CaptureStorage(tmp_path / "caps", retention=None)
    _save_all(storage, [1, 2, 3] * 10)
    index = tmp_path / "caps" / function_dirname("m", "f") / ".dedupe"
    with index.open("r+b") as raw:  # in place: the writer's mapping is of this file
        table = bytearray(raw.read())
        table[28] = 1  # the dirty flag
        for slot in range(64, len(table), 64):  # and a half-made change: entries lost
            table[slot] = 0
        raw.seek(0)
        raw.write(table)
    _save_all(storage, [1, 2])
    # Nothing stored twice; the counts the lost entries held are gone, the files remain.
    assert _counts(storage) == {1: 2, 2: 2, 3: 1}


def test_a_capture_deleted_by_hand_while_counted_is_stored_again_after_the_recheck(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A capture counted again is checked at most once per ``_RECHECK_SECONDS``: deleted by
    hand while its call repeats, the first call after that interval stores it again."""
    from snapy_capture.storage import _local

    monkeypatch.setattr(_local, "_RECHECK_SECONDS", 0.05)
    storage = CaptureStorage(tmp_path, retention=None)
    _save_all(storage, [1, 1])  # stored, then counted (checked: there)
    (path,) = storage.capture_files("m", "f")
    Path(path).unlink()
    time.sleep(0.06)
    _save_all(storage, [1])
    (again,) = storage.capture_files("m", "f")
    assert again != path
    assert _counts(storage) == {1: 1}


def test_prune_by_age_keeps_a_capture_seen_since_whose_file_time_lags(tmp_path: Path) -> None:
    """A deduplicated capture's file time may lag its last call by up to a second (checked
    at most once a second): ``prune --max-age`` goes by the last call the index holds."""

    class Clock(FileOperations):
        at = time.time()

        def now(self) -> float:
            return self.at

    clock = Clock()
    start = clock.at
    storage = CaptureStorage(tmp_path, retention=None, files=clock)
    clock.at = start - 3600
    _save_all(storage, [1, 2])  # both last seen an hour ago
    clock.at = start
    _save_all(storage, [2])  # 2 seen again now
    (two,) = [p for p in storage.capture_files("m", "f") if storage.read(p)["args"] == [2]]
    os.utime(two, (start - 0.5, start - 0.5))  # its file time, lagging as it may
    clock.at = start + 0.1
    assert storage.prune(max_age=0.3) == 1  # 1, last seen an hour ago
    assert _counts(storage) == {2: 2}


def test_prune_applies_retention_to_every_function_after_a_deduplicated_one(
    tmp_path: Path,
) -> None:
    """``prune(retention=1)`` keeps one capture in each function's directory, deduplicated
    or not, in whatever order the directories come."""
    storage = CaptureStorage(tmp_path, retention=None)
    for value in [1, 2, 3]:
        storage.save({"module": "a", "qualname": "f", "args": [value], "kwargs": {}}, dedupe=True)
        storage.save({"module": "b", "qualname": "f", "args": [value], "kwargs": {}})
    assert storage.prune(retention=1) == 4
    assert len(storage.capture_files("a", "f")) == 1
    assert len(storage.capture_files("b", "f")) == 1


def test_a_content_stored_between_the_unlocked_look_and_the_lock_is_counted(
    tmp_path: Path,
) -> None:
    """A writer looks the content up without the lock, then writes its temporary file; if
    another thread of the process stores that content meanwhile, the look under the lock
    sees it: one capture, counted twice, never a second copy."""
    interleaved: list[int] = []

    class Meanwhile(FileOperations):
        def open_temp(self, directory: str) -> tuple[int, str | None]:
            if interleaved == [1]:  # after the first write's unlocked look, before its lock
                interleaved.append(2)
                _save_all(storage, [5])
            return super().open_temp(directory)

    storage = CaptureStorage(tmp_path, retention=None, files=Meanwhile())
    _save_all(storage, [1, 2, 3] * 8)  # this storage keeps its dict of the keys
    interleaved.append(1)
    _save_all(storage, [5])
    assert interleaved == [1, 2]
    assert _counts(storage) == {1: 8, 2: 8, 3: 8, 5: 2}


def test_the_key_is_blake2b_of_the_payload_whatever_its_size_and_thread() -> None:
    """The index's key is ``blake2b(payload, digest_size=16)``, the call's fields (header)
    left out: writers of other versions share the index file, so it must stay that, for a
    payload viewed (64 KiB and more) as for one copied, and with threads hashing at once
    (each copies one shared, never updated, set-up hasher)."""

    def expected(payload: bytes) -> bytes:
        return hashlib.blake2b(payload, digest_size=16).digest()

    for size in (0, 1, 300, (1 << 16) - 1, 1 << 16, 200_000):
        payload = os.urandom(size)
        plain = _envelope.pack(payload, "json")
        with_call = _envelope.pack(payload, "json", call={"pid": 7, "thread": "T"})
        assert content_digest(plain) == content_digest(with_call) == expected(payload)
    assert content_digest(b"not a capture") is None

    wrong: list[int] = []

    def hash_many(seed: int) -> None:
        for n in range(300):
            payload = f"{seed}-{n}".encode() * (1 + n % 50)
            if content_digest(_envelope.pack(payload, "json")) != expected(payload):
                wrong.append(n)

    threads = [threading.Thread(target=hash_many, args=(seed,)) for seed in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_fork_child_hashes_with_a_set_up_hasher_of_its_own() -> None:
    """The set-up hasher every digest copies is made anew in a fork child (where a hasher has
    a lock, a copy under way in another thread at the fork would leave it held for ever),
    and the child's keys are the parent's."""
    payload = b"order-1234" * 30
    data = _envelope.pack(payload, "json")
    inherited = _dedupe._BLAKE2B_16  # kept alive: the child's new one cannot reuse its id
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            own = _dedupe._BLAKE2B_16 is not inherited
            os.write(write_end, (b"1" if own else b"0") + (content_digest(data) or b""))
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        reply = os.read(read_end, 64)
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)
    assert reply == b"1" + hashlib.blake2b(payload, digest_size=16).digest()
    assert _dedupe._BLAKE2B_16 is inherited  # the parent's stays
