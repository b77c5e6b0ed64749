"""Every lock of ours, released in a forked child.

``fork()`` copies a lock in the state it had in the parent: held, if another thread of the
parent held it at that instant. That thread does not exist in the child, so nothing would ever
release it, and the child's first capture would wait for ever. Each module registers its locks
with :func:`fork_safe`; one after-fork hook resets them all, unheld, in place (the objects stay
the same, so ``acquire``/``release`` methods bound once stay valid).
"""

from __future__ import annotations

import os
import weakref
from typing import TypeVar

__all__ = ["fork_safe"]

L = TypeVar("L")

# Weak: a lock dies with what holds it (a storage, the background writer).
_locks: weakref.WeakSet[object] = weakref.WeakSet()


def fork_safe(lock: L) -> L:
    """Register ``lock`` (a ``threading.Lock`` or ``RLock``) to be released in a fork child."""
    _locks.add(lock)
    return lock


def _release_in_child() -> None:
    # The forking thread runs this alone (the parent's other threads are gone), and the
    # lock's state is whatever it was: re-initialized unheld, as threading does for its own.
    for lock in list(_locks):
        reinit = getattr(lock, "_at_fork_reinit", None)  # CPython 3.9+; the locks' own
        if reinit is not None:
            reinit()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_release_in_child)
