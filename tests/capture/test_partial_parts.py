"""``functools.partial`` objects reaching filtered data (transitions puts
``partial(event.trigger, model)`` on each model: ``model.pay``, ``model.is_paid``...) are
rebuilt from their filtered parts, not replaced whole.

A partial pickles by its own ``__reduce__``, so it was kept whole or replaced whole: through
its bound method and its arguments it reaches the model, whose ``card_token`` is filtered, so
every one became ``opaque:partial holds filtered data`` and no substitute could bring it back
(``self.pay`` needs a partial, not a literal): every method of the model was refused.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest

from _modes import CAPTURE_MODES
from snapy_capture import capture_args, flush, load_capture_dict
from snapy_capture.pytest_plugin import replay_outcome

TOKEN = "tok_Zq8v-hunter2-card"


class Machine:
    def __init__(self) -> None:
        self.models: list[Any] = []

    def trigger(self, model: Any, event: str, **extra: Any) -> bool:
        model.state = event
        return True


class Order:
    def __init__(self, card_token: str) -> None:
        self.card_token = card_token
        self.state = "new"
        self.machine = Machine()
        self.machine.models.append(self)
        self.pay = functools.partial(self.machine.trigger, self, "paid")
        self.ship = functools.partial(self.machine.trigger, self, "shipped", fast=True)

    def advance(self) -> str:
        self.pay()
        return str(self.state)


def _on_disk(root: Path) -> bytes:
    return b"".join(path.read_bytes() for path in root.rglob("*") if path.is_file())


@pytest.mark.parametrize("options", CAPTURE_MODES)
def test_a_partial_reaching_a_secret_is_kept_with_the_secret_filtered(
    tmp_path: Path, options: dict[str, Any]
) -> None:
    @capture_args(path=tmp_path, **options)
    def advance(order: Order) -> str:
        return order.advance()

    assert advance(Order(TOKEN)) == "paid"
    flush()
    assert TOKEN.encode() not in _on_disk(tmp_path)
    record = load_capture_dict("advance", path=tmp_path)
    (order,) = record["args"]
    assert order.card_token == "[FILTERED: name:token]"
    assert isinstance(order.pay, functools.partial)
    assert order.pay.args == (order, "paid")  # the same (filtered) order, not a copy of it
    assert order.ship.keywords == {"fast": True}
    assert order.machine.models == [order]
    paths = {entry["path"] for entry in record["metadata"]["redactions"]}
    assert paths == {"order.card_token"}
    assert replay_outcome(advance.__wrapped__, record, substitutes={"order.card_token": "t"}) == (
        "paid"
    )


def test_a_partial_whose_function_is_filtered_is_still_replaced(tmp_path: Path) -> None:
    """A partial of a function that cannot be stored (a lambda) cannot be rebuilt."""

    @capture_args(path=tmp_path)
    def call(handler: Any) -> Any:
        return handler()

    assert call(functools.partial(lambda token: token[::-1], TOKEN)) == TOKEN[::-1]
    (stored,) = load_capture_dict("call", path=tmp_path)["args"]
    assert str(stored).startswith("[FILTERED: ")
    assert TOKEN.encode() not in _on_disk(tmp_path)


class Event:
    """transitions' Event, whose ``trigger`` is itself a capture target."""

    def __init__(self, model: Any) -> None:
        self.model = model

    @capture_args(path=None)
    def trigger(self, *args: Any) -> bool:
        return True


def test_a_captured_method_held_as_a_callback_is_its_filtered_owner(tmp_path: Path) -> None:
    """``obj.method`` of a captured method is our bound proxy, which pickles as
    ``getattr(obj, name)``: walked like a bound method, not replaced whole."""

    @capture_args(path=tmp_path)
    def advance(order: Any) -> str:
        return str(order.state)

    order = Order(TOKEN)
    event = Event(order)
    order.pay = functools.partial(event.trigger, order)  # a bound capture proxy
    assert advance(order) == "new"
    assert TOKEN.encode() not in _on_disk(tmp_path)
    record = load_capture_dict("advance", path=tmp_path)
    (stored,) = record["args"]
    assert {entry["path"] for entry in record["metadata"]["redactions"]} == {"order.card_token"}
    assert stored.pay.args == (stored,)
    assert stored.pay.func.__self__.model is stored
