"""Swapping the import hook's targets for their wrappers, and putting them back.

The targets are found by :mod:`snapy_capture.hook._resolve`, as the descriptors stored on
their class. Module-level functions other modules copied with ``from module import function``
are rebound here too.

Nothing in this module warns: problems go to the ``report`` callable, or back to the caller as
values, so that the hook decides how loudly to say them (and from which stack frame).
"""

from __future__ import annotations

import gc
import importlib.util
import sys
import types
from collections.abc import Callable
from typing import Any, Protocol, TypeAlias

from snapy_capture.capture import site_of
from snapy_capture.hook._kinds import CALLABLE, CLASS, FUNCTION, PROPERTY
from snapy_capture.hook._resolve import MISSING, Member
from snapy_capture.hook._targets import Target, refusal, refused_module

#: Module-level functions replaced: id(original) -> (original, wrapper, target name).
Replaced: TypeAlias = dict[int, tuple[Any, Any, str]]


class Wrap(Protocol):
    """What builds a target's wrapper: :func:`snapy_capture.capture.wrap` (the hook's default),
    or a stand-in a test gives to make wrapping fail."""

    def __call__(
        self,
        func: Any,
        overrides: dict[str, Any] | None = None,
        *,
        module: str | None = None,
        qualname: str | None = None,
    ) -> Any: ...


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


def wrap_one(
    entry: Target,
    member: Member,
    *,
    record: str,
    qualname: str,
    patches: dict[tuple[int, str], Patch],
    replaced: Replaced,
    report: Callable[[str], None],
    wrap: Wrap,
) -> None:
    """Replace ``member`` by its wrapper (built by ``wrap``), noting the patch to undo."""
    owner, attr, raw, kind = member
    if site_of(raw) is not None:
        return  # wrapped already (an earlier target, a reload, or @capture_args)
    defined_in = _defined_in(raw)
    if defined_in is not None and refused_module(defined_in):
        # Reached through a module of the user's: a re-export, or a method inherited from a
        # class of ours (CaptureStorage, ArgumentFilter) and looked up along the MRO.
        report(f"snapy_capture: {refusal(f'{entry.module}:{qualname}', defined_in)}")
        return
    options = dict(entry.options)
    if kind == PROPERTY:
        if raw.fget is None or site_of(raw.fget) is not None:
            if raw.fget is None:
                report(
                    f"snapy_capture: target {entry.name}: property {qualname} has no "
                    f"getter; not captured"
                )
            return
        new: Any = raw.getter(wrap(raw.fget, options, module=record, qualname=qualname))
    elif kind == CLASS:
        report(
            f"snapy_capture: target {entry.name} names the class {qualname}; name "
            f"its methods, or use '{entry.module}:{qualname}.*'"
        )
        return
    elif kind in (FUNCTION, CALLABLE):
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


class Wrapping:
    """One pass of the hook over a module: what it replaced, and where problems are said."""

    def __init__(
        self,
        patches: dict[tuple[int, str], Patch],
        record: str,
        report: Callable[[str], None],
        wrapper: Wrap,
    ) -> None:
        self.patches = patches
        self.record = record
        self.report = report
        self.wrapper = wrapper
        self.replaced: Replaced = {}

    def wrap(self, entry: Target, qualname: str, member: Member) -> None:
        # One target's failure, whatever it is (a RecursionError from a target that captures
        # its own capturing, a metaclass's __setattr__ raising SystemExit), is that target's
        # warning; the other targets and the user's import go on. KeyboardInterrupt is the
        # user's, and a warning raised here was made an error by the caller (-W error): both
        # propagate.
        try:
            wrap_one(
                entry,
                member,
                record=self.record,
                qualname=qualname,
                patches=self.patches,
                replaced=self.replaced,
                report=self.report,
                wrap=self.wrapper,
            )
        except (KeyboardInterrupt, Warning):
            raise
        except BaseException as exc:  # noqa: BLE001
            self.report(
                f"snapy_capture: target {entry.name} ({entry.where}): could not wrap "
                f"{qualname} ({type(exc).__name__}: {exc}); not captured"
            )


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
