"""Finding and reading the captures under one storage root (through its backend)."""

from __future__ import annotations

import os
from collections.abc import Iterator

from snapy_capture._stdtypes import datetime as dt
from snapy_capture.errors import CaptureFormatError
from snapy_capture.storage._backend import Backend
from snapy_capture.storage._codec import RecordCodec
from snapy_capture.storage._envelope import Envelope, check_key, unpack
from snapy_capture.storage._layout import CaptureRef, FunctionInfo
from snapy_capture.storage._missing import MissingClassError

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from typing import Any

    from snapy_capture.storage._objpath import StoredPath

    # Imported by the readers of captures (a capturing process need not).
    from snapy_capture.storage._order import StoredCapture
else:  # for typing.get_type_hints of the public names (see there)
    from snapy_capture._stdtypes import for_readers

    for_readers(
        globals(), {"Any": "typing:Any", "StoredPath": "snapy_capture.storage._objpath:StoredPath"}
    )

__all__ = ["CaptureReader", "MissingClassError"]


def _iso(moment: float) -> str:
    """``moment`` as the record's ``timestamp`` is written (UTC, microseconds)."""
    when = dt.datetime.fromtimestamp(moment, dt.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class CaptureReader(RecordCodec):
    """The reading side of :class:`~snapy_capture.storage.CaptureStorage`."""

    _backend: Backend
    _path: StoredPath | None = None  # assigned to ``path``; None: the backend's root

    @property
    def path(self) -> StoredPath:
        """The storage root: a ``Path``, or an :class:`ObjectPath` for an object store.

        (A local root's ``Path`` is made where first asked for: a capturing process works
        on strings and does not import pathlib, issue 21.)
        """
        return self._backend.root if self._path is None else self._path

    @path.setter
    def path(self, value: StoredPath) -> None:
        # Assignable, as the attribute it was (a subclass may set it): what it reads, never
        # where captures go.
        self._path = value

    def functions(self) -> list[FunctionInfo]:
        """Every function with a capture directory under this root."""
        return self._backend.functions()

    def captures(self, function: FunctionInfo | str) -> Iterator[CaptureRef]:
        """The captures of one function, newest first, found lazily.

        Args:
            function: a :class:`FunctionInfo` from :meth:`functions` (its directory may have
                been named by an older version), or ``"module:qualname"``.
        """
        if isinstance(function, str):
            module, _, qualname = function.partition(":")
            function = self._backend.function(module, qualname)
        return self._backend.captures(function)

    def read_captures(self, function: FunctionInfo | str) -> Iterator[StoredCapture]:
        """:meth:`captures`, each read (lazily): its record, or why it cannot be read."""
        from snapy_capture.storage._order import StoredCapture  # noqa: PLC0415

        for ref in self.captures(function):
            try:
                record = self.read(ref.path, function=ref.function)
            except CaptureFormatError as exc:
                yield StoredCapture(ref, None, exc)
            else:
                yield StoredCapture(ref, record)

    def capture_files(self, module: str, qualname: str) -> list[StoredPath]:
        """The capture files of one function, newest first."""
        return [ref.path for ref in self.captures(self._backend.function(module, qualname))]

    def stored_files(self, function: FunctionInfo) -> list[StoredPath]:
        """The capture files of one function and its temporary files, in no order
        (:func:`~snapy_capture.storage.is_temporary` tells them apart)."""
        return self._backend.stored_files(function)

    def read(
        self, path: str | os.PathLike[str] | StoredPath, *, function: str | None = None
    ) -> dict[str, Any]:
        """Read one capture file.

        Args:
            function: ``module:qualname`` the file belongs to; by default its directory's
                (``.function.json``). A capture of another function, or one whose signature
                was made for another function or number, is refused.

        Raises:
            CaptureFormatError: see :meth:`decode`; also for an unreadable file or a link.
            ConfigError: the signing key is set but empty.
        """
        data, function, seq = self._read_bytes(path, function)
        try:
            record = self.decode(data, function=function, seq=seq)
        except MissingClassError as exc:
            hint = self._migrate_hint(exc, function)
            raise MissingClassError(f"{exc}; {hint}", exc.ref) from None
        seen = self._backend.calls(path, data)
        metadata = record.setdefault("metadata", {}) if seen is not None else None
        if seen is not None and isinstance(metadata, dict):
            # Deduplicated: the calls this capture stands for (kept beside it, unsigned).
            metadata["calls"], metadata["last_seen"] = seen[0], _iso(seen[1])
        return record

    def _migrate_hint(self, exc: MissingClassError, function: str | None) -> str:
        import shlex  # noqa: PLC0415 - only for this hint (start-up: see MissingClassError)

        module, qualname = exc.ref
        name = shlex.quote(function or "NAME")
        where = shlex.quote(str(self.path))
        return (
            f"if it moved, rewrite the captures: snapy-capture migrate {name} --path {where} "
            f"--rename {module}:{qualname}=NEW.MODULE:{qualname.rpartition('.')[2]}"
        )

    def calls(self, path: str | os.PathLike[str] | StoredPath) -> tuple[int, str] | None:
        """``(calls, last seen)`` of a deduplicated capture: the calls it stands for and the
        time of the last (as ``metadata["calls"]``/``["last_seen"]`` when it is read), or
        ``None`` (one call, or not deduplicated). Not covered by a signature.

        Raises:
            CaptureFormatError: the file cannot be read.
        """
        data, _, _ = self._backend.read_bytes(path, "")
        seen = self._backend.calls(path, data)
        return None if seen is None else (seen[0], _iso(seen[1]))

    def unpack_file(
        self, path: str | os.PathLike[str] | StoredPath, *, function: str | None = None
    ) -> Envelope:
        """The verified envelope of one capture file, without deserializing its payload.

        Raises:
            CaptureFormatError, ConfigError: as :meth:`read`.
        """
        data, function, seq = self._read_bytes(path, function)
        return unpack(data, key=self.signing_key, function=function, seq=seq)

    def _read_bytes(
        self, path: str | os.PathLike[str] | StoredPath, function: str | None
    ) -> tuple[bytes, str | None, int | str | None]:
        check_key(self.signing_key)  # before reading anything
        return self._backend.read_bytes(path, function)
