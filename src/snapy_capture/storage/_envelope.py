"""The capture file format: a one-line JSON header, then the serializer's payload.

::

    #snapy-capture {"format": 1, "serializer": "pickle", "library": "0.1.0", ...}\\n
    <payload bytes>

The header says which serializer wrote the payload (so loading never depends on the current
configuration), whether the payload is text, and, when a signing key is set, an HMAC-SHA256.

Formats:

- 0: no header, a bare pickle of the record (the first releases). Loads unless signatures
  are required.
- 1: the header; unsigned captures are still written in it. A format-1 ``hmac`` covers the
  header and the payload only: a signed capture copied to another function's directory, or
  renumbered, still verified. Refused when signatures are required.
- 2: signed captures. The ``hmac`` also covers the function's ``module:qualname`` and the
  capture's sequence number (its file name), so it verifies only where it was written. Those
  are known only once the capture is numbered, under the directory's lock: :func:`pack`
  writes a placeholder, and the writer fills it in with :func:`signature` (a SHA-256 of the
  payload is taken before the lock, so the lock is held for a short HMAC only).

The header may carry the call's circumstances under ``"call"`` (``timestamp``, and the
metadata ``call_depth``, ``thread_id``, ``pid``, ``python_version``): they are moved out of
the payload so that two captures of the same call content have the same payload bytes (whose
hash deduplication compares, see :mod:`._dedupe`), and put back into the record on reading.
A signature covers them (they are part of the canonical header). Older readers ignore the
field: they load the record without those keys.

An empty signing key (``b""``: a variable set to nothing or to blanks) is neither "no key"
nor a key: :func:`pack` and :func:`unpack` refuse it (:func:`check_key`).
"""

from __future__ import annotations

import functools

# json stays imported with the capture layer, not where first used: a fork while another
# thread imports it would leave the child a half-imported module, and the child's first
# capture waiting for ever (tests/reliability/test_reentrancy.py). hmac (and hashlib, which
# loads OpenSSL: ~2 ms of start-up) only where a key is set: see load_signing.
import json
import os

from snapy_capture._version import __version__, python_version
from snapy_capture.errors import CaptureFormatError, ConfigError
from snapy_capture.storage._files import _O_CLOEXEC, _O_NOFOLLOW, _write_all

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from typing import Any, Final

#: The newest format this version reads (and writes, for signed captures).
FORMAT_VERSION: Final = 2
#: Unsigned captures stay in format 1: nothing in them changed, and older versions read them.
UNSIGNED_FORMAT: Final = 1
KEY_VARIABLE: Final = "SNAP_CAPTURE_SIGNING_KEY"
#: The ``hmac`` value of a packed, not yet numbered capture; filled in by :func:`signature`.
PLACEHOLDER: Final = "0" * 64
_PLACEHOLDER_FIELD: Final = b'"hmac": "' + PLACEHOLDER.encode() + b'"'
MAGIC: Final = b"#snapy-capture "
_MAX_HEADER: Final = 1 << 16  # a header is a few hundred bytes; do not scan a huge payload
_PYTHON: Final = python_version()


def load_signing() -> None:
    """Import what signing and verifying need: :mod:`hmac`, and with it :mod:`hashlib`.

    Imported where a key can come from, never by a capture: as this module loads when
    ``SNAP_CAPTURE_SIGNING_KEY`` is set, and wherever a key is parsed (the global
    configuration, a storage, a target file's options: ``config._parsers.signing_key``).
    The functions below import them again (a dictionary lookup, then): a key that reaches a
    capture by another way (the variable set by the program after the capture layer loaded)
    still signs, importing them at that capture.
    """
    import hmac  # noqa: F401, PLC0415


if os.environ.get(KEY_VARIABLE) is not None:
    load_signing()


# Envelope and SigningSlot: plain classes, not dataclasses, which cost ~0.5 ms each to create
# at start-up (their methods are compiled from source then); nothing compares or prints them.
class Envelope:
    """A parsed capture file."""

    __slots__ = ("header", "payload")

    def __init__(self, header: dict[str, Any], payload: bytes) -> None:
        self.header = header
        self.payload = payload

    @property
    def serializer(self) -> str:
        return str(self.header.get("serializer", "pickle"))

    @property
    def text(self) -> bool:
        return bool(self.header.get("text", False))


def check_key(key: bytes | None) -> None:
    """Refuse an empty key: set but blank means a mistake (a CI secret missing), never "off".

    Raises:
        ConfigError: one line naming where the empty key came from.
    """
    if key is not None and not key:
        raise ConfigError(empty_key_message())


def empty_key_message() -> str:
    raw = os.environ.get(KEY_VARIABLE)
    if raw is not None and not raw.strip():
        where = f"{KEY_VARIABLE} is set but empty"
    else:
        where = "the signing key (signing_key) is empty"
    return (
        f"{where}: no capture is read or written with it; set a key, or unset it to work "
        f"without signatures"
    )


def _canonical(header: dict[str, Any]) -> bytes:
    unsigned = {key: value for key, value in header.items() if key != "hmac"}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":")).encode()


def _mac_v1(key: bytes, header: dict[str, Any], payload: bytes) -> str:
    import hmac  # noqa: PLC0415 - see load_signing

    return hmac.new(key, _canonical(header) + b"\n" + payload, "sha256").hexdigest()


def signature(key: bytes, canonical: bytes, function: str, seq: int | str, digest: bytes) -> bytes:
    """The format-2 ``hmac`` (64 ASCII hex digits) of a capture.

    Args:
        canonical: the header without its ``hmac``, as :func:`_canonical` writes it.
        function: ``module:qualname`` of the directory the capture is written to.
        seq: the capture's sequence number (its file name); in an object store, the id in
            its key (a string: no number can pass for it, nor it for a number).
        digest: SHA-256 of the payload.
    """
    import hmac  # noqa: PLC0415 - see load_signing

    bound = json.dumps([function, seq], ensure_ascii=True).encode()
    mac = hmac.new(key, canonical + b"\n" + bound + b"\n" + digest, "sha256")
    return mac.hexdigest().encode()


def pack(
    payload: bytes,
    serializer: str,
    *,
    text: bool = False,
    key: bytes | None = None,
    call: dict[str, Any] | None = None,
) -> bytes:
    """Build the bytes of a capture file.

    With a key the ``hmac`` is a placeholder: the storage signs the capture once it knows the
    capture's number (:func:`signing_slot`, :func:`signature`). ``call``: the record's
    fields that are not its content (see the module), put in the header.
    """
    if key is None:
        header = _unsigned_header(serializer, text)
    else:
        check_key(key)
        header = _signed_header(serializer, text)
    if call:
        # After the fixed fields (the placeholder keeps its offset); one line, ASCII.
        return b"".join((header[:-2], b', "call": ', _dumps(call).encode(), b"}\n", payload))
    return header + payload


_dumps = json.JSONEncoder(ensure_ascii=True).encode


def call_fields(header: dict[str, Any]) -> dict[str, Any] | None:
    """The ``call`` fields of a parsed header (see the module), if any."""
    call = header.get("call")
    return call if isinstance(call, dict) else None


@functools.lru_cache(maxsize=64)
def _unsigned_header(serializer: str, text: bool) -> bytes:
    # The same bytes for every capture of a serializer: built once, not per capture.
    return MAGIC + json.dumps(_header(serializer, text), sort_keys=True).encode() + b"\n"


@functools.lru_cache(maxsize=64)
def _signed_header(serializer: str, text: bool) -> bytes:
    header = _header(serializer, text)
    header["format"] = FORMAT_VERSION
    header["hmac"] = PLACEHOLDER
    return MAGIC + json.dumps(header, sort_keys=True).encode() + b"\n"


def _header(serializer: str, text: bool) -> dict[str, Any]:
    header: dict[str, Any] = {
        "format": UNSIGNED_FORMAT,
        "serializer": serializer,
        "library": __version__,
        "python": _PYTHON,
    }
    if text:
        header["text"] = True
    return header


class SigningSlot:
    """Where and over what a packed capture's signature goes (see :func:`signing_slot`)."""

    __slots__ = ("canonical", "digest", "offset")

    def __init__(self, offset: int, canonical: bytes, digest: bytes) -> None:
        self.offset = offset  # of the placeholder's first hex digit in the file
        self.canonical = canonical
        self.digest = digest  # SHA-256 of the payload


@functools.lru_cache(maxsize=64)
def _slot_of_header(line: bytes) -> tuple[int, bytes] | None:
    field = line.find(_PLACEHOLDER_FIELD)
    if field < 0:
        return None
    try:
        header = json.loads(line[len(MAGIC) :])
    except ValueError:
        return None
    if not isinstance(header, dict) or header.get("format") != FORMAT_VERSION:
        return None
    return field + len(b'"hmac": "'), _canonical(header)


def signing_slot(data: bytes) -> SigningSlot | None:
    """The placeholder of a capture packed with a key, or ``None`` (unsigned, already signed,
    or not made by :func:`pack`: such bytes are written as they are)."""
    if not data.startswith(MAGIC):
        return None
    end = data.find(b"\n", 0, _MAX_HEADER)
    if end < 0:
        return None
    line = data[:end]
    # Cached: the same header line for every capture, but for one with a "call" field.
    found = _slot_of_header.__wrapped__(line) if line.endswith(b"}}") else _slot_of_header(line)
    if found is None:
        return None
    import hashlib  # noqa: PLC0415 - OpenSSL's (see load_signing): payloads can be large

    digest = hashlib.sha256(memoryview(data)[end + 1 :]).digest()
    return SigningSlot(found[0], found[1], digest)


def unpack(
    data: bytes,
    *,
    key: bytes | None = None,
    function: str | None = None,
    seq: int | str | None = None,
) -> Envelope:
    """Parse and (when ``key`` is set) verify a capture file, before anything is deserialized.

    Args:
        function, seq: where the file was found (``module:qualname`` of its directory, the
            number in its name); a format-2 signature verifies only for the pair it was
            written with.

    Raises:
        CaptureFormatError: empty, truncated header, newer format, unsigned or bad signature.
        ConfigError: ``key`` is empty (see :func:`check_key`).
    """
    check_key(key)
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
        _verify(key, header, payload, function, seq)
    return Envelope(header, payload)


def _verify(
    key: bytes,
    header: dict[str, Any],
    payload: bytes,
    function: str | None,
    seq: int | str | None,
) -> None:
    import hashlib  # noqa: PLC0415 - see load_signing
    import hmac  # noqa: PLC0415

    mac = header.get("hmac")
    if not isinstance(mac, str):
        raise CaptureFormatError("unsigned capture refused (a signing key is set)")
    if header["format"] < FORMAT_VERSION:
        # Its signature does not say which function and number it belongs to: accepting it
        # would let a signed capture of one function pass for another's.
        ok = hmac.compare_digest(mac.encode(), _mac_v1(key, header, payload).encode())
        library = header.get("library")
        raise CaptureFormatError(
            f"signed in format {header['format']}"
            + (f" by snapy_capture {library}" if isinstance(library, str) else "")
            + ", whose signature does not bind the capture to its function and number"
            + ("" if ok else " (and does not match)")
            + ": capture it again, or load it without a signing key if you trust the file"
        )
    if function is None or seq is None:
        raise CaptureFormatError(
            "cannot verify the signature: the file is not in a capture directory of a known "
            "function under its own number"
        )
    expected = signature(key, _canonical(header), function, seq, hashlib.sha256(payload).digest())
    # Bytes, not str: compare_digest rejects non-ASCII str with a TypeError.
    if not hmac.compare_digest(mac.encode(), expected):
        raise CaptureFormatError(
            f"signature mismatch: the capture was altered, signed with another key, or is "
            f"not capture {seq} of {function} (copied or renumbered)"
        )


class Signer:
    """Signs one written capture for the number it gets, under the directory's lock
    (format 2): fills in the placeholder :func:`pack` left, in the file itself."""

    __slots__ = ("function", "key", "slot")

    def __init__(self, key: bytes, slot: SigningSlot, function: str) -> None:
        self.key = key
        self.slot = slot
        self.function = function

    def sign(self, fd: int, temp: str | None, seq: int) -> None:
        slot = self.slot
        mac = signature(self.key, slot.canonical, self.function, seq, slot.digest)
        if temp is None:
            os.pwrite(fd, mac, slot.offset)  # unnamed: still open
            return
        # Named: closed before the lock (see ``_write``); opened again, never through a link.
        named = os.open(temp, os.O_WRONLY | _O_CLOEXEC | _O_NOFOLLOW)
        try:
            os.lseek(named, slot.offset, os.SEEK_SET)
            _write_all(named, mac)
        finally:
            os.close(named)

    def signed(self, data: bytes, place: str) -> bytes:
        """``data`` signed for ``place`` (an object store's key id): a copy, written whole."""
        slot = self.slot
        mac = signature(self.key, slot.canonical, self.function, place, slot.digest)
        return b"".join((data[: slot.offset], mac, data[slot.offset + len(mac) :]))


def unsigned(data: bytes) -> bytes:
    """A signed (format-2) capture with its ``hmac`` back to the placeholder :func:`pack`
    leaves, so that a storage signs it for the place it is copied to (``pull``/``push``,
    after verifying it where it was). Other bytes are returned as they are."""
    if not data.startswith(MAGIC):
        return data
    end = data.find(b"\n", 0, _MAX_HEADER)
    if end < 0:
        return data
    try:
        header = json.loads(data[len(MAGIC) : end])
    except ValueError:
        return data
    mac = header.get("hmac") if isinstance(header, dict) else None
    if header.get("format") != FORMAT_VERSION or not isinstance(mac, str) or len(mac) != 64:
        return data
    field = b'"hmac": "' + mac.encode() + b'"'
    at = data.find(field, 0, end)
    if at < 0:
        return data
    return data[:at] + _PLACEHOLDER_FIELD + data[at + len(field) :]


def signer_for(key: bytes, data: bytes, function: str) -> Signer | None:
    """The :class:`Signer` of packed capture ``data`` of ``function`` (``None``: a format
    without a placeholder to fill in).

    Raises:
        ConfigError: the key is empty (never write unsigned where signing is asked for).
    """
    check_key(key)
    slot = signing_slot(data)
    return None if slot is None else Signer(key, slot, function)
