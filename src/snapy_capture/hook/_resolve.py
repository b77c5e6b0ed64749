"""Finding the functions a target names: in a live module, or in a module's source.

The import hook (and ``gen-tests``) look in the live module; ``snapy-capture check`` reads the
module's source, so that nothing in it runs. Both see qualnames with a kind
(:mod:`snapy_capture.hook._kinds`) and select among them with the one rule,
:func:`~snapy_capture.hook._kinds.selects`: ``check`` lists what the hook will wrap.

In a live module, names are looked up in ``vars()`` along the MRO rather than with
``getattr``, so a classmethod, staticmethod or property is found as the descriptor stored on
the class (which is what must be wrapped and put back), not as the bound attribute.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import os
import sys
import types
from collections.abc import Iterable, Iterator, Mapping

from snapy_capture._records import Record
from snapy_capture.hook._kinds import CLASS, EXACT_KINDS, kind_of, selects
from snapy_capture.hook._targets import Target

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from typing import Any, Final

    # Imported by check alone (a capturing process never reads source).
    from snapy_capture.hook._source import SourceNames

__all__ = [
    "Member",
    "Resolution",
    "TargetNotFoundError",
    "members",
    "project_on_path",
    "resolve",
    "resolve_statically",
    "selected",
]

MISSING: Final[Any] = object()


class TargetNotFoundError(Exception):
    """A target not found; internal control flow, never escapes the hook."""


class Member(Record):
    """A name found in a live module: where it is stored, the raw object and its kind."""

    owner: Any
    attr: str
    raw: Any
    kind: str


def selected(target: Target, kinds: Mapping[str, str]) -> list[str]:
    """The qualnames among ``kinds`` (qualname -> kind) that ``target`` selects."""
    return [qualname for qualname, kind in kinds.items() if selects(target, qualname, kind)]


# --- in a live module ---------------------------------------------------------------------


def resolve(module: types.ModuleType, qualname: str) -> Member:
    """The member called ``qualname`` (looked up along the MRO); raw as stored, not bound.

    Raises:
        TargetNotFoundError: naming the part of ``qualname`` that is missing.
    """
    parts = qualname.split(".")
    owner: Any = module
    for index, part in enumerate(parts[:-1]):
        found = _lookup(owner, part)
        prefix = ".".join(parts[: index + 1])
        if found is MISSING:
            raise TargetNotFoundError(f"{module.__name__} has no attribute {prefix!r}")
        if not isinstance(found, type):
            raise TargetNotFoundError(
                f"{module.__name__}.{prefix} is a {type(found).__name__}, not a class"
            )
        owner = found
    raw = _lookup(owner, parts[-1])
    if raw is MISSING:
        raise TargetNotFoundError(f"{module.__name__} has no attribute {qualname!r}")
    return Member(owner, parts[-1], raw, kind_of(raw))


def _lookup(owner: Any, name: str) -> Any:
    if isinstance(owner, type):
        for klass in owner.__mro__:
            namespace = vars(klass)
            if name in namespace:
                return namespace[name]
        return MISSING
    return vars(owner).get(name, MISSING)


def members(module: types.ModuleType, first: str | None = None) -> dict[str, Member]:
    """Every name a pattern may select in ``module`` (only those under ``first``, when given):
    its functions and the members of its classes, each class's own (not inherited)."""
    found: dict[str, Member] = {}
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
            found[qualname] = Member(cls, attr, raw, kind_of(raw))

    for attr, value in list(vars(module).items()):
        if first is not None and attr != first:
            continue
        if getattr(value, "__module__", None) != defined_in:
            continue  # imported from elsewhere: capture it where it is defined
        if isinstance(value, type):
            if value.__qualname__ == attr:
                walk_class(value, attr)
        else:
            found[attr] = Member(module, attr, value, kind_of(value))
    return found


# --- from the source, for check -----------------------------------------------------------


class Resolution:
    """What ``check`` found for one target: the names it selects, or why it selects none."""

    # Not a dataclass: this module is loaded with the capture layer, and creating one costs
    # every capturing process ~0.3 ms at start-up, for ``check`` alone.
    __slots__ = ("errors", "matches", "note")

    def __init__(
        self,
        matches: list[str] | None = None,
        errors: list[str] | None = None,
        note: str | None = None,
    ) -> None:
        self.matches = [] if matches is None else matches
        self.errors = [] if errors is None else errors
        #: Something true and worth saying about a target that resolves (a module alias).
        self.note = note


def resolve_statically(target: Target) -> Resolution:
    """What the hook would wrap for ``target``, without running the target's module.

    The module is found on ``sys.path`` with the working directory on it; its source is read,
    not run. A module without Python source (an extension) is imported: that runs no user code.
    Finding ``pkg.mod`` imports the package ``pkg`` itself.
    """
    result = Resolution()
    if target.module == "__main__":
        result.errors.append("'__main__' has no source before it runs; name the script's module")
        return result
    with project_on_path():
        found = _find(target.module, result)
    if found is None:
        return result
    from snapy_capture.hook._source import SourceNames  # noqa: PLC0415 - see the imports

    real, names = found
    if real != target.module:
        # os.path is posixpath: the hook finds it under the name given, and the captures
        # are recorded under the module's own name, as for any function.
        result.note = f"{target.module} is the module {real}: captured as {real}:{target.qualname}"
    if isinstance(names, SourceNames):
        _from_source(target, names, result, real)
    else:
        _from_module(target, names, result)
    return result


def _find(module: str, result: Resolution) -> tuple[str, SourceNames | types.ModuleType] | None:
    """The module's real name, and its names read from its source (else the module itself)."""
    try:
        spec = importlib.util.find_spec(module)
        if spec is None:
            raise ModuleNotFoundError(f"no module named {module!r}")
        if spec.origin and spec.origin.endswith(".py"):
            from snapy_capture.hook._source import read_source  # noqa: PLC0415

            with open(spec.origin, "rb") as handle:
                return spec.name, read_source(handle.read(), spec.origin)
    except (ImportError, ValueError, OSError, SyntaxError) as exc:
        detail = " ".join(str(exc).split())
        hint = (
            _did_you_mean(module, _module_names(module))
            if isinstance(exc, ModuleNotFoundError)
            else ""
        )
        result.errors.append(f"module {module!r} not found or unreadable: {detail}{hint}")
        return None
    sink = io.StringIO()
    try:
        # No Python source (an extension module): importing it runs no user code. A module
        # that prints on import must not garble the report (or --json).
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            return spec.name, importlib.import_module(module)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - SystemExit at import is a finding too
        detail = " ".join(str(exc).split())
        result.errors.append(
            f"module {module!r} does not import: "
            f"{type(exc).__name__}{': ' + detail if detail else ''}"
        )
        return None


def _from_source(target: Target, names: SourceNames, result: Resolution, real: str) -> None:
    if target.is_pattern:
        result.matches = selected(target, names.kinds)
        if not result.matches:
            result.errors.append(f"pattern {target.qualname!r} matches nothing in {target.module}")
        return
    kind, elsewhere = names.lookup(target.qualname)
    if kind is None and names.stars:
        # ``from .tz import *`` (dateutil.tz): the live module has what the hook will find.
        with project_on_path():
            kind = _star_kind(real, names, target.qualname, {real})
    if kind is None and elsewhere:
        # ``class Array(Item, _CustomList)`` with the base imported (tomlkit): the hook finds
        # the method along the live MRO; here the bases' modules are read in its stead.
        with project_on_path():
            kind = _inherited_kind(real, names, target.qualname.rpartition(".")[2], elsewhere)
    if kind is None:
        message = f"{target.qualname!r} not found in {target.module}" + _did_you_mean(
            target.qualname, (q for q, k in names.kinds.items() if k in EXACT_KINDS)
        )
        if elsewhere:
            message += (
                f" (if it is inherited from {', '.join(elsewhere)}, defined in another "
                f"module, check cannot see it: check does not import)"
            )
        result.errors.append(message)
    else:
        _exact(target, kind, result)


def _star_kind(module: str, names: SourceNames, qualname: str, seen: set[str]) -> str | None:
    """The kind of ``qualname`` as ``module``'s ``from X import *`` lines bring it in, read
    from the source of each X (and of its own star imports). Nothing is imported: X is found
    along the path, without running its packages (one of them may be ``module`` itself)."""
    first = qualname.partition(".")[0]
    package = module if names.package else module.rpartition(".")[0]
    read: dict[str, SourceNames | None] = {}
    for written in names.stars:
        try:
            source = importlib.util.resolve_name(written, package)
        except (ImportError, ValueError):
            continue
        if source in seen:
            continue
        seen.add(source)
        inner = _read_module(source, read)
        if inner is None or not _star_brings(inner, first):
            continue
        kind, _elsewhere = inner.lookup(qualname)
        if kind is None and inner.stars:
            kind = _star_kind(source, inner, qualname, seen)
        if kind is not None:
            return kind
    return None


def _star_brings(names: SourceNames, name: str) -> bool:
    """Whether ``from <that module> import *`` brings in ``name``: its ``__all__``, else
    every name not starting with an underscore."""
    return name in names.exports if names.exports is not None else not name.startswith("_")


#: How many modules a base class may be re-exported through before check gives up on it.
_REEXPORTS: Final = 8


def _inherited_kind(module: str, names: SourceNames, attr: str, bases: list[str]) -> str | None:
    """The kind of ``attr`` as one of ``bases`` (written in ``module``'s source, defined in
    other modules) or their own bases have it, read from their sources, breadth first."""
    pending = [(module, names, base) for base in bases]
    seen: set[tuple[str, str]] = set()
    read: dict[str, SourceNames | None] = {}
    while pending:
        where, source, written = pending.pop(0)
        found = _class_source(where, source, written, read, _REEXPORTS)
        if found is None or (found[0], found[2]) in seen:
            continue
        seen.add((found[0], found[2]))
        defined_in, inner, qualname = found
        kind, elsewhere = inner.lookup(f"{qualname}.{attr}")
        if kind is not None:
            return kind
        pending.extend((defined_in, inner, base) for base in elsewhere)
    return None


def _class_source(
    module: str,
    names: SourceNames,
    written: str,
    read: dict[str, SourceNames | None],
    hops: int,
) -> tuple[str, SourceNames, str] | None:
    """Where the class ``written`` in ``module``'s source is defined: the module, its names
    and the class's qualname there, following imports and re-exports (``hops`` at most)."""
    if names.kinds.get(written) == CLASS:
        return module, names, written
    if hops <= 0:
        return None
    head, _, rest = written.partition(".")
    package = module if names.package else module.rpartition(".")[0]
    candidates: list[tuple[str, str]] = []  # (module, qualname in it), the likeliest first
    stars: list[str] = []
    try:
        if head in names.imported:
            origin, name = names.imported[head]
            source = importlib.util.resolve_name(origin, package) if origin else name
            if rest:  # ``from pkg import mod`` then ``mod.Cls``, or ``Cls.Inner``
                candidates.append((f"{source}.{name}", rest))
            candidates.append((source, f"{name}.{rest}" if rest else name))
        elif head in names.modules and rest:
            parts = [names.modules[head], *rest.split(".")]
            # ``import a.b`` then ``a.b.Cls``: the longest prefix naming a module holds it.
            candidates.extend(
                (".".join(parts[:cut]), ".".join(parts[cut:]))
                for cut in range(len(parts) - 1, 0, -1)
            )
        else:
            stars = [importlib.util.resolve_name(star, package) for star in names.stars]
            candidates.extend((star, written) for star in stars)
    except (ImportError, ValueError):
        return None
    for where, qualname in candidates:
        inner = _read_module(where, read)
        if inner is None:
            continue
        if where in stars and not _star_brings(inner, head):
            continue  # not what ``import *`` of it brings in
        found = _class_source(where, inner, qualname, read, hops - 1)
        if found is not None:
            return found
    return None


def _read_module(module: str, read: dict[str, SourceNames | None]) -> SourceNames | None:
    """``module``'s names read from its source, found without importing it (cached)."""
    if module not in read:
        from snapy_capture.hook._source import read_source  # noqa: PLC0415 - see the imports

        origin = _source_file(module)
        read[module] = None
        if origin is not None:
            try:
                with open(origin, "rb") as handle:
                    read[module] = read_source(handle.read(), origin)
            except (OSError, ValueError, SyntaxError):
                pass
    return read[module]


def _source_file(module: str) -> str | None:
    """The ``.py`` file of ``module``, found along ``sys.path`` without importing its packages
    (``importlib.util.find_spec`` would run them); ``None`` when it is not a plain file."""
    import importlib.machinery  # noqa: PLC0415 - as difflib below

    path: list[str] | None = None
    spec = None
    parts = module.split(".")
    for index in range(len(parts)):
        if index and path is None:
            return None  # a module, not a package, cannot hold the next part
        spec = importlib.machinery.PathFinder.find_spec(".".join(parts[: index + 1]), path)
        if spec is None:
            return None
        path = list(spec.submodule_search_locations or []) or None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    return spec.origin


def _from_module(target: Target, module: types.ModuleType, result: Resolution) -> None:
    if target.is_pattern:
        kinds = {qualname: member.kind for qualname, member in members(module).items()}
        result.matches = selected(target, kinds)
        if not result.matches:
            result.errors.append(f"pattern {target.qualname!r} matches nothing in {target.module}")
        return
    try:
        member = resolve(module, target.qualname)
    except TargetNotFoundError as missing:
        names = (q for q, m in members(module).items() if m.kind in EXACT_KINDS)
        result.errors.append(str(missing) + _did_you_mean(target.qualname, names))
        return
    _exact(target, member.kind, result)


def _did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the names closest to a misspelled one, else ``""``."""
    import difflib  # noqa: PLC0415 - only for ``check`` (a process capturing never needs it)

    close = difflib.get_close_matches(word, sorted(set(candidates)), n=3, cutoff=0.75)
    if not close:
        return ""
    return f" (did you mean {' or '.join(repr(name) for name in close)}?)"


def _module_names(module: str) -> list[str]:
    """The modules a misspelled ``module`` may have meant: its siblings, or the top-level
    modules on ``sys.path``, found without importing anything new."""
    import pkgutil  # noqa: PLC0415 - as difflib above

    parent, _dot, _last = module.rpartition(".")
    if parent:
        package = sys.modules.get(parent)
        path = getattr(package, "__path__", None)
        if path is None:
            return []
        found = [f"{parent}.{info.name}" for info in pkgutil.iter_modules(path)]
    else:
        found = [info.name for info in pkgutil.iter_modules()]
    return found


def _exact(target: Target, kind: str, result: Resolution) -> None:
    if kind in EXACT_KINDS:
        result.matches = [target.qualname]
    elif kind == CLASS:
        result.errors.append(
            f"{target.qualname} is not a function (it is a class: name its methods, "
            f"or use '{target.name}.*')"
        )
    else:
        result.errors.append(f"{target.qualname} is not a function (it is a constant or value)")


@contextlib.contextmanager
def project_on_path() -> Iterator[None]:
    """The working directory importable (targets name the user's project), and ``sys.path``
    as it was afterwards. The command line's ``sys.path[0]`` is its own bin directory."""
    saved = list(sys.path)
    here = os.getcwd()
    if here not in sys.path and "" not in sys.path:
        sys.path.insert(0, here)
    try:
        yield
    finally:
        sys.path[:] = saved
