"""Ints past the size of a card number are stored as they are, without being turned into digits.

Every int of 12 digits or more was converted to text for the card-number check: an int of
more than ``sys.get_int_max_str_digits()`` digits (4,300 by default) raised there and was
replaced by ``[FILTERED: error:ValueError]``; with the limit lifted (``set_int_max_str_digits(0)``),
the conversion of a 300,000-digit int cost the caller more than a second, twice with
``record_result``. A card number has at most 19 digits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from _modes import CAPTURE_MODES
from snapy_capture import CaptureLoader, capture_args, flush

BIG = 7 * 10**5000 + 12345  # past the default int -> str limit


@pytest.mark.parametrize("options", CAPTURE_MODES)
def test_ints_too_long_for_a_card_are_stored_whole(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    @capture_args(retention=None, **options)
    def modpow(base: int, exponent: int, modulus: int) -> int:
        return pow(base, exponent, modulus)

    modpow(BIG, -(10**40), 4111111111111111)
    assert flush(timeout=30)
    [record] = CaptureLoader(capture_dir).load_all("modpow")
    assert record["args"][:2] == [BIG, -(10**40)]
    assert record["args"][2] == "[FILTERED: pii]"  # a card number is still one
    assert [r["path"] for r in record["metadata"]["redactions"]] == ["modulus"]


@pytest.mark.parametrize("options", CAPTURE_MODES)
def test_a_huge_int_under_a_secret_name_is_masked_and_the_capture_kept(
    capture_dir: Path, options: dict[str, Any]
) -> None:
    """Looking for the call's secrets in its result turned every secret int into text:
    past 4,300 digits that raised, and the whole capture was dropped with a warning."""

    @capture_args(retention=None, **options)
    def sign(message: str, private_exponent: int, secret_key: int) -> str:
        return message.upper()

    sign("hello", BIG, BIG + 2)
    assert flush(timeout=30)
    [record] = CaptureLoader(capture_dir).load_all("sign")
    assert record["args"] == ["hello", BIG, "[FILTERED: name:secret_key]"]
    if "result" in record:
        assert record["result"]["value"] == "HELLO"
