"""How a capture's bytes reach the disk: an unnamed O_TMPFILE where Linux allows, otherwise a
named ``.tmp-<pid>-<n>`` file; both are linked into place whole, and the first failure of
the unnamed kind switches the process to named files without losing the capture."""

from __future__ import annotations

import errno
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from snapy_capture import CaptureLoader, CaptureStorage, capture_args
from snapy_capture.storage import FileOperations, function_dirname

HAS_TMPFILE = FileOperations().unnamed_temps


def _record(n: int) -> dict[str, Any]:
    return {"module": "app", "qualname": "f", "args": [n], "kwargs": {}}


def _names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@pytest.fixture(params=["unnamed", "named"])
def files(request: pytest.FixtureRequest) -> Iterator[FileOperations]:
    """Run a test with each kind of temporary file this machine can make."""
    if request.param == "unnamed" and not HAS_TMPFILE:  # pragma: no cover - Linux has it
        pytest.skip("this system has no O_TMPFILE or no /proc/self/fd")
    files = FileOperations(unnamed_temps=request.param == "unnamed")
    yield files
    # Nothing switched the kind behind the test's back.
    assert files.unnamed_temps == (request.param == "unnamed")


def test_capture_files_are_private_and_whole(tmp_path: Path, files: FileOperations) -> None:
    """Either kind: mode 0600 files, exactly the bytes written, and no temp file left."""
    store = CaptureStorage(tmp_path, retention=3, files=files)
    for n in range(5):
        path = store.save(_record(n))
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert store.read(path)["args"] == [n]
    directory = tmp_path / function_dirname("app", "f")
    assert _names(directory) == [
        ".function.json",
        ".lock",
        ".seq",
        "000000000002.cap",
        "000000000003.cap",
        "000000000004.cap",
    ]


def test_threads_writing_at_once_keep_numbering_and_retention(
    tmp_path: Path, files: FileOperations
) -> None:
    """Four threads, one storage: every capture numbered once, retention exact, none corrupt."""
    store = CaptureStorage(tmp_path, retention=7, files=files)

    def writer(base: int) -> None:
        for n in range(30):
            store.save(_record(base + n))

    threads = [threading.Thread(target=writer, args=(i * 100,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    files = store.capture_files("app", "f")
    assert [int(p.stem) for p in files] == list(range(119, 112, -1))
    assert all(store.read(p)["module"] == "app" for p in files)
    assert not [p for p in files[0].parent.iterdir() if p.name.startswith(".tmp")]


def _refuse_proc_links(monkeypatch: pytest.MonkeyPatch, err: int) -> list[str]:
    """``os.link`` fails for /proc/self/fd sources as on a system without /proc."""
    real, refused = os.link, []

    def link(src: Any, dst: Any, **kwargs: Any) -> None:
        if str(src).startswith("/proc/self/fd/"):
            refused.append(str(dst))
            raise OSError(err, os.strerror(err), str(src))
        real(src, dst, **kwargs)

    monkeypatch.setattr(os, "link", link)
    return refused


@pytest.mark.skipif(not HAS_TMPFILE, reason="needs O_TMPFILE")
@pytest.mark.parametrize("err", [errno.ENOENT, errno.EXDEV, errno.EPERM, errno.EACCES])
def test_unlinkable_unnamed_file_falls_back_without_losing_the_capture(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, err: int
) -> None:
    """No /proc (ENOENT), or a filesystem refusing the link: the capture that hit it is
    still stored, with a named temp file, and so is every later one."""
    files = FileOperations(unnamed_temps=True)
    refused = _refuse_proc_links(monkeypatch, err)

    @capture_args(storage=CaptureStorage(tmp_path / "caps", files=files))
    def f(x: int) -> int:
        return x

    assert [f(n) for n in range(3)] == [0, 1, 2]
    assert refused, "the unnamed kind was tried first"
    assert files.unnamed_temps is False
    loader = CaptureLoader(tmp_path / "caps")
    name = f"{__name__}:{f.__qualname__}"
    assert [loader.load_by_index(name, i) for i in range(3)] == [((n,), {}) for n in (2, 1, 0)]
    directory = next((tmp_path / "caps").iterdir())
    assert not [name for name in _names(directory) if name.startswith(".tmp")]


@pytest.mark.skipif(not HAS_TMPFILE, reason="needs O_TMPFILE")
def test_filesystem_without_o_tmpfile_uses_named_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """open(O_TMPFILE) refused (EOPNOTSUPP, as on some network filesystems): named files."""
    files = FileOperations(unnamed_temps=True)
    real_open = os.open

    def open_(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & os.O_TMPFILE == os.O_TMPFILE:
            raise OSError(errno.EOPNOTSUPP, os.strerror(errno.EOPNOTSUPP), str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_)
    store = CaptureStorage(tmp_path, files=files)
    assert store.read(store.save(_record(7)))["args"] == [7]
    assert files.unnamed_temps is False


def test_other_open_errors_are_not_mistaken_for_missing_support(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk is a failed write, not a reason to change how files are made."""
    files = FileOperations()
    real_open = os.open

    def open_(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if str(path).startswith(str(tmp_path)) and flags & os.O_WRONLY:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real_open(path, flags, *args, **kwargs)

    store = CaptureStorage(tmp_path, files=files)
    store.save(_record(0))  # the directory and its .function.json exist
    monkeypatch.setattr(os, "open", open_)
    with pytest.raises(OSError, match="No space left"):
        store.save(_record(1))
    assert files.unnamed_temps is HAS_TMPFILE


def test_named_temp_file_of_a_crashed_process_with_our_pid_is_skipped(tmp_path: Path) -> None:
    """Stale ``.tmp-<pid>-<n>`` files (pid reused after a crash) are never opened or replaced."""
    CaptureStorage(tmp_path).save(_record(0))  # the directory and its .function.json exist
    directory = tmp_path / function_dirname("app", "f")
    # A process starting afresh with our pid numbers its temporary files from the start.
    stale = [directory / f".tmp-{os.getpid()}-{n}" for n in range(5)]
    for path in stale:
        path.write_bytes(b"half a capture")
    store = CaptureStorage(tmp_path, files=FileOperations(unnamed_temps=False))
    assert store.read(store.save(_record(1)))["args"] == [1]
    assert [path.read_bytes() for path in stale] == [b"half a capture"] * 5
    assert [r["args"][0] for r in CaptureLoader(tmp_path).load_all("app:f")] == [1, 0]


def test_failed_close_of_a_named_temp_file_never_closes_another_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """close() may fail after freeing the number (EIO on NFS, a signal): the number may be
    another file's by then, and must not be closed a second time."""
    store = CaptureStorage(tmp_path, files=FileOperations(unnamed_temps=False))
    store.save(_record(0))
    real_close, closed = os.close, []

    def close(fd: int) -> None:
        closed.append(fd)
        real_close(fd)
        if len(closed) == 1:
            raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, "close", close)
    with pytest.raises(OSError, match="Input/output error"):
        store.save(_record(1))
    monkeypatch.setattr(os, "close", real_close)
    assert len(closed) == len(set(closed)), f"a descriptor was closed twice: {closed}"
    directory = tmp_path / function_dirname("app", "f")
    assert not [p for p in directory.iterdir() if p.name.startswith(".tmp")]
