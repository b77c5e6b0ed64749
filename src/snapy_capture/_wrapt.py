"""wrapt for the capture layer: its package, or its C extension alone where start-up matters.

The capture layer needs wrapt's function wrappers, which its C extension (``wrapt._wrappers``)
defines. ``import wrapt`` imports the whole package, and with it asyncio and
importlib.metadata, for features capture does not use: most of what a process pays when its
first target module is imported (issue 21: ~60 of ~95 ms here), against a few ms for the
extension.

So when the import hook loads the capture layer (``ImportHook._ready``, in a process the
runner or autoload started capturing in) it asks for the extension alone
(:func:`prefer_extension`), and gets it if the program has not imported wrapt: the extension
and ``wrapt.exceptions`` (the one module it imports) are loaded from wrapt's own directory
under their own names and registered in ``sys.modules``, as importing the package would
register them. A program that imports wrapt later gets the package, which finds both there:
its types are the ones capture wraps with (``isinstance(captured, wrapt.FunctionWrapper)``
holds), and the hook binds them as the package's attributes once its body has run (Python
binds a submodule only when it loads it). A program that imported wrapt before shares it.
With ``WRAPT_DISABLE_EXTENSIONS`` set, without the extension, or on any problem loading it,
the package is imported as usual. The decorator (``import snapy_capture``) always imports
the package.

Only wrapt's own import lock is held while the extension loads (as importing wrapt holds it):
another thread importing wrapt meanwhile waits for it, then imports the package as usual.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # not typing's: see snapy_capture.hook._startup
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Any

__all__ = ["alone", "bind", "forget", "prefer_extension", "shares", "wrapt_types"]

_prefer_extension = False
_EXTENSION = "wrapt._wrappers"
_EXCEPTIONS = "wrapt.exceptions"
#: The modules of wrapt's registered without its package (empty when the package was used).
_alone: dict[str, ModuleType] = {}


#: The modules of :data:`_alone` a hook that went left unregistered (see :func:`forget`).
_forgotten: dict[str, ModuleType] = {}


def prefer_extension() -> None:
    """Load wrapt's C extension alone, when the capture layer is imported from now on, if the
    program has not imported wrapt (called by the import hook; see the module's doc).

    A hook installed after another went finds the capture layer imported already, its types
    those of the modules the first registered: registered again (if the program has not
    imported wrapt since), so that a program importing wrapt now gets those types, as it
    would have with the first hook, not a second copy of the extension's."""
    global _prefer_extension  # noqa: PLW0603
    _prefer_extension = True
    if _forgotten:
        from importlib._bootstrap import _ModuleLockManager  # type: ignore[attr-defined]  # noqa: PLC0415

        with _ModuleLockManager("wrapt"):
            if {"wrapt", *_forgotten}.isdisjoint(sys.modules):
                sys.modules.update(_forgotten)
                _alone.update(_forgotten)
            _forgotten.clear()


def alone() -> dict[str, ModuleType]:
    """wrapt's modules registered without the package, by name, while the program has not
    imported it (the import hook binds them to the package when it does)."""
    return _alone


def shares(locations: list[str] | None) -> bool:
    """Whether the wrapt package found at ``locations`` (its spec's) is the one whose modules
    were registered alone: not a copy earlier on a path the program changed since."""
    exceptions = _alone.get(_EXCEPTIONS)
    origin = getattr(exceptions, "__file__", None)
    if not locations or len(locations) != 1 or origin is None:
        return False
    try:
        return os.path.samefile(locations[0], os.path.dirname(origin))
    except OSError:
        return False


def forget() -> None:
    """The import hook is going: a program importing wrapt from now on loads it whole, as
    without capture (nothing would bind the modules registered alone to the package)."""
    if "wrapt" not in sys.modules:
        for name, module in _alone.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]
                _forgotten[name] = module
    _alone.clear()


def wrapt_types() -> Any:
    """An object with wrapt's ``FunctionWrapper`` and ``BoundFunctionWrapper``: the wrapt
    package, or its C extension alone (see the module's doc)."""
    if (
        _prefer_extension
        and "wrapt" not in sys.modules
        and not os.environ.get("WRAPT_DISABLE_EXTENSIONS")
    ):
        try:
            return _extension_alone()
        except Exception:  # noqa: BLE001, S110 - the package then, as without this
            pass
    import wrapt  # noqa: PLC0415

    return wrapt


def _extension_alone() -> Any:
    import importlib.machinery  # noqa: PLC0415
    import importlib.util  # noqa: PLC0415
    from importlib._bootstrap import _ModuleLockManager  # type: ignore[attr-defined]  # noqa: PLC0415

    spec = importlib.util.find_spec("wrapt")  # a top-level name: finding it runs nothing
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("wrapt not found")
    (directory,) = spec.submodule_search_locations
    extension = next(
        path
        for suffix in importlib.machinery.EXTENSION_SUFFIXES
        if os.path.isfile(path := os.path.join(directory, f"_wrappers{suffix}"))
    )
    exceptions = _load(
        importlib.machinery.SourceFileLoader(_EXCEPTIONS, os.path.join(directory, "exceptions.py"))
    )
    # Under wrapt's own import lock, as importing wrapt would hold it: a thread importing
    # wrapt (or one of its modules: the package comes first) meanwhile waits for it, then
    # imports the package as usual, with what is registered; one that began first has it
    # when we get the lock, and is used.
    with _ModuleLockManager("wrapt"):
        if not {"wrapt", _EXTENSION, _EXCEPTIONS}.isdisjoint(sys.modules):
            raise ImportError("wrapt is imported already")
        sys.modules[_EXCEPTIONS] = exceptions
        try:
            module = _load_extension(extension)
            if not {"wrapt", _EXTENSION}.isdisjoint(sys.modules):
                raise ImportError("wrapt was imported while its extension loaded")
        except BaseException:
            if sys.modules.get(_EXCEPTIONS) is exceptions:
                del sys.modules[_EXCEPTIONS]
            raise
        sys.modules[_EXTENSION] = module
        _alone.update({_EXCEPTIONS: exceptions, _EXTENSION: module})
    return module


def _load_extension(path: str) -> Any:
    import _imp  # noqa: PLC0415
    import importlib.machinery  # noqa: PLC0415
    import importlib.util  # noqa: PLC0415

    loader = importlib.machinery.ExtensionFileLoader(_EXTENSION, path)
    spec = importlib.util.spec_from_file_location(_EXTENSION, path, loader=loader)
    if spec is None:
        raise ImportError(_EXTENSION)
    module = importlib.util.module_from_spec(spec)  # created (and given __file__...), not run
    # The extension's initialization imports wrapt.exceptions with PyImport_ImportModule:
    # the ``__import__`` of the calling frame's builtins, which, given no fromlist, returns,
    # hence imports, the top-level package. Run from a frame whose builtins answer that
    # from sys.modules: no wrapt package, not even a placeholder, is ever in sys.modules for
    # another thread's ``import wrapt`` to take (a placeholder removed after was one empty
    # module such a thread kept for good).
    namespace = {
        "__builtins__": {"__import__": _import_in_extension},
        "execute": _imp.exec_dynamic,
        "module": module,
    }
    exec("execute(module)", namespace)  # noqa: S102 - our constant code, for its frame's builtins
    return module


def _import_in_extension(
    name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0
) -> Any:
    if name == _EXCEPTIONS and not level and name in sys.modules:
        return sys.modules[name]  # what PyImport_ImportModule returns (it reads sys.modules)
    import builtins  # noqa: PLC0415

    return builtins.__import__(name, globals, locals, fromlist, level)


def _load(loader: Any) -> Any:
    import importlib.util  # noqa: PLC0415

    spec = importlib.util.spec_from_file_location(loader.name, loader.path, loader=loader)
    if spec is None:
        raise ImportError(loader.name)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def bind(package: ModuleType) -> None:
    """Bind the modules registered alone as attributes of the wrapt package the program has
    just imported (as Python does for a submodule it loads itself)."""
    for name, module in _alone.items():
        if sys.modules.get(name) is module:
            vars(package).setdefault(name.rpartition(".")[2], module)
    _alone.clear()
