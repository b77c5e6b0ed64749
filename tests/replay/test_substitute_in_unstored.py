"""A test value for a part of an argument that was not stored at all.

Found with ``serializer: json`` on an attrs application: ``dump_supplier(supplier)`` had
``supplier.api_key`` redacted by the filters, then the whole ``supplier`` (a class JSON cannot
store) replaced by ``[FILTERED: unserializable Inert]`` -- naming our internal copy, not the
user's class. The redaction report keeps both entries, so gen-tests asked for
``supplier.api_key``; given it, every case failed with ``SnapyCaptureError: substitute
'.api_key': cannot follow it in the capture (AttributeError: 'Redacted' object has no attribute
'api_key')`` instead of running without the argument (and being skipped, naming it, when the
call fails without it), as for any part that could not be stored.
"""

from __future__ import annotations

from typing import Any

import pytest

from snapy_capture import capture_args, flush, load_capture_dict
from snapy_capture.replay import CannotReplayError, replay_and_compare, replay_outcome


class Account:
    def __init__(self, owner: str, api_key: str) -> None:
        self.owner = owner
        self.api_key = api_key


def label(account: Account) -> str:
    return account.owner.upper()


def sign(account: Account, text: str) -> str:
    return text + "."


def _captured(func: Any, *args: Any) -> dict[str, Any]:
    wrapped = capture_args(serializer="json", record_result=True)(func)
    wrapped(*args)
    assert flush(timeout=30)
    return load_capture_dict(func.__name__)


def test_the_placeholder_names_the_class_not_our_copy() -> None:
    record = _captured(label, Account("ada", "sk-live-4f9a8b7c6d5e4f3a2b1c0d9e"))
    assert record["args"] == ["[FILTERED: unserializable Account]"]


@pytest.mark.parametrize("replay", [replay_outcome, replay_and_compare])
def test_a_call_that_needs_the_value_is_skipped_naming_it(replay: Any) -> None:
    record = _captured(label, Account("ada", "sk-live-4f9a8b7c6d5e4f3a2b1c0d9e"))
    with pytest.raises(CannotReplayError) as caught:
        replay(label, record, substitutes={"account.api_key": "test-key"})
    message = str(caught.value)
    assert "could not be stored at capture time: args[0] (unserializable)" in message


def test_a_call_that_does_not_need_it_runs() -> None:
    record = _captured(sign, Account("ada", "sk-live-4f9a8b7c6d5e4f3a2b1c0d9e"), "ok")
    assert replay_outcome(sign, record, substitutes={"account.api_key": "test-key"}) == "ok."
    assert replay_and_compare(sign, record, substitutes={"account.api_key": "k"}).matches
