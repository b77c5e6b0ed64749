"""CaptureStorage: atomic files, retention by count and age, permissions, safe names."""

from __future__ import annotations

import errno
import os
import stat
import time
from pathlib import Path

import pytest

from snapy_capture import (
    CaptureLoader,
    CaptureStorage,
    SnapyCaptureWarning,
    capture_args,
    load_capture,
)
from snapy_capture.storage import FileOperations, function_dirname


def _record(qualname: str, n: int, module: str = "app") -> dict[str, object]:
    return {
        "function_name": qualname.rsplit(".", 1)[-1],
        "module": module,
        "qualname": qualname,
        "timestamp": "2026-01-01T00:00:00.000000Z",
        "args": [n],
        "kwargs": {},
        "metadata": {"call_depth": 0},
    }


def test_files_sort_by_write_order_and_newest_needs_no_read(tmp_path: Path) -> None:
    """capture_files lists newest first by name alone."""
    store = CaptureStorage(tmp_path)
    for n in range(12):
        store.save(_record("f", n))
    files = store.capture_files("app", "f")
    assert [store.read(p)["args"][0] for p in files] == list(range(11, -1, -1))
    assert files == sorted(files, reverse=True)


def test_count_retention_keeps_newest_n(tmp_path: Path) -> None:
    """retention=N keeps exactly the newest N captures of a function."""
    store = CaptureStorage(tmp_path, retention=3)
    for n in range(10):
        store.save(_record("f", n))
    assert [store.read(p)["args"][0] for p in store.capture_files("app", "f")] == [9, 8, 7]


def test_lowering_retention_later_trims_to_new_limit(tmp_path: Path) -> None:
    """A lower retention on a later write trims older captures down to it."""
    store = CaptureStorage(tmp_path)
    for n in range(8):
        store.save(_record("f", n))
    store.save(_record("f", 8), retention=2)
    assert [store.read(p)["args"][0] for p in store.capture_files("app", "f")] == [8, 7]


def test_max_age_drops_old_captures_on_write(tmp_path: Path) -> None:
    """Captures older than max_age are removed when a new one is written."""
    store = CaptureStorage(tmp_path, max_age=60)
    old = store.save(_record("f", 1))
    stamp = time.time() - 3600
    os.utime(old, (stamp, stamp))
    store.save(_record("f", 2))
    assert [store.read(p)["args"][0] for p in store.capture_files("app", "f")] == [2]


def test_permissions_are_private(tmp_path: Path) -> None:
    """Directories are created 0700 and capture files 0600, whatever the umask."""
    old_umask = os.umask(0o022)
    try:
        store = CaptureStorage(tmp_path / "root" / "nested")
        path = store.save(_record("f", 1))
    finally:
        os.umask(old_umask)
    for directory in (tmp_path / "root", tmp_path / "root" / "nested", path.parent):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for file in path.parent.iterdir():
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file


@pytest.mark.parametrize(
    ("module", "qualname"),
    [
        ("..", ".."),
        ("../../etc", "passwd"),
        ("a/b", "c/../../d"),
        ("x", "\0evil"),
        ("m", "q" * 600),
        ("/abs", "/root"),
    ],
)
def test_names_cannot_escape_the_root(tmp_path: Path, module: str, qualname: str) -> None:
    """Whatever the function is called, its files stay under the storage root."""
    root = tmp_path / "root"
    store = CaptureStorage(root)
    path = store.save(_record(qualname, 1, module=module))
    assert path.resolve().is_relative_to(root.resolve())
    assert len(function_dirname(module, qualname)) <= 255
    [info] = store.functions()
    assert (info.module, info.qualname) == (module, qualname)


def test_no_temp_files_left_after_writes(tmp_path: Path) -> None:
    """Successful writes leave only capture files and bookkeeping behind."""
    store = CaptureStorage(tmp_path, retention=2)
    for n in range(5):
        store.save(_record("f", n))
    leftovers = [
        p.name
        for p in (tmp_path / function_dirname("app", "f")).iterdir()
        if p.name.startswith(".tmp")
    ]
    assert leftovers == []


def test_state_file_lost_does_not_overwrite_captures(tmp_path: Path) -> None:
    """If the numbering state is deleted or garbled, numbering resumes after the newest file."""
    store = CaptureStorage(tmp_path)
    for n in range(3):
        store.save(_record("f", n))
    state = tmp_path / function_dirname("app", "f") / ".seq"
    state.write_text("garbage")
    store.save(_record("f", 3))
    state.unlink()
    store.save(_record("f", 4))
    assert [store.read(p)["args"][0] for p in store.capture_files("app", "f")] == [4, 3, 2, 1, 0]


def test_prune_and_clear(tmp_path: Path) -> None:
    """prune applies retention now and removes stale temp files; clear removes captures."""
    store = CaptureStorage(tmp_path)
    for n in range(6):
        store.save(_record("f", n))
    directory = tmp_path / function_dirname("app", "f")
    stale = directory / ".tmp-crashed"
    stale.write_bytes(b"partial")
    stamp = time.time() - 7200
    os.utime(stale, (stamp, stamp))
    assert store.prune(retention=2) == 5
    assert not stale.exists()
    assert len(store.capture_files("app", "f")) == 2
    assert store.clear() == 2
    assert store.capture_files("app", "f") == []


def test_seed_decorator_retention_example(capture_dir: Path) -> None:
    """The seed's decorator example keeps 3 captures and never stores the password."""

    @capture_args(path=str(capture_dir), retention=3, ignore_args=["password"])
    def user_authentication(username: str, password: str, remember_me: bool = False) -> bool:
        return bool(username and password)

    for i in range(5):
        user_authentication(f"user{i}", f"pw-secret-{i}", remember_me=True)
    loader = CaptureLoader(capture_dir)
    assert [r["args"][0] for r in loader.load_all("user_authentication")] == [
        "user4",
        "user3",
        "user2",
    ]
    for file in capture_dir.rglob("*"):
        if file.is_file():
            assert b"pw-secret" not in file.read_bytes()
    assert load_capture("user_authentication")[1] == {"remember_me": True}


def test_explicit_retention_none_keeps_everything(capture_dir: Path) -> None:
    """An explicit retention=None means no count limit (the default is 10)."""

    @capture_args(retention=None)
    def keep_all(n: int) -> int:
        return n

    @capture_args()
    def keep_default(n: int) -> int:
        return n

    for n in range(15):
        keep_all(n)
        keep_default(n)
    loader = CaptureLoader()
    assert loader.count("keep_all") == 15
    assert loader.count("keep_default") == 10


def test_failed_retention_delete_keeps_the_new_capture(tmp_path: Path) -> None:
    """If deleting an old capture fails (EACCES), the new capture still counts as written."""

    class Refusing(FileOperations):
        refuse = False

        def unlink(self, path: str) -> int:
            if self.refuse:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
            return super().unlink(path)

    files = Refusing()
    store = CaptureStorage(tmp_path, retention=1, files=files)
    store.save(_record("f", 1))
    files.refuse = True
    path = store.save(_record("f", 2))
    assert store.read(path)["args"] == [2]
    assert [store.read(p)["args"][0] for p in store.capture_files("app", "f")] == [2, 1]
    files.refuse = False
    store.save(_record("f", 3))  # the next write retries the deletion
    assert [store.read(p)["args"][0] for p in store.capture_files("app", "f")] == [3]


def test_fallback_serializer_with_max_capture_size_shrinks_instead_of_dropping(
    capture_dir: Path,
) -> None:
    """An oversized capture encoded by the fallback serializer is shrunk with that serializer."""

    @capture_args(serializer="json", fallback_serializer="pickle", max_capture_size=2000)
    def take(obj: object, n: int) -> int:
        return n

    assert take(Opaque(), 7) == 7
    args, _ = load_capture("take")
    assert args[0].startswith("[FILTERED: too large")
    assert args[1] == 7


class Opaque:
    """JSON cannot store it; pickle can."""

    def __init__(self) -> None:
        self.blob = "z" * 5000


# --- directory names bind (issue 15, item 13) -----------------------------------------------


def _short_name_of_long_directory(module: str, long_qualname: str) -> str:
    """The qualname whose quoted name used to be exactly the long name's shortened form."""
    dirname = function_dirname(module, long_qualname)
    prefix = f"{module}%3A"
    assert dirname.startswith(prefix)
    assert "~" in dirname
    return dirname[len(prefix) :]


def test_short_name_never_shares_a_long_names_directory(tmp_path: Path) -> None:
    """A short qualname equal to a long one's ``<120 chars>~<sha16>`` form gets its own
    directory, and loading either name returns only its own captures."""
    long_name = "handler_" + "x" * 200
    short_name = _short_name_of_long_directory("app", long_name)
    store = CaptureStorage(tmp_path)
    long_path = store.save(_record(long_name, 1))
    short_path = store.save(_record(short_name, 2))
    assert long_path.parent != short_path.parent
    loader = CaptureLoader(tmp_path)
    assert [r["args"] for r in loader.load_all(f"app:{long_name}")] == [[1]]
    assert [r["args"] for r in loader.load_all(f"app:{short_name}")] == [[2]]


@pytest.mark.parametrize(
    ("first", "second"), [(("a:b", "c"), ("a", "b:c")), (("m", "f~1"), ("m", "f%7E1"))]
)
def test_distinct_functions_get_distinct_directories(
    first: tuple[str, str], second: tuple[str, str]
) -> None:
    assert function_dirname(*first) != function_dirname(*second)


def test_loading_a_name_never_returns_another_functions_record(tmp_path: Path) -> None:
    """Checked on every read: a record of app:refund put in app:transfer's directory (by
    hand, or by an old version whose names collided) is skipped with a warning."""
    store = CaptureStorage(tmp_path)
    transfer = store.save(_record("transfer", 10))
    store.write("app", "transfer", store.encode(_record("refund", 999)))
    with pytest.warns(
        SnapyCaptureWarning, match="holds a capture of app:refund, not of app:transfer"
    ):
        assert load_capture("app:transfer", tmp_path) == ((10,), {})
    assert transfer.exists()


def test_directories_named_by_older_versions_still_load(tmp_path: Path) -> None:
    """A short name with '~' was not quoted before: its old directory is still found (by
    its .function.json), so upgrading loses no capture."""
    store = CaptureStorage(tmp_path)
    new = store.save(_record("weird~name", 1)).parent
    old = tmp_path / new.name.replace("%7E", "~")
    new.rename(old)
    assert load_capture("app:weird~name", tmp_path) == ((1,), {})
    store2 = CaptureStorage(tmp_path)
    store2.save(_record("weird~name", 2))  # new captures go to the new name; both are read
    assert [r["args"] for r in CaptureLoader(tmp_path).load_all("app:weird~name")] == [[2], [1]]
