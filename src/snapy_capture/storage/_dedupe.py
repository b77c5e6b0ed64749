"""Deduplication's index of one local capture directory: which content is kept under which
number, for how many calls, seen last when; in least-recently-seen order for retention.

A capture's content is its payload (the envelope keeps the call's time, thread, pid and
depth in the header: see :mod:`._envelope`); its key here is ``blake2b(payload)``, 16 bytes.
A capture is never renumbered (a replay case's id is its number): a call whose content is
already kept counts on that capture, which becomes the most recently seen.

The file ``.dedupe`` in the function directory is an open-addressing hash table with a
doubly linked list through its slots (most recently seen at the head), memory-mapped shared
by every writer of the directory and changed only under the directory's writers' lock
(``_locks``): a lookup, a count, a move to the head and an eviction each touch a few slots,
whatever the number kept (retention stays O(1) per write). The table grows (and sheds its
deleted slots) by relaying its live entries, amortized O(1). Layout::

    header  64 bytes  magic, capacity, live entries, deleted slots, head, tail, dirty, changes
    slots   64 bytes each: state, digest, number, calls, last seen, previous, next

A writer that dies while changing the table leaves ``dirty`` set: the next writer rebuilds
the index from the capture files (salvaging counts from the slots that still match a file).
An index is built the same way the first time a directory is deduplicated (captures written
before are indexed, oldest first; equal ones are merged into the newest). Readers
(:func:`calls_of`) read it without the lock: a count read while a writer changes it may be
one behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import mmap
import os
import struct
from collections.abc import Callable, Iterable
from typing import Any, Final

from snapy_capture.storage._envelope import MAGIC
from snapy_capture.storage._files import _O_CLOEXEC, _O_NOFOLLOW, _read_file

__all__ = ["INDEX_NAME", "DedupeIndex", "calls_of", "content_digest"]

INDEX_NAME: Final = ".dedupe"
_MAGIC: Final = b"SNAPDDP1"
# magic, capacity, live, deleted, head, tail, dirty, changes
_HEADER: Final = struct.Struct("<8sIIIiiBxxxQ")
_HEADER_SIZE: Final = 64
# state, digest, number, calls, last seen, previous, next
_SLOT: Final = struct.Struct("<B7x16sqqdii")
_SLOT_SIZE: Final = 64
_EMPTY, _LIVE, _DELETED = 0, 1, 2
_MIN_CAPACITY: Final = 16
_DIRTY: Final = 28
#: Mappings let go of without closing them (see :meth:`DedupeIndex.abandon`).
_ABANDONED: list[mmap.mmap] = []  # the offset of the header's dirty flag
_NONE: Final = -1


def content_digest(data: bytes) -> bytes | None:
    """The key of a capture file's content: ``blake2b`` of its payload (``None``: not a
    capture with a header, never deduplicated)."""
    if not data.startswith(MAGIC):
        return None
    end = data.find(b"\n")
    if end < 0:
        return None
    return hashlib.blake2b(memoryview(data)[end + 1 :], digest_size=16).digest()


def _start(digest: bytes, capacity: int) -> int:
    return int.from_bytes(digest[:8], "little") & (capacity - 1)


def _capacity_for(live: int) -> int:
    capacity = _MIN_CAPACITY
    while capacity < 4 * (live + 1):
        capacity *= 2
    return capacity


class _Entry:
    __slots__ = ("calls", "digest", "last_seen", "seq")

    def __init__(self, digest: bytes, seq: int, calls: int, last_seen: float) -> None:
        self.digest, self.seq, self.calls, self.last_seen = digest, seq, calls, last_seen


class DedupeIndex:
    """The index of one directory, as one process maps it. Every method but :meth:`peek`
    runs under the directory's writers' lock."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.path = os.path.join(directory, INDEX_NAME)
        self.map: mmap.mmap | None = None
        # The writers' lock's (see ``_locks._WriteLock``) when the file was mapped: a lock
        # opened again means the directory may be another one now (removed and made again).
        self.generation = -1
        self.foreign = 0

    # --- opening ----------------------------------------------------------------------

    def ready(self, lock: Any, capture_name: Callable[[int], str]) -> mmap.mmap:
        """The mapped table, opened (built, repaired, remapped) as needed. Under ``lock``,
        the directory's writers' lock."""
        mapped = self.map
        if mapped is None or lock.generation != self.generation:
            if lock.foreign != self.foreign:
                self.abandon()
            self.close()
            self.generation, self.foreign = lock.generation, lock.foreign
            mapped = self._open(capture_name)
        elif len(mapped) < _HEADER_SIZE + _SLOT_SIZE * _HEADER.unpack_from(mapped, 0)[1]:
            mapped = self.remap()  # grown by another process
        if mapped[_DIRTY]:  # a writer died while changing it
            self.rebuild(capture_name)
            mapped = self.remap()
        return mapped

    def _open(self, capture_name: Callable[[int], str]) -> mmap.mmap:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | _O_CLOEXEC | _O_NOFOLLOW, 0o600)
        try:
            fresh = os.fstat(fd).st_size < _HEADER_SIZE or os.pread(fd, 8, 0) != _MAGIC
        finally:
            os.close(fd)
        if fresh:
            self.rebuild(capture_name)  # new (or not ours): built from the captures there
        return self.remap()

    def remap(self) -> mmap.mmap:
        self.close()
        # No descriptor of ours stays open (mmap keeps its own, see ``abandon``).
        fd = os.open(self.path, os.O_RDWR | _O_CLOEXEC | _O_NOFOLLOW)
        try:
            self.map = mmap.mmap(fd, os.fstat(fd).st_size)
        finally:
            os.close(fd)
        return self.map

    def abandon(self) -> None:
        """Let go of the mapping without closing it: descriptors were closed behind our
        back (a daemon's ``closerange``), and the one the mapping holds may be another
        file's now; closing it would close the host's file. Kept for the process's life."""
        if self.map is not None:
            _ABANDONED.append(self.map)
            self.map = None

    def close(self) -> None:
        if self.map is not None:
            with contextlib.suppress(BufferError, ValueError, OSError):
                self.map.close()
            self.map = None

    # --- lookups and changes (under the lock) -----------------------------------------

    def peek(self, digest: bytes) -> tuple[int, int] | None:
        """``(slot, changes)`` of ``digest`` if the index holds it, read without the lock:
        a hint, confirmed under the lock by :meth:`confirm` (``changes`` unchanged)."""
        mapped = self.map
        if mapped is None:
            return None
        try:
            header = _HEADER.unpack_from(mapped, 0)
            if len(mapped) < _HEADER_SIZE + _SLOT_SIZE * header[1]:
                return None
            slot = _find(mapped, header[1], digest)
        except (ValueError, struct.error):  # closed or resized meanwhile
            return None
        return None if slot < 0 else (slot, header[7])

    def find(self, mapped: mmap.mmap, digest: bytes, hint: tuple[int, int] | None) -> int:
        """The slot holding ``digest`` (-1: none); ``hint`` from :meth:`peek` saves the
        search when nothing changed since."""
        header = _HEADER.unpack_from(mapped, 0)
        if hint is not None and hint[1] == header[7]:
            return hint[0]
        return _find(mapped, header[1], digest)

    def seq_of(self, mapped: mmap.mmap, slot: int) -> int:
        seq: int = _SLOT.unpack_from(mapped, _offset(slot))[2]
        return seq

    def seen(self, mapped: mmap.mmap, slot: int, now: float) -> None:
        """One more call of the content in ``slot``, at ``now``: it becomes the newest."""
        with _changing(mapped):
            state, digest, seq, calls, _, _, _ = _SLOT.unpack_from(mapped, _offset(slot))
            _unlink_slot(mapped, slot)
            _SLOT.pack_into(mapped, _offset(slot), state, digest, seq, calls + 1, now, -1, -1)
            _push_head(mapped, slot)

    def forget(self, mapped: mmap.mmap, slot: int) -> None:
        """Drop the entry in ``slot`` (its capture is gone: deleted by other means)."""
        with _changing(mapped):
            _remove(mapped, slot)

    def add(
        self,
        mapped: mmap.mmap,
        digest: bytes,
        seq: int,
        now: float,
    ) -> mmap.mmap:
        """Index capture ``seq`` (just placed) as the newest; returns the mapping (a new one
        when the table grew)."""
        _, capacity, live, deleted = _HEADER.unpack_from(mapped, 0)[:4]
        if 2 * (live + deleted + 1) > capacity:
            self._relayout(_entries(mapped), _capacity_for(live + 1))
            mapped = self.remap()
            capacity = _HEADER.unpack_from(mapped, 0)[1]
        with _changing(mapped):
            _insert(mapped, capacity, _Entry(digest, seq, 1, now))
        return mapped

    def evict(
        self, mapped: mmap.mmap, retention: int | None, cutoff: float | None
    ) -> list[int]:
        """Drop the least recently seen entries beyond ``retention`` or last seen before
        ``cutoff`` (never the newest); returns their capture numbers (to delete)."""
        evicted: list[int] = []
        header = _HEADER.unpack_from(mapped, 0)
        live, head, tail = header[2], header[4], header[5]
        if (retention is None or live <= retention) and cutoff is None:
            return evicted
        with _changing(mapped):
            while tail != _NONE and tail != head:
                slot = _SLOT.unpack_from(mapped, _offset(tail))
                over = retention is not None and live > retention
                if not over and (cutoff is None or slot[4] >= cutoff):
                    break
                evicted.append(slot[2])
                _remove(mapped, tail)
                live -= 1
                tail = _HEADER.unpack_from(mapped, 0)[5]
        return evicted

    def entries(self, mapped: mmap.mmap) -> list[tuple[int, int, float]]:
        """``(number, calls, last seen)`` of every entry, least recently seen first."""
        return [(e.seq, e.calls, e.last_seen) for e in _entries(mapped)]

    # --- building ---------------------------------------------------------------------

    def rebuild(self, capture_name: Callable[[int], str]) -> None:
        """Index the captures in the directory, keeping what the slots say of those still
        there (counts, last seen); equal contents are merged into the newest capture."""
        salvaged: dict[bytes, _Entry] = {}
        if self.map is not None:
            with contextlib.suppress(ValueError, struct.error):
                salvaged = {e.digest: e for e in _slots(self.map)}
        entries: dict[bytes, _Entry] = {}
        for seq in _capture_numbers(self.directory):
            path = capture_name(seq)
            try:
                data = _read_file(path)
                mtime = os.lstat(path).st_mtime
            except OSError:
                continue
            digest = content_digest(data)
            if digest is None:
                continue  # format 0: left as it is (unindexed)
            known = salvaged.get(digest)
            older = entries.pop(digest, None)
            entry = _Entry(digest, seq, 1, mtime)
            if known is not None and known.seq == seq:
                entry.calls, entry.last_seen = known.calls, known.last_seen
            if older is not None:
                # Two captures of one content (written before deduplication): one is kept.
                entry.calls += older.calls
                entry.last_seen = max(entry.last_seen, older.last_seen)
                with contextlib.suppress(OSError):
                    os.unlink(capture_name(older.seq))
            entries[digest] = entry
        ordered = sorted(entries.values(), key=lambda e: (e.last_seen, e.seq))
        self._relayout(ordered, _capacity_for(len(ordered)))

    def _relayout(self, entries: Iterable[_Entry], capacity: int) -> None:
        """Write the table anew with ``entries`` (least recently seen first).

        The file never shrinks: another process may have it mapped at its current size and
        peek at it without the lock (a read past the end of a mapped file is SIGBUS).
        """
        try:
            size = os.lstat(self.path).st_size
        except FileNotFoundError:
            size = 0
        while _HEADER_SIZE + _SLOT_SIZE * capacity * 2 <= size:
            capacity *= 2  # the space is there anyway: fewer collisions
        if self.map is not None:
            self.map[_DIRTY] = 1  # dirty until laid out: a crash here means rebuild
        table = bytearray(_HEADER_SIZE + _SLOT_SIZE * capacity)
        _HEADER.pack_into(table, 0, _MAGIC, capacity, 0, 0, _NONE, _NONE, 0, 0)
        for entry in entries:
            _insert(table, capacity, entry)
        fd = os.open(self.path, os.O_RDWR | _O_CLOEXEC | _O_NOFOLLOW)
        try:
            if len(table) > size:
                os.ftruncate(fd, len(table))
            os.pwrite(fd, table, 0)
        finally:
            os.close(fd)


# --- the table ----------------------------------------------------------------------------

_Buffer = mmap.mmap | bytearray


def _offset(slot: int) -> int:
    return _HEADER_SIZE + _SLOT_SIZE * slot


def _find(mapped: _Buffer, capacity: int, digest: bytes) -> int:
    mask = capacity - 1
    slot = _start(digest, capacity)
    for _ in range(capacity):
        state, found = _SLOT.unpack_from(mapped, _offset(slot))[:2]
        if state == _EMPTY:
            return -1
        if state == _LIVE and found == digest:
            return slot
        slot = (slot + 1) & mask
    return -1


def _insert(mapped: _Buffer, capacity: int, entry: _Entry) -> None:
    mask = capacity - 1
    slot = _start(entry.digest, capacity)
    while mapped[_offset(slot)] == _LIVE:
        slot = (slot + 1) & mask
    reused = mapped[_offset(slot)] == _DELETED
    _SLOT.pack_into(
        mapped, _offset(slot), _LIVE, entry.digest, entry.seq, entry.calls, entry.last_seen, -1, -1
    )
    magic, cap, live, deleted, head, tail, dirty, changes = _HEADER.unpack_from(mapped, 0)
    _HEADER.pack_into(
        mapped, 0, magic, cap, live + 1, deleted - reused, head, tail, dirty, changes
    )
    _push_head(mapped, slot)


def _remove(mapped: _Buffer, slot: int) -> None:
    _unlink_slot(mapped, slot)
    mapped[_offset(slot)] = _DELETED
    magic, cap, live, deleted, head, tail, dirty, changes = _HEADER.unpack_from(mapped, 0)
    _HEADER.pack_into(mapped, 0, magic, cap, live - 1, deleted + 1, head, tail, dirty, changes)


def _set_link(mapped: _Buffer, slot: int, prev: int | None, nxt: int | None) -> None:
    offset = _offset(slot)
    fields = list(_SLOT.unpack_from(mapped, offset))
    if prev is not None:
        fields[5] = prev
    if nxt is not None:
        fields[6] = nxt
    _SLOT.pack_into(mapped, offset, *fields)


def _set_ends(mapped: _Buffer, head: int | None, tail: int | None) -> None:
    fields = list(_HEADER.unpack_from(mapped, 0))
    if head is not None:
        fields[4] = head
    if tail is not None:
        fields[5] = tail
    _HEADER.pack_into(mapped, 0, *fields)


def _unlink_slot(mapped: _Buffer, slot: int) -> None:
    prev, nxt = _SLOT.unpack_from(mapped, _offset(slot))[5:7]
    if prev != _NONE:
        _set_link(mapped, prev, None, nxt)
    else:
        _set_ends(mapped, nxt, None)
    if nxt != _NONE:
        _set_link(mapped, nxt, prev, None)
    else:
        _set_ends(mapped, None, prev)
    _set_link(mapped, slot, _NONE, _NONE)


def _push_head(mapped: _Buffer, slot: int) -> None:
    head = _HEADER.unpack_from(mapped, 0)[4]
    _set_link(mapped, slot, _NONE, head)
    if head != _NONE:
        _set_link(mapped, head, slot, None)
        _set_ends(mapped, slot, None)
    else:
        _set_ends(mapped, slot, slot)


@contextlib.contextmanager
def _changing(mapped: mmap.mmap):  # type: ignore[no-untyped-def]
    mapped[_DIRTY] = 1
    yield
    fields = list(_HEADER.unpack_from(mapped, 0))
    fields[6] = 0
    fields[7] += 1
    _HEADER.pack_into(mapped, 0, *fields)


def _slots(mapped: _Buffer) -> Iterable[_Entry]:
    capacity = _HEADER.unpack_from(mapped, 0)[1]
    for slot in range(capacity):
        state, digest, seq, calls, last_seen = _SLOT.unpack_from(mapped, _offset(slot))[:5]
        if state == _LIVE:
            yield _Entry(digest, seq, calls, last_seen)


def _entries(mapped: _Buffer) -> list[_Entry]:
    """The live entries, least recently seen first (following the list from its tail)."""
    found: list[_Entry] = []
    header = _HEADER.unpack_from(mapped, 0)
    slot, capacity = header[5], header[1]
    while slot != _NONE and len(found) <= capacity:
        state, digest, seq, calls, last_seen, prev, _ = _SLOT.unpack_from(mapped, _offset(slot))
        if state == _LIVE:
            found.append(_Entry(digest, seq, calls, last_seen))
        slot = prev
    return found


def _capture_numbers(directory: str) -> list[int]:
    from snapy_capture.storage._layout import _CAPTURE_NAME  # noqa: PLC0415 - no cycle

    numbers = [
        int(m.group(1)) for name in os.listdir(directory) if (m := _CAPTURE_NAME.match(name))
    ]
    numbers.sort()
    return numbers


# --- reading (no lock) ----------------------------------------------------------------------


def calls_of(directory: str, seq: int, data: bytes) -> tuple[int, float] | None:
    """``(calls, last seen)`` of capture ``seq`` (file bytes ``data``) of ``directory``, if
    the index holds it: a few reads, whatever the number kept."""
    digest = content_digest(data)
    if digest is None:
        return None
    try:
        fd = os.open(os.path.join(directory, INDEX_NAME), os.O_RDONLY | _O_CLOEXEC | _O_NOFOLLOW)
    except OSError:
        return None
    try:
        header = os.pread(fd, _HEADER_SIZE, 0)
        if len(header) < _HEADER.size or header[:8] != _MAGIC:
            return None
        capacity = _HEADER.unpack_from(header, 0)[1]
        if capacity <= 0 or capacity & (capacity - 1):
            return None
        slot = _start(digest, capacity)
        for _ in range(capacity):
            raw = os.pread(fd, _SLOT.size, _offset(slot))
            if len(raw) < _SLOT.size:
                return None
            state, found, number, calls, last_seen = _SLOT.unpack_from(raw, 0)[:5]
            if state == _EMPTY:
                return None
            if state == _LIVE and found == digest:
                return (calls, last_seen) if number == seq else None
            slot = (slot + 1) & (capacity - 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    return None
