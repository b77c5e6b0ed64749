"""Captures that outlive upgrades: naming the class a pickled capture can no longer find, and
renaming class references inside pickles (``snapy-capture migrate``).

Everything here reads and writes pickles opcode by opcode (:mod:`pickletools`): nothing is
unpickled, so no code of the captures runs.
"""

from __future__ import annotations

import hashlib
import pickletools
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from snapy_capture.errors import CaptureFormatError, ConfigError
from snapy_capture.storage._envelope import signature, signing_slot, unpack, unsigned
from snapy_capture.storage._reading import MissingClassError

if TYPE_CHECKING:
    from snapy_capture.storage import CaptureStorage
    from snapy_capture.storage._layout import FunctionInfo

__all__ = [
    "MigrateReport",
    "MissingClassError",
    "class_references",
    "migrate_captures",
    "missing_class",
    "parse_rename",
    "rename_classes",
]

Ref = tuple[str, str]  # (module, qualname) of a class or function a pickle refers to

# Opcodes that only record or frame what is already on the stack: between two string pushes
# and the STACK_GLOBAL that consumes them.
_TRANSPARENT: Final = frozenset({"MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT", "FRAME"})
_STRINGS: Final = frozenset(
    {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING", "BINSTRING"}
)
_GETS: Final = frozenset({"GET", "BINGET", "LONG_BINGET"})
_PUTS: Final = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})


def _walk(data: bytes) -> list[tuple[str, Ref | None, int, int]]:
    """``(opcode name, reference or None, start, end)`` of every opcode of a pickle; the
    reference is set on the opcodes that look a global up (GLOBAL, INST, STACK_GLOBAL)."""
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
    return [ref for _, ref, _, _ in _walk(data) if ref is not None]


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


def parse_rename(spec: str) -> tuple[Ref, Ref]:
    """``old.module:Old=new.module:New`` as ``((old module, Old), (new module, New))``.

    Raises:
        ConfigError: one line saying the expected shape.
    """
    old, sep, new = spec.partition("=")
    pairs = []
    for side in (old, new):
        module, colon, qualname = side.strip().partition(":")
        valid = all(p.isidentifier() for p in module.split(".")) and all(
            p.isidentifier() for p in qualname.split(".")
        )
        if not sep or not colon or not valid:
            raise ConfigError(
                f"--rename {spec!r}: expected old.module:OldClass=new.module:NewClass"
            )
        pairs.append((module, qualname))
    return pairs[0], pairs[1]


def _renamed(ref: Ref, renames: dict[Ref, Ref]) -> Ref | None:
    module, qualname = ref
    for (old_module, old_name), (new_module, new_name) in renames.items():
        if module != old_module:
            continue
        if qualname == old_name:
            return new_module, new_name
        if qualname.startswith(old_name + "."):  # a class nested in the renamed one
            return new_module, new_name + qualname[len(old_name) :]
    return None


def rename_classes(data: bytes, renames: dict[Ref, Ref]) -> tuple[bytes, int]:
    """``data`` with its references to the classes in ``renames`` replaced, and how many.

    A GLOBAL/INST is rewritten in place; a STACK_GLOBAL (protocol 4+) becomes ``POP POP
    GLOBAL new``: its strings may be shared (memoized) with other references, so they stay,
    and the memo keeps its numbering. Frames are dropped (they are optional, and their sizes
    would be wrong).
    """
    parts: list[bytes] = []
    count = 0
    for name, ref, start, end in _walk(data):
        new = None if ref is None else _renamed(ref, renames)
        if name == "FRAME":
            continue
        if new is None:
            parts.append(data[start:end])
            continue
        line = f"{new[0]}\n{new[1]}\n".encode()
        if name == "STACK_GLOBAL":
            parts.append(b"00c" + line)
        else:
            parts.append(data[start : start + 1] + line)
        count += 1
    if not count:
        return data, 0
    return b"".join(parts), count


@dataclass
class MigrateReport:
    """What :func:`migrate_captures` did."""

    rewritten: int = 0
    unchanged: int = 0
    #: ``(file, why)`` of captures left as they were.
    refused: list[tuple[str, str]] = field(default_factory=list)


def migrate_captures(
    storage: CaptureStorage, info: FunctionInfo, renames: dict[Ref, Ref]
) -> MigrateReport:
    """Rename class references in every pickled capture of ``info``, each file replaced
    atomically. A signed capture is verified first and signed again with the storage's key;
    without a key it is refused (its signature would no longer match)."""
    report = MigrateReport()
    changes = []
    for ref in storage.captures(info):
        where = str(ref.path)
        try:
            data, function, seq = storage._read_bytes(ref.path, info.name)
            envelope = unpack(data, key=storage.signing_key, function=function, seq=seq)
        except CaptureFormatError as exc:
            report.refused.append((where, str(exc)))
            continue
        if envelope.serializer != "pickle":
            report.unchanged += 1
            continue
        try:
            payload, count = rename_classes(envelope.payload, renames)
        except Exception as exc:  # noqa: BLE001 - a corrupt pickle is left alone
            report.refused.append((where, f"corrupt payload ({type(exc).__name__})"))
            continue
        if not count:
            report.unchanged += 1
            continue
        head = data[: len(data) - len(envelope.payload)]
        if "hmac" in envelope.header:
            if storage.signing_key is None or seq is None or function is None:
                report.refused.append(
                    (where, "signed: set the signing key (SNAP_CAPTURE_SIGNING_KEY) to migrate it")
                )
                continue
            fresh = unsigned(head) + payload
            slot = signing_slot(fresh)
            if slot is None:
                report.refused.append((where, f"signed in format {envelope.header.get('format')}"))
                continue
            mac = signature(
                storage.signing_key, slot.canonical, function, seq, hashlib.sha256(payload).digest()
            )
            fresh = fresh[: slot.offset] + mac + fresh[slot.offset + len(mac) :]
        else:
            fresh = head + payload
        changes.append((ref.path, fresh))
    if changes:
        storage._backend.replace_files(info, changes)
        report.rewritten = len(changes)
    return report
