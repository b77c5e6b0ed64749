"""A method's receiver is captured beside its arguments (issue 17): ``record["self"]``, and with
``record_result`` its state after the call, ``record["self_after"]``.

Filtered like an argument (an attribute named like a secret never reaches the disk, an
unstorable one becomes a placeholder while the rest is kept), within the size limits, with every
serializer, in every mode; ``load_capture`` still returns only ``(args, kwargs)``.
"""

from __future__ import annotations

import dataclasses
import difflib
import io
import json
import socket
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from snapy_capture import (
    CaptureConfig,
    CaptureLoader,
    CaptureStorage,
    capture_args,
    cli,
    flush,
    load_capture,
    load_capture_dict,
    set_global_config,
)
from snapy_capture.config import reload_environment, resolve_config

#: Neither shaped like a secret: only their attribute names (api_key, password) tell.
KEY = "Zq8-unlikely-value-41"
PW = "Pw-unlikely-8841"

MODES = [
    pytest.param({}, id="sync"),
    pytest.param({"async_storage": True}, id="async"),
    pytest.param({"async_storage": True, "lazy_serialization": True}, id="lazy"),
    pytest.param({"minimal_capture": True}, id="minimal"),
    pytest.param({"serializer": "jsonpickle"}, id="jsonpickle"),
    pytest.param({"serializer": "jsonpickle", "async_storage": True}, id="jsonpickle-async"),
    pytest.param({"serializer": "json", "fallback_serializer": "pickle"}, id="json-fallback"),
]
RESULT_MODES = [
    pytest.param({}, id="sync"),
    pytest.param({"async_storage": True}, id="async"),
    pytest.param({"async_storage": True, "lazy_serialization": True}, id="lazy"),
    pytest.param({"serializer": "jsonpickle"}, id="jsonpickle"),
    pytest.param({"serializer": "jsonpickle", "async_storage": True}, id="jsonpickle-async"),
]


class Account:
    """A receiver holding a secret, plain data and (optionally) something unstorable."""

    def __init__(self, owner: str, **extra: Any) -> None:
        self.owner = owner
        self.api_key = KEY
        self.balance = 10
        self.history: list[int] = []
        self.__dict__.update(extra)

    def deposit(self, amount: int) -> None:
        self.balance += amount
        self.history.append(amount)

    def chained(self, amount: int) -> Account:
        self.balance += amount
        return self

    def describe(self) -> str:
        return f"{self.owner} uses {self.api_key}"

    def login(self, password: str) -> None:
        self.remembered = password  # the argument's secret, kept under a harmless name

    @classmethod
    def open(cls, owner: str) -> str:
        return owner

    @staticmethod
    def fee(amount: int) -> int:
        return amount // 10


class Captured(Account):
    """Where pickle finds the class of a captured receiver: see :func:`_captured`."""


def _captured(options: dict[str, Any], *names: str) -> type[Account]:
    """A subclass of Account whose ``names`` are captured with ``options`` (stored under the
    ``Account.<name>`` qualname of the function), importable as this module's ``Captured``."""
    options = dict(options)
    if options.pop("minimal_capture", False):  # a global option, not the decorator's
        set_global_config(CaptureConfig(minimal_capture=True))
    members = {name: capture_args(retention=None, **options)(vars(Account)[name]) for name in names}
    cls = type("Captured", (Account,), {**members, "__module__": __name__})
    globals()["Captured"] = cls
    return cls


@pytest.fixture(autouse=True)
def _restore_captured() -> Iterator[None]:
    saved = globals()["Captured"]
    yield
    assert flush(timeout=30)
    globals()["Captured"] = saved


def _files(root: Path) -> bytes:
    assert flush(timeout=30)
    return b"".join(path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file())


@pytest.mark.parametrize("options", MODES)
def test_a_method_stores_its_receiver_filtered_and_load_capture_is_unchanged(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    """record["self"] is the instance (its secret attribute redacted); args exclude it."""
    cls = _captured(options, "deposit")
    account = cls("alice")
    account.deposit(5)
    assert flush(timeout=30)

    assert load_capture("Account.deposit", capture_dir) == ((5,), {})
    record = load_capture_dict("Account.deposit", capture_dir)
    stored = record["self"]
    assert type(stored).__name__ == "Captured"
    assert stored.owner == "alice"
    assert stored.history in ([], [5])  # lazy: read when the writer gets to it
    assert str(stored.api_key).startswith("[FILTERED: name:")
    assert {"path": "self.api_key", "reason": "name:api_key"} in record["metadata"]["redactions"]
    assert "self_after" not in record
    assert KEY.encode() not in _files(capture_dir)
    assert account.api_key == KEY  # the host's object is untouched


@pytest.mark.parametrize("options", [*MODES[:3], pytest.param({"record_result": True}, id="r")])
def test_unstorable_attributes_become_placeholders_and_the_rest_is_kept(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    """A lock, a socket and a generator in the instance: three placeholders, not a lost capture."""
    cls = _captured(options, "deposit")
    with socket.socket() as sock:
        account = cls("bob", lock=threading.Lock(), sock=sock, pending=(n for n in range(3)))
        account.deposit(7)
        assert flush(timeout=30)
    record = load_capture_dict("Account.deposit", capture_dir)
    stored = record["self"]
    assert stored.owner == "bob"
    assert stored.balance in (10, 17)
    assert str(stored.lock) == "[FILTERED: unstorable:lock]"
    assert str(stored.sock) == "[FILTERED: unstorable:socket]"
    assert str(stored.pending) == "[FILTERED: unstorable:generator]"
    paths = {item["path"] for item in record["metadata"]["redactions"]}
    assert {"self.lock", "self.sock", "self.pending", "self.api_key"} <= paths
    assert record["args"] == [7]


def test_capture_self_false_leaves_the_receiver_out(capture_dir: Path) -> None:
    """capture_self=False on the decorator: no "self", no "self_after"; args as before."""
    cls = _captured({"capture_self": False, "record_result": True}, "deposit")
    cls("carol").deposit(3)
    record = load_capture_dict("Account.deposit", capture_dir)
    assert record["args"] == [3]
    assert "self" not in record
    assert "self_after" not in record


def test_capture_self_can_be_turned_off_by_the_environment(
    capture_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SNAP_CAPTURE_CAPTURE_SELF", "0")
    reload_environment()
    assert resolve_config().capture_self is False
    cls = _captured({}, "deposit")
    cls("dave").deposit(3)
    assert "self" not in load_capture_dict("Account.deposit", capture_dir)


@pytest.mark.parametrize("options", RESULT_MODES)
def test_self_after_shows_what_a_mutating_method_did(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    """A method returning None is characterized by self_after; self is as it was called."""
    cls = _captured({"record_result": True, **options}, "deposit")
    account = cls("erin")
    account.deposit(5)
    assert flush(timeout=30)
    record = load_capture_dict("Account.deposit", capture_dir)
    assert record["result"] == {"value": None}
    assert (record["self"].balance, record["self"].history) == (10, [])
    assert (record["self_after"].balance, record["self_after"].history) == (15, [5])
    assert str(record["self_after"].api_key).startswith("[FILTERED: name:")
    paths = [item["path"] for item in record["metadata"]["redactions"]]
    assert "self.api_key" in paths
    assert "self_after.api_key" in paths
    assert KEY.encode() not in _files(capture_dir)


@pytest.mark.parametrize("options", RESULT_MODES)
def test_a_method_returning_self_stores_its_state_once(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    """``return self``: the result is marked is_self and is the very object self_after is."""
    cls = _captured({"record_result": True, **options}, "chained")
    account = cls("frank")
    account.owner = "frank-unique-owner-name"
    assert account.chained(1) is account
    data = _files(capture_dir)
    # Once for self, once for self_after: the result adds no third copy.
    assert data.count(b"frank-unique-owner-name") == 2
    record = load_capture_dict("Account.chained", capture_dir)
    assert record["result"]["is_self"] is True
    assert record["result"]["value"] is record["self_after"]
    assert record["self_after"].balance == 11
    assert record["self"].balance == 10


@pytest.mark.parametrize("locked", [False, True], ids=["plain", "locked"])
@pytest.mark.parametrize("options", RESULT_MODES)
def test_secrets_of_the_receiver_and_arguments_are_masked_in_results_and_self_after(
    capture_dir: Path, options: dict[str, Any], locked: bool
) -> None:
    """The receiver's api_key echoed in a result, a password argument kept in self under a
    harmless name: neither reaches the disk (also when the receiver holds a lock, which
    does not pickle)."""
    cls = _captured({"record_result": True, **options}, "describe", "login")
    account = cls("gina", lock=threading.Lock()) if locked else cls("gina")
    assert account.describe() == f"gina uses {KEY}"
    account.login(PW)
    data = _files(capture_dir)
    assert KEY.encode() not in data
    assert PW.encode() not in data
    described = load_capture_dict("Account.describe", capture_dir)
    assert described["result"]["value"].startswith("gina uses [FILTERED: name:")
    logged = load_capture_dict("Account.login", capture_dir)
    assert str(logged["self_after"].remembered).startswith("[FILTERED: name:")


@pytest.mark.parametrize("options", [{}, {"record_result": True}, {"async_storage": True}])
def test_classmethods_and_staticmethods_have_no_receiver(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    cls = _captured(options, "open", "fee", "deposit")
    account = cls("hank")
    account.deposit(1)  # beside them, a plain method's receiver is stored
    assert cls.open("x") == "x"
    assert account.open("y") == "y"
    assert cls.fee(30) == 3
    assert account.fee(40) == 4
    assert flush(timeout=30)
    loader = CaptureLoader(capture_dir)
    records = [*loader.load_all("Account.open"), *loader.load_all("Account.fee")]
    assert sorted(r["args"][0] for r in records[:2]) == ["x", "y"]
    assert len(records) == 4
    for record in records:
        assert "self" not in record
        assert "self_after" not in record
    assert load_capture_dict("Account.deposit", capture_dir)["self"].owner == "hank"


@pytest.mark.parametrize("options", [{}, {"async_storage": True}])
def test_init_stores_the_instance_it_built_as_self_after_only(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    """The instance ``__init__`` is given is half-built: only the one it left is stored."""

    class Built:
        __init__ = capture_args(record_result=True, **options)(Account.__init__)

    Built.__qualname__ = "Captured"
    Built.__module__ = __name__
    globals()["Captured"] = Built
    Built("iris")
    assert flush(timeout=30)
    record = load_capture_dict("Account.__init__", capture_dir)
    assert record["args"] == ["iris"]
    assert "self" not in record
    assert record["self_after"].owner == "iris"
    assert str(record["self_after"].api_key).startswith("[FILTERED: name:")


def test_a_method_called_through_its_class_stores_the_explicit_receiver(
    capture_dir: Path,
) -> None:
    cls = _captured({}, "deposit")
    account = cls("jack")
    cls.deposit(account, 4)
    record = load_capture_dict("Account.deposit", capture_dir)
    assert record["args"] == [4]
    assert record["self"].owner == "jack"


class Plain:
    """A class the JSON serializer cannot store."""

    def __init__(self) -> None:
        self.token = KEY
        self.size = 3

    def grow(self, by: int) -> int:
        self.size += by
        return self.size


@dataclasses.dataclass
class Box:
    label: str
    secret: str

    def relabel(self, label: str) -> str:
        self.label = label
        return label


# At module level: an instance of a local class is unstorable by pickle's rules already.
class JsonBound(Plain):
    grow = capture_args(serializer="json", record_result=True, ignore_serialization_errors=False)(
        Plain.grow
    )


class JsonBoundAsync(Plain):
    grow = capture_args(
        serializer="json",
        async_storage=True,
        record_result=True,
        ignore_serialization_errors=False,
    )(Plain.grow)


@pytest.mark.parametrize("async_storage", [False, True])
def test_json_stores_a_placeholder_for_a_receiver_it_cannot_store_and_keeps_the_capture(
    capture_dir: Path, async_storage: bool
) -> None:
    """JSON without a fallback: the instance degrades to "[FILTERED: unstorable: ...]" and the
    arguments and result are kept, even with ignore_serialization_errors off."""

    bound = JsonBoundAsync if async_storage else JsonBound
    assert bound().grow(4) == 7
    assert KEY.encode() not in _files(capture_dir)
    record = load_capture_dict("Plain.grow", capture_dir)
    assert record["args"] == [4]
    assert record["self"].startswith("[FILTERED: unstorable: cannot serialize ")
    assert record["self"].endswith(f" {bound.__name__} (TypeError)]")  # never the error text
    assert record["self_after"].startswith("[FILTERED: unstorable: ")
    assert record["result"]["value"] == 7


def test_json_stores_a_dataclass_receiver(capture_dir: Path) -> None:
    class Labelled(Box):
        relabel = capture_args(serializer="json", record_result=True)(Box.relabel)

    Labelled.__qualname__ = "Box"
    Labelled.__module__ = __name__
    globals()["Box"], real = Labelled, Box
    try:
        Labelled("a", PW).relabel("b")
        record = load_capture_dict("Box.relabel", capture_dir)
    finally:
        globals()["Box"] = real
    assert record["self"].label == "a"
    assert record["self_after"].label == "b"
    assert str(record["self"].secret).startswith("[FILTERED: name:")
    assert PW.encode() not in _files(capture_dir)


def test_a_receiver_too_large_for_max_capture_size_is_replaced_whole(capture_dir: Path) -> None:
    cls = _captured({"max_capture_size": 2000}, "deposit")
    account = cls("kate", blob=[f"{n:050}" for n in range(200)])
    account.deposit(1)
    record = load_capture_dict("Account.deposit", capture_dir)
    assert record["args"] == [1]
    assert str(record["self"]).startswith("[FILTERED: unstorable: too large (")
    assert {"path": "self", "reason": "max_capture_size"} in record["metadata"]["redactions"]


# --- real classes of the standard library ------------------------------------------------


class Wrapper(textwrap.TextWrapper):
    wrap = capture_args(retention=None, record_result=True)(textwrap.TextWrapper.wrap)


class Encoder(json.JSONEncoder):
    encode = capture_args(retention=None)(json.JSONEncoder.encode)


class Matcher(difflib.SequenceMatcher):  # type: ignore[type-arg]
    ratio = capture_args(retention=None, async_storage=True)(difflib.SequenceMatcher.ratio)


def test_standard_library_methods_store_their_configured_instance(capture_dir: Path) -> None:
    """A TextWrapper built with other settings, an encoder with options, a matcher with its
    sequences: each capture carries the configuration the method ran with."""
    text = "a few words to wrap here"
    expected = textwrap.TextWrapper(width=12, initial_indent="> ").wrap(text)
    assert Wrapper(width=12, initial_indent="> ").wrap(text) == expected
    assert Encoder(sort_keys=True, indent=2).encode({"b": 1, "a": 2}).startswith('{\n  "a"')
    assert Matcher(None, "abcd", "abxd").ratio() == 0.75
    assert flush(timeout=30)

    wrapped = load_capture_dict("textwrap:TextWrapper.wrap", capture_dir)
    assert wrapped["args"] == [text]
    assert (wrapped["self"].width, wrapped["self"].initial_indent) == (12, "> ")
    assert wrapped["self"].wrap(text) == wrapped["result"]["value"] == expected
    encoded = load_capture_dict("json.encoder:JSONEncoder.encode", capture_dir)
    # "sort_keys" is an ordinary name (names match by words): kept, as an argument would be.
    assert encoded["self"].sort_keys is True
    assert (encoded["self"].indent, encoded["self"].item_separator) == (2, ",")
    matched = load_capture_dict("difflib:SequenceMatcher.ratio", capture_dir)
    assert (matched["self"].a, matched["self"].b) == ("abcd", "abxd")
    assert matched["self"].ratio() == 0.75  # it replays: the loaded instance is a real one


def test_show_prints_the_receiver_and_its_state_after(capture_dir: Path) -> None:
    """``snapy-capture show`` lists the receiver's attributes, before and after the call."""
    cls = _captured({"record_result": True}, "deposit", "chained")
    account = cls("lily")
    account.deposit(2)
    account.chained(1)
    assert flush(timeout=30)
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["show", "Account.deposit"], stdout=out, stderr=err, stdin=io.StringIO())
    assert code == 0, err.getvalue()
    text = out.getvalue()
    before, after = text.split("self_after: ")
    assert "self: test_receiver.Captured\n" in before
    assert "  .owner = 'lily'\n" in before
    assert "  .balance = 10\n" in before
    assert "  .api_key = '[FILTERED: name:api_key]'\n" in before
    assert after.startswith("test_receiver.Captured\n")
    assert "  .balance = 12\n" in after
    assert KEY not in text
    out = io.StringIO()
    assert cli.main(["show", "Account.chained"], stdout=out, stderr=err) == 0
    assert "result: returned self (its state is self_after)" in out.getvalue()


def test_a_capture_of_a_method_from_before_receivers_still_loads(capture_dir: Path) -> None:
    """Captures written before receivers were stored have no "self": they load as ever."""
    old = {
        "function_name": "deposit",
        "module": "bank",
        "qualname": "Account.deposit",
        "timestamp": "2026-01-01T00:00:00.000000Z",
        "args": [5],
        "kwargs": {},
        "metadata": {"call_depth": 0, "redactions": []},
    }
    CaptureStorage(capture_dir).save(old)
    assert load_capture("bank:Account.deposit", capture_dir) == ((5,), {})
    record = load_capture_dict("bank:Account.deposit", capture_dir)
    assert "self" not in record
    out = io.StringIO()
    assert cli.main(["show", "bank:Account.deposit"], stdout=out, stderr=io.StringIO()) == 0
    assert "self:" not in out.getvalue()
