"""Serializers: round trips over the types each claims, JSON edge cases, partial failure."""

from __future__ import annotations

import collections
import copyreg
import dataclasses
import datetime as dt
import decimal
import enum
import importlib.machinery
import json
import logging
import math
import os
import pathlib
import pickle
import sys
import threading
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snapy_capture import (
    CaptureFormatError,
    CaptureLoader,
    CaptureStorage,
    ConfigError,
    JSONPickleSerializer,
    JSONSerializer,
    PickleSerializer,
    Redacted,
    capture_args,
    load_capture,
    load_capture_dict,
)
from snapy_capture.capture import stats
from snapy_capture.storage import serializers
from snapy_capture.storage.serializers import get_serializer

SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


class Color(enum.Enum):
    RED = "red"
    BLUE = 2


class Perm(enum.IntFlag):
    R = 4
    W = 2


Point = collections.namedtuple("Point", "x y")


@dataclasses.dataclass(frozen=True)
class Money:
    amount: decimal.Decimal
    currency: str
    tags: tuple[str, ...] = ()


@dataclasses.dataclass
class Order:
    lines: list[Any]
    total: Money | None = None

    def __post_init__(self) -> None:
        self.initialised = True  # not a field: loading must not run this


# --- strategies -------------------------------------------------------------------------

finite = st.floats(allow_nan=False)
json_scalars = st.none() | st.booleans() | st.integers() | finite | st.text()
hashable = (
    st.none()
    | st.booleans()
    | st.integers()
    | finite
    | st.text(max_size=8)
    | st.binary(max_size=8)
    | st.tuples(st.integers(), st.text(max_size=4))
    | st.decimals(allow_nan=False)
    | st.uuids()
    | st.dates()
)
specials = (
    st.floats()  # NaN and infinities included
    | st.integers(min_value=2**12000, max_value=2**12000 + 10)  # beyond int str-digit limits
    | st.integers().map(lambda n: -n * 10**30)
    | st.binary()
    | st.binary().map(bytearray)
    | st.datetimes()
    | st.datetimes(timezones=st.just(dt.timezone.utc))
    | st.dates()
    | st.times()
    | st.timedeltas()
    | st.decimals()
    | st.uuids()
    | st.sampled_from(
        [pathlib.Path("a/b"), pathlib.PurePosixPath("/x"), pathlib.PureWindowsPath("C:\\t")]
    )
    | st.complex_numbers()
    | st.sampled_from([Color.RED, Color.BLUE, Perm.R | Perm.W])
    | st.text(max_size=8).map(Redacted)
    | st.builds(
        Money,
        st.decimals(allow_nan=False),
        st.text(max_size=3),
        st.lists(st.text(max_size=3), max_size=2).map(tuple),
    )
)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return (
        st.lists(children, max_size=4)
        | st.lists(children, max_size=4).map(tuple)
        | st.dictionaries(st.text(max_size=10), children, max_size=4)
        | st.dictionaries(hashable, children, max_size=4)
        | st.dictionaries(st.sampled_from(["__snapy__", "items", "tag"]), children, max_size=3)
        | st.dictionaries(st.text(max_size=4), children, max_size=3).map(collections.OrderedDict)
        | st.sets(hashable, max_size=4)
        | st.frozensets(hashable, max_size=4)
        | st.builds(Point, children, children)
        | st.builds(Order, st.lists(children, max_size=3))
    )


json_values = st.recursive(json_scalars | specials, _containers, max_leaves=20)


def same(a: Any, b: Any, *, ordered: bool = True) -> bool:
    """Equal, of the same type, all the way down (NaN equals NaN; dict order if ``ordered``)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and str(a) == str(b))
    if isinstance(a, complex):
        return same(a.real, b.real) and same(a.imag, b.imag)
    if isinstance(a, decimal.Decimal):
        return str(a) == str(b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(
            same(x, y, ordered=ordered) for x, y in zip(a, b, strict=True)
        )
    if isinstance(a, dict):
        keys_match = list(a) == list(b) if ordered else a.keys() == b.keys()
        return keys_match and all(same(a[k], b[k], ordered=ordered) for k in a)
    if isinstance(a, Order):
        return same(a.lines, b.lines) and same(a.total, b.total)
    if isinstance(a, dt.datetime):
        return a == b and a.utcoffset() == b.utcoffset() and a.fold == b.fold
    return bool(a == b)


# --- round trips ------------------------------------------------------------------------


def _reject(token: str) -> Any:
    raise AssertionError(f"non-standard JSON token {token}")


@SETTINGS
@given(json_values)
def test_json_round_trips_every_claimed_type(value: Any) -> None:
    """Every type JSONSerializer claims comes back equal and of the same type."""
    serializer = JSONSerializer()
    data = serializer.dumps(value)
    json.loads(data, parse_constant=_reject)  # strictly valid JSON: no NaN/Infinity tokens
    assert same(serializer.loads(data), value)


@SETTINGS
@given(json_values)
def test_pickle_round_trips_the_same_values(value: Any) -> None:
    """PickleSerializer round-trips everything JSON does (and more)."""
    serializer = PickleSerializer()
    assert same(serializer.loads(serializer.dumps(value)), value)


jsonpickle_values = st.recursive(
    json_scalars
    | st.binary()
    | st.dates()
    | st.decimals(allow_nan=False)
    | st.uuids()
    | st.text(max_size=8).map(Redacted)
    | st.sampled_from([Color.RED, Color.BLUE]),
    lambda children: (
        st.lists(children, max_size=4)
        | st.lists(children, max_size=4).map(tuple)
        | st.dictionaries(st.text(max_size=6) | st.integers(), children, max_size=4)
        | st.sets(st.integers() | st.text(max_size=4), max_size=4)
        | st.builds(Point, children, children)
    ),
    max_leaves=15,
)


@SETTINGS
@given(jsonpickle_values)
def test_jsonpickle_round_trips_common_types(value: Any) -> None:
    """JSONPickleSerializer round-trips containers, non-str keys, bytes, dates, enums."""
    serializer = JSONPickleSerializer()
    # jsonpickle writes non-string keys after the others: order is not kept.
    assert same(serializer.loads(serializer.dumps(value)), value, ordered=False)


def test_placeholders_survive_every_serializer() -> None:
    """A filter placeholder loads back as a Redacted with its reason, in every format."""
    for serializer in (PickleSerializer(), JSONSerializer(), JSONPickleSerializer()):
        back = serializer.loads(serializer.dumps({"pw": Redacted("sensitive name")}))["pw"]
        assert type(back) is Redacted
        assert back.reason == "sensitive name"
        assert back == "[FILTERED: sensitive name]"


# --- JSON specifics ---------------------------------------------------------------------


def test_json_is_readable_for_plain_records() -> None:
    """Strings, numbers, lists and str-keyed dicts are stored as plain JSON."""
    data = JSONSerializer().dumps({"user": "zoë", "n": [1, 2.5, None, True]})
    assert json.loads(data) == {"user": "zoë", "n": [1, 2.5, None, True]}
    assert "zoë" in data.decode("utf-8")


def test_json_dict_containing_the_tag_key_round_trips() -> None:
    """A user dict with a '__snapy__' key is not mistaken for a tagged value."""
    value = {"__snapy__": "tuple", "items": [1, 2]}
    assert JSONSerializer().loads(JSONSerializer().dumps(value)) == value


def test_json_lone_surrogates_round_trip() -> None:
    """Strings that are not valid UTF-8 are escaped, not lost."""
    value = ["\ud800x", "ok"]
    assert JSONSerializer().loads(JSONSerializer().dumps(value)) == value


def test_json_loading_does_not_run_post_init() -> None:
    """Dataclasses are restored field by field, as pickle does, without __init__."""
    back = JSONSerializer().loads(JSONSerializer().dumps(Order([1])))
    assert back == Order([1])
    assert "initialised" not in vars(back)


@pytest.mark.parametrize(
    "value",
    [
        object(),
        collections.defaultdict(list),  # dict subclass: would silently lose its factory
        threading.Lock(),
        type("Local", (str,), {})("x"),
    ],
)
def test_json_refuses_types_it_cannot_restore(value: Any) -> None:
    """Unsupported values raise TypeError (so the pipeline can fall back), not lossy output."""
    with pytest.raises(TypeError, match="JSONSerializer cannot store"):
        JSONSerializer().dumps({"x": value})


def test_json_refuses_local_classes_when_writing() -> None:
    """A dataclass defined in a function is refused at write time, not at load time."""

    @dataclasses.dataclass
    class Local:
        a: int

    with pytest.raises(TypeError, match="cannot be imported by name"):
        JSONSerializer().dumps(Local(1))


def test_json_reports_cycles() -> None:
    """A self-containing list raises ValueError instead of recursing forever."""
    loop: list[Any] = [1]
    loop.append(loop)
    with pytest.raises(ValueError, match="cycle"):
        JSONSerializer().dumps(loop)
    shared = [1]
    assert JSONSerializer().loads(JSONSerializer().dumps([shared, shared])) == [[1], [1]]


def test_json_loading_never_calls_arbitrary_callables(tmp_path: Path) -> None:
    """A crafted file naming os:system as a namedtuple/enum/dataclass type is refused."""
    marker = tmp_path / "pwned"
    for tag, extra in [
        ("namedtuple", {"items": [f"mkdir {marker}"]}),
        ("enum", {"value": f"mkdir {marker}"}),
        ("dataclass", {"fields": {}}),
    ]:
        crafted = json.dumps({"__snapy__": tag, "type": "os:system", **extra}).encode()
        with pytest.raises(CaptureFormatError, match="os:system is not"):
            JSONSerializer().loads(crafted)
    assert not marker.exists()


def test_json_unknown_tag_is_a_format_error() -> None:
    """A tag from a newer version or a typo is a clear CaptureFormatError."""
    with pytest.raises(CaptureFormatError, match="unknown JSON capture tag 'frobnicate'"):
        JSONSerializer().loads(b'{"__snapy__": "frobnicate"}')
    with pytest.raises(CaptureFormatError, match="bad 'tuple' object"):
        JSONSerializer().loads(b'{"__snapy__": "tuple"}')


class Celsius:
    def __init__(self, degrees: float) -> None:
        self.degrees = degrees

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Celsius) and other.degrees == self.degrees

    __hash__ = None  # type: ignore[assignment]


def test_json_register_extends_every_instance() -> None:
    """A registered codec is used by other JSONSerializer instances (the loader's too)."""
    JSONSerializer.register(Celsius, "celsius", lambda c: c.degrees, Celsius)
    try:
        data = JSONSerializer(indent=None).dumps({"t": [Celsius(21.5)]})
        assert b'"tag": "celsius"' in data
        assert get_serializer("json").loads(data) == {"t": [Celsius(21.5)]}
    finally:
        JSONSerializer.unregister("celsius")
    with pytest.raises(CaptureFormatError, match=r"JSONSerializer.register\(\.\.\.\)"):
        JSONSerializer().loads(data)


def test_json_register_rejects_bad_arguments() -> None:
    """register() says what is wrong with its arguments."""
    with pytest.raises(ConfigError, match="expects a class"):
        JSONSerializer.register("Celsius", "c", str, str)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="non-empty tag"):
        JSONSerializer.register(Celsius, "", str, str)


# --- serializer lookup and the optional extra ---------------------------------------------


def test_unknown_serializer_name_is_a_config_error() -> None:
    """An unknown name lists the known ones."""
    with pytest.raises(ConfigError, match="known: pickle, json, jsonpickle"):
        get_serializer("yaml")


def test_jsonpickle_missing_is_a_clear_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the extra installed, the error says which package to install."""
    monkeypatch.setitem(sys.modules, "jsonpickle", None)
    with pytest.raises(ConfigError, match=r"pip install 'snapy-capture\[jsonpickle\]'"):
        JSONPickleSerializer()


def test_jsonpickle_missing_class_is_a_format_error() -> None:
    """A class jsonpickle cannot find is an error, not a silently substituted dict."""
    data = b'{"py/object": "nowhere_module_x.Gone", "a": 1}'
    with pytest.raises(CaptureFormatError, match="'nowhere_module_x' is not imported"):
        JSONPickleSerializer().loads(data)


# --- classes of __main__ (in-process part; the subprocess part is in integration/) ---------


@pytest.fixture
def undeclared_main() -> Iterator[None]:
    """No main module name declared (as under pytest), and none left declared afterwards."""
    serializers.set_main_module_name(None)
    yield
    serializers.set_main_module_name(None)


@pytest.mark.usefixtures("undeclared_main")
def test_pickle_maps_main_classes_to_the_declared_module(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An instance of a __main__ class is stored under the script's module name."""
    cls = type("Widget", (), {"__module__": "__main__"})
    cls.__qualname__ = "Widget"
    monkeypatch.setattr(sys.modules["__main__"], "Widget", cls, raising=False)
    serializers.set_main_module_name("tgt_widget_app")
    obj = cls()
    obj.size = 3
    data = PickleSerializer().dumps({"w": obj})
    assert b"tgt_widget_app" in data

    # In the tests, the script is importable as tgt_widget_app and __main__ is pytest.
    serializers.set_main_module_name(None)
    monkeypatch.delattr(sys.modules["__main__"], "Widget")
    module = types.ModuleType("tgt_widget_app")
    replacement = type("Widget", (), {})
    replacement.__qualname__ = "Widget"
    module.Widget = replacement  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tgt_widget_app", module)
    back = PickleSerializer().loads(data)["w"]
    assert type(back) is replacement
    assert back.size == 3

    monkeypatch.delitem(sys.modules, "tgt_widget_app")
    with pytest.raises(CaptureFormatError, match="make the script's directory importable"):
        PickleSerializer().loads(data)


@pytest.mark.usefixtures("undeclared_main")
def test_multiprocessing_children_map_mp_main_classes(monkeypatch: pytest.MonkeyPatch) -> None:
    """In spawn children the script is __mp_main__; its classes are mapped the same way."""
    module = types.ModuleType("__mp_main__")
    cls = type("Task", (), {"__module__": "__mp_main__"})
    module.Task = cls  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "__mp_main__", module)
    serializers.set_main_module_name("tgt_mp_app")
    data = PickleSerializer().dumps(cls())
    assert b"tgt_mp_app" in data
    assert b"__mp_main__" not in data


def test_plain_pickles_of_main_classes_get_advice(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pickle naming __main__.Cls directly (old capture) fails with advice, not bare."""
    cls = type("Missing", (), {"__module__": "__main__"})
    monkeypatch.setattr(sys.modules["__main__"], "Missing", cls, raising=False)
    data = pickle.dumps(cls())  # plain pickle, as captures written before the mapping
    monkeypatch.delattr(sys.modules["__main__"], "Missing")
    with pytest.raises(CaptureFormatError, match="defined in a script run as __main__"):
        PickleSerializer().loads(data)


def test_main_of_a_program_run_with_dash_m_gets_the_advice_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``python -m pkg.app``: pickle names __main__ as 'pkg.app' in its error; same advice."""
    main = types.ModuleType("__main__")
    main.__spec__ = importlib.machinery.ModuleSpec("pkg.app", None)
    monkeypatch.setitem(sys.modules, "__main__", main)
    cls = type("Missing", (), {"__module__": "__main__"})
    main.Missing = cls  # type: ignore[attr-defined]
    data = pickle.dumps(cls())
    del main.Missing  # type: ignore[attr-defined]
    with pytest.raises(CaptureFormatError, match="defined in a script run as __main__"):
        PickleSerializer().loads(data)


def test_unpicklable_main_objects_still_fail_to_pickle(monkeypatch: pytest.MonkeyPatch) -> None:
    """A lambda of __main__ is not turned into a reference that could never load."""
    fn = eval("lambda: 1", {"__name__": "__main__"})  # noqa: S307 - a lambda of __main__
    with pytest.raises((pickle.PicklingError, AttributeError)):
        PickleSerializer().dumps(["__main__", fn])


# --- partial failure, through real captures ------------------------------------------------


class Job:
    """Pickle cannot store this (a lambda inside); jsonpickle stores it, minus the lambda."""

    def __init__(self, name: str, on_done: Any) -> None:
        self.name = name
        self.on_done = on_done


class _Other:
    pass


class WrongClass:
    """Pickle refuses it (its reduce names another class for ``__newobj__``); no filter rule
    can tell without pickling it."""

    def __reduce_ex__(self, protocol: Any) -> Any:
        return (copyreg.__newobj__, (_Other,), None)  # type: ignore[attr-defined]


def test_one_unserializable_argument_becomes_a_placeholder(capture_dir: Path) -> None:
    """Only the bad argument is replaced, naming its type; the rest is kept."""

    @capture_args()
    def handle(order_id: int, lock: Any, *, note: str) -> str:
        return f"{order_id}:{note}"

    assert handle(7, lambda: None, note="rush") == "7:rush"
    record = load_capture_dict("handle")
    assert record["args"][0] == 7
    assert record["kwargs"] == {"note": "rush"}
    placeholder = record["args"][1]
    assert isinstance(placeholder, Redacted)
    # A lambda is known not to pickle (pickle stores functions by name): the filter says so.
    reason = "unstorable:local function test_one_unserializable_argument_becomes_a_placeholder"
    assert placeholder.reason == f"{reason}.<locals>.<lambda>"
    assert {"path": "lock", "reason": placeholder.reason} in record["metadata"]["redactions"]
    # One the filter cannot foresee is replaced when encoding fails, alone too.
    assert handle(8, WrongClass(), note="later") == "8:later"
    record = load_capture_dict("handle")
    assert (record["args"][0], record["kwargs"]) == (8, {"note": "later"})
    assert record["args"][1].reason == "unserializable WrongClass"
    assert {"path": "args[1]", "reason": "unserializable"} in record["metadata"]["redactions"]


def test_strict_mode_drops_the_capture_but_not_the_call(
    capture_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """ignore_serialization_errors=False: no capture, one log line, counted, call unharmed."""

    @capture_args(ignore_serialization_errors=False)
    def strict(lock: Any) -> int:
        return 42

    before = stats()
    with caplog.at_level(logging.WARNING, logger="snapy_capture"):
        assert strict(WrongClass()) == 42
        assert strict(WrongClass()) == 42
    after = stats()
    assert after["dropped"] - before["dropped"] == 2
    assert after["errors"] - before["errors"] == 2
    warnings_logged = [r for r in caplog.records if "strict" in r.getMessage()]
    assert len(warnings_logged) == 1
    assert "serialization failed" in warnings_logged[0].getMessage()
    assert not list(capture_dir.rglob("*.cap"))


def test_seed_fallback_serializer_example(capture_dir: Path) -> None:
    """The seed's JSONPickleSerializer fallback stores what pickle cannot."""

    @capture_args(
        fallback_serializer=JSONPickleSerializer(),
        ignore_serialization_errors=True,
    )
    def function_with_complex_objects(data: Job) -> str:
        return data.name.upper()

    assert function_with_complex_objects(Job("nightly", lambda result: result)) == "NIGHTLY"
    (path,) = capture_dir.rglob("*.cap")
    # The lambda is a placeholder already (pickle cannot store it by name): pickle stores the
    # rest, no fallback needed.
    assert b'"serializer": "pickle"' in path.read_bytes().split(b"\n", 1)[0]
    (data,), kwargs = load_capture("function_with_complex_objects")
    assert kwargs == {}
    assert isinstance(data, Job)
    assert data.name == "nightly"
    assert data.on_done.startswith("[FILTERED: unstorable:local function ")
    # What pickle refuses and no filter foresees goes to the fallback.
    assert function_with_complex_objects(Job("weekly", WrongClass())) == "WEEKLY"
    newest = max(capture_dir.rglob("*.cap"), key=lambda p: p.name)
    assert b'"serializer": "jsonpickle"' in newest.read_bytes().split(b"\n", 1)[0]


def test_json_serializer_falls_back_per_argument(capture_dir: Path) -> None:
    """With serializer='json', an argument JSON cannot store becomes a placeholder."""

    @capture_args(serializer="json")
    def register(when: dt.date, amount: decimal.Decimal, handler: Any) -> None:
        return None

    register(dt.date(2024, 2, 29), decimal.Decimal("9.99"), object())
    (path,) = capture_dir.rglob("*.cap")
    assert b'"serializer": "json"' in path.read_bytes()
    args, _ = load_capture("register")
    assert args[:2] == (dt.date(2024, 2, 29), decimal.Decimal("9.99"))
    assert isinstance(args[2], Redacted)
    assert "object" in args[2].reason


# --- the seed's custom storage -----------------------------------------------------------


class CustomJSONEncoder(json.JSONEncoder):
    def default(self, o: Any) -> Any:
        if isinstance(o, (dt.datetime, dt.date)):
            return o.isoformat()
        return super().default(o)


class JSONCaptureStorage(CaptureStorage):
    def serialize_data(self, data):  # type: ignore[no-untyped-def]  # as in the seed
        return json.dumps(data, cls=CustomJSONEncoder, indent=2)

    def deserialize_data(self, data):  # type: ignore[no-untyped-def]
        return json.loads(data)


def test_seed_json_capture_storage_end_to_end(tmp_path: Path) -> None:
    """The seed's JSONCaptureStorage subclass captures and loads back, unchanged."""
    path = tmp_path / "json_captures"

    @capture_args(storage=JSONCaptureStorage(path))
    def schedule(title: str, when: dt.datetime, *, attendees: list[str]) -> str:
        return title

    assert schedule("standup", dt.datetime(2024, 5, 6, 9, 30), attendees=["ana"]) == "standup"
    (file,) = path.rglob("*.cap")
    body = file.read_bytes().split(b"\n", 1)[1].decode()
    assert json.loads(body)["args"] == ["standup", "2024-05-06T09:30:00"]  # readable JSON text
    args, kwargs = load_capture("schedule", storage=JSONCaptureStorage(path))
    assert args == ("standup", "2024-05-06T09:30:00")
    assert kwargs == {"attendees": ["ana"]}
    # The default loader reads it too: the file says it is JSON text.
    assert load_capture("schedule", path)[1] == {"attendees": ["ana"]}


def test_json_tree_api_and_draft_forms() -> None:
    """to_jsonable/from_jsonable expose the tagged tree; the draft's timedelta/path forms load."""
    serializer = JSONSerializer()
    tree = serializer.to_jsonable({"d": dt.timedelta(days=3, microseconds=1)})
    assert tree == {"d": {"__snapy__": "timedelta", "days": 3, "seconds": 0, "microseconds": 1}}
    assert serializer.from_jsonable(tree) == {"d": dt.timedelta(days=3, microseconds=1)}
    draft = [{"__snapy__": "timedelta", "seconds": 1.5}, {"__snapy__": "path", "value": "a/b"}]
    assert serializer.from_jsonable(draft) == [dt.timedelta(seconds=1.5), pathlib.Path("a/b")]


def test_jsonpickle_fallback_never_silently_drops_a_dict_key(capture_dir: Path) -> None:
    """A dict holding a lambda is not stored with the key missing: it becomes a placeholder."""

    @capture_args(fallback_serializer=JSONPickleSerializer(), ignore_serialization_errors=True)
    def configure(options: dict[str, Any], n: int) -> int:
        return n

    assert configure({"f": lambda x: x, "n": 1}, 2) == 2
    record = load_capture_dict("configure")
    # Recognised before any serializer runs: a placeholder in place, every key kept.
    assert record["args"][0]["n"] == 1
    assert record["args"][0]["f"].startswith("[FILTERED: unstorable:local function ")
    assert record["args"][1] == 2


# --- loading imports nothing (issue 15, item 4) ---------------------------------------------

PLANTED = """
import enum, pathlib
pathlib.Path({marker!r}).write_text("the planted module ran")

class Color(enum.Enum):
    RED = 1
"""


def plant_module(root: Path, marker: Path) -> None:
    """``captures/evil.py`` beside the captures, as someone who can write captures would."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "evil.py").write_text(PLANTED.format(marker=str(marker)))


@pytest.mark.parametrize(
    ("serializer", "tree"),
    [
        ("json", {"__snapy__": "enum", "type": "captures.evil:Color", "value": 1}),
        ("json", {"__snapy__": "namedtuple", "type": "captures.evil:Color", "items": []}),
        ("json", {"__snapy__": "dataclass", "type": "captures.evil:Color", "fields": {}}),
        ("jsonpickle", {"py/object": "captures.evil.Color", "value": 1}),
        ("jsonpickle", {"py/type": "captures.evil.Color"}),
        ("jsonpickle", {"py/function": "captures.evil.Color"}),
        ("jsonpickle", {"py/mod": "captures.evil/captures.evil"}),
        ("jsonpickle", {"py/repr": "captures.evil/captures.evil"}),
        ("jsonpickle", {"py/reduce": [{"py/function": "captures.evil.Color"}, {"py/tuple": [1]}]}),
        ("jsonpickle", {'json://{"py/type": "captures.evil.Color"}': 1}),
    ],
)
def test_loading_json_imports_no_module_the_file_names(
    capture_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    serializer: str,
    tree: dict[str, Any],
) -> None:
    """A capture naming a module planted beside the captures is refused, the module unrun."""
    marker = tmp_path / "marker"
    plant_module(capture_dir, marker)
    monkeypatch.syspath_prepend(str(tmp_path))  # `captures.evil` is importable from here
    try:
        with pytest.raises(CaptureFormatError) as refused:
            get_serializer(serializer).loads(json.dumps(tree).encode())
        assert not marker.exists()
        assert "captures.evil" not in sys.modules
        assert "is not imported" in str(refused.value)
        assert "JSONSerializer.allow_import('captures.evil')" in str(refused.value)
    finally:
        sys.modules.pop("captures.evil", None)
        sys.modules.pop("captures", None)


def test_json_allow_import_lets_a_listed_module_be_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """allow_import is the documented way to let loading import a module of one's own."""
    package = tmp_path / "tgt_allowed_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "colors.py").write_text("import enum\nclass Color(enum.Enum):\n    RED = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(JSONSerializer, "allowed_imports", frozenset())
    data = b'{"__snapy__": "enum", "type": "tgt_allowed_pkg.colors:Color", "value": 1}'
    with pytest.raises(CaptureFormatError, match="is not imported"):
        JSONSerializer().loads(data)
    JSONSerializer.allow_import("tgt_allowed_pkg")  # a package allows its submodules
    assert JSONSerializer().loads(data).name == "RED"
    with pytest.raises(ConfigError, match="module names"):
        JSONSerializer.allow_import("not a module")


def test_load_capture_and_loader_skip_a_capture_naming_an_unimported_module(
    capture_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    recwarn: pytest.WarningsRecorder,
) -> None:
    """The capture that names the planted module is skipped with a warning; the rest load."""
    store = CaptureStorage(capture_dir, retention=None, serializer="json")
    base = {
        "function_name": "pay",
        "module": "app",
        "qualname": "pay",
        "kwargs": {},
        "metadata": {"call_depth": 0},
    }
    older = store.save({**base, "timestamp": "2026-01-01T00:00:00Z", "args": [1]})
    newest = store.save({**base, "timestamp": "2026-01-01T00:00:01Z", "args": [2]})
    # The newest capture is rewritten to name the planted module's class.
    tagged = b'[{"__snapy__": "enum", "value": 1, "type": "captures.evil:Color"}]'
    text = newest.read_bytes().replace(b"[\n  2\n ]", tagged)
    assert text != newest.read_bytes(), newest.read_bytes()
    newest.write_bytes(text)
    os.utime(older, (1, 1))
    marker = tmp_path / "marker"
    plant_module(capture_dir, marker)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert load_capture("pay", capture_dir) == ((1,), {})
        assert [list(r["args"]) for r in CaptureLoader(capture_dir).load_all("pay")] == [[1]]
        assert not marker.exists()
        assert "captures.evil" not in sys.modules
        assert any("module 'captures.evil' is not imported" in str(w.message) for w in recwarn)
    finally:
        sys.modules.pop("captures.evil", None)
        sys.modules.pop("captures", None)
