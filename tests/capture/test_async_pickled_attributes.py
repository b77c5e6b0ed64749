"""Objects that pickle themselves, under an innocent parameter name, in every capture mode.

The synchronous filter judges such an object (its own ``__reduce__``, or a ``__getstate__``
that packs, renames or encodes its attributes) by the names of the attributes pickle's
default would read, and replaces it whole when one holds a secret: what its reduction stores
may be that secret in another shape. An async snapshot held only the reduction, where the
names are gone: ``login(account)`` with ``account.password`` packed into a tuple reached the
disk. The snapshot now carries those attributes beside the reduction (never stored), and the
async capture stores what the synchronous one stores.
"""

from __future__ import annotations

import base64
import copyreg
import enum
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from _modes import CAPTURE_MODES
from snapy_capture import capture_args, flush, load_capture_dict

SECRET = "glx-hunter2-zebra-91"  # no known shape: found by its name only
ENCODED = base64.b64encode(SECRET.encode())


class Reduced:
    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password

    def __reduce__(self) -> tuple[Any, ...]:
        return (Reduced, (self.user, self.password))

    def greet(self) -> str:
        return f"hello {self.user}"


class TupleState:
    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password

    def __getstate__(self) -> tuple[str, str]:
        return (self.user, self.password)

    def __setstate__(self, state: tuple[str, str]) -> None:
        self.user, self.password = state


class Renamed:
    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password

    def __getstate__(self) -> dict[str, Any]:
        return {"user": self.user, "blob": self.password}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.user, self.password = state["user"], state["blob"]


class Encoded:
    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password

    def __getstate__(self) -> dict[str, Any]:
        return {"user": self.user, "blob": base64.b64encode(self.password.encode())}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.user, self.password = state["user"], base64.b64decode(state["blob"]).decode()


class Slotted:
    __slots__ = ("password", "user")

    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password

    def __getstate__(self) -> tuple[str, str]:
        return (self.user, self.password)

    def __setstate__(self, state: tuple[str, str]) -> None:
        self.user, self.password = state


class Loop:
    """Its state holds itself: pickle memoizes it before its state, so the cycle loads."""

    def __init__(self, user: str, password: str) -> None:
        self.user, self.password, self.me = user, password, self

    def __getstate__(self) -> tuple[Any, ...]:
        return (self.user, self.password, self)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.user, self.password, self.me = state


class Ring:
    """A clean cycle through an object that pickles itself."""

    def __init__(self, user: str, note: str) -> None:
        self.user, self.note, self.me = user, note, self

    def __getstate__(self) -> tuple[Any, ...]:
        return (self.user, self.note, self)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.user, self.note, self.me = state


class Point:
    """Pickles itself, holds nothing secret: stored as it is in every mode."""

    def __init__(self, x: int, label: str) -> None:
        self.x, self.label = x, label

    def __reduce__(self) -> tuple[Any, ...]:
        return (Point, (self.x, self.label))


class AsFrozenset:
    """Pickles itself as a standard type, which a snapshot's reader would rebuild for real."""

    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password

    def __reduce__(self) -> tuple[Any, ...]:
        return (frozenset, ([self.user, self.password],))


def _set_state(account: Any, state: tuple[str, str]) -> None:
    account.user, account.password = state


class WithStateSetter:
    """A reduction with a state setter (pickle's sixth item): filtered by the caller."""

    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password

    def __reduce__(self) -> tuple[Any, ...]:
        return (WithStateSetter, ("", ""), (self.user, self.password), None, None, _set_state)


class LeavesOutLocks:
    """Its state leaves out its locks, one of them under a secret-sounding name."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self._lock = threading.Lock()
        self.auth_lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {"owner": self.owner}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)


class Vault(enum.Enum):
    """An enum member pickles as its class and value; its other attributes are judged."""

    PROD = "prod"

    def __init__(self, value: str) -> None:
        self.password = SECRET


KINDS = [Reduced, TupleState, Renamed, Encoded, Slotted, Loop, AsFrozenset, WithStateSetter]


def _on_disk(root: Path) -> bytes:
    return b"".join(path.read_bytes() for path in root.rglob("*") if path.is_file())


def _capture(root: Path, options: dict[str, Any], *args: Any) -> dict[str, Any]:
    @capture_args(str(root), **options)
    def login(account: Any, *more: Any) -> str:
        return "ok"

    assert login(*args) == "ok"
    assert flush(timeout=30)
    return load_capture_dict("login", root)


@pytest.mark.parametrize("kind", KINDS, ids=[kind.__name__ for kind in KINDS])
@pytest.mark.parametrize("options", CAPTURE_MODES)
def test_a_secret_an_object_pickles_in_its_own_shape_never_reaches_the_disk(
    options: dict[str, Any], kind: type, tmp_path: Path
) -> None:
    account = kind("bob", SECRET)
    record = _capture(tmp_path, options, account)
    on_disk = _on_disk(tmp_path)
    assert SECRET.encode() not in on_disk
    assert ENCODED not in on_disk
    assert record["args"] == [f"[FILTERED: opaque:{kind.__name__} holds filtered data]"]
    assert record["metadata"]["redactions"] == [
        {"path": "account", "reason": f"opaque:{kind.__name__} holds filtered data"}
    ]
    assert account.password == SECRET  # the host's object is untouched


@pytest.mark.parametrize("options", CAPTURE_MODES)
def test_such_objects_nested_in_a_list_and_a_dict(options: dict[str, Any], tmp_path: Path) -> None:
    record = _capture(
        tmp_path,
        options,
        [Point(1, "a"), TupleState("bob", SECRET)],
        {"main": Renamed("eve", SECRET), "spare": Point(2, "b")},
    )
    assert SECRET.encode() not in _on_disk(tmp_path)
    accounts, extra = record["args"]
    assert (type(accounts[0]), accounts[0].x) == (Point, 1)
    assert accounts[1] == "[FILTERED: opaque:TupleState holds filtered data]"
    assert extra["main"] == "[FILTERED: opaque:Renamed holds filtered data]"
    assert (type(extra["spare"]), extra["spare"].label) == (Point, "b")


@pytest.mark.parametrize("options", CAPTURE_MODES)
def test_a_clean_cycle_through_such_an_object_is_still_stored(
    options: dict[str, Any], tmp_path: Path
) -> None:
    record = _capture(tmp_path, options, Ring("bob", "hello"))
    (stored,) = record["args"]
    assert type(stored) is Ring
    assert (stored.user, stored.note, stored.me) == ("bob", "hello", stored)
    assert record["metadata"].get("redactions", []) == []


@pytest.mark.parametrize("options", CAPTURE_MODES)
def test_a_receiver_that_pickles_itself(options: dict[str, Any], tmp_path: Path) -> None:
    Reduced.greet = capture_args(str(tmp_path), **options)(Reduced.greet)  # type: ignore[method-assign]
    try:
        assert Reduced("bob", SECRET).greet() == "hello bob"
        assert flush(timeout=30)
    finally:
        Reduced.greet = Reduced.greet.__wrapped__  # type: ignore[attr-defined]
    assert SECRET.encode() not in _on_disk(tmp_path)
    record = load_capture_dict("Reduced.greet", tmp_path)
    assert record["self"] == "[FILTERED: opaque:Reduced holds filtered data]"


@pytest.mark.parametrize("options", CAPTURE_MODES)
def test_a_result_echoing_the_secret_is_masked(options: dict[str, Any], tmp_path: Path) -> None:
    """The secrets a result may echo are collected from the arguments by name too."""

    @capture_args(str(tmp_path), **{**options, "record_result": True})
    def session(account: Any) -> str:
        return f"session of {account.user}: {account.password}"

    assert session(TupleState("bob", SECRET)) == f"session of bob: {SECRET}"
    assert flush(timeout=30)
    assert SECRET.encode() not in _on_disk(tmp_path)


def _stored(root: Path, options: dict[str, Any], *args: Any) -> tuple[Any, ...]:
    record = _capture(root, options, *args)
    return record["args"], record["metadata"].get("redactions", [])


def test_an_async_capture_stores_what_the_synchronous_one_stores(tmp_path: Path) -> None:
    def arguments() -> tuple[Any, ...]:
        return (
            Reduced("bob", SECRET),
            [Point(3, "c"), Encoded("eve", SECRET)],
            {"slotted": Slotted("ann", SECRET), "ring": Ring("max", "hello")},
            (AsFrozenset("al", SECRET), WithStateSetter("jo", SECRET), Vault.PROD),
            [LeavesOutLocks("ada")],
        )

    results = {}
    for mode in CAPTURE_MODES:
        options = dict(mode.values[0])  # type: ignore[arg-type]
        results[mode.id] = _stored(tmp_path / str(mode.id), options, *arguments())
    sync_args, sync_report = results["sync"]
    assert sync_args[0] == "[FILTERED: opaque:Reduced holds filtered data]"
    for mode_id, (args, report) in results.items():
        assert report == sync_report, mode_id
        assert args[0] == sync_args[0], mode_id
        assert args[1][1] == sync_args[1][1], mode_id
        assert args[2]["slotted"] == sync_args[2]["slotted"], mode_id
        assert vars(args[1][0]) == vars(sync_args[1][0]), mode_id
        assert args[3] == sync_args[3], mode_id
        assert args[3][2] == "[FILTERED: opaque:Vault holds filtered data]", mode_id
        assert type(args[4][0]) is type(sync_args[4][0]), mode_id
        ring = args[2]["ring"]
        assert (ring.user, ring.note, ring.me) == ("max", "hello", ring), mode_id


class Box:
    """Pickled by its attributes until it is given a reducer."""

    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password


def _packed(box: Box) -> tuple[Any, ...]:
    return (Box, (box.user, box.password))


@pytest.fixture
def registered() -> Iterator[None]:
    yield
    copyreg.dispatch_table.pop(Box, None)


@pytest.mark.parametrize("options", CAPTURE_MODES)
def test_a_reducer_registered_after_the_first_capture_is_read(
    options: dict[str, Any], tmp_path: Path, registered: None
) -> None:
    @capture_args(str(tmp_path), retention=None, **options)
    def ship(box: Any) -> str:
        return "ok"

    ship(Box("al", "plain"))  # pickled by its attributes
    assert flush(timeout=30)
    copyreg.pickle(Box, _packed)
    ship(Box("bo", SECRET))
    assert flush(timeout=30)
    assert SECRET.encode() not in _on_disk(tmp_path)
