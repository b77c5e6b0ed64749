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

__all__ = ["alone", "bind", "forget", "prefer_extension", "wrapt_types"]

_prefer_extension = False
_EXTENSION = "wrapt._wrappers"
_EXCEPTIONS = "wrapt.exceptions"
#: The modules of wrapt's registered without its package (empty when the package was used).
_alone: dict[str, ModuleType] = {}


def prefer_extension() -> None:
    """Load wrapt's C extension alone, when the capture layer is imported from now on, if the
    program has not imported wrapt (called by the import hook; see the module's doc)."""
    global _prefer_extension  # noqa: PLW0603
    _prefer_extension = True


def alone() -> dict[str, ModuleType]:
    """wrapt's modules registered without the package, by name, while the program has not
    imported it (the import hook binds them to the package when it does)."""
    return _alone


def forget() -> None:
    """The import hook is going: a program importing wrapt from now on loads it whole, as
    without capture (nothing would bind the modules registered alone to the package)."""
    if "wrapt" not in sys.modules:
        for name, module in _alone.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]
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
    # The extension's initialization imports wrapt.exceptions, hence wrapt (Python's C import
    # returns the top-level package): for that instant the package is one not executed,
    # marked as being imported, under wrapt's own import lock, held here as importing wrapt
    # would hold it. Another thread importing wrapt meanwhile waits for that lock, then finds
    # the package gone and imports it as usual, with what is registered.
    package = importlib.util.module_from_spec(spec)
    spec._initializing = True  # type: ignore[attr-defined]
    with _ModuleLockManager("wrapt"):
        if not {"wrapt", _EXTENSION, _EXCEPTIONS}.isdisjoint(sys.modules):
            raise ImportError("wrapt is imported already")
        sys.modules["wrapt"] = package
        sys.modules[_EXCEPTIONS] = exceptions
        try:
            module = _load(importlib.machinery.ExtensionFileLoader(_EXTENSION, extension))
        except BaseException:
            if sys.modules.get(_EXCEPTIONS) is exceptions:
                del sys.modules[_EXCEPTIONS]
            raise
        finally:
            if sys.modules.get("wrapt") is package:
                del sys.modules["wrapt"]
        sys.modules[_EXTENSION] = module
        _alone.update({_EXCEPTIONS: exceptions, _EXTENSION: module})
    return module


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
