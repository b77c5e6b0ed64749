"""The classes a pickle refers to, read opcode by opcode (nothing is unpickled), and the error
for a pickled capture whose class cannot be found any more.

Apart from :mod:`._migrate`, which renames those references: reading a capture needs the
error and its description (a serializer makes it when unpickling fails), and loads
:mod:`pickletools` only then.
"""

from __future__ import annotations

import sys

from snapy_capture.errors import CaptureFormatError

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from typing import Final

__all__ = [
    "MissingClassError",
    "Ref",
    "class_references",
    "describe_missing",
    "missing_class",
    "walk_pickle",
]


class MissingClassError(CaptureFormatError):
    """A pickled capture refers to a class (or function) that cannot be found any more."""

    def __init__(self, message: str, ref: tuple[str, str]) -> None:
        super().__init__(message)
        self.ref = ref


Ref = tuple[str, str]  # (module, qualname) of a class or function a pickle refers to

# Opcodes that only record or frame what is already on the stack: between two string pushes
# and the STACK_GLOBAL that consumes them.
_TRANSPARENT: Final = frozenset({"MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT", "FRAME"})
_STRINGS: Final = frozenset(
    {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING", "BINSTRING"}
)
_GETS: Final = frozenset({"GET", "BINGET", "LONG_BINGET"})
_PUTS: Final = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})


def walk_pickle(data: bytes) -> list[tuple[str, Ref | None, int, int]]:
    """``(opcode name, reference or None, start, end)`` of every opcode of a pickle; the
    reference is set on the opcodes that look a global up (GLOBAL, INST, STACK_GLOBAL)."""
    import pickletools  # noqa: PLC0415 - only once a pickle is looked into (start-up)

    ops = list(pickletools.genops(data))
    memo: dict[int, str] = {}
    recent: list[str | None] = []  # the values last pushed, when strings
    found: list[tuple[str, Ref | None, int, int]] = []
    for index, (op, arg, pos) in enumerate(ops):
        start = pos if pos is not None else 0
        end = ops[index + 1][2] if index + 1 < len(ops) else len(data)
        end = end if end is not None else len(data)
        name = op.name
        ref: Ref | None = None
        if name in ("GLOBAL", "INST") and isinstance(arg, str):
            module, _, qualname = arg.partition(" ")
            ref = (module, qualname)
        elif name == "STACK_GLOBAL" and len(recent) >= 2 and None not in recent[-2:]:
            ref = (str(recent[-2]), str(recent[-1]))
        found.append((name, ref, start, end))
        if name in _STRINGS:
            recent.append(arg if isinstance(arg, str) else None)
        elif name == "MEMOIZE":
            if recent:
                memo[len(memo)] = recent[-1] or ""
        elif name in _PUTS:
            if recent and isinstance(arg, int):
                memo[arg] = recent[-1] or ""
        elif name in _GETS and isinstance(arg, int):
            recent.append(memo.get(arg) or None)
        elif name not in _TRANSPARENT:
            recent.append(None)
        del recent[:-2]
    return found


def class_references(data: bytes) -> list[Ref]:
    """The classes and functions a pickle refers to, in the order unpickling looks them up."""
    return [ref for _, ref, _, _ in walk_pickle(data) if ref is not None]


def missing_class(data: bytes) -> tuple[Ref, str] | None:
    """The first reference of a pickle that cannot be resolved, and why; ``None`` when all
    resolve. Called after unpickling failed: the modules it imported are in ``sys.modules``;
    nothing is imported here (the first module not loaded is the one that was not found)."""
    try:
        refs = class_references(data)
    except Exception:  # noqa: BLE001 - a corrupt pickle names no class
        return None
    for module, qualname in refs:
        loaded = sys.modules.get(module)
        if loaded is None:
            return (module, qualname), f"ModuleNotFoundError: No module named {module!r}"
        target: object = loaded
        for part in qualname.split("."):
            if not hasattr(target, part):
                return (module, qualname), (
                    f"AttributeError: module {module!r} has no attribute {qualname!r}"
                )
            target = getattr(target, part)
    return None


def describe_missing(data: bytes, exc: BaseException) -> MissingClassError | None:
    """The error for a pickle that failed with ``exc`` because a class is gone, or ``None``."""
    found = missing_class(data)
    if found is None:
        return None
    (module, qualname), why = found
    since = "it was renamed or moved since the capture"
    if why.startswith("ModuleNotFoundError"):
        # Also what a project missing from sys.path looks like: say both.
        since = "its module was renamed or moved since the capture, or is not importable here"
    return MissingClassError(
        f"class {module}.{qualname} not found ({why}) — {since}", (module, qualname)
    )
