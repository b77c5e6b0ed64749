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

A writing process keeps the table's keys in a dict while the change counter is the one its
own last change left (see :class:`DedupeIndex`): lookups at C speed, every change still made
in the file. A writer that dies while changing the table leaves ``dirty`` set: the next
writer rebuilds the index from the capture files (salvaging counts from the slots that
still match a file).
An index is built the same way the first time a directory is deduplicated (captures written
before are indexed, oldest first; equal ones are merged into the newest). Readers
(:func:`calls_of`) read it without the lock: a count read while a writer changes it may be
one behind.
"""

from __future__ import annotations

import contextlib
import functools
import mmap
import os
import struct
from collections.abc import Callable, Iterable

from snapy_capture import _digests as hashlib  # its blake2b, without OpenSSL's start-up
from snapy_capture import _forksafe
from snapy_capture.storage._envelope import MAGIC
from snapy_capture.storage._files import _O_CLOEXEC, _O_NOFOLLOW, _read_file

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from typing import Any, Final

__all__ = ["INDEX_NAME", "DedupeIndex", "calls_of", "content_digest"]

INDEX_NAME: Final = ".dedupe"
_MAGIC: Final = b"SNAPDDP1"
# magic, capacity, live, deleted, head, tail, dirty, changes
_HEADER: Final = struct.Struct("<8sIIIiiBxxxQ")
_HEADER_SIZE: Final = 64
# state, digest, number, calls, last seen, previous, next
_SLOT: Final = struct.Struct("<B7x16sqqdii")
_SLOT_SIZE: Final = 64
_EMPTY, _LIVE = 0, 1
_MIN_CAPACITY: Final = 16
_DIRTY: Final = 28
#: Mappings let go of without closing them (see :meth:`DedupeIndex.abandon`).
_ABANDONED: list[mmap.mmap] = []  # the offset of the header's dirty flag
_NONE: Final = -1
#: Copied for each digest: ``blake2b(data, digest_size=16)`` parses a dozen keyword
#: parameters per call, a copy of a set-up state none (~0.4 us a call, issue 21). Never
#: updated itself, so threads may copy it at once. Made anew in a fork child: in a build
#: whose hashers lock themselves to be copied (as free-threaded ones may), a copy under way
#: in another thread at the fork would leave the lock held for ever.
_BLAKE2B_16 = hashlib.blake2b(digest_size=16)


@_forksafe.after_fork_in_child
def _new_hasher() -> None:
    global _BLAKE2B_16  # noqa: PLW0603 - per process, see above
    _BLAKE2B_16 = hashlib.blake2b(digest_size=16)


#: Payloads shorter than this are sliced (copied) to be hashed, longer ones viewed.
_COPY_BELOW: Final = 1 << 16


def content_digest(data: bytes) -> bytes | None:
    """The key of a capture file's content: ``blake2b`` of its payload (``None``: not a
    capture with a header, never deduplicated)."""
    if not data.startswith(MAGIC):
        return None
    end = data.find(b"\n")
    if end < 0:
        return None
    # A small payload hashed as a copy: a memoryview and its slice cost more than copying a
    # few hundred bytes (every deduplicated call comes here, issue 21).
    hasher = _BLAKE2B_16.copy()
    hasher.update(data[end + 1 :] if len(data) < _COPY_BELOW else memoryview(data)[end + 1 :])
    return hasher.digest()


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
    runs under the directory's writers' lock.

    Lookups go through a dict of the table's keys (digest to slot, C speed) kept by this
    process while the file's change counter is the one its last change left; every change
    is made in the file (the shared truth) and in the dict alike. A change by another
    process moves the counter on and the dict is dropped: lookups then probe the mapping.
    The dict is made again (O(capacity)) only after ``capacity / 16`` changes in a row that
    found the index as they left it, so writers taking turns never pay for a dict they
    would drop at once.
    """

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.path = os.path.join(directory, INDEX_NAME)
        self.capture_name = _namer(directory)
        self.map: mmap.mmap | None = None
        # The writers' lock's (see ``_locks._WriteLock``) when the file was mapped: a lock
        # opened again means the directory may be another one now (removed and made again).
        self.generation = -1
        self.foreign = 0
        #: digest -> slot, valid while the file's change counter is ``changes``.
        self.keys: dict[bytes, int] | None = None
        self.changes = -1
        # The change counter this process's last change left, and how many of its changes
        # in a row found it so (see the class).
        self.left = -1
        self.quiet = 0
        #: capture number -> when (``time.monotonic``) this process last found it there.
        self.checked: dict[int, float] = {}

    # --- opening ----------------------------------------------------------------------

    def ready(self, lock: Any, capture_name: Callable[[int], str]) -> mmap.mmap:
        """The mapped table, opened (built, repaired, remapped) as needed. Under ``lock``,
        the directory's writers' lock."""
        mapped = self.map
        if mapped is not None and lock.generation == self.generation:
            if (
                self.keys is not None
                and _U64.unpack_from(mapped, _CHANGES)[0] == self.changes
                and not mapped[_DIRTY]
            ):
                return mapped  # as this process left it: its keys hold
            self.keys = None
            if len(mapped) < _HEADER_SIZE + _SLOT_SIZE * _U32.unpack_from(mapped, 8)[0]:
                mapped = self.remap()  # grown by another process
        else:
            self.keys = None
            if lock.foreign != self.foreign:
                self.abandon()
            self.close()
            self.generation, self.foreign = lock.generation, lock.foreign
            mapped = self._open(capture_name)
        if mapped[_DIRTY]:  # a writer died while changing it
            self.rebuild(capture_name)
            mapped = self.remap()
        changes = _U64.unpack_from(mapped, _CHANGES)[0]
        self.quiet = self.quiet + 1 if changes == self.left else 0
        if self.quiet > _U32.unpack_from(mapped, 8)[0] >> 4:
            self.keys, self.changes = _keys_of(mapped), changes
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
        """``(slot, changes)``: where the index holds ``digest`` (slot -1: nowhere), read
        without the lock: a hint, taken under the lock by :meth:`find` only if the index did
        not change since (``changes``)."""
        keys = self.keys
        if keys is not None:
            # The counter first: a change under way meanwhile moves it on (hint refused).
            changes = self.changes
            return (keys.get(digest, _NONE), changes)
        mapped = self.map
        if mapped is None:
            return None
        try:
            changes = _U64.unpack_from(mapped, _CHANGES)[0]
            capacity = _U32.unpack_from(mapped, 8)[0]
            if len(mapped) < _HEADER_SIZE + _SLOT_SIZE * capacity:
                return None
            slot = _find(mapped, capacity, digest)
        except (ValueError, IndexError, struct.error):  # closed or resized meanwhile
            return None
        return (slot, changes)

    def lookup(self, lock: Any, digest: bytes, hint: tuple[int, int] | None) -> int:
        """:meth:`ready`, then :meth:`find`: the slot holding ``digest`` (-1: none); the
        mapping is :attr:`map` until the lock is let go. Once per deduplicated write: the
        common case (this process's keys hold, nothing changed since the hint) in one call."""
        mapped, keys = self.map, self.keys
        if (
            keys is not None
            and mapped is not None
            and lock.generation == self.generation
            and _STATUS.unpack_from(mapped, _DIRTY) == (0, self.changes)
        ):
            if hint is not None and hint[1] == self.changes:
                return hint[0]  # as the unlocked look found it: nothing changed since
            return keys.get(digest, _NONE)
        mapped = self.ready(lock, self.capture_name)
        return self.find(mapped, digest, hint)

    def find(self, mapped: mmap.mmap, digest: bytes, hint: tuple[int, int] | None) -> int:
        """The slot holding ``digest`` (-1: none); ``hint`` from :meth:`peek` saves the
        search when nothing changed since."""
        keys = self.keys
        if keys is not None:
            return keys.get(digest, _NONE)
        if hint is not None and hint[1] == _U64.unpack_from(mapped, _CHANGES)[0]:
            return hint[0]
        return _find(mapped, _U32.unpack_from(mapped, 8)[0], digest)

    def seq_of(self, mapped: mmap.mmap, slot: int) -> int:
        seq: int = _Q64.unpack_from(mapped, (64 + 64 * slot) + 24)[0]
        return seq

    def seen(self, mapped: mmap.mmap, slot: int, now: float) -> None:
        """One more call of the content in ``slot``, at ``now``: it becomes the newest."""
        mapped[_DIRTY] = 1
        at = (64 + 64 * slot) + 32
        calls, _, prev, nxt = _USE.unpack_from(mapped, at)
        head, tail = _ENDS.unpack_from(mapped, _HEAD)
        if head == slot:
            _SEEN.pack_into(mapped, at, calls + 1, now)
        else:
            # Unlinked from its place, pushed at the head (``_unlink_slot``, ``_push_head``).
            if prev != _NONE:
                _I32.pack_into(mapped, (64 + 64 * prev) + 52, nxt)
            else:
                head = nxt
            if nxt != _NONE:
                _I32.pack_into(mapped, (64 + 64 * nxt) + 48, prev)
            else:
                tail = prev
            _USE.pack_into(mapped, at, calls + 1, now, _NONE, head)
            if head != _NONE:
                _I32.pack_into(mapped, (64 + 64 * head) + 48, slot)
            else:
                tail = slot
            _ENDS.pack_into(mapped, _HEAD, slot, tail)
        self._changed(mapped)

    def forget(self, mapped: mmap.mmap, slot: int) -> None:
        """Drop the entry in ``slot`` (its capture is gone: deleted by other means)."""
        mapped[_DIRTY] = 1
        _delete(mapped, slot, self.keys)
        self._changed(mapped)

    def add(
        self,
        digest: bytes,
        seq: int,
        now: float,
        retention: int | None,
        cutoff: float | None,
    ) -> list[int]:
        """Index capture ``seq`` (just placed) as the newest, then drop the least recently
        seen entries beyond ``retention`` or last seen before ``cutoff`` (never the newest);
        returns the numbers of the captures to delete. Once per stored capture: written out
        in one piece, each field read and written once (issue 21)."""
        mapped = self.map
        assert mapped is not None  # noqa: S101 - under the lock, after lookup
        capacity, live, _, head, tail = _TOP.unpack_from(mapped, 8)
        if 2 * live + 2 > capacity:
            rekey = self.keys is not None
            self._relayout(_entries(mapped), _capacity_for(live + 1))
            mapped = self.remap()
            if rekey:  # relaid: keyed again (amortized by the doubling)
                self.keys, self.changes = _keys_of(mapped), _U64.unpack_from(mapped, _CHANGES)[0]
            capacity, live, _, head, tail = _TOP.unpack_from(mapped, 8)
        keys = self.keys
        mapped[_DIRTY] = 1
        mask = capacity - 1
        slot = _U64.unpack_from(digest)[0] & mask
        while mapped[64 + 64 * slot] == _LIVE:
            slot = (slot + 1) & mask
        _SLOT.pack_into(mapped, 64 + 64 * slot, _LIVE, digest, seq, 1, now, _NONE, head)
        if head != _NONE:
            _I32.pack_into(mapped, 112 + 64 * head, slot)
        else:
            tail = slot
        head = slot
        live += 1
        if keys is not None:
            keys[digest] = slot
        evicted: list[int] = []
        # Beyond the retention: no need to read the tail to know it goes.
        while tail != head and (
            (retention is not None and live > retention)
            or (cutoff is not None and _F64.unpack_from(mapped, 104 + 64 * tail)[0] < cutoff)
        ):
            old, number, newer = _EVICTED.unpack_from(mapped, 72 + 64 * tail)
            evicted.append(number)
            # The tail's newer neighbour becomes the tail; the slot is emptied.
            _I32.pack_into(mapped, 116 + 64 * newer, _NONE)
            if keys is not None:
                del keys[old]
            if mapped[64 + 64 * ((tail + 1) & mask)] != _LIVE:
                mapped[64 + 64 * tail] = _EMPTY  # the end of its probe run: nothing moves
                tail = newer
            else:
                _ENDS.pack_into(mapped, _HEAD, head, newer)
                _vacate(mapped, tail, mask, keys)
                head, tail = _ENDS.unpack_from(mapped, _HEAD)  # moved back into the gap
            live -= 1
        if keys is not None:  # self._changed, inline
            self.changes = changes = self.changes + 1
        else:
            self.left = changes = _U64.unpack_from(mapped, _CHANGES)[0] + 1
        # The header and the counter in one write, the dirty flag cleared after it.
        _CLOSE.pack_into(mapped, 12, live, 0, head, tail, 1, changes)
        mapped[_DIRTY] = 0
        return evicted

    def evict(self, mapped: mmap.mmap, retention: int | None, cutoff: float | None) -> list[int]:
        """Drop the least recently seen entries beyond ``retention`` or last seen before
        ``cutoff`` (never the newest); returns their capture numbers (to delete)."""
        evicted: list[int] = []
        live = _U32.unpack_from(mapped, 12)[0]
        if (retention is None or live <= retention) and cutoff is None:
            return evicted
        mapped[_DIRTY] = 1
        head, tail = _ENDS.unpack_from(mapped, _HEAD)
        while tail not in (_NONE, head):
            offset = 64 + 64 * tail
            if not (retention is not None and live > retention) and (
                cutoff is None or _F64.unpack_from(mapped, offset + 40)[0] >= cutoff
            ):
                break
            evicted.append(_Q64.unpack_from(mapped, offset + 24)[0])
            _delete(mapped, tail, self.keys)
            live -= 1
            head, tail = _ENDS.unpack_from(mapped, _HEAD)
        self._changed(mapped)
        return evicted

    def _changed(self, mapped: mmap.mmap) -> None:
        """The end of a change: counted (the keys stay valid), marked clean."""
        if self.keys is not None:
            self.changes = changes = self.changes + 1
        else:
            self.left = changes = _U64.unpack_from(mapped, _CHANGES)[0] + 1
        _U64.pack_into(mapped, _CHANGES, changes)
        mapped[_DIRTY] = 0

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
        self.keys = None
        if self.map is not None:
            self.map[_DIRTY] = 1  # dirty until laid out: a crash here means rebuild
        fd = os.open(self.path, os.O_RDWR | _O_CLOEXEC | _O_NOFOLLOW)
        try:
            # The change counter goes on from the old table's: a hint (slot, counter) or a
            # process's keys taken before must not pass for the new layout. A new file's
            # starts anywhere, so that it is not one a process knew of a file removed since.
            old = os.pread(fd, _HEADER_SIZE, 0)
            if len(old) == _HEADER_SIZE and old[:8] == _MAGIC:
                changes = _U64.unpack_from(old, _CHANGES)[0] + 1
            else:
                changes = int.from_bytes(os.urandom(6), "little")
            table = bytearray(_HEADER_SIZE + _SLOT_SIZE * capacity)
            _HEADER.pack_into(table, 0, _MAGIC, capacity, 0, 0, _NONE, _NONE, 0, changes)
            for entry in entries:
                _insert(table, capacity, entry)
            if len(table) > size:
                os.ftruncate(fd, len(table))
            os.pwrite(fd, table, 0)
        finally:
            os.close(fd)


# --- the table ----------------------------------------------------------------------------
# A few fields at a time (a struct call each): the hot path touches a handful of fields.
# Slot fields at: state 0, digest 8, number 24, calls 32, last seen 40, previous 48, next 52.
# ``keys``: the index's dict of keys (see :class:`DedupeIndex`), kept in step when there.

_Buffer = mmap.mmap | bytearray
_I32: Final = struct.Struct("<i")
_U32: Final = struct.Struct("<I")
_Q64: Final = struct.Struct("<q")
_F64: Final = struct.Struct("<d")
_U64: Final = struct.Struct("<Q")
_SEEN: Final = struct.Struct("<qd")  # calls, last seen
_USE: Final = struct.Struct("<qdii")  # calls, last seen, previous, next
_EVICTED: Final = struct.Struct("<16sq16xi")  # digest, number, previous (at the digest)
_LINKS: Final = struct.Struct("<ii")  # previous, next
_ENDS: Final = struct.Struct("<ii")  # head, tail
#: The dirty flag and the change counter (at ``_DIRTY``): whether the keys hold, in one read.
_STATUS: Final = struct.Struct("<B3xQ")
_TOP: Final = struct.Struct("<IIIii")  # capacity, live, deleted (always 0), head, tail
#: live, deleted, head, tail, dirty, changes: the end of a change but the dirty flag.
_CLOSE: Final = struct.Struct("<IIiiBxxxQ")
#: A slot's state and digest, the slot's whole size (a table read in one pass: ``_keys_of``).
_KEY: Final = struct.Struct("<B7x16s40x")
_HEAD: Final = 20
_TAIL: Final = 24
_CHANGES: Final = 32


def _namer(directory: str) -> Callable[[int], str]:
    from snapy_capture.storage._layout import _capture_name  # noqa: PLC0415 - no cycle

    return functools.partial(_capture_name, directory)


def _offset(slot: int) -> int:
    return _HEADER_SIZE + _SLOT_SIZE * slot


def _keys_of(mapped: _Buffer) -> dict[bytes, int]:
    capacity = _U32.unpack_from(mapped, 8)[0]
    raw = mapped[_HEADER_SIZE : _HEADER_SIZE + _SLOT_SIZE * capacity]
    return {
        digest: slot for slot, (state, digest) in enumerate(_KEY.iter_unpack(raw)) if state == _LIVE
    }


def _find(mapped: _Buffer, capacity: int, digest: bytes) -> int:
    mask = capacity - 1
    slot = _start(digest, capacity)
    for _ in range(capacity):
        offset = 64 + 64 * slot
        if mapped[offset] != _LIVE:
            return -1
        if mapped[offset + 8 : offset + 24] == digest:
            return slot
        slot = (slot + 1) & mask
    return -1


def _insert(mapped: _Buffer, capacity: int, entry: _Entry) -> None:
    mask = capacity - 1
    slot = _start(entry.digest, capacity)
    while mapped[(64 + 64 * slot)] == _LIVE:
        slot = (slot + 1) & mask
    _SLOT.pack_into(
        mapped,
        (64 + 64 * slot),
        _LIVE,
        entry.digest,
        entry.seq,
        entry.calls,
        entry.last_seen,
        -1,
        -1,
    )
    _U32.pack_into(mapped, 12, _U32.unpack_from(mapped, 12)[0] + 1)
    _push_head(mapped, slot)


def _delete(mapped: _Buffer, slot: int, keys: dict[bytes, int] | None) -> None:
    """Remove ``slot``'s entry (see :func:`_vacate`)."""
    _unlink_slot(mapped, slot)
    if keys is not None:
        del keys[bytes(mapped[(64 + 64 * slot) + 8 : (64 + 64 * slot) + 24])]
    _vacate(mapped, slot, _U32.unpack_from(mapped, 8)[0] - 1, keys)
    _U32.pack_into(mapped, 12, _U32.unpack_from(mapped, 12)[0] - 1)


def _vacate(mapped: _Buffer, slot: int, mask: int, keys: dict[bytes, int] | None) -> bool:
    """Empty ``slot`` (unlinked already); the entries after it in its probe run move back
    into the gap (no deleted markers: lookups stay short, and the table never fills with
    them). Whether any moved (the list's ends may have)."""
    gap = probe = slot
    moved = False
    while True:
        probe = (probe + 1) & mask
        offset = 64 + 64 * probe
        if mapped[offset] != _LIVE:
            break
        # The entry stays if its home lies cyclically in (gap, probe].
        if (probe - (_U64.unpack_from(mapped, offset + 8)[0] & mask)) & mask < (probe - gap) & mask:
            continue
        _move(mapped, probe, gap)
        if keys is not None:
            keys[bytes(mapped[offset + 8 : offset + 24])] = gap
        gap = probe
        moved = True
    mapped[(64 + 64 * gap)] = _EMPTY
    return moved


def _move(mapped: _Buffer, source: int, target: int) -> None:
    start, end = (64 + 64 * source), (64 + 64 * target)
    mapped[end : end + _SLOT_SIZE] = mapped[start : start + _SLOT_SIZE]
    prev, nxt = _LINKS.unpack_from(mapped, end + 48)
    if prev != _NONE:
        _I32.pack_into(mapped, (64 + 64 * prev) + 52, target)
    else:
        _I32.pack_into(mapped, _HEAD, target)
    if nxt != _NONE:
        _I32.pack_into(mapped, (64 + 64 * nxt) + 48, target)
    else:
        _I32.pack_into(mapped, _TAIL, target)


def _unlink_slot(mapped: _Buffer, slot: int) -> None:
    offset = 64 + 64 * slot
    prev, nxt = _LINKS.unpack_from(mapped, offset + 48)
    if prev != _NONE:
        _I32.pack_into(mapped, (64 + 64 * prev) + 52, nxt)
    else:
        _I32.pack_into(mapped, _HEAD, nxt)
    if nxt != _NONE:
        _I32.pack_into(mapped, (64 + 64 * nxt) + 48, prev)
    else:
        _I32.pack_into(mapped, _TAIL, prev)
    _LINKS.pack_into(mapped, offset + 48, _NONE, _NONE)


def _push_head(mapped: _Buffer, slot: int) -> None:
    head = _I32.unpack_from(mapped, _HEAD)[0]
    _LINKS.pack_into(mapped, (64 + 64 * slot) + 48, _NONE, head)
    if head != _NONE:
        _I32.pack_into(mapped, (64 + 64 * head) + 48, slot)
    else:
        _I32.pack_into(mapped, _TAIL, slot)
    _I32.pack_into(mapped, _HEAD, slot)


def _slots(mapped: _Buffer) -> Iterable[_Entry]:
    capacity = _HEADER.unpack_from(mapped, 0)[1]
    for slot in range(capacity):
        state, digest, seq, calls, last_seen = _SLOT.unpack_from(mapped, (64 + 64 * slot))[:5]
        if state == _LIVE:
            yield _Entry(digest, seq, calls, last_seen)


def _entries(mapped: _Buffer) -> list[_Entry]:
    """The live entries, least recently seen first (following the list from its tail)."""
    found: list[_Entry] = []
    header = _HEADER.unpack_from(mapped, 0)
    slot, capacity = header[5], header[1]
    while slot != _NONE and len(found) <= capacity:
        state, digest, seq, calls, last_seen, prev, _ = _SLOT.unpack_from(mapped, (64 + 64 * slot))
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
            raw = os.pread(fd, _SLOT.size, (64 + 64 * slot))
            if len(raw) < _SLOT.size:
                return None
            state, found, number, calls, last_seen = _SLOT.unpack_from(raw, 0)[:5]
            if state != _LIVE:
                return None
            if found == digest:
                return (calls, last_seen) if number == seq else None
            slot = (slot + 1) & (capacity - 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    return None
