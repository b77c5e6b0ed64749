"""A capture record as the bytes of a capture file, and back: the envelope around the
serializer's payload, and the serializer a file names when it is read."""

from __future__ import annotations

import json

from snapy_capture.config import SERIALIZER_NAMES
from snapy_capture.errors import CaptureFormatError
from snapy_capture.storage._envelope import Envelope, call_fields, pack, unpack
from snapy_capture.storage.serializers import get_serializer, serializer_name

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from typing import Any

    from snapy_capture.storage.serializers import Serializer
else:  # for typing.get_type_hints of the public names (see there)
    from snapy_capture._stdtypes import for_readers

    for_readers(
        globals(), {"Any": "typing:Any", "Serializer": "snapy_capture.config._protocols:Serializer"}
    )

__all__ = ["RecordCodec", "content_of"]

#: Metadata that says when, where and how deep a call was made, not what it was given: kept
#: out of the payload (in the header's ``call`` field), so that equal calls have equal
#: payloads (deduplication compares them).
_CALL_METADATA = ("call_depth", "thread_id", "python_version", "pid")
_PLAIN = (str, int, float, bool, type(None))


def content_of(record: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """``record`` split into its content (what the payload stores) and its call's
    circumstances (the header's ``call`` field: the timestamp and :data:`_CALL_METADATA`).

    Only plain values move (a record saved by hand may hold anything there).
    """
    call: dict[str, Any] = {}
    content = record
    stamp = record.get("timestamp")
    if stamp is not None and type(stamp) in _PLAIN:
        content = dict(record)
        call["timestamp"] = content.pop("timestamp")
    metadata = record.get("metadata")
    if type(metadata) is dict:
        moved = {
            key: metadata[key]
            for key in _CALL_METADATA
            if key in metadata and type(metadata[key]) in _PLAIN
        }
        if moved:
            if content is record:
                content = dict(record)
            content["metadata"] = {k: v for k, v in metadata.items() if k not in moved}
            call["metadata"] = moved
    return content, call or None


def _with_call(record: dict[str, Any], call: dict[str, Any]) -> dict[str, Any]:
    """:func:`content_of` undone: the record as it was captured (keys in their order)."""
    stamp = call.get("timestamp")
    moved = call.get("metadata")
    if isinstance(moved, dict) and isinstance(record.get("metadata"), dict):
        record["metadata"] = {**moved, **record["metadata"]}
    if stamp is None or "timestamp" in record:
        return record
    merged: dict[str, Any] = {}
    for key, value in record.items():
        merged[key] = value
        if key == "qualname":
            merged["timestamp"] = stamp
    merged.setdefault("timestamp", stamp)
    return merged


def _record_owner(record: dict[str, Any]) -> str:
    """``module:qualname`` a record was stored under (as :meth:`CaptureStorage.save` names it)."""
    module = record.get("module", "__unknown__")
    qualname = record.get("qualname", record.get("function_name", "__unknown__"))
    return f"{module}:{qualname}"


class RecordCodec:
    """What :class:`~snapy_capture.storage.CaptureStorage` does between a record and its
    bytes; a subclass may override :meth:`serialize_data` and :meth:`deserialize_data`."""

    serializer: Serializer
    signing_key: bytes | None
    _own_name: tuple[object, str]

    def serialize_data(self, data: dict[str, Any]) -> bytes | str:
        """Turn a capture record into bytes (or text)."""
        return self.serializer.dumps(data)

    def deserialize_data(self, data: bytes | str) -> dict[str, Any]:
        """Turn what :meth:`serialize_data` returned back into a record."""
        raw = data.encode("utf-8") if isinstance(data, str) else data
        record: dict[str, Any] = self.serializer.loads(raw)
        return record

    def encode(self, record: dict[str, Any], serializer: Serializer | None = None) -> bytes:
        """The bytes of a capture file for ``record`` (header, payload, signature).

        The payload holds the record's content; its call's circumstances (timestamp, thread,
        pid, depth) go in the header (see :func:`content_of`), so equal calls have equal
        payloads.
        """
        content, call = content_of(record)
        if serializer is not None and serializer is not self.serializer:
            payload: bytes | str = serializer.dumps(content)
            name = serializer_name(serializer)
        else:
            payload = self.serialize_data(content)
            name = self._own_serializer_name()
        if type(payload) is bytes:
            return pack(payload, name, key=self.signing_key, call=call)
        text = isinstance(payload, str)
        raw = payload.encode("utf-8") if isinstance(payload, str) else payload
        return pack(raw, name, text=text, key=self.signing_key, call=call)

    def decode(
        self, data: bytes, *, function: str | None = None, seq: int | str | None = None
    ) -> dict[str, Any]:
        """Verify and deserialize the bytes of a capture file.

        Args:
            function, seq: the ``module:qualname`` and number the file was found under; a
                signed capture verifies only with those it was written with, and a record
                of another function is refused.

        Raises:
            CaptureFormatError: the file is corrupt, foreign, too new, fails its signature,
                or holds another function's capture.
            ConfigError: the signing key is set but empty.
        """
        # unpack verifies the signature: nothing below runs on a file that fails it.
        envelope = unpack(data, key=self.signing_key, function=function, seq=seq)
        record = self._deserialize(envelope)
        call = call_fields(envelope.header)
        if call is not None:
            record = _with_call(record, call)
        if function is not None and _record_owner(record) != function:
            raise CaptureFormatError(
                f"holds a capture of {_record_owner(record)}, not of {function} (copied or "
                f"written by hand into this directory)"
            )
        return record

    def _deserialize(self, envelope: Envelope) -> dict[str, Any]:
        name = envelope.serializer
        try:
            payload: bytes | str = envelope.payload
            if envelope.text:
                payload = envelope.payload.decode("utf-8")
            if name == self._own_serializer_name() or (
                name.startswith("custom:") and self._overrides("deserialize_data")
            ):
                record = self.deserialize_data(payload)
            elif name.startswith("custom:"):
                if not envelope.text:
                    raise CaptureFormatError(
                        f"written by {name[7:]}; load it with storage={name[7:]}(...)"
                    )
                record = json.loads(payload)
            elif name in SERIALIZER_NAMES:
                record = get_serializer(name).loads(envelope.payload)
            else:
                raise CaptureFormatError(
                    f"written with serializer {name!r}, which this storage does not know; load "
                    f"it with CaptureStorage(path, serializer=<that serializer>)"
                )
        except CaptureFormatError:
            raise
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - any failure: an unreadable file
            # SystemExit too: unpickling imports the classes' modules, and one that calls
            # sys.exit() at import must not end the reader (the CLI, a test session).
            raise CaptureFormatError(f"cannot deserialize ({type(exc).__name__}: {exc})") from None
        if (
            not isinstance(record, dict)
            or not isinstance(record.get("kwargs"), dict)
            or not (isinstance(record.get("args"), (list, tuple)))
        ):
            raise CaptureFormatError("not a capture record")
        return record

    def _overrides(self, method: str) -> bool:
        return getattr(type(self), method) is not getattr(RecordCodec, method)

    def _own_serializer_name(self) -> str:
        # Read on every capture: kept with the serializer object it was worked out for.
        serializer = self.serializer
        known, name = self._own_name
        if known is serializer:
            return name
        if self._overrides("serialize_data"):
            name = f"custom:{type(self).__qualname__}"
        else:
            name = serializer_name(serializer)
        self._own_name = (serializer, name)
        return name
