"""A part pickle cannot store becomes a placeholder; the object holding it is kept (issue 17).

Found on real code: mistune's renderer keeps, in ``self._BaseRenderer__methods``, lambdas made
by ``register()``; pickling the renderer failed, and the whole receiver was lost
(``[FILTERED: unstorable: cannot serialize HTMLRenderer (AttributeError)]``), so no replay was
possible. Now the filter knows what pickle cannot store by reference (lambdas, local functions
and classes, a decorated function's original, a function of a module not loaded), C objects
pickle refuses (a hash object), and whatever still fails to encode is replaced part by part.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from _modes import CAPTURE_MODES
from snapy_capture import CaptureStorage, Redacted, capture_args, flush, load_capture_dict
from snapy_capture.capture._record import degrade_receiver, replace_unserializable

#: Not shaped like a secret: only the attribute name (api_key) tells.
KEY = "Zq8-unlikely-value-41"
PW = "Pw-unlikely-8841"

MODES = [
    *CAPTURE_MODES,
    pytest.param({"serializer": "jsonpickle"}, id="jsonpickle"),
    pytest.param({"serializer": "jsonpickle", "async_storage": True}, id="jsonpickle-async"),
]


def paragraph(renderer: Renderer, text: str) -> str:
    return f"<p>{text}</p>"


def orphan(text: str) -> str:
    return text


orphan.__module__ = "snapy_test_module_never_loaded"


def _local_class_instance() -> Any:
    class Options:
        def __init__(self) -> None:
            self.escape = True

    return Options()


class Renderer:
    """Like mistune's BaseRenderer: render methods registered as closures over ``self``."""

    def __init__(self) -> None:
        self.name = "html"
        self.api_key = KEY
        self.escape = False
        self._methods: dict[str, Callable[..., str]] = {}
        self.register("paragraph", paragraph)
        self._methods["text"] = self.text  # a bound method of the instance itself
        self.digest = hashlib.sha256(b"seed")  # a C object pickle refuses
        self.options = _local_class_instance()
        self.hooks = {"after": orphan, "count": 2}

    def register(self, name: str, method: Callable[..., str]) -> None:
        self._methods[name] = lambda *args: method(self, *args)

    def text(self, text: str) -> str:
        return text.upper() if self.escape else text

    def render(self, kind: str, text: str) -> str:
        return self._methods[kind](text)


Captured = Renderer  # replaced per test by the captured subclass (pickle finds it here)


@pytest.fixture(autouse=True)
def _restore_captured() -> Iterator[None]:
    saved = globals()["Captured"]
    yield
    assert flush(timeout=30)
    globals()["Captured"] = saved


def _captured(options: dict[str, Any]) -> type[Renderer]:
    render = capture_args(retention=None, **options)(vars(Renderer)["render"])
    cls = type("Captured", (Renderer,), {"render": render, "__module__": __name__})
    globals()["Captured"] = cls
    return cls


def _files(root: Path) -> bytes:
    return b"".join(path.read_bytes() for path in root.rglob("*") if path.is_file())


@pytest.mark.parametrize("options", MODES)
def test_unstorable_parts_become_placeholders_and_the_instance_is_kept(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    cls = _captured(options)
    assert cls().render("text", "hello") == "hello"
    assert flush(timeout=30)
    record = load_capture_dict("Renderer.render", capture_dir)
    assert record["args"] == ["text", "hello"]
    keys = ["self", "self_after"] if options.get("record_result") else ["self"]
    for key in keys:
        stored = record[key]
        assert not isinstance(stored, str), stored  # the instance, not a placeholder
        assert type(stored).__name__ == "Captured"
        assert (stored.name, stored.escape, stored.hooks["count"]) == ("html", False, 2)
        assert stored.api_key == "[FILTERED: name:api_key]"
        lambda_placeholder = stored._methods["paragraph"]
        assert lambda_placeholder == (
            "[FILTERED: unstorable:local function Renderer.register.<locals>.<lambda>]"
        )
        assert stored.digest == "[FILTERED: unstorable:HASH]"
        assert stored.options.startswith("[FILTERED: unstorable:instance of local class ")
        assert stored.hooks["after"].startswith("[FILTERED: unstorable:function orphan ")
        # What could be stored replays: the bound method is the stored instance's own.
        assert stored._methods["text"].__self__ is stored
        assert stored.render("text", "again") == "again"
    reasons = {
        entry["path"]: entry["reason"]
        for entry in record["metadata"]["redactions"]
        if entry["path"].startswith("self.")
    }
    assert reasons["self.api_key"] == "name:api_key"
    unstorable = {path for path, reason in reasons.items() if reason.startswith("unstorable:")}
    assert unstorable == {
        "self._methods['paragraph']",
        "self.digest",
        "self.options",
        "self.hooks['after']",
    }
    assert KEY.encode() not in _files(capture_dir)


class Holder:
    """A plain object; the test puts in it what no filter has looked at."""

    def __init__(self, **state: Any) -> None:
        self.__dict__.update(state)


def test_what_still_fails_to_encode_is_replaced_part_by_part(tmp_path: Path) -> None:
    """The pipeline's last resort: a receiver (or argument) the serializer refuses loses only
    the parts it refuses, two levels down, never the whole of it. (jsonpickle never refuses:
    it writes what it cannot rebuild; what the filters replace never reaches it.)"""
    storage = CaptureStorage(tmp_path)
    record: dict[str, Any] = {
        "args": [{"keep": [1, 2], "bad": lambda: 0}, 7],
        "kwargs": {},
        "self": Holder(name="h", table={"ok": 1, "bad": lambda: 1}, gen=(n for n in ())),
        "metadata": {},
    }
    assert degrade_receiver(storage, record)
    replace_unserializable(storage, record)
    loaded = storage.decode(storage.encode(record))
    stored = loaded["self"]
    assert (stored.name, stored.table["ok"]) == ("h", 1)
    assert stored.table["bad"].startswith("[FILTERED: unstorable: cannot serialize ")
    assert stored.gen.startswith("[FILTERED: unstorable: cannot serialize ")
    assert loaded["args"][0]["keep"] == [1, 2]
    assert loaded["args"][0]["bad"].startswith("[FILTERED: unstorable: cannot serialize ")
    assert loaded["args"][1] == 7
    paths = {entry["path"] for entry in loaded["metadata"]["redactions"]}
    assert paths == {"self.table['bad']", "self.gen", "args[0]['bad']"}


class _Refuses:
    """Refuses every serializer (as a C object or a hostile ``__reduce__`` would)."""

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise TypeError("no")

    def __getstate__(self) -> Any:
        raise TypeError("no")


def test_a_receiver_the_serializer_refuses_entirely_is_still_one_placeholder(
    tmp_path: Path,
) -> None:
    storage = CaptureStorage(tmp_path)
    record: dict[str, Any] = {"args": [], "kwargs": {}, "self": _Refuses(), "metadata": {}}
    assert degrade_receiver(storage, record)
    assert record["self"] == "[FILTERED: unstorable: cannot serialize _Refuses (TypeError)]"
    assert type(record["self"]) is Redacted


@pytest.mark.parametrize("options", [{}, {"async_storage": True}], ids=["sync", "async"])
def test_a_bound_builtin_method_does_not_carry_its_objects_secret_to_disk(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    """``settings.get`` pickles as ``getattr(settings, "get")``: the dict with it."""

    @capture_args(**options)
    def lookup(getter: Callable[[str], Any], name: str) -> Any:
        return getter(name)

    settings = {"user": "bob", "password": PW}
    assert lookup(settings.get, "user") == "bob"
    assert flush(timeout=30)
    assert PW.encode() not in _files(capture_dir)
    record = load_capture_dict("lookup", capture_dir)
    assert record["args"][1] == "user"
    getter = record["args"][0]  # the method of the filtered copy: it still replays
    assert getter.__self__ == {"user": "bob", "password": "[FILTERED: name:password]"}
    assert getter("user") == "bob"


def test_a_lambda_is_stored_as_a_placeholder_not_as_a_capture_that_cannot_load() -> None:
    """Pickle cannot store it by name: without the filter's placeholder, the whole value
    would fail to encode."""
    from snapy_capture import ArgumentFilter

    value = {"key_func": lambda item: item, "size": 3}
    filtered, report = ArgumentFilter().filter_value(value, "opts")
    assert pickle.loads(pickle.dumps(filtered))["size"] == 3
    assert report == [
        {
            "path": "opts['key_func']",
            "reason": "unstorable:local function "
            "test_a_lambda_is_stored_as_a_placeholder_not_as_a_capture_that_cannot_load."
            "<locals>.<lambda>",
        }
    ]
