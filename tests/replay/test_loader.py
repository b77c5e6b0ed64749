"""Loading: name resolution, default search paths, errors, corrupt files, selection."""

from __future__ import annotations

import os
import pickle
import time
from pathlib import Path

import pytest

from snapy_capture import (
    AmbiguousCaptureError,
    CaptureLoader,
    CaptureNotFoundError,
    CaptureStorage,
    SnapyCaptureWarning,
    capture_args,
    flush,
    has_capture,
    load_capture,
    load_capture_dict,
)
from snapy_capture.pytest_plugin import replay_cases


def _save(root: Path, module: str, qualname: str, *args: object) -> None:
    CaptureStorage(root).save(
        {
            "function_name": qualname.rsplit(".", 1)[-1],
            "module": module,
            "qualname": qualname,
            "timestamp": "2026-01-01T00:00:00.000000Z",
            "args": list(args),
            "kwargs": {},
            "metadata": {"call_depth": 0, "thread_id": "MainThread"},
        }
    )


@pytest.mark.parametrize("name", ["billing:Svc.login", "Svc.login", "login", "billing.Svc.login"])
def test_name_forms_resolve(capture_dir: Path, name: str) -> None:
    """module:qualname, qualname, dotted suffix and module.qualname all find the function."""
    _save(capture_dir, "billing", "Svc.login", "alice")
    assert load_capture(name) == (("alice",), {})


def test_ambiguous_name_lists_candidates(capture_dir: Path) -> None:
    """A suffix matching several functions raises an error naming every candidate."""
    _save(capture_dir, "billing", "Svc.login", 1)
    _save(capture_dir, "admin", "Panel.login", 2)
    with pytest.raises(AmbiguousCaptureError) as info:
        load_capture("login")
    assert "billing:Svc.login" in str(info.value)
    assert "admin:Panel.login" in str(info.value)
    assert isinstance(info.value, LookupError)
    assert load_capture("Panel.login") == ((2,), {})


def test_exact_qualname_beats_suffix(capture_dir: Path) -> None:
    """A function whose qualname is exactly the name wins over longer qualnames."""
    _save(capture_dir, "auth", "login", "plain")
    _save(capture_dir, "auth", "Svc.login", "method")
    assert load_capture("login") == (("plain",), {})


def test_not_found_names_function_and_paths(capture_dir: Path, tmp_path: Path) -> None:
    """CaptureNotFoundError is a LookupError naming the function and every path searched."""
    with pytest.raises(CaptureNotFoundError) as info:
        load_capture("nowhere_fn", path=tmp_path / "empty")
    message = str(info.value)
    assert "nowhere_fn" in message
    assert str(tmp_path / "empty") in message
    assert isinstance(info.value, LookupError)
    again = pickle.loads(pickle.dumps(info.value))
    assert str(again) == message
    assert has_capture("nowhere_fn") is False


def test_default_search_includes_every_path_written(capture_dir: Path, tmp_path: Path) -> None:
    """With path=None the loader also finds captures this process wrote elsewhere."""

    @capture_args(path=tmp_path / "custom_location")
    def stored_elsewhere(x: int) -> int:
        return x

    stored_elsewhere(5)
    assert load_capture("stored_elsewhere") == ((5,), {})
    assert str(tmp_path / "custom_location") in CaptureLoader().paths
    assert str(capture_dir) in CaptureLoader().paths


def test_corrupt_truncated_and_foreign_files_are_skipped(capture_dir: Path) -> None:
    """Unreadable captures are skipped with a warning, never a crash; good ones still load."""
    _save(capture_dir, "m", "f", "good")
    directory = next(capture_dir.iterdir())
    newest = max(directory.glob("*.cap"))
    for n, content in enumerate(
        [b"", b"\x80\x04garbage", newest.read_bytes()[:20], b"#snapy-capture {not json\n..."],
        start=1,
    ):
        (directory / f"{int(newest.stem) + n:012d}.cap").write_bytes(content)
    with pytest.warns(SnapyCaptureWarning, match="skipping") as warned:
        assert load_capture("f") == (("good",), {})
    assert len(warned) == 4


def test_load_by_index_and_load_all_newest_first(capture_dir: Path) -> None:
    """load_all is newest first; load_by_index(0) is the newest; out of range is IndexError."""
    for n in range(3):
        _save(capture_dir, "m", "payment_processing", n)
    loader = CaptureLoader()
    assert [r["args"][0] for r in loader.load_all("payment_processing")] == [2, 1, 0]
    assert loader.load_by_index("payment_processing", 0) == ((2,), {})
    assert loader.load_by_index("payment_processing", 2) == ((0,), {})
    with pytest.raises(IndexError, match="index 3"):
        loader.load_by_index("payment_processing", 3)
    assert list(loader) == ["m:payment_processing"]
    assert loader.count("payment_processing") == 3


def test_select_by_criteria_seed_example(capture_dir: Path) -> None:
    """Criteria match top-level or metadata fields; callables are predicates."""
    for n in range(3):
        _save(capture_dir, "app", "user_authentication", f"user{n}")
    loader = CaptureLoader()
    captures = loader.load_all("user_authentication")
    args, kwargs = loader.select_by_criteria(captures, {"thread_id": "MainThread"})
    assert args == ("user2",)
    args, _ = loader.select_by_criteria(captures, {"args": lambda a: a[0].endswith("0")})
    assert args == ("user0",)
    with pytest.raises(CaptureNotFoundError, match="matches"):
        loader.select_by_criteria(captures, {"thread_id": "Worker-9"})


def test_load_capture_dict_and_seed_fixture_style(capture_dir: Path) -> None:
    """The whole record loads as the seed's dict."""
    _save(capture_dir, "svc", "create_user", "testuser")
    record = load_capture_dict("create_user")
    assert record["args"] == ["testuser"]
    assert record["metadata"]["thread_id"] == "MainThread"
    assert has_capture("create_user")


def _capture_into(root: Path, *values: int) -> None:
    """Call one function (``tests.test_loader:twice_stored``) decorated to store under ``root``."""
    stored = capture_args(path=root)(twice_stored)
    for value in values:
        stored(value)
    flush()


def twice_stored(x: int) -> int:
    return x


def test_newest_is_the_call_made_last_across_roots(capture_dir: Path, tmp_path: Path) -> None:
    """Five captures into root A, then one into root B: load_capture, load_all and replay_cases
    all give B's capture first (the call made last), then A's newest first."""
    _capture_into(tmp_path / "a", 1, 2, 3, 4, 5)
    _capture_into(tmp_path / "b", 6)
    assert load_capture("twice_stored") == ((6,), {})
    assert [r["args"][0] for r in CaptureLoader().load_all("twice_stored")] == [6, 5, 4, 3, 2, 1]
    assert [e.values[0][0] for e in replay_cases("twice_stored")] == [6, 5, 4, 3, 2, 1]


def test_newest_across_roots_ignores_file_times(capture_dir: Path, tmp_path: Path) -> None:
    """Root A's files touched after B's capture was made (copied, restored from a backup):
    B's capture is still the newest, in the loader and in replay alike."""
    _capture_into(tmp_path / "a", 1, 2)
    _capture_into(tmp_path / "b", 3)
    later = time.time() + 60
    for path in (tmp_path / "a").rglob("*.cap"):
        os.utime(path, (later, later))
    assert load_capture("twice_stored") == ((3,), {})
    assert [r["args"][0] for r in CaptureLoader().load_all("twice_stored")] == [3, 2, 1]
    assert [e.values[0][0] for e in replay_cases("twice_stored")] == [3, 2, 1]


def test_case_ids_stay_unique_and_stable_across_roots(capture_dir: Path, tmp_path: Path) -> None:
    """Two roots both hold capture number 0: the first root searched keeps ``capture-0``
    whatever the order or limit, the other root's is told apart by its position."""
    _capture_into(tmp_path / "a", 1, 2)
    _capture_into(tmp_path / "b", 3)
    entries = replay_cases("twice_stored")
    assert [(e.id, e.values[0][0]) for e in entries] == [
        ("capture-0-root2", 3),
        ("capture-1", 2),
        ("capture-0", 1),
    ]
    assert [e.id for e in replay_cases("twice_stored", limit=1)] == ["capture-0-root2"]
    assert [e.id for e in replay_cases("twice_stored", where={"args": [1]})] == ["capture-0"]


def test_an_unreadable_newest_capture_keeps_its_roots_order(
    capture_dir: Path, tmp_path: Path
) -> None:
    """Root A's newest file is corrupt: it is skipped with a warning, and A's next capture
    (made after B's) still comes before B's."""
    _capture_into(tmp_path / "a", 1)
    _capture_into(tmp_path / "b", 2)
    _capture_into(tmp_path / "a", 3, 4)
    newest = max((tmp_path / "a").rglob("*.cap"))
    newest.write_bytes(b"#snapy-capture {not json\n")
    with pytest.warns(SnapyCaptureWarning, match="skipping"):
        assert [r["args"][0] for r in CaptureLoader().load_all("twice_stored")] == [3, 2, 1]
    # replay_cases keeps the unreadable one, as a failing case, in its place (newest).
    entries = replay_cases("twice_stored")
    assert [e.values[0] for e in entries] == [None, (3,), (2,), (1,)]
    assert f"cannot load {newest}" in entries[0].marks[0].kwargs["reason"]
