"""Captures that outlive upgrades: naming the class a pickled capture can no longer find, and
renaming class references inside pickles (``snapy-capture migrate``).

Everything here reads and writes pickles opcode by opcode (:mod:`pickletools`): nothing is
unpickled, so no code of the captures runs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from snapy_capture.errors import CaptureFormatError, ConfigError
from snapy_capture.storage._envelope import signature, signing_slot, unpack, unsigned
from snapy_capture.storage._missing import (
    MissingClassError,
    Ref,
    class_references,
    missing_class,
    walk_pickle,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from snapy_capture.storage import CaptureStorage
    from snapy_capture.storage._layout import FunctionInfo

__all__ = [
    "MigrateReport",
    "MissingClassError",
    "class_references",
    "migrate_captures",
    "missing_class",
    "parse_rename",
    "parse_renames",
    "rename_classes",
]


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


def parse_renames(specs: Iterable[str]) -> dict[Ref, Ref]:
    """Every ``--rename`` given, as one mapping.

    Raises:
        ConfigError: one line, for a spec of the wrong shape or a class given two new names
            (which of them its captures should get cannot be guessed).
    """
    renames: dict[Ref, Ref] = {}
    for spec in specs:
        old, new = parse_rename(spec)
        known = renames.setdefault(old, new)
        if known != new:
            raise ConfigError(
                f"--rename {spec!r}: {old[0]}:{old[1]} is already renamed to "
                f"{known[0]}:{known[1]} (one new name per class)"
            )
    return renames


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
    for name, ref, start, end in walk_pickle(data):
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
