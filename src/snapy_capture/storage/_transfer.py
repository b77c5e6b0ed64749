"""Copying captures between two storage roots (``snapy-capture pull`` and ``push``): an
object store and a local directory, either way, through the one storage contract."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from snapy_capture.errors import CaptureFormatError
from snapy_capture.storage._envelope import unpack, unsigned

if TYPE_CHECKING:
    from snapy_capture.storage import CaptureStorage

__all__ = ["TransferReport", "copy_captures"]


@dataclass
class TransferReport:
    """What :func:`copy_captures` did."""

    copied: int = 0
    #: Captures whose payload the target already holds for the same function (copied before).
    present: int = 0
    functions: set[str] = field(default_factory=set)
    #: ``(where, why)`` of captures not copied: unreadable, or failing their signature.
    refused: list[tuple[str, str]] = field(default_factory=list)
    #: Signed captures copied without a key: they cannot verify at their new place.
    unverifiable: int = 0


def copy_captures(source: CaptureStorage, target: CaptureStorage) -> TransferReport:
    """Copy every capture of ``source`` that ``target`` does not hold yet, oldest first (so
    the target lists them newest first too), keeping every capture the target has.

    With a signing key, each capture is verified where it is (its function and place) and
    signed again for its new place; without one, signed captures are copied as they are and
    counted in :attr:`TransferReport.unverifiable`.
    """
    report = TransferReport()
    for info in source.functions():
        held = _payloads(target, info.name)
        refs = list(source.captures(info))
        for ref in reversed(refs):
            try:
                data, function, place = source._read_bytes(ref.path, info.name)
                envelope = unpack(data, key=source.signing_key, function=function, seq=place)
            except CaptureFormatError as exc:
                report.refused.append((str(ref.path), str(exc)))
                continue
            digest = hashlib.sha256(envelope.payload).digest()
            if digest in held:
                report.present += 1
                continue
            if "hmac" in envelope.header:
                if target.signing_key is not None:
                    data = unsigned(data)  # the target signs it for its new place
                elif source.signing_key is None:
                    report.unverifiable += 1
            target.write(info.module, info.qualname, data, retention=None, max_age=None)
            held.add(digest)
            report.copied += 1
            report.functions.add(info.name)
    return report


def _payloads(storage: CaptureStorage, function: str) -> set[bytes]:
    found = set()
    for ref in storage.captures(function):
        try:
            data, _, _ = storage._read_bytes(ref.path, function)
            found.add(hashlib.sha256(unpack(data).payload).digest())
        except CaptureFormatError:
            continue
    return found
