"""Rebinding the references to a replaced function that registries hold.

A program often files functions away as its module loads: ``FILTERS = {"upper": upper}``,
``HANDLERS = [on_start]``, or a class's ``registry[dict] = cls.represent_dict`` (PyYAML's
representers). The hook wraps a target after its module's body has run, so those
registries still hold the original, and calls through them would not be captured. This
module rebinds them: in the namespaces of the modules given, the dicts, lists and sets held
at module level or as a class attribute (one level of nesting further too: a dict of lists),
and the namespaces of the classes defined there (an alias ``other = method``).

What it cannot rebind is returned, to be named in one warning: a reference in a tuple or a
frozenset (immutable), or in a registry nested deeper than that. A dict *keyed* by the
function needs nothing: the wrapper hashes and compares equal to the function it wraps.

Nothing here runs the host's code: containers are read and written through the built-in
types' own methods (exact types only; a subclass may override ``__setitem__``), keys are
named without calling their ``__repr__``, and classes are read through ``vars()``.

The cost is one pass over each module's namespace, its classes' namespaces and the
containers held there, bounded by :data:`MAX_ITEMS` items per module; a container holding no
target is read at C speed. Measured: 2 to 3 ms for a module of 10,000 globals, or for a
10,000-entry dict and a 10,000-item list that hold no target.
"""

from __future__ import annotations

import collections
import types
from collections.abc import Iterable

from snapy_capture import _logger as logger
from snapy_capture.hook._patch import Patch, Replaced, Swap, label_key

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from typing import Any, Final

__all__ = ["MAX_ITEMS", "ItemPatch", "Rebinding"]

#: The most items (namespace entries and container items) read in one module's pass.
MAX_ITEMS: Final = 1_000_000
#: Containers rebound in place: exact types whose item assignment runs no host code.
_MUTABLE: Final = frozenset({dict, list, set, collections.OrderedDict, collections.defaultdict})
#: Containers that cannot be changed: a reference in them is reported.
_FROZEN: Final = frozenset({tuple, frozenset})
_CONTAINERS: Final = _MUTABLE | _FROZEN
_GONE: Final = object()
#: How deep registries are searched below a module or class attribute (``{"a": [f]}``).
_DEPTH: Final = 1


class ItemPatch:
    """One container item we rebound, and how to put the original back on uninstall."""

    __slots__ = ("attr", "container", "key", "original", "replacement")

    def __init__(
        self, container: Any, key: Any, original: Any, replacement: Any, label: str
    ) -> None:
        self.container = container
        self.key = key
        self.original = original
        self.replacement = replacement
        self.attr = label

    def undo(self) -> None:
        container = self.container
        if type(container) in (set,):
            if any(item is self.replacement for item in container):
                set.discard(container, self.replacement)
                set.add(container, self.original)
            return
        if isinstance(container, dict):
            current = dict.get(container, self.key, _GONE)  # never a defaultdict's default
        else:
            current = container[self.key] if self.key < len(container) else _GONE
        if current is self.replacement:  # else the program changed it since: its choice
            type(container).__setitem__(container, self.key, self.original)


class Rebinding:
    """One pass over some modules: rebinds what it can, and notes what it could not.

    Attributes:
        rebound: the places rebound, per target name (``mod.FILTERS['upper']``).
        held: the places still holding an original, per target name.
    """

    def __init__(self, replaced: Replaced, patches: dict[tuple[int, str], Any]) -> None:
        self.replaced = replaced
        self.patches = patches
        self.rebound: dict[str, list[str]] = {}
        self.held: dict[str, list[str]] = {}
        self._seen: set[int] = set()
        self._ids = frozenset(replaced)
        self._budget = 0

    def modules(self, modules: Iterable[types.ModuleType], *, namespaces: bool = False) -> None:
        """Rebind in the registries of ``modules`` (and, with ``namespaces``, the copies their
        namespaces hold directly: ``from mod import f``)."""
        if not self.replaced:
            return
        for module in modules:
            self._budget = MAX_ITEMS
            try:
                self._module(module, namespaces=namespaces)
            except _OverBudget:
                logger.debug(
                    "snapy_capture: %s holds more than %d items; its registries were not all "
                    "searched",
                    getattr(module, "__name__", "?"),
                    MAX_ITEMS,
                )

    def _module(self, module: types.ModuleType, *, namespaces: bool) -> None:
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            return
        name = namespace.get("__name__")
        name = name if isinstance(name, str) else "?"
        items = list(namespace.items())
        self._spend(len(items))
        for attr, value in items:
            swap = self._swap(value)
            if swap is not None:
                if namespaces:
                    setattr(module, attr, swap.value)
                    self.patches[(id(module), attr)] = Patch(module, attr, value, True, swap.value)
                    self._note(self.rebound, swap, f"{name}.{attr}")
                continue
            kind = type(value)
            if kind in _MUTABLE or kind in _FROZEN:
                self._container(value, f"{name}.{attr}", 0)
            elif isinstance(value, type) and vars(value).get("__module__") == name:
                self._class(value, f"{name}.{attr}")

    def _class(self, cls: type, label: str) -> None:
        if id(cls) in self._seen:
            return
        self._seen.add(id(cls))
        items = list(vars(cls).items())
        self._spend(len(items))
        if self._nothing_in(value for _attr, value in items):
            return
        qualname = cls.__qualname__
        for attr, value in items:
            swap = self._swap(value)
            if swap is not None:
                where = f"{label}.{attr}"
                if swap.descriptor is None:
                    self._note(self.held, swap, where)
                    continue
                setattr(cls, attr, swap.descriptor)
                self.patches[(id(cls), attr)] = Patch(cls, attr, value, True, swap.descriptor)
                self._note(self.rebound, swap, where)
                continue
            kind = type(value)
            if kind in _MUTABLE or kind in _FROZEN:
                self._container(value, f"{label}.{attr}", 0)
            elif isinstance(value, type) and value.__qualname__ == f"{qualname}.{attr}":
                self._class(value, f"{label}.{attr}")

    def _container(self, container: Any, label: str, depth: int) -> None:
        if id(container) in self._seen:
            return
        self._seen.add(id(container))
        kind = type(container)
        if kind in (dict, collections.OrderedDict, collections.defaultdict):
            pairs: list[tuple[Any, Any]] = list(dict.items(container))
        elif kind is set or kind is frozenset:
            pairs = [(None, item) for item in container]
        else:
            pairs = list(enumerate(container))
        self._spend(len(pairs))
        if self._nothing_in(value for _key, value in pairs):
            return
        for key, value in pairs:
            swap = self._swap(value)
            if swap is None:
                if depth < _DEPTH and (type(value) in _MUTABLE or type(value) in _FROZEN):
                    self._container(value, _item(label, kind, key), depth + 1)
                continue
            where = _item(label, kind, key)
            if kind in _FROZEN:
                self._note(self.held, swap, where)
            elif kind is set:
                set.discard(container, value)
                set.add(container, swap.value)
                self._patch(ItemPatch(container, None, value, swap.value, where), swap)
            else:
                # Still there? Another thread may have changed it since it was read (and a
                # defaultdict's own lookup would add a key it lost).
                current = (
                    dict.get(container, key, _GONE)
                    if kind is not list
                    else container[key]
                    if key < len(container)
                    else _GONE
                )
                if current is not value:
                    continue
                kind.__setitem__(container, key, swap.value)
                self._patch(ItemPatch(container, key, value, swap.value, where), swap)

    def _patch(self, patch: ItemPatch, swap: Swap) -> None:
        self.patches[(id(patch.container), f"[{patch.attr}]")] = patch
        self._note(self.rebound, swap, patch.attr)

    def _nothing_in(self, values: Iterable[Any]) -> bool:
        """Whether ``values`` hold no original and nothing to search further: read at C
        speed (``map``), so a large registry without a target costs little."""
        values = list(values)
        if not self._ids.isdisjoint(map(id, values)):
            return False
        kinds = set(map(type, values))
        return kinds.isdisjoint(_CONTAINERS) and not any(issubclass(k, type) for k in kinds)

    def _swap(self, value: Any) -> Swap | None:
        swap = self.replaced.get(id(value))
        return swap if swap is not None and swap.original is value else None

    def _spend(self, count: int) -> None:
        self._budget -= count
        if self._budget < 0:
            raise _OverBudget

    @staticmethod
    def _note(where: dict[str, list[str]], swap: Swap, label: str) -> None:
        places = where.setdefault(swap.name, [])
        if label not in places:
            places.append(label)


class _OverBudget(Exception):
    pass


def _item(label: str, kind: type, key: Any) -> str:
    if kind is set or kind is frozenset:
        return f"{label}{{...}}"
    return f"{label}[{label_key(key)}]"
