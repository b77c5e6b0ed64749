"""The message of an exception a captured call raises, read without the program's code.

``str(exception)`` runs code: a class's own ``__str__``, and, for a built-in exception, the
``repr``/``str`` of what it holds (``KeyError(order)`` shows ``repr(order)``), and it costs
the message's length, however long. The message is stored when a built-in exception's own
``__str__`` formats built-in scalars within the size limit; otherwise a placeholder says why.
"""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

import pytest

from snapy_capture import CaptureLoader, capture_args, flush

RESULT_MODES = [
    pytest.param({"record_result": True}, id="sync-result"),
    pytest.param({"record_result": True, "async_storage": True}, id="async-result"),
    pytest.param(
        {"record_result": True, "async_storage": True, "lazy_serialization": True},
        id="lazy-result",
    ),
]

RAN: list[str] = []
GROUP: Any = getattr(builtins, "ExceptionGroup", None)  # Python 3.11+


class Order:
    """A key whose ``repr`` does something (an ORM object loading its rows, say)."""

    def __repr__(self) -> str:
        RAN.append("Order.__repr__")
        return "Order(42)"


class QuotaError(Exception):
    def __str__(self) -> str:
        RAN.append("QuotaError.__str__")
        return "quota exceeded"


def _raised(options: dict[str, Any], error: BaseException) -> dict[str, Any]:
    @capture_args(retention=None, **options)
    def fail(x: int) -> None:
        raise error

    RAN.clear()
    with pytest.raises(type(error)):
        fail(1)
    ran = list(RAN)
    assert flush(timeout=30)
    assert ran == [], "the program's code ran while the call was captured"
    record = CaptureLoader().load_all("fail")[0]  # the newest
    exception: dict[str, Any] = record["result"]["exception"]
    exception["redactions"] = record["metadata"]["redactions"]
    return exception


@pytest.mark.parametrize("options", RESULT_MODES)
def test_the_message_of_an_exception_runs_no_code_of_the_program(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    keyed = _raised(options, KeyError(Order()))
    assert keyed["type"] == "KeyError"
    assert (
        keyed["message"]
        == "[FILTERED: unstorable: the message of KeyError would run code of Order]"
    )
    assert keyed["redactions"] == [{"path": "result.exception", "reason": "unstorable:message"}]
    own = _raised(options, QuotaError("over"))
    assert (
        own["message"] == "[FILTERED: unstorable: the message of QuotaError would run its own code]"
    )


@pytest.mark.parametrize("options", RESULT_MODES)
def test_messages_of_built_in_values_are_stored_as_str_gives_them(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    for error in (
        KeyError("sku-1"),
        ValueError("bad value", 3, None),
        FileNotFoundError(2, "No such file or directory", "/srv/data.csv"),
        UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
        LookupError(("a", 1)),
        *([GROUP("two failed", [KeyError(Order()), QuotaError()])] if GROUP else []),
    ):
        assert _raised(options, error)["message"] == str(error)


@pytest.mark.parametrize("options", RESULT_MODES)
def test_a_message_past_the_size_limit_is_neither_read_nor_stored(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    """Its cost grew with the message (a 50 MB payload echoed in a ValueError cost ~0.6 s of
    filtering in the caller's thread); past the limit it is replaced, unread."""
    payload = "password=" + "Zq8-unlikely-pw-41" * 150_000  # 2.7 MB, over the 1 MiB limit
    stored = _raised(options, ValueError(f"cannot parse {payload}"))
    assert stored["message"].startswith("[FILTERED: too large (over 1048576 bytes)")
    assert stored["redactions"] == [{"path": "result.exception", "reason": "snapshot_limit"}]
    on_disk = b"".join(p.read_bytes() for p in capture_dir.rglob("*") if p.is_file())
    assert b"Zq8-unlikely-pw-41" not in on_disk
    assert len(on_disk) < 10_000
