"""The placeholder that takes a filtered value's place (public as ``snapy_capture.Redacted``)."""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any, Final

__all__ = ["UNSTORED_REASONS", "Redacted"]

#: Reasons of parts that could not be stored (as opposed to secrets, and to values cut by a
#: size, depth or cycle limit, which would replay as misleading text).
UNSTORED_REASONS: Final = ("unstorable", "unpicklable", "unserializable")


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

    def __iter__(self) -> Iterator[str]:
        # A part that could not be stored (a generator, a file, a lock) replays as this
        # placeholder: iterated as text, it would hand a replayed ``ilen(gen)`` or
        # ``chunked(gen, 3)`` the placeholder's characters, a plausible but wrong outcome.
        # Raising instead makes the case skip, naming the part (replay's check_unstored).
        if self.reason.startswith(UNSTORED_REASONS):
            raise TypeError(
                f"{str.__str__(self)} stands for a value that could not be stored at capture "
                "time: it cannot be iterated"
            )
        return str.__iter__(self)


# Pickles refer to the public home, so captures do not depend on this private module's name.
Redacted.__module__ = "snapy_capture.filters"
