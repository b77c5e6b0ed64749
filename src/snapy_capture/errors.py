"""Exceptions and warnings raised by snapy_capture.

Every exception derives from :class:`SnapyCaptureError` and, where one fits, from a builtin
as well, so ``except LookupError`` keeps working for code that does not know this library.
All of them pickle (they keep their constructor arguments in ``args``).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence


class SnapyCaptureError(Exception):
    """Base class of every error raised by snapy_capture."""

    __module__ = "snapy_capture"


class SnapyCaptureWarning(UserWarning):
    """Warning issued when capturing degrades instead of failing (bad env value, bad file...)."""

    __module__ = "snapy_capture"


class ConfigError(SnapyCaptureError, ValueError):
    """A configuration value passed in code, or a target file, is invalid."""

    __module__ = "snapy_capture"


class UnsafeStorageError(SnapyCaptureError, PermissionError):
    """A storage directory others could redirect or fill (a symlink, world-writable...)."""

    __module__ = "snapy_capture"

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class CaptureNotFoundError(SnapyCaptureError, LookupError):
    """No capture exists for a function in any of the paths searched."""

    __module__ = "snapy_capture"

    def __init__(self, name: str, paths: Sequence[str] = (), detail: str = "") -> None:
        super().__init__(name, tuple(paths), detail)
        self.name = name
        self.paths = tuple(paths)
        self.detail = detail

    def __str__(self) -> str:
        where = ", ".join(self.paths) if self.paths else "(no capture path configured)"
        extra = f" {self.detail}" if self.detail else ""
        return f"no capture found for {self.name!r}; searched: {where}.{extra}"


class CaptureIndexError(CaptureNotFoundError, IndexError):
    """A function has captures, but fewer than the index asked for."""

    __module__ = "snapy_capture"


class AmbiguousCaptureError(SnapyCaptureError, LookupError):
    """A short function name matches captures of more than one function."""

    __module__ = "snapy_capture"

    def __init__(self, name: str, candidates: Sequence[str]) -> None:
        super().__init__(name, tuple(candidates))
        self.name = name
        self.candidates = tuple(candidates)

    def __str__(self) -> str:
        listed = ", ".join(self.candidates)
        return f"{self.name!r} matches several captured functions: {listed}; use 'module:qualname'"


class CaptureFormatError(SnapyCaptureError, ValueError):
    """A capture file is corrupt, truncated, foreign, too new, or fails its signature check."""

    __module__ = "snapy_capture"


class NoRecordedResultError(SnapyCaptureError, LookupError):
    """A capture was asked for its result, but was recorded without ``record_result=True``."""

    __module__ = "snapy_capture"


class GenerateError(SnapyCaptureError, ValueError):
    """The test module cannot be generated (unknown target, unimportable name, file exists)."""

    __module__ = "snapy_capture"
