"""Text of objects whose ``__str__`` or ``__repr__`` may raise (users' objects): never fails."""

from __future__ import annotations

__all__ = ["printable", "qualified_name", "safe_repr", "safe_str"]


def safe_str(value: object) -> str:
    """``str(value)``, or a placeholder when the object's ``__str__`` raises."""
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - a user's __str__ may raise anything
        return f"<unprintable {type(value).__name__}>"


def safe_repr(value: object, limit: int | None = None) -> str:
    """``repr(value)``, or a placeholder when ``__repr__`` raises; cut past ``limit`` characters."""
    try:
        text = repr(value)
    except Exception as exc:  # noqa: BLE001 - a user's __repr__ may raise anything
        text = f"<{type(value).__qualname__} object (repr failed: {type(exc).__name__})>"
    if limit is not None and len(text) > limit:
        text = f"{text[:limit]}... ({len(text) - limit} more characters)"
    return text


def qualified_name(kind: type) -> str:
    """``module.Qualname`` (just ``Qualname`` for builtins)."""
    module = getattr(kind, "__module__", None)
    name = getattr(kind, "__qualname__", kind.__name__)
    return name if module in (None, "builtins") else f"{module}.{name}"


def printable(value: object, limit: int = 2000) -> str:
    """``value`` as text a terminal shows as it is: control characters (an escape sequence
    in an exception's message or a dict key, captured from what a program was sent: a
    screen clear, a clipboard write, a forged line) written as their escapes, as a repr
    writes them; not text: its repr (cut past ``limit`` characters)."""
    text = value if type(value) is str else safe_repr(value, limit)
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)
