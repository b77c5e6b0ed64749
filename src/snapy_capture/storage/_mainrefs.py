"""References to classes and functions of the script run as ``__main__``: storing and resolving.

Pickle would store such an object as ``__main__.Cls``, which a test process cannot find; the
serializers instead record the script's importable module name. The process-wide name declared
by the runner lives in :mod:`.serializers` (``set_main_module_name``); the helpers
here take it as a callable so that there is one source of truth and no import cycle.
"""

from __future__ import annotations

import importlib
import io
import os
import pickle
import sys
import types
from collections.abc import Callable

from snapy_capture.errors import CaptureFormatError

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from typing import Any, Final, TypeAlias

__all__ = [
    "MAIN_MODULES",
    "MainMappingPickler",
    "MainName",
    "find_global",
    "guess_main_module_name",
    "lookup",
]

# multiprocessing's spawn/forkserver children import the script as __mp_main__.
MAIN_MODULES: Final = ("__main__", "__mp_main__")

MainName: TypeAlias = Callable[[], str | None]
"""Returns the importable name of ``__main__``: ``serializers.main_module_name``, which holds
the runner's declaration; passed in because this module must not import serializers."""


def guess_main_module_name() -> str | None:
    """The importable name of ``__main__`` when none was declared, or ``None``.

    ``__main__.__spec__.name`` (``python -m pkg.mod``), else the script's file stem when the
    script's directory is ``sys.path[0]`` (``python app.py``).
    """
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    spec_name = getattr(spec, "name", None)
    if isinstance(spec_name, str) and spec_name and spec_name != "__main__":
        return spec_name
    file = getattr(main, "__file__", None)
    if not isinstance(file, str) or not sys.path or not sys.path[0]:
        return None
    parent, name = _parent_and_name(file)
    stem, suffix = os.path.splitext(name)
    if suffix != ".py" or not stem.isidentifier():
        return None
    try:
        importable = os.path.samefile(parent, sys.path[0])
    except OSError:
        return None
    return stem if importable else None


def _parent_and_name(file: str) -> tuple[str, str]:
    """``file``'s parent and name as ``pathlib.PurePath`` reads them (empty and ``.`` parts
    ignored): pathlib, with urllib.parse and ipaddress, is not loaded to capture (issue 21)."""
    drive, rest = os.path.splitdrive(file)
    if os.altsep:
        rest = rest.replace(os.altsep, os.sep)
    parts = [part for part in rest.split(os.sep) if part not in ("", ".")]
    if not parts:
        return file, ""
    root = drive + rest[: len(rest) - len(rest.lstrip(os.sep))]  # "//" stays, as in pathlib
    return (root + os.sep.join(parts[:-1])) or os.curdir, parts[-1]


def main_script() -> str | None:
    """The file name of the script run as ``__main__``, for error messages."""
    file = getattr(sys.modules.get("__main__"), "__file__", None)
    return os.path.basename(file) if isinstance(file, str) else None


def lookup(root: Any, qualname: str) -> Any:
    """Follow a dotted ``qualname`` from ``root`` (a module)."""
    target = root
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


def find_global(
    module: str | None,
    qualname: str,
    script: str | None = None,
    *,
    main_name: MainName,
) -> Any:
    """Resolve a class or function stored by reference, explaining how to fix a failure.

    ``module`` is ``None`` (or ``"__main__"``) when the object came from a script whose
    importable name was unknown when it was stored.

    Args:
        main_name: returns the importable name of ``__main__``; called only when needed,
            because guessing it touches the file system.

    Raises:
        CaptureFormatError: the object cannot be found; the message says what to do.
    """
    if module in (None, "__main__") or module == main_name():
        # Loading in the process that runs the script itself: its __main__ has the class.
        try:
            return lookup(sys.modules["__main__"], qualname)
        except (KeyError, AttributeError):
            pass
    where = f"the script {script}" if script else "a script"
    if module in (None, "__main__"):
        raise CaptureFormatError(
            f"{qualname} was defined in {where} run as __main__, and its importable module "
            f"name was unknown when it was captured; move {qualname} into a module the tests "
            f"can import, or capture with `python -m snapy_capture.run` so the name is recorded"
        )
    try:
        return lookup(importlib.import_module(module), qualname)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - any failure gets the same advice
        reason = f"{type(exc).__name__}: {exc}"
    raise CaptureFormatError(
        f"{qualname} was defined in {where} run as __main__ and stored as {module}.{qualname}, "
        f"but it cannot be loaded ({reason}); make the script's directory importable in the "
        f"tests (PYTHONPATH, or pytest's `pythonpath` ini option) or move {qualname} into a module"
    )


class MainMappingPickler(pickle.Pickler):
    """Stores classes and functions of ``__main__`` as references that tests can load.

    Args:
        module: the script's importable name (``None`` when unknown), recorded in the pickle.
        loader: the unpickling entry point the pickle calls with ``(module, qualname,
            script)``. Files name it, so it is passed in rather than defined here: its
            module and name must not change.
    """

    def __init__(
        self,
        file: io.BytesIO,
        protocol: int,
        *,
        module: str | None,
        loader: Callable[[str | None, str, str | None], Any],
    ) -> None:
        super().__init__(file, protocol)
        self._module = module
        self._script = main_script()
        self._loader = loader

    def reducer_override(self, obj: Any) -> Any:
        if not issubclass(type(obj), (type, types.FunctionType)):  # __class__ is host code
            return NotImplemented
        module = getattr(obj, "__module__", None)
        if module not in MAIN_MODULES:
            return NotImplemented
        qualname = getattr(obj, "__qualname__", "")
        try:
            found = lookup(sys.modules[module], qualname)
        except (KeyError, AttributeError):
            found = None
        if found is not obj:  # a lambda or a local class: let pickle report it as usual
            return NotImplemented
        return self._loader, (self._module, qualname, self._script)
