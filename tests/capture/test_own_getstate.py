"""Objects pickled by default with the state their own ``__getstate__`` chooses.

attrs' slotted classes (``@attrs.define``, the modern default) define ``__getstate__`` /
``__setstate__``; so do classes that leave a lock or a cache out of what they pickle. Such an
object was replaced whole by ``[FILTERED: opaque:Supplier holds filtered data]`` as soon as one
attribute was filtered: every method of an attrs class with an ``api_key`` field was refused
by gen-tests ("the instance could not be stored"), and a substitute for ``self.api_key`` could
not help. And an object whose ``__getstate__`` turns an unstorable attribute into a storable
one (attrs' ``Attribute.metadata``, a mappingproxy made a dict) was called unstorable, so
every attrs validator's capture skipped on replay.

The state, when it is a dict of attributes, is now filtered item by item (paths
``self.api_key``), like a plainly pickled object's; an attribute the state does not hold as
itself is still judged by its name, and a secret there replaces the object whole (it may be
stored in another shape).
"""

from __future__ import annotations

import base64
import pickle
import threading
from pathlib import Path
from typing import Any

import pytest

from _modes import CAPTURE_MODES
from snapy_capture import capture_args, flush, load_capture, load_capture_dict
from snapy_capture.pytest_plugin import replay_outcome

attrs = pytest.importorskip("attrs")

SECRET = "sk-live-4f9a8b7c6d5e4f3a2b1c0d9e"
PLAIN_SECRET = "glx-hunter2-secret"  # no known shape: found by its name only


class Account:
    """Leaves its lock out of what it pickles, as such classes do."""

    def __init__(self, owner: str, api_key: str) -> None:
        self.owner = owner
        self.api_key = api_key
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def charge(self, amount: int) -> str:
        with self._lock:
            self.calls.append(f"{self.owner}:{amount}")
        return f"{self.owner} charged {amount}"


class Encoded:
    """Stores its secret under another name, encoded: only its attribute's name tells."""

    def __init__(self, owner: str, password: str) -> None:
        self.owner = owner
        self.password = password

    def __getstate__(self) -> dict[str, Any]:
        return {"owner": self.owner, "blob": base64.b64encode(self.password.encode())}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.owner = state["owner"]
        self.password = base64.b64decode(state["blob"]).decode()


@attrs.define
class Supplier:
    name: str
    api_key: str = attrs.field(repr=False)
    items: list[str] = attrs.field(factory=list)

    def add(self, item: str) -> int:
        self.items.append(item)
        return len(self.items)


def _on_disk(root: Path) -> bytes:
    return b"".join(path.read_bytes() for path in root.rglob("*") if path.is_file())


@pytest.mark.parametrize("options", CAPTURE_MODES)
def test_a_state_of_its_own_keeps_all_but_the_secret(
    options: dict[str, Any], capture_dir: Path
) -> None:
    Account.charge = capture_args(**options)(Account.charge)  # type: ignore[method-assign]
    try:
        account = Account("ada", PLAIN_SECRET)
        assert account.charge(5) == "ada charged 5"
        assert flush(timeout=30)
    finally:
        Account.charge = Account.charge.__wrapped__  # type: ignore[attr-defined]
    assert account.api_key == PLAIN_SECRET  # the host's object is untouched
    assert PLAIN_SECRET.encode() not in _on_disk(capture_dir)
    record = load_capture_dict("charge")
    stored = record["self"]
    assert type(stored) is Account
    assert (stored.owner, stored.api_key) == ("ada", "[FILTERED: name:api_key]")
    paths = {entry["path"] for entry in record["metadata"]["redactions"]}
    assert "self.api_key" in paths
    if options.get("record_result"):
        assert record["self_after"].calls == ["ada:5"]
    # It replays once the secret is given a test value.
    outcome = replay_outcome(Account.charge, record, substitutes={"self.api_key": "k"})
    assert outcome["outcome"] == "ada charged 5"


@pytest.mark.parametrize("options", CAPTURE_MODES)
def test_an_attrs_instance_keeps_its_fields_and_loses_the_secret(
    options: dict[str, Any], capture_dir: Path
) -> None:
    Supplier.add = capture_args(**options)(Supplier.add)  # type: ignore[method-assign]
    try:
        supplier = Supplier("Acme", SECRET)
        assert supplier.add("anvil") == 1
        assert flush(timeout=30)
    finally:
        Supplier.add = Supplier.add.__wrapped__  # type: ignore[attr-defined]
    assert SECRET.encode() not in _on_disk(capture_dir)
    record = load_capture_dict("Supplier.add")
    stored = record["self"]
    assert type(stored) is Supplier
    assert (stored.name, stored.api_key) == ("Acme", "[FILTERED: name:api_key]")
    if not options.get("lazy_serialization"):  # lazy: read after the call, by design
        assert stored.items == []
    outcome = replay_outcome(Supplier.add, record, substitutes={"self.api_key": "k"})
    assert outcome["outcome"] == len(stored.items) + 1


@pytest.mark.parametrize("options", CAPTURE_MODES)
def test_a_secret_the_state_stores_in_another_shape_still_replaces_it_whole(
    options: dict[str, Any], capture_dir: Path
) -> None:
    @capture_args(**options)
    def log_in(who: Encoded) -> str:
        return who.owner

    assert log_in(Encoded("bob", PLAIN_SECRET)) == "bob"
    assert flush(timeout=30)
    on_disk = _on_disk(capture_dir)
    assert PLAIN_SECRET.encode() not in on_disk
    assert base64.b64encode(PLAIN_SECRET.encode()) not in on_disk
    (who,), _kwargs = load_capture("log_in")
    assert isinstance(who, str)
    assert who.startswith("[FILTERED: ")


@pytest.mark.parametrize("options", CAPTURE_MODES)
def test_an_attribute_its_getstate_makes_storable_is_kept(options: dict[str, Any]) -> None:
    """attrs' ``Attribute`` holds a mappingproxy (unpicklable) that its ``__getstate__``
    stores as a dict: the object pickles, so it is kept, and a validator's call replays."""

    @attrs.define
    class Item:
        sku: str = attrs.field(validator=attrs.validators.matches_re(r"[A-Z]+-\d+"))

    field = attrs.fields(Item).sku
    pickle.dumps(field)  # pickles as it is

    @capture_args(**options)
    def check(attribute: Any, value: str) -> str:
        return f"{attribute.name}={value}"

    assert check(field, "AB-1") == "sku=AB-1"
    assert flush(timeout=30)
    record = load_capture_dict("check")
    (attribute, value), _kwargs = load_capture("check")
    assert (attribute.name, attribute.alias, value) == ("sku", "sku", "AB-1")
    assert record["metadata"].get("redactions", []) == []
