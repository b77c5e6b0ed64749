"""Standard types the capture layer recognises, without importing what it need not.

Most are read from the modules the program imported (:func:`imported`): a ``Decimal``, a
``UUID`` or a ``Fraction`` cannot exist before its module is imported, so a class that is
not there yet is not that class, and nothing is imported to tell.

``datetime``: the C module ``_datetime`` defines its classes. ``datetime.py`` first defines a
pure-Python fallback of each (~2,500 lines: ~1 ms of every capturing process's start-up),
then replaces them all with ``_datetime``'s, so a program's ``datetime.date`` is the very
class read here (``datetime.date is _datetime.date``), whether it imports ``datetime``
before capture loads or after. Values of these classes pickle by their ``datetime`` names
as always (a program holding one has imported ``datetime``: the C API imports it too).
"""

from __future__ import annotations

import sys
import types

__all__ = ["PATH_TYPES", "datetime", "for_readers", "imported", "is_path_type", "settle_typing"]

# Not typing's: the capture layer does not import typing (~2.5 ms of every capturing
# process's start-up, issue 21). Type checkers take any name ``TYPE_CHECKING`` for their
# flag, so each of its modules sets this one and imports typing's names under it; its
# protocols and aliases are declared there too (the public ones, such as
# ``config.Serializer``, are made where first asked for, as they were).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import datetime
else:
    try:
        import _datetime as datetime
    except ImportError:  # an interpreter without the C module: the module itself
        import datetime


def imported(module_name: str, name: str) -> object:
    """``module_name.name`` if the program has imported that module, else ``None``.

    Read from ``sys.modules`` and the module's dict: nothing is imported, no code of the
    module's runs (a module still being imported by another thread may lack the name yet).
    """
    module = sys.modules.get(module_name)
    if type(module) is not types.ModuleType:
        return None
    return vars(module).get(name)


#: pathlib's classes, by name: read from the pathlib the program imported (pathlib, with
#: urllib.parse and ipaddress, would cost every capturing process ~2.5 ms to import).
PATH_TYPES = frozenset(
    {"PurePath", "PurePosixPath", "PureWindowsPath", "Path", "PosixPath", "WindowsPath"}
)
_TYPE_NAME = type.__dict__["__name__"]


def is_path_type(kind: type) -> bool:
    """Whether the class ``kind`` is one of :data:`PATH_TYPES` itself (not a subclass).

    Its name is read through ``type``'s own descriptor (no code of a metaclass runs).
    """
    name = _TYPE_NAME.__get__(kind)
    return name in PATH_TYPES and imported("pathlib", name) is kind


#: What an alias of ours needs loaded to be made (``StoredPath`` is a ``Union`` of ``Path``).
_ALIAS_NEEDS = {"snapy_capture.storage._objpath": "pathlib"}


def for_readers(namespace: dict[str, object], names: dict[str, str]) -> None:
    """Bind, in a module's ``namespace``, the names its annotations use that only type
    checkers import (``names``: each name's ``"module:attribute"``).

    ``typing.get_type_hints`` and ``inspect.signature(eval_str=True)`` evaluate a public
    function's or class's annotations in its module's namespace: without these they raised
    ``NameError``. Bound only where typing is loaded already (the ``@capture_args`` decorator
    loads it, and so does any program that reads annotations): nothing is imported into a
    capturing process that has not (issue 21), and an alias of ours (``Serializer``,
    ``StoredPath``) is made then only, its module importing typing.
    """
    try:
        if _loaded("typing"):
            _bind(namespace, names)
    except Exception:  # noqa: BLE001, S110 - for readers only: never fails a load
        pass


def _bind(namespace: dict[str, object], names: dict[str, str]) -> None:
    for name, where in names.items():
        module_name, _, attribute = where.partition(":")
        if name in namespace:
            continue
        if not module_name.startswith("snapy_capture."):
            if _loaded(module_name):  # a program's module (pathlib...): never imported here
                namespace[name] = getattr(sys.modules[module_name], attribute)
            continue
        needs = _ALIAS_NEEDS.get(module_name)
        if needs is None or _loaded(needs):
            __import__(module_name)
            namespace[name] = getattr(sys.modules[module_name], attribute)


def _loaded(name: str) -> bool:
    """Whether the module ``name`` is imported, and not still being imported by another
    thread (its names may be missing yet; importing from it would wait for that thread)."""
    module = sys.modules.get(name)
    spec = getattr(module, "__spec__", None)
    return module is not None and not getattr(spec, "_initializing", False)


def settle_typing() -> None:
    """Before a ``dataclass`` is made: wait for another thread's import of typing, if one is
    under way.

    ``dataclasses`` reads ``typing.ClassVar`` from ``sys.modules["typing"]`` for every field:
    half made by another thread, it raised ``AttributeError`` and the capture layer's load
    failed (the program ran uncaptured). Since the capture layer stopped importing typing
    itself, nothing else made the load wait for it. ``import typing`` waits on its module
    lock (with importlib's deadlock detection) until that thread is done; nothing else is
    imported.
    """
    if "typing" in sys.modules and not _loaded("typing"):
        import typing  # noqa: F401, PLC0415 - see above
