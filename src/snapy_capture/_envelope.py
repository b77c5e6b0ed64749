"""The capture file format: a one-line JSON header, then the serializer's payload.

::

    #snapy-capture {"format": 1, "serializer": "pickle", "library": "0.1.0", ...}\\n
    <payload bytes>

The header says which serializer wrote the payload (so loading never depends on the current
configuration), whether the payload is text, and, when a signing key is set, an HMAC-SHA256
over the header and the payload. A file without the header is format 0: a bare pickle of the
record, as written before the header existed; it still loads unless signatures are required.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import platform
from dataclasses import dataclass
from typing import Any, Final

from ._errors import CaptureFormatError
from ._version import __version__

FORMAT_VERSION: Final = 1
MAGIC: Final = b"#snapy-capture "
_MAX_HEADER: Final = 1 << 16  # a header is a few hundred bytes; do not scan a huge payload
_PYTHON: Final = platform.python_version()


@dataclass(frozen=True)
class Envelope:
    """A parsed capture file."""

    header: dict[str, Any]
    payload: bytes

    @property
    def serializer(self) -> str:
        return str(self.header.get("serializer", "pickle"))

    @property
    def text(self) -> bool:
        return bool(self.header.get("text", False))


def _canonical(header: dict[str, Any]) -> bytes:
    unsigned = {key: value for key, value in header.items() if key != "hmac"}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":")).encode()


def _mac(key: bytes, header: dict[str, Any], payload: bytes) -> str:
    return hmac.new(key, _canonical(header) + b"\n" + payload, hashlib.sha256).hexdigest()


def pack(payload: bytes, serializer: str, *, text: bool = False, key: bytes | None = None) -> bytes:
    """Build the bytes of a capture file."""
    if key is None:
        return _unsigned_header(serializer, text) + payload
    header = _header(serializer, text)
    header["hmac"] = _mac(key, header, payload)
    return MAGIC + json.dumps(header, sort_keys=True).encode() + b"\n" + payload


@functools.lru_cache(maxsize=64)
def _unsigned_header(serializer: str, text: bool) -> bytes:
    # The same bytes for every capture of a serializer: built once, not per capture.
    return MAGIC + json.dumps(_header(serializer, text), sort_keys=True).encode() + b"\n"


def _header(serializer: str, text: bool) -> dict[str, Any]:
    header: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "serializer": serializer,
        "library": __version__,
        "python": _PYTHON,
    }
    if text:
        header["text"] = True
    return header


def unpack(data: bytes, *, key: bytes | None = None) -> Envelope:
    """Parse and (when ``key`` is set) verify a capture file, before anything is deserialized.

    Raises:
        CaptureFormatError: empty, truncated header, newer format, unsigned or bad signature.
    """
    if not data:
        raise CaptureFormatError("empty file")
    if not data.startswith(MAGIC):
        if key is not None:
            raise CaptureFormatError(
                "unsigned capture refused: it has no header (an old format-0 file, or not a "
                "capture) and a signing key is set"
            )
        return Envelope({"format": 0, "serializer": "pickle"}, data)
    end = data.find(b"\n", 0, _MAX_HEADER)
    if end < 0:
        raise CaptureFormatError("truncated header")
    try:
        header = json.loads(data[len(MAGIC) : end])
    except ValueError:
        raise CaptureFormatError("unreadable header") from None
    if (
        not isinstance(header, dict)
        or type(header.get("format")) is not int
        or not isinstance(header.get("serializer"), str)
    ):
        raise CaptureFormatError("unreadable header")
    if header["format"] > FORMAT_VERSION:
        raise CaptureFormatError(
            f"written in format {header['format']} by snapy_capture {header.get('library')}; "
            f"this version reads up to format {FORMAT_VERSION}: upgrade snapy_capture"
        )
    payload = data[end + 1 :]
    if key is not None:
        mac = header.get("hmac")
        if not isinstance(mac, str):
            raise CaptureFormatError("unsigned capture refused (a signing key is set)")
        # Bytes, not str: compare_digest rejects non-ASCII str with a TypeError.
        if not hmac.compare_digest(mac.encode(), _mac(key, header, payload).encode()):
            raise CaptureFormatError(
                "signature mismatch: the capture was altered or signed with another key"
            )
    return Envelope(header, payload)
