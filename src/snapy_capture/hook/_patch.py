"""Finding the import hook's targets in a loaded module, and swapping in their wrappers.

Targets are looked up in ``vars()`` along the MRO rather than with ``getattr``, so a
classmethod, staticmethod or property is found as the descriptor stored on the class (which is
what must be wrapped and put back) and not as the bound attribute. Module-level functions other
modules copied with ``from module import function`` are rebound here too.

Nothing in this module warns: problems go to the ``report`` callable, or back to the caller as
values, so that the hook decides how loudly to say them (and from which stack frame).
"""

from __future__ import annotations

import gc
import importlib.util
import sys
import types
from collections.abc import Callable
from typing import Any, Final, TypeAlias

from snapy_capture.capture._pipeline import site_of, wrap
from snapy_capture.hook._targets import Target, refusal, refused_module

#: Dunder methods that patterns (``Service.*``) select; naming any other one exactly works too.
PATTERN_DUNDERS: Final = frozenset({"__init__", "__call__"})
MISSING: Final[Any] = object()

#: Module-level functions replaced: id(original) -> (original, wrapper, target name).
Replaced: TypeAlias = dict[int, tuple[Any, Any, str]]


class TargetNotFoundError(Exception):
    """A target not found; internal control flow, never escapes the hook."""


class Patch:
    """One attribute we replaced, and what to put back on uninstall."""

    __slots__ = ("attr", "had_own", "original", "owner", "replacement")

    def __init__(
        self, owner: Any, attr: str, original: Any, had_own: bool, replacement: Any
    ) -> None:
        self.owner = owner
        self.attr = attr
        self.original = original
        self.had_own = had_own
        self.replacement = replacement

    def undo(self) -> None:
        if vars(self.owner).get(self.attr, MISSING) is not self.replacement:
            return  # the program replaced it since; leave its choice alone
        if self.had_own:
            setattr(self.owner, self.attr, self.original)
        else:
            delattr(self.owner, self.attr)


def resolve(module: types.ModuleType, qualname: str) -> tuple[Any, str, Any]:
    """(owner, attribute, raw object) of ``qualname``; raw as stored, not bound."""
    parts = qualname.split(".")
    owner: Any = module
    for index, part in enumerate(parts[:-1]):
        found = _lookup(owner, part)
        prefix = ".".join(parts[: index + 1])
        if found is MISSING:
            raise TargetNotFoundError(f"{module.__name__} has no {prefix}")
        if not isinstance(found, type):
            raise TargetNotFoundError(
                f"{module.__name__}.{prefix} is a {type(found).__name__}, not a class"
            )
        owner = found
    raw = _lookup(owner, parts[-1])
    if raw is MISSING:
        raise TargetNotFoundError(f"{module.__name__} has no {qualname}")
    return owner, parts[-1], raw


def _lookup(owner: Any, name: str) -> Any:
    if isinstance(owner, type):
        for klass in owner.__mro__:
            namespace = vars(klass)
            if name in namespace:
                return namespace[name]
        return MISSING
    return vars(owner).get(name, MISSING)


def candidates(module: types.ModuleType, first: str | None) -> dict[str, tuple[Any, str, Any]]:
    """Every function a pattern may select in ``module``: qualname -> (owner, attr, raw)."""
    found: dict[str, tuple[Any, str, Any]] = {}
    defined_in = module.__name__
    visited: set[int] = set()

    def walk_class(cls: type, prefix: str) -> None:
        if id(cls) in visited:
            return
        visited.add(id(cls))
        for attr, raw in list(vars(cls).items()):
            qualname = f"{prefix}.{attr}"
            if isinstance(raw, type):
                if getattr(raw, "__qualname__", None) == qualname:
                    walk_class(raw, qualname)
                continue
            if attr.startswith("__") and attr.endswith("__") and attr not in PATTERN_DUNDERS:
                continue
            if isinstance(raw, (types.FunctionType, classmethod, staticmethod, property)):
                found[qualname] = (cls, attr, raw)

    for attr, value in list(vars(module).items()):
        if first is not None and attr != first:
            continue
        if getattr(value, "__module__", None) != defined_in:
            continue  # imported from elsewhere: capture it where it is defined
        if isinstance(value, type) and value.__qualname__ == attr:
            walk_class(value, attr)
        elif isinstance(value, types.FunctionType):
            found[attr] = (module, attr, value)
    return found


def wrap_one(
    entry: Target,
    owner: Any,
    attr: str,
    raw: Any,
    *,
    record: str,
    qualname: str,
    patches: dict[tuple[int, str], Patch],
    replaced: Replaced,
    report: Callable[[str], None],
) -> None:
    """Replace ``owner.attr`` (found as ``raw``) by its wrapper, noting the patch to undo."""
    if site_of(raw) is not None:
        return  # wrapped already (an earlier target, a reload, or @capture_args)
    defined_in = _defined_in(raw)
    if defined_in is not None and refused_module(defined_in):
        # Reached through a module of the user's: a re-export, or a method inherited from a
        # class of ours (CaptureStorage, ArgumentFilter) and looked up along the MRO.
        report(f"snapy_capture: {refusal(f'{entry.module}:{qualname}', defined_in)}")
        return
    options = dict(entry.options)
    if isinstance(raw, property):
        if raw.fget is None or site_of(raw.fget) is not None:
            if raw.fget is None:
                report(
                    f"snapy_capture: target {entry.name}: property {qualname} has no "
                    f"getter; not captured"
                )
            return
        new: Any = raw.getter(wrap(raw.fget, options, module=record, qualname=qualname))
    elif isinstance(raw, type):
        report(
            f"snapy_capture: target {entry.name} names the class {qualname}; name "
            f"its methods, or use '{entry.module}:{qualname}.*'"
        )
        return
    elif isinstance(raw, (classmethod, staticmethod)) or callable(raw):
        new = wrap(raw, options, module=record, qualname=qualname)
    else:
        report(
            f"snapy_capture: target {entry.name}: {qualname} is a "
            f"{type(raw).__name__}, not a function; not captured"
        )
        return
    had_own = attr in vars(owner)
    try:
        setattr(owner, attr, new)
    except (AttributeError, TypeError) as exc:
        report(f"snapy_capture: target {entry.name}: cannot replace {qualname} ({exc})")
        return
    patches[(id(owner), attr)] = Patch(owner, attr, raw, had_own, new)
    if isinstance(owner, types.ModuleType):
        replaced[id(raw)] = (raw, new, f"{entry.module}:{qualname}")


def _defined_in(raw: Any) -> str | None:
    """The module that defines the function behind ``raw`` (a function or a descriptor)."""
    function = raw.fget if isinstance(raw, property) else getattr(raw, "__func__", raw)
    module = getattr(function, "__module__", None)
    return module if isinstance(module, str) else None


def rebind_copies(
    replaced: Replaced, patches: dict[tuple[int, str], Patch]
) -> dict[int, list[str]]:
    """Point ``from module import f`` copies in loaded modules at the wrappers.

    Returns:
        The originals still held elsewhere (not in a module namespace): id -> keys holding it.
    """
    namespaces = set()
    for module in list(sys.modules.values()):
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        namespaces.add(id(namespace))
        for attr, value in list(namespace.items()):
            found = replaced.get(id(value))
            if found is not None and found[0] is value:
                setattr(module, attr, found[1])
                patches[(id(module), attr)] = Patch(module, attr, value, True, found[1])
    return _other_holders(replaced, namespaces)


def _other_holders(replaced: Replaced, module_namespaces: set[int]) -> dict[int, list[str]]:
    """Keys under which dicts other than module namespaces still hold a replaced original."""
    held: dict[int, list[str]] = {}
    # One pass over the heap for all of them: get_referrers walks every tracked object.
    for referrer in gc.get_referrers(*(raw for raw, _new, _name in replaced.values())):
        if type(referrer) is not dict or id(referrer) in module_namespaces:
            continue
        for key, value in list(referrer.items()):
            found = replaced.get(id(value))
            if found is not None and found[0] is value and key != "__wrapped__":
                held.setdefault(id(value), []).append(repr(key))
    return held


def absent_module(name: str) -> str | None:
    """The first missing package or module on the way to ``name``, found without importing
    anything new (a package not imported yet is not searched: it may run code)."""
    parts = name.split(".")
    for index in range(len(parts)):
        prefix = ".".join(parts[: index + 1])
        if prefix in sys.modules:
            continue
        parent = ".".join(parts[:index])
        if parent and parent not in sys.modules:
            return None
        try:
            found = importlib.util.find_spec(prefix)
        except Exception:  # noqa: BLE001 - unknowable without importing: say nothing
            return None
        return prefix if found is None else None
    return None
