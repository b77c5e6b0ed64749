"""Swapping the import hook's targets for their wrappers, and putting them back.

The targets are found by :mod:`snapy_capture.hook._resolve`, as the descriptors stored on
their class. Module-level functions other modules copied with ``from module import function``
are rebound here too; references held in registries (dicts, lists and sets at module level or
in a class) are rebound by :mod:`snapy_capture.hook._registries`.

Nothing in this module warns: problems go to the ``report`` callable, or back to the caller as
values, so that the hook decides how loudly to say them (and from which stack frame).
"""

from __future__ import annotations

import functools
import gc
import sys
import types
from collections.abc import Callable

from snapy_capture._records import Record
from snapy_capture.capture import site_of
from snapy_capture.hook._kinds import CALLABLE, CLASS, FUNCTION, PROPERTY
from snapy_capture.hook._resolve import MISSING, Member
from snapy_capture.hook._targets import Target, refusal, refused_module

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from typing import Any, Protocol, TypeAlias


class Swap(Record):
    """A function the hook replaced, as other places may hold it."""

    #: The function object a copy or a registry holds (a method's plain function).
    original: Any
    #: What such a reference should hold instead (a method: the wrapper as read on its class).
    value: Any
    #: The target's name, ``module:qualname``.
    name: str
    #: What a class's own namespace should hold instead (``alias = method``), if anything.
    descriptor: Any = None


#: Functions replaced: id(original) -> its :class:`Swap`.
Replaced: TypeAlias = dict[int, Swap]


if TYPE_CHECKING:  # protocols: annotations only

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
) -> Any:
    """Replace ``member`` by its wrapper (built by ``wrap``), noting the patch to undo.

    Returns:
        The function's wrapper now in place (ours, or one there already), else ``None``.
    """
    owner, attr, raw, kind = member
    if site_of(raw) is not None:
        return raw  # wrapped already (an earlier target, a reload, or @capture_args)
    defined_in = _defined_in(raw)
    if defined_in is not None and refused_module(defined_in):
        # Reached through a module of the user's: a re-export, or a method inherited from a
        # class of ours (CaptureStorage, ArgumentFilter) and looked up along the MRO.
        report(f"snapy_capture: {refusal(f'{entry.module}:{qualname}', defined_in)}")
        return None
    options = dict(entry.options)
    if kind == PROPERTY:
        if raw.fget is None or site_of(raw.fget) is not None:
            if raw.fget is None:
                report(
                    f"snapy_capture: target {entry.name}: property {qualname} has no "
                    f"getter; not captured"
                )
                return None
            return raw.fget
        new: Any = raw.getter(wrap(raw.fget, options, module=record, qualname=qualname))
    elif kind == CLASS:
        report(
            f"snapy_capture: target {entry.name} names the class {qualname}; name "
            f"its methods, or use '{entry.module}:{qualname}.*'"
        )
        return None
    elif kind in (FUNCTION, CALLABLE):
        new = wrap(raw, options, module=record, qualname=qualname)
    else:
        report(
            f"snapy_capture: target {entry.name}: {qualname} is a "
            f"{type(raw).__name__}, not a function; not captured"
        )
        return None
    had_own = attr in vars(owner)
    try:
        setattr(owner, attr, new)
    except (AttributeError, TypeError) as exc:
        report(f"snapy_capture: target {entry.name}: cannot replace {qualname} ({exc})")
        return None
    patches[(id(owner), attr)] = Patch(owner, attr, raw, had_own, new)
    name = f"{entry.module}:{qualname}"
    if isinstance(owner, types.ModuleType):
        replaced[id(raw)] = Swap(raw, new, name, new)
    elif had_own and kind == FUNCTION and isinstance(owner, type):
        # A method other code took from its class (``registry[dict] = C.method``) holds the
        # plain function; the wrapper read on the class is what it would hold had we been
        # first. Not an inherited method (the base class keeps its own), nor a classmethod
        # (it is held as a bound method, a new object each time it is read).
        function = raw.__func__ if isinstance(raw, staticmethod) else raw
        if isinstance(function, types.FunctionType) and not isinstance(raw, classmethod):
            value = new.__get__(None, owner)
            replaced[id(function)] = Swap(
                function, value, name, None if isinstance(raw, staticmethod) else new
            )
    return new


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
        #: (target name, qualname, wrapper) of every function this pass wrapped or found wrapped.
        self.wrapped: list[tuple[str, str, Any]] = []

    def wrap(self, entry: Target, qualname: str, member: Member) -> None:
        # One target's failure, whatever it is (a RecursionError from a target that captures
        # its own capturing, a metaclass's __setattr__ raising SystemExit), is that target's
        # warning; the other targets and the user's import go on. KeyboardInterrupt is the
        # user's, and a warning raised here was made an error by the caller (-W error): both
        # propagate.
        try:
            new = wrap_one(
                entry,
                member,
                record=self.record,
                qualname=qualname,
                patches=self.patches,
                replaced=self.replaced,
                report=self.report,
                wrap=self.wrapper,
            )
            if new is not None:
                self.wrapped.append((entry.name, qualname, new))
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
    replaced: Replaced, patches: dict[tuple[int, str], Any]
) -> tuple[set[int], list[types.ModuleType]]:
    """Point ``from module import f`` copies in loaded modules at the wrappers.

    Returns:
        The ids of the module namespaces, and the modules that imported from the targets'
        modules (they held a copy, the module itself, or one of its classes): the ones whose
        registries are searched next.
    """
    namespaces = set()
    names = {swap.name.partition(":")[0] for swap in replaced.values()}
    importers: list[types.ModuleType] = []
    for module in list(sys.modules.values()):
        namespace = getattr(module, "__dict__", None)
        if not isinstance(namespace, dict):
            continue
        namespaces.add(id(namespace))
        imported = namespace.get("__name__") in names
        for attr, value in list(namespace.items()):
            found = replaced.get(id(value))
            if found is not None and found.original is value:
                setattr(module, attr, found.value)
                patches[(id(module), attr)] = Patch(module, attr, value, True, found.value)
                imported = True
            elif not imported and isinstance(value, (type, types.ModuleType)):
                key = "__name__" if isinstance(value, types.ModuleType) else "__module__"
                imported = vars(value).get(key) in names
        if imported:
            importers.append(module)
    return namespaces, importers


def other_holders(replaced: Replaced, module_namespaces: set[int]) -> dict[str, list[str]]:
    """Keys under which dicts other than module namespaces still hold a replaced original,
    per target name (one pass over the heap)."""
    held: dict[str, list[str]] = {}
    # One pass over the heap for all of them: get_referrers walks every tracked object.
    for referrer in gc.get_referrers(*(swap.original for swap in replaced.values())):
        if type(referrer) is not dict or id(referrer) in module_namespaces:
            continue
        for key, value in list(referrer.items()):
            found = replaced.get(id(value))
            if found is not None and found.original is value and key != "__wrapped__":
                held.setdefault(found.name, []).append(label_key(key))
    return held


def label_key(key: Any) -> str:
    """How a report names a container's key, without running any of the host's code (a
    ``__repr__`` of its own): the repr of a plain value, a class's name, else the key's type.
    A text key is data of the program's (a webhook route holding its token): what the
    default ``pii_patterns`` match is masked, as in a captured value."""
    if key is None or type(key) in (str, int, float, bool):
        if type(key) is str:
            key = _default_filter().mask_pii(key[:_KEY_TEXT])
        text = repr(key)
        return text if len(text) <= 60 else f"{text[:57]}..."
    if isinstance(key, type):
        return f"<class {key.__qualname__}>"
    return f"<{type(key).__name__}>"


#: Characters of a text key a label looks at (masked, then cut to 60 in all).
_KEY_TEXT = 1000


@functools.cache
def _default_filter() -> Any:
    from snapy_capture.filters import ArgumentFilter  # noqa: PLC0415 - loaded with capture

    return ArgumentFilter()
