"""Objects that pickle themselves, with a ``password`` attribute their reduction encodes, in
shapes the async snapshot's reducers passed over (``filters._hidden``): an instance whose
``__dict__`` is a dict subclass, and one rebuilt as another class (its own ``__class__``
claims that class, as a proxy's or a mock's does, which pickle's check accepts).

The synchronous capture judges them by their attributes' names and replaces them whole; the
async snapshot held their reduction only, and the encoded password reached the disk.
"""

from __future__ import annotations

import base64
import copyreg
from pathlib import Path
from typing import Any

import pytest

from _modes import CAPTURE_MODES
from snapy_capture import capture_args, flush, load_capture_dict

SECRET = "glx-hunter2-zebra-91"  # no known shape: found by its name only
ENCODED = base64.b64encode(SECRET.encode())


class Attributes(dict[str, Any]):
    pass


class Account:
    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password

    def __reduce__(self) -> tuple[Any, ...]:
        return (Account, (self.user, base64.b64encode(self.password.encode())))


class Model:
    pass


class Proxy:
    """Claims to be a ``Model`` (pickle asks ``__class__``) and pickles as one."""

    __class__ = property(lambda self: Model)  # type: ignore[assignment]

    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password

    def __reduce__(self) -> tuple[Any, ...]:
        blob = base64.b64encode(self.password.encode())
        return (copyreg.__newobj__, (Model,), {"user": self.user, "blob": blob})  # type: ignore[attr-defined]


def _dict_subclass_account() -> Account:
    account = Account("bob", SECRET)
    account.__dict__ = Attributes(account.__dict__)
    return account


@pytest.mark.parametrize("make", [_dict_subclass_account, lambda: Proxy("bob", SECRET)])
@pytest.mark.parametrize("options", CAPTURE_MODES)
def test_an_object_pickling_itself_keeps_its_secret_in_every_mode(
    tmp_path: Path, options: dict[str, Any], make: Any
) -> None:
    @capture_args(path=tmp_path, **options)
    def login(account: Any) -> int:
        return 1

    assert login(make()) == 1
    flush()
    on_disk = b"".join(path.read_bytes() for path in tmp_path.rglob("*") if path.is_file())
    assert ENCODED not in on_disk
    assert SECRET.encode() not in on_disk
    (account,) = load_capture_dict("login", path=tmp_path)["args"]
    assert account.startswith("[FILTERED: opaque:")
