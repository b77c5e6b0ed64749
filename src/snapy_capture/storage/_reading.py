"""Finding and reading the captures under one storage root."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from snapy_capture.errors import CaptureFormatError
from snapy_capture.storage._codec import RecordCodec
from snapy_capture.storage._envelope import Envelope, check_key, unpack
from snapy_capture.storage._files import _read_file
from snapy_capture.storage._layout import (
    CaptureRef,
    FunctionInfo,
    _capture_files,
    _capture_refs,
    _read_meta,
    _seq_of,
    _stored_files,
    function_dirname,
)
from snapy_capture.storage._order import StoredCapture

__all__ = ["CaptureReader"]


class CaptureReader(RecordCodec):
    """The reading side of :class:`~snapy_capture.storage.CaptureStorage`."""

    path: Path

    def functions(self) -> list[FunctionInfo]:
        """Every function with a capture directory under this root."""
        found = []
        try:
            entries = sorted(os.scandir(self.path), key=lambda entry: entry.name)
        except (FileNotFoundError, NotADirectoryError):
            return []
        for entry in entries:
            if not entry.is_dir(follow_symlinks=False) or entry.name.startswith("."):
                continue
            info = _read_meta(Path(entry.path))
            if info is not None:
                found.append(info)
        return found

    def captures(self, function: FunctionInfo | str) -> Iterator[CaptureRef]:
        """The captures of one function, newest first, found lazily.

        Args:
            function: a :class:`FunctionInfo` from :meth:`functions` (its directory may have
                been named by an older version), or ``"module:qualname"``.
        """
        if isinstance(function, str):
            module, _, qualname = function.partition(":")
            function = FunctionInfo(module, qualname, self._directory(module, qualname))
        return _capture_refs(self.path, function)

    def read_captures(self, function: FunctionInfo | str) -> Iterator[StoredCapture]:
        """:meth:`captures`, each read (lazily): its record, or why it cannot be read."""
        for ref in self.captures(function):
            try:
                record = self.read(ref.path, function=ref.function)
            except CaptureFormatError as exc:
                yield StoredCapture(ref, None, exc)
            else:
                yield StoredCapture(ref, record)

    def capture_files(self, module: str, qualname: str) -> list[Path]:
        """The capture files of one function, newest first."""
        return _capture_files(self._directory(module, qualname))

    def stored_files(self, function: FunctionInfo) -> list[Path]:
        """The capture files of one function and its temporary files, in no order
        (:func:`~snapy_capture.storage.is_temporary` tells them apart)."""
        return _stored_files(function.directory)

    def _directory(self, module: str, qualname: str) -> Path:
        return self.path / function_dirname(module, qualname)

    def read(self, path: str | os.PathLike[str], *, function: str | None = None) -> dict[str, Any]:
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
        return self.decode(data, function=function, seq=seq)

    def unpack_file(self, path: str | os.PathLike[str], *, function: str | None = None) -> Envelope:
        """The verified envelope of one capture file, without deserializing its payload.

        Raises:
            CaptureFormatError, ConfigError: as :meth:`read`.
        """
        data, function, seq = self._read_bytes(path, function)
        return unpack(data, key=self.signing_key, function=function, seq=seq)

    def _read_bytes(
        self, path: str | os.PathLike[str], function: str | None
    ) -> tuple[bytes, str | None, int | None]:
        check_key(self.signing_key)  # before reading anything
        path = Path(path)
        try:
            data = _read_file(path)
        except OSError as exc:
            reason = exc.strerror
            if exc.errno == errno.ELOOP:
                reason = "it is a symbolic link (refused)"
            raise CaptureFormatError(f"cannot read {path}: {reason}") from None
        if function is None:
            info = _read_meta(path.parent)
            function = None if info is None else info.name
        return data, function, _seq_of(path)
