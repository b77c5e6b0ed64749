"""A capture record as the bytes of a capture file, and back: the envelope around the
serializer's payload, and the serializer a file names when it is read."""

from __future__ import annotations

import json
from typing import Any

from snapy_capture.config import SERIALIZER_NAMES
from snapy_capture.errors import CaptureFormatError
from snapy_capture.storage._envelope import Envelope, pack, unpack
from snapy_capture.storage.serializers import (
    Serializer,
    get_serializer,
    serializer_name,
)

__all__ = ["RecordCodec"]


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
        """The bytes of a capture file for ``record`` (header, payload, signature)."""
        if serializer is not None and serializer is not self.serializer:
            payload: bytes | str = serializer.dumps(record)
            name = serializer_name(serializer)
        else:
            payload = self.serialize_data(record)
            name = self._own_serializer_name()
        if type(payload) is bytes:
            return pack(payload, name, key=self.signing_key)
        text = isinstance(payload, str)
        raw = payload.encode("utf-8") if isinstance(payload, str) else payload
        return pack(raw, name, text=text, key=self.signing_key)

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
        except Exception as exc:  # noqa: BLE001 - any failure means an unreadable file
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
