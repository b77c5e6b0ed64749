"""The one after-fork registry: our locks released, then our per-process state reset.

``fork()`` copies a lock in the state it had in the parent: held, if another thread of the
parent held it at that instant. That thread does not exist in the child, so nothing would ever
release it, and the child's first capture would wait for ever. Each module registers its locks
with :func:`fork_safe`, and what else a child must not inherit (the parent's writer thread,
its process id, its open lock files) with :func:`after_fork_in_child`. One after-fork hook
resets the locks, unheld, in place (the objects stay the same, so ``acquire``/``release``
methods bound once stay valid), then runs the callbacks in the order they were registered.
"""

from __future__ import annotations

import os
import sys
import weakref

# Not ``typing.TYPE_CHECKING``: the import hook imports this module at start-up of every
# captured process, and typing, logging and collections.abc cost more than the rest.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    L = TypeVar("L")
    C = TypeVar("C", bound=Callable[[], None])

__all__ = ["after_fork_in_child", "fork_safe"]

# Weak: a lock dies with what holds it (a storage, the background writer).
_locks: weakref.WeakSet[object] = weakref.WeakSet()
_callbacks: list[Callable[[], None]] = []


def fork_safe(lock: L) -> L:
    """Register ``lock`` (a ``threading.Lock`` or ``RLock``) to be released in a fork child."""
    _locks.add(lock)
    return lock


def after_fork_in_child(callback: C) -> C:
    """Register ``callback`` to run in a fork child, once every lock of ours is released.

    For module-level state only (it is kept for the process's life); usable as a decorator.
    """
    _callbacks.append(callback)
    return callback


def _in_child() -> None:
    # The forking thread runs this alone (the parent's other threads are gone), and the
    # lock's state is whatever it was: re-initialized unheld, as threading does for its own.
    for lock in list(_locks):
        reinit = getattr(lock, "_at_fork_reinit", None)  # CPython 3.9+; the locks' own
        if reinit is not None:
            reinit()
    for callback in _callbacks:
        try:
            callback()
        except Exception:  # the child's program goes on regardless
            # Never an import here: a parent thread importing that module at the fork left
            # its lock held in the child by a thread the child lacks, for ever. _logger
            # imports none either; the modules that register callbacks have loaded it (not
            # imported above: the import hook loads this module in every process it starts).
            logger = sys.modules.get("snapy_capture._logger")
            if logger is not None:
                logger.debug("snapy_capture: after-fork", exc_info=True)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_in_child)
