"""A class pickled plainly when first captured, then given its own ``__reduce__`` or
``__getstate__`` (an assignment at run time): the snapshot picklers chose pickle's own
reduction for it on first sight, without the attributes the filters judge such a class by.

An async snapshot taken after the change held only what the new reducer gives (the password
base64-encoded, under no name): it reached the disk. The synchronous capture replaces the
object whole (its ``password`` attribute); the async one must store no more.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from _modes import CAPTURE_MODES
from snapy_capture import capture_args, flush
from snapy_capture.filters import Redacted
from snapy_capture.replay.loader import CaptureLoader

SECRET = "glx-hunter2-zebra-91"  # no known shape: found by its name only
ENCODED = base64.b64encode(SECRET.encode())


class _Account:
    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password


_MADE: dict[str, type] = {}


def _reduce(self: Any) -> tuple[Any, ...]:
    return (type(self), (self.user, base64.b64encode(self.password.encode())))


def _getstate(self: Any) -> dict[str, Any]:
    return {"user": self.user, "blob": base64.b64encode(self.password.encode())}


@pytest.mark.parametrize("hook", [("__reduce__", _reduce), ("__getstate__", _getstate)])
@pytest.mark.parametrize("options", CAPTURE_MODES)
def test_a_reducer_assigned_after_the_first_snapshot_hides_no_secret(
    tmp_path: Path, options: dict[str, Any], hook: tuple[str, Any]
) -> None:
    # A class of its own per test (its reducer is assigned below), found by name as pickle
    # finds a module's classes.
    name = f"Account_{hook[0].strip('_')}_{len(_MADE)}"
    Account = type(name, (_Account,), {"__module__": __name__, "__qualname__": name})
    globals()[name] = _MADE[name] = Account

    @capture_args(path=tmp_path, retention=10, dedupe=False, **options)
    def login(account: Any) -> int:
        return 1

    login(Account("bob", "not-yet"))
    flush()
    setattr(Account, *hook)
    for index in range(3):
        login(Account(f"user{index}", SECRET))  # distinct calls: none deduplicated
        flush()
    on_disk = b"".join(path.read_bytes() for path in tmp_path.rglob("*") if path.is_file())
    assert ENCODED not in on_disk
    assert SECRET.encode() not in on_disk
    loader = CaptureLoader(tmp_path)
    records = [loader.load_dict_by_index("login", index) for index in range(4)]
    accounts = [record["args"][0] for record in records]
    assert [account.user for account in accounts if type(account) is not Redacted] == ["bob"]
    replaced = [account for account in accounts if type(account) is Redacted]
    assert len(replaced) == 3
    assert all(account.reason.startswith("opaque:") for account in replaced)
