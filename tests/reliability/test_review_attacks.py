"""A hostile review of the inert snapshots, result masking and frame changes (issue 15)."""

from __future__ import annotations

import collections
import dataclasses
import pathlib
import zoneinfo
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from snapy_capture import CaptureLoader, capture_args, flush


def callback(value: Any) -> Any:
    return value


class Kind:
    pass


@pytest.fixture(autouse=True)
def _flushed() -> Iterator[None]:
    assert flush(timeout=30)
    yield
    assert flush(timeout=30)


ASYNC_MODES = [
    pytest.param({"async_storage": True}, id="async"),
    pytest.param({"async_storage": True, "record_result": True}, id="async-result"),
    pytest.param(
        {"serializer": "json", "fallback_serializer": "pickle", "async_storage": True},
        id="json-async",
    ),
    pytest.param({"serializer": "jsonpickle", "async_storage": True}, id="jsonpickle-async"),
]


@pytest.mark.parametrize("options", ASYNC_MODES)
def test_standard_containers_holding_classes_and_functions_survive_async_capture(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    """A deque, OrderedDict or Counter holding a class or a function is stored as it is,
    not as a placeholder (the stand-ins of globals were left inside them), and loads."""

    @capture_args(retention=None, **options)
    def handle(**kwargs: Any) -> None:
        return None

    given = {
        "queue": collections.deque([int, Kind, callback], maxlen=5),
        "handlers": collections.OrderedDict(handler=callback, kind=Kind),
        "counts": collections.Counter({Kind: 2, int: 1}),
    }
    handle(**given)
    assert flush(timeout=30)
    [record] = CaptureLoader(capture_dir).load_all("handle")
    assert record["kwargs"] == given
    assert type(record["kwargs"]["queue"]) is collections.deque
    assert record["kwargs"]["queue"].maxlen == 5
    assert record["metadata"]["redactions"] == []


SECRET = "Zq9-hunter2-xyz"


class Password(str):
    pass


class Account:
    __slots__ = ("password", "user")

    def __init__(self, user: str, password: str) -> None:
        self.user = user
        self.password = password


@dataclasses.dataclass(slots=True, frozen=True)
class Settings:
    host: str
    password: str


Login = collections.namedtuple("Login", "user password")

RESULT_MODES = [
    pytest.param({"record_result": True}, id="sync"),
    pytest.param({"record_result": True, "async_storage": True}, id="async"),
    pytest.param(
        {"record_result": True, "serializer": "json", "fallback_serializer": "pickle"},
        id="json",
    ),
    pytest.param(
        {"record_result": True, "serializer": "jsonpickle", "async_storage": True},
        id="jsonpickle-async",
    ),
]

ECHOES = [
    pytest.param(
        lambda: {"data": list(range(20_000)), "password": SECRET},
        lambda kw: kw["password"],
        id="next-to-a-large-argument",
    ),
    pytest.param(
        lambda: {"password": Password(SECRET)},
        lambda kw: str.__str__(kw["password"]),
        id="str-subclass",
    ),
    pytest.param(
        lambda: {"password": SECRET}, lambda kw: Password(kw["password"]), id="str-subclass-result"
    ),
    pytest.param(
        lambda: {"account": Account("bob", SECRET)}, lambda kw: kw["account"].password, id="slots"
    ),
    pytest.param(
        lambda: {"settings": Settings("db", SECRET)},
        lambda kw: [kw["settings"].password],
        id="slotted-dataclass",
    ),
    pytest.param(
        lambda: {"login": Login("bob", SECRET)},
        lambda kw: f"hello {kw['login'].password}",
        id="namedtuple",
    ),
]


@pytest.mark.parametrize("options", RESULT_MODES)
@pytest.mark.parametrize(("given", "echo"), ECHOES)
def test_a_result_echoing_a_secret_of_any_shape_is_masked(
    capture_dir: Path, options: dict[str, Any], given: Any, echo: Any
) -> None:
    @capture_args(retention=None, **options)
    def handle(**kwargs: Any) -> Any:
        return echo(kwargs)

    arguments = given()
    assert handle(**arguments) == echo(arguments)
    assert flush(timeout=30)
    files = [path for path in capture_dir.rglob("*") if path.is_file()]
    assert files
    for path in files:
        assert SECRET.encode() not in path.read_bytes()


class Tracing(list):  # type: ignore[type-arg]
    iterated = 0

    def __iter__(self) -> Any:
        Tracing.iterated += 1
        return super().__iter__()


def test_collecting_the_secrets_given_runs_no_iterator_of_the_host() -> None:
    """The result filter reads a list subclass's items with list's own iterator."""
    from snapy_capture.capture._record import result_filter
    from snapy_capture.filters import ArgumentFilter

    Tracing.iterated = 0
    flt = result_filter(ArgumentFilter(), ["items"], [Tracing([{"password": SECRET}])], {})
    assert Tracing.iterated == 0
    assert SECRET not in str(flt.filter_value(f"echo {SECRET}", "result")[0])


class UnlinkReference:
    """Pickles as ``getattr(pathlib.Path, "unlink")``: unpickled, the real function."""

    def __reduce__(self) -> Any:
        return (getattr, (pathlib.Path, "unlink"))

    def __call__(self, *args: Any) -> None:
        raise AssertionError("never called by the host")


class Disposable:
    """Pickles as a call of ``Path.unlink`` (reached through getattr on a standard type)."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = path

    def __reduce__(self) -> Any:
        return (UnlinkReference(), (self.path,))


@pytest.mark.parametrize(
    "options", [*ASYNC_MODES, pytest.param({"record_result": True}, id="sync-result")]
)
def test_a_method_reached_through_getattr_on_a_standard_type_is_not_called(
    capture_dir: Path, tmp_path: Path, options: dict[str, Any]
) -> None:
    """``getattr(Path, "unlink")`` in a snapshot gave the real function, which the unpickler
    then called with the object's arguments: capturing deleted the host's file."""
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")

    @capture_args(retention=None, **options)
    def handle(value: Any, zone: Any) -> None:
        return None

    zone = zoneinfo.ZoneInfo("UTC")
    handle(value=Disposable(victim), zone=zone)
    assert flush(timeout=30)
    assert victim.read_text() == "keep me"
    [record] = CaptureLoader(capture_dir).load_all("handle")
    assert record["kwargs"]["zone"] is zone  # a standard type's own getattr still rebuilt


class Session:
    """Slots and an instance dict: pickled state ``(dict, slots)``."""

    __slots__ = ("__dict__", "password", "user")

    def __init__(self, user: str, password: str) -> None:
        self.user = user
        self.password = password
        self.note = "kept"


@pytest.mark.parametrize("async_storage", [False, True], ids=["sync", "async"])
def test_jsonpickle_capture_of_a_filtered_object_with_slots_and_dict_loads(
    capture_dir: Path, async_storage: bool
) -> None:
    @capture_args(retention=None, serializer="jsonpickle", async_storage=async_storage)
    def handle(login_state: Session) -> None:
        return None

    handle(login_state=Session("bob", SECRET))
    assert flush(timeout=30)
    [record] = CaptureLoader(capture_dir).load_all("handle")
    stored = record["kwargs"]["login_state"]
    assert type(stored) is Session
    assert (stored.user, stored.note) == ("bob", "kept")
    assert str(stored.password).startswith("[FILTERED: name:")


class Note(str):
    pass


@pytest.mark.xfail(
    strict=True,
    reason="review: an async snapshot of a str subclass is an Inert whose text is an opaque "
    "reduce argument: a card number in it replaces the whole argument by a placeholder, where "
    "a synchronous capture stores the Note with the number masked (no leak, a different capture)",
)
def test_async_capture_of_a_str_subclass_masks_like_a_sync_one(capture_dir: Path) -> None:
    @capture_args(retention=None)
    def reference(note: Note) -> None:
        return None

    @capture_args(retention=None, async_storage=True)
    def handle(note: Note) -> None:
        return None

    note = Note("card 4111 1111 1111 1111 on file")
    reference(note=note)
    handle(note=note)
    assert flush(timeout=30)
    loader = CaptureLoader(capture_dir)
    [want] = loader.load_all("reference")
    [got] = loader.load_all("handle")
    assert type(want["kwargs"]["note"]) is Note
    assert got["kwargs"] == want["kwargs"]
