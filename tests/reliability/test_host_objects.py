"""Capture never runs an argument's reconstruction code in the host, nor changes host objects.

Reading an argument (its ``__reduce_ex__``, ``__getstate__``) is what pickling needs; building
a copy of it (a ``__reduce__`` factory, ``__new__``, ``__setstate__``, ``__init__``, and later
its ``__del__``) is host code that capture must never run: a singleton's getter reverted its
live state, a connection factory was called once per captured call. Every mode is checked:
synchronous, ``async_storage`` (snapshots), lazy, and ``record_result`` on top of each.
"""

from __future__ import annotations

import collections
import dataclasses
import enum
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from _modes import CAPTURE_MODES
from snapy_capture import CaptureLoader, capture_args, flush

#: Host code run by building copies: (what ran, on which object).
RAN: list[str] = []


class Registry:
    """A singleton that pickles as its getter; unpickling it hands back (and resets) it."""

    instance: Registry | None = None

    def __init__(self) -> None:
        self.items: list[Any] = [0, 1]

    def __reduce__(self) -> Any:
        return (get_registry, ())


def get_registry() -> Registry:
    RAN.append("get_registry")
    if Registry.instance is None:
        Registry.instance = Registry()
    Registry.instance.items = [0, 1]  # a getter that "resets" the live state when called
    return Registry.instance


def connect(dsn: str) -> str:
    RAN.append(f"connect({dsn})")
    return f"connection to {dsn}"


class Connection:
    """Pickles as ``(connect, (dsn,))``: rebuilding it opens a connection."""

    def __init__(self, dsn: str) -> None:
        self.address = dsn

    def __reduce__(self) -> Any:
        return (connect, (self.address,))


class Tracked:
    """A plain object whose construction, state restore and finalizer are all visible."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Tracked:
        RAN.append("Tracked.__new__")
        return super().__new__(cls)

    def __init__(self, user: str, password: str) -> None:
        self.user = user
        self.password = password

    def __setstate__(self, state: dict[str, Any]) -> None:
        RAN.append("Tracked.__setstate__")
        self.__dict__.update(state)

    def __del__(self) -> None:
        RAN.append("Tracked.__del__")


class Headers(dict):  # type: ignore[type-arg]
    def __setitem__(self, key: Any, value: Any) -> None:
        RAN.append("Headers.__setitem__")
        super().__setitem__(key, value)


class Items(list):  # type: ignore[type-arg]
    def append(self, item: Any) -> None:
        RAN.append("Items.append")
        super().append(item)

    def extend(self, items: Any) -> None:
        RAN.append("Items.extend")
        super().extend(items)


@dataclasses.dataclass
class Login:
    user: str
    token: str


class Color(enum.Enum):
    RED = 1


Point = collections.namedtuple("Point", "x y")

MODES = [
    *CAPTURE_MODES,
    pytest.param({"serializer": "json", "fallback_serializer": "pickle"}, id="json"),
    pytest.param(
        {"serializer": "json", "fallback_serializer": "pickle", "async_storage": True},
        id="json-async",
    ),
    pytest.param({"serializer": "jsonpickle", "record_result": True}, id="jsonpickle"),
    pytest.param(
        {"serializer": "jsonpickle", "async_storage": True, "record_result": True},
        id="jsonpickle-async",
    ),
]


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    assert flush(timeout=30)
    RAN.clear()
    yield
    assert flush(timeout=30)
    RAN.clear()


def _arguments() -> dict[str, Any]:
    registry = get_registry()
    registry.items.append("after")  # the live state the host built since
    tracked = Tracked("bob", "hunter2")
    headers = Headers()
    dict.__setitem__(headers, "Authorization", "Bearer abcdef123456")
    dict.__setitem__(headers, "Accept", "text/plain")
    items = Items()
    list.extend(items, [1, 2, "x"])
    RAN.clear()
    return {
        "registry": registry,
        "conn": Connection("db.internal"),
        "tracked": tracked,
        "headers": headers,
        "items": items,
        "login": Login("bob", "tok-123456"),
        "color": Color.RED,
        "point": Point(1, 2),
    }


@pytest.mark.parametrize("options", MODES)
def test_capture_runs_no_reconstruction_code_and_changes_no_host_object(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    """No factory, __new__, __setstate__, __setitem__, append or __del__ of the host runs."""

    @capture_args(retention=None, **options)
    def handle(**kwargs: Any) -> str:
        return "ok"

    given = _arguments()
    registry = given["registry"]
    assert handle(**given) == "ok"
    assert flush(timeout=30)
    assert registry.items == [0, 1, "after"]
    assert Registry.instance is registry
    assert given["tracked"].password == "hunter2"
    assert dict(given["headers"])["Authorization"] == "Bearer abcdef123456"
    del given
    assert RAN == ["Tracked.__del__"]  # only the host's own object, when the host drops it

    [record] = CaptureLoader(capture_dir).load_all("handle")
    stored = record["kwargs"]
    # Loaded back in a test process, every argument is its own class again.
    assert isinstance(stored["registry"], Registry)
    assert stored["conn"] == "connection to db.internal"
    assert type(stored["tracked"]) is Tracked
    assert stored["tracked"].user == "bob"
    assert str(stored["tracked"].password).startswith("[FILTERED: name:")
    assert type(stored["headers"]) is Headers
    assert dict(stored["headers"])["Accept"] == "text/plain"
    assert str(dict(stored["headers"])["Authorization"]).startswith("[FILTERED: name:")
    assert type(stored["items"]) is Items
    assert list(stored["items"]) == [1, 2, "x"]
    assert stored["login"].user == "bob"
    assert str(stored["login"].token).startswith("[FILTERED: name:")
    assert stored["color"] is Color.RED
    assert stored["point"] == Point(1, 2)


@pytest.mark.parametrize("options", MODES[:3])
def test_sync_and_async_captures_store_the_same_bytes(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    """The inert copy an async capture filters pickles exactly as the live object would."""

    @capture_args(retention=None, **options)
    def handle(**kwargs: Any) -> None:
        return None

    @capture_args(retention=None)
    def reference(**kwargs: Any) -> None:
        return None

    given = _arguments()
    handle(**given)
    reference(**given)
    assert flush(timeout=30)
    loader = CaptureLoader(capture_dir)
    [got] = loader.load_all("handle")
    [want] = loader.load_all("reference")
    assert pickle.dumps(got["kwargs"]) == pickle.dumps(want["kwargs"])
    assert got["metadata"]["redactions"] == want["metadata"]["redactions"]


def test_a_recorded_result_is_copied_without_running_its_code(capture_dir: Path) -> None:
    """record_result with async storage snapshots the result too: rebuilt inert, not as itself."""

    @capture_args(retention=None, async_storage=True, record_result=True)
    def open_connection(address: str) -> Connection:
        return Connection(address)

    live = open_connection("db.internal")
    assert flush(timeout=30)
    assert RAN == []
    assert live.address == "db.internal"
    [record] = CaptureLoader(capture_dir).load_all("open_connection")
    assert record["result"]["value"] == "connection to db.internal"


def _hostile(hook: str, raised: type[BaseException]) -> Any:
    def explode(self: Any, *args: Any) -> Any:
        raise raised("from an argument's " + hook)

    # Findable by its name, as pickle needs: the filter would set aside an instance of a class
    # pickle cannot find without asking the hook.
    cls = type(f"Hostile{hook.strip('_')}{raised.__name__}", (), {hook: explode})
    globals()[cls.__name__] = cls
    return cls()


HOOKS = ["__reduce_ex__", "__reduce__", "__getstate__"]
RAISED = [KeyboardInterrupt, SystemExit, GeneratorExit]


@pytest.mark.parametrize("options", MODES[:5])
@pytest.mark.parametrize("raised", RAISED)
@pytest.mark.parametrize("hook", HOOKS)
def test_an_argument_hook_raising_base_exception_never_skips_the_call(
    capture_dir: Path, options: dict[str, Any], hook: str, raised: type[BaseException]
) -> None:
    """The function is called exactly once; only a KeyboardInterrupt comes out, after it."""
    calls = []

    @capture_args(retention=None, **options)
    def handle(value: Any) -> str:
        calls.append(value)
        return "ok"

    value = _hostile(hook, raised)
    if raised is KeyboardInterrupt and not options.get("lazy_serialization"):
        # Ctrl-C landing in capture code is delayed by one call, never lost.
        with pytest.raises(KeyboardInterrupt):
            handle(value)
    else:
        assert handle(value) == "ok"
    assert flush(timeout=30)
    assert calls == [value]


# --- a method's receiver (issue 17) ---------------------------------------------------------

#: Each reading of a receiver's state by its own code (``__getstate__``, ``__reduce__``).
READS: list[str] = []


class Stateful:
    """A receiver whose reading is counted and whose rebuilding would be visible."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Stateful:
        RAN.append("Stateful.__new__")
        return super().__new__(cls)

    def __init__(self) -> None:
        self.label = "main"
        self.calls = 0
        self.log: list[int] = []

    def __getstate__(self) -> dict[str, Any]:
        READS.append("Stateful.__getstate__")
        return dict(self.__dict__)

    def __setstate__(self, state: dict[str, Any]) -> None:
        RAN.append("Stateful.__setstate__")
        self.__dict__.update(state)

    def touch(self, n: int) -> int:
        self.calls += n
        self.log.append(n)
        return n


class Pooled:
    """Pickles as its factory: rebuilding it would open a connection."""

    def __init__(self, dsn: str) -> None:
        # Not ``self.dsn``: a receiver's attributes are judged by name, as an argument's are,
        # and a ``dsn`` replaces it whole (its reduction may store it in another shape).
        self.server = dsn

    def __reduce__(self) -> Any:
        READS.append("Pooled.__reduce__")
        return (connect, (self.server,))

    def ping(self, n: int) -> int:
        return n


@pytest.mark.parametrize("options", MODES)
def test_a_receiver_is_read_as_a_plain_pickling_reads_it_and_never_rebuilt(
    capture_dir: Path, options: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Capturing ``self`` (and ``self_after``) runs the receiver's own reading code once per
    state stored, as ``pickle.dumps`` would, no reconstruction code, and changes nothing."""
    READS.clear()
    for cls, name in ((Stateful, "touch"), (Pooled, "ping")):
        wrapped = capture_args(retention=None, **options)(vars(cls)[name])
        monkeypatch.setattr(cls, name, wrapped)
    stateful, pooled = Stateful(), Pooled("db.internal")
    pickle.dumps(stateful)
    pickle.dumps(pooled)
    plain = list(READS)  # what one plain pickling of each runs
    READS.clear()
    RAN.clear()

    assert stateful.touch(3) == 3
    assert pooled.ping(4) == 4
    assert flush(timeout=30)
    states = 2 if options.get("record_result") else 1  # self, and self_after
    assert sorted(READS) == sorted(plain * states)
    assert RAN == []
    assert vars(stateful) == {"label": "main", "calls": 3, "log": [3]}
    assert vars(pooled) == {"server": "db.internal"}

    loader = CaptureLoader(capture_dir)
    [touched] = loader.load_all("Stateful.touch")
    assert touched["self"].label == "main"
    # As called; lazily, as the writer found it (see lazy_serialization).
    assert touched["self"].calls in ((0, 3) if options.get("lazy_serialization") else (0,))
    if options.get("record_result"):
        assert touched["self_after"].log == [3]
    [pinged] = loader.load_all("Pooled.ping")
    assert pinged["self"] == "connection to db.internal"  # rebuilt here, in the test process
