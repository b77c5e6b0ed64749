"""The placeholder that takes a filtered value's place (public as ``snapy_capture.Redacted``)."""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Redacted"]


class Redacted(str):
    """Placeholder left where a value was filtered; a ``str``, so replay binds and JSON stores it.

    ``str(placeholder)`` is ``"[FILTERED: <reason>]"``; the reason never contains the value.
    It pickles as ``Redacted(reason)`` and :class:`~snapy_capture.JSONSerializer` stores it as
    ``{"__snapy__": "redacted", "reason": ...}``, so a loaded capture still says why.
    """

    reason: str

    def __new__(cls, reason: str) -> Redacted:
        obj = super().__new__(cls, f"[FILTERED: {reason}]")
        obj.reason = reason
        return obj

    def __reduce__(self) -> tuple[Any, ...]:
        return (Redacted, (self.reason,))

    def __repr__(self) -> str:
        return str.__repr__(str(self))


# Pickles refer to the public home, so captures do not depend on this private module's name.
Redacted.__module__ = "snapy_capture.filters"
