"""The storage contract, held against every backend: a local directory, ``memory://`` and S3
(moto's server, a real S3 API on 127.0.0.1). The layers above see only this contract."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from snapy_capture.errors import CaptureFormatError
from snapy_capture.storage import CaptureStorage, ObjectPath

BACKENDS = ["local", "memory", "s3"]


@pytest.fixture(params=BACKENDS)
def root(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A storage root of each backend, empty."""
    if request.param == "local":
        yield str(tmp_path / "store")
    elif request.param == "memory":
        pytest.importorskip("fsspec")
        name = f"memory://snapy-{uuid.uuid4().hex[:10]}/captures"
        yield name
        import fsspec

        fs = fsspec.filesystem("memory")
        if fs.exists(name):
            fs.rm(name, recursive=True)
    else:
        yield request.getfixturevalue("s3_url")


def _record(n: int, function: str = "f") -> dict[str, Any]:
    return {
        "module": "app",
        "qualname": function,
        "function_name": function,
        "timestamp": "2026-01-01T00:00:00Z",
        "args": [n],
        "kwargs": {},
        "metadata": {},
    }


def _numbers(store: CaptureStorage, function: str = "app:f") -> list[int]:
    return [item.record["args"][0] for item in store.read_captures(function) if item.record]


def test_written_captures_read_back_newest_first(root: str) -> None:
    store = CaptureStorage(root, retention=None)
    for n in range(12):  # more than the first page an object store asks for
        store.save(_record(n))
    assert _numbers(store) == list(range(11, -1, -1))
    assert [store.read(p)["args"][0] for p in store.capture_files("app", "f")] == _numbers(store)
    # Another storage on the same root (another process, another host) sees the same order.
    assert _numbers(CaptureStorage(root)) == list(range(11, -1, -1))
    # In the store itself, seen through fsspec, not through our code (and not in a local
    # directory named after the URL).
    assert _objects_in_store(root) == (12 if "://" in root else None)
    assert not any(Path.cwd().glob("s3:*"))
    assert not any(Path.cwd().glob("memory:*"))


def _objects_in_store(root: str) -> int | None:
    if "://" not in root:
        return None
    import fsspec

    fs, prefix = fsspec.core.url_to_fs(root, skip_instance_cache=True)
    return sum(1 for key in fs.find(prefix) if key.endswith(".cap"))


def test_functions_are_listed_with_their_names(root: str) -> None:
    store = CaptureStorage(root)
    store.save(_record(1, "f"))
    store.save(_record(2, "Cls.method"))
    assert sorted(info.name for info in store.functions()) == ["app:Cls.method", "app:f"]


def test_retention_keeps_the_newest(root: str) -> None:
    store = CaptureStorage(root, retention=3)
    for n in range(7):
        store.save(_record(n))
    assert _numbers(store) == [6, 5, 4]


def test_prune_applies_retention_now(root: str) -> None:
    store = CaptureStorage(root, retention=None)
    for n in range(5):
        store.save(_record(n))
    assert store.prune(retention=2) == 3
    assert _numbers(store) == [4, 3]


def test_max_age_drops_old_captures_on_write(root: str) -> None:
    store = CaptureStorage(root, retention=None, max_age=0.5)
    store.save(_record(0))
    time.sleep(1.2)  # file times and key times have a second's resolution at worst
    store.save(_record(1))
    assert _numbers(store) == [1]


def test_clear_one_function_or_all(root: str) -> None:
    store = CaptureStorage(root, retention=None)
    for n in range(3):
        store.save(_record(n, "f"))
        store.save(_record(n, "g"))
    assert store.clear("app", "f") == 3
    assert _numbers(store, "app:f") == []
    assert _numbers(store, "app:g") == [2, 1, 0]
    assert store.clear() == 3
    assert _numbers(store, "app:g") == []


def test_an_empty_root_has_nothing(root: str) -> None:
    store = CaptureStorage(root)
    assert store.functions() == []
    assert list(store.captures("app:f")) == []
    assert store.capture_files("app", "f") == []


def test_signed_captures_verify_only_where_they_were_written(root: str) -> None:
    store = CaptureStorage(root, retention=None, signing_key="k1")
    first = store.save(_record(1))
    store.save(_record(2))
    assert _numbers(store) == [2, 1]
    # The same bytes at another place (the next number, another key) do not verify.
    data = first.read_bytes()
    [newest, _] = store.capture_files("app", "f")
    moved = _place_next_to(newest, data)
    with pytest.raises(CaptureFormatError, match="signature mismatch"):
        store.read(moved)
    # Nor under another function, nor with another key, nor unsigned.
    with pytest.raises(CaptureFormatError, match="signature mismatch"):
        store.read(first, function="app:g")
    with pytest.raises(CaptureFormatError, match="signature mismatch"):
        CaptureStorage(root, signing_key="k2").read(first)
    unsigned = CaptureStorage(root, signing_key=None)
    unsigned.signing_key = None
    assert unsigned.read(first)["args"] == [1]


def _place_next_to(path: Any, data: bytes) -> Any:
    """Write ``data`` as a capture newer than ``path`` (a copy moved to a new place)."""
    if isinstance(path, Path):
        number = int(path.name[:12]) + 1
        target = path.with_name(f"{number:012d}.cap")
        target.write_bytes(data)
        return target
    assert isinstance(path, ObjectPath)
    ident = path.name[:16]
    newer = f"{int(ident) - 1:016d}{path.name[16:]}"
    target = path.parent / newer
    target._fs.pipe_file(target.key, data)
    return target


def test_remote_paths_are_urls_and_written_roots_keep_them(root: str) -> None:
    store = CaptureStorage(root)
    where = store.save(_record(1))
    if root.startswith(("s3://", "memory://")):
        assert store.remote
        assert str(store.path).endswith("/captures")
        assert str(where).startswith(root.partition("://")[0] + "://")
        assert where.exists()
    else:
        assert not store.remote
        assert isinstance(where, Path)


def test_only_names_of_ascii_digits_are_captures(root: str) -> None:
    """A name of other digits (Arabic-Indic: ``\\d`` took them, int() read them) or ending in a
    newline (``$`` allowed one) planted beside the captures is not read as a capture."""
    store = CaptureStorage(root, retention=None)
    store.save(_record(1))
    [path] = store.capture_files("app", "f")
    planted = store.read(path)
    arabic = "\u0660" * 11 + "\u0661"
    if "://" in root:
        import fsspec

        fs, prefix = fsspec.core.url_to_fs(root, skip_instance_cache=True)
        [real] = [key for key in fs.find(prefix) if key.endswith(".cap")]
        folder = real.rsplit("/", 1)[0]
        data = fs.cat(real)
        names = [f"{arabic}0000-{'0' * 16}.cap"]
        if root.startswith("memory://"):
            names.append(f"{'0' * 16}-{'0' * 16}.cap\n")  # (S3 refuses such a key)
        for name in names:
            fs.pipe(f"{folder}/{name}", data)
    else:
        folder = Path(path).parent
        for name in (f"{arabic}.cap", f"{'0' * 11}9.cap\n"):
            (folder / name).write_bytes(Path(path).read_bytes())
    assert planted["args"] == [1]
    assert _numbers(store) == [1]
    assert len(store.capture_files("app", "f")) == 1
