"""jsonpickle support for :class:`~snapy_capture.storage.serializers.JSONPickleSerializer`:
storing filtered copies as jsonpickle stores the objects, checking nothing was dropped, and
resolving the names a file refers to without importing anything."""

from __future__ import annotations

import contextlib
import copyreg
import functools
import importlib
import json
import sys
from collections.abc import Callable

from snapy_capture.errors import CaptureFormatError
from snapy_capture.filters import Inert

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from typing import Any, Final

__all__ = ["pickler", "reason", "referenced_objects", "same_shape"]

_NAMES: Final = ("py/object", "py/type", "py/function")
_MODULES: Final = ("py/mod", "py/repr")
_JSON_KEY: Final = "json://"  # jsonpickle.tags.JSON_KEY: a non-string key, as JSON text


def referenced_objects(tree: Any, may_import: Callable[[str], bool]) -> dict[str, Any]:
    """Every dotted name a jsonpickle tree refers to, resolved without importing anything
    (but the modules ``may_import`` allows: see ``JSONSerializer.allow_import``).

    Raises:
        CaptureFormatError: a name whose module is not imported (and not allowed), or a name
            of a ``py/mod``/``py/repr`` module that is not imported.
    """
    found: dict[str, Any] = {}
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        for key, value in node.items():
            if isinstance(key, str) and key.startswith(_JSON_KEY):
                # A key that is not JSON is not ours to judge: jsonpickle keeps it as text.
                with contextlib.suppress(ValueError):
                    stack.append(json.loads(key[len(_JSON_KEY) :]))
            if key in _NAMES and isinstance(value, str) and value not in found:
                found[value] = _lookup(value, may_import)
            elif key in _MODULES and isinstance(value, str):
                module = value.partition("/")[0]
                if module not in sys.modules:
                    raise CaptureFormatError(_not_imported(module, value))
            stack.append(value)
    return found


def _lookup(name: str, may_import: Callable[[str], bool] | None) -> Any:
    """What jsonpickle's ``loadclass`` would return for ``name``, from ``sys.modules`` only."""
    from jsonpickle.util import untranslate_module_name  # noqa: PLC0415

    if name == "builtins.NoneType":
        return type(None)
    parts = name.split(".")
    # loadclass's order: the longest module prefix first (classes nest: pkg.mod.Outer.Inner).
    for split in range(len(parts) - 1, 0, -1):
        module = untranslate_module_name(".".join(parts[:split]))
        owner = sys.modules.get(module)
        if owner is None:
            continue
        try:
            return _follow(owner, parts[split:])
        except AttributeError:
            continue
    module = untranslate_module_name(".".join(parts[:-1])) if len(parts) > 1 else name
    if may_import is None or module in sys.modules or not may_import(module):
        raise CaptureFormatError(_not_imported(module, name))
    try:
        importlib.import_module(module)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - any failure: same message
        raise CaptureFormatError(
            f"{name}: cannot import {module} ({type(exc).__name__}: {exc})"
        ) from None
    return _lookup(name, None)


def _follow(owner: Any, names: list[str]) -> Any:
    for name in names:
        owner = getattr(owner, name)
    return owner


def _not_imported(module: str, name: str) -> str:
    if module in sys.modules:
        return f"{name} cannot be found in the loaded module {module}"
    return (
        f"{name}: module {module!r} is not imported, and loading a capture imports nothing; "
        f"import {module} before loading (in the test module or conftest.py), or allow it: "
        f"JSONSerializer.allow_import({module!r})"
    )


def reason(exc: BaseException) -> str:
    return str(exc) or (exc.__cause__ and str(exc.__cause__)) or type(exc).__name__


@functools.cache
def pickler() -> type:
    """jsonpickle's Pickler, storing an :class:`~..filters.Inert` (a filtered copy
    of an object) as jsonpickle stores the object itself: by its reduced form."""
    from jsonpickle.pickler import Pickler  # noqa: PLC0415

    class _Reduced:
        __slots__ = ("inert",)

        def __init__(self, inert: Inert) -> None:
            self.inert = inert

        def __reduce__(self) -> tuple[Any, ...]:
            return self.inert.__reduce_ex__(2)

    class _Instance:
        """An object rebuilt from its class and state: jsonpickle's ``py/object`` form, which
        its loader restores for every kind of state (``(dict, slots)`` included)."""

        __slots__ = ("cls", "state")

        def __init__(self, cls: type, state: Any) -> None:
            self.cls = cls
            self.state = state

        @property  # type: ignore[misc]
        def __class__(self) -> type:
            return self.cls

        def __getstate__(self) -> Any:
            return self.state

    def _stand_in(inert: Inert) -> Any:
        cls = inert.cls
        plain = (
            cls is not None
            and len(inert.args) == 1
            and inert.listitems is None
            and inert.dictitems is None
            and inert.state is not None
            and inert.func is copyreg.__newobj__  # type: ignore[attr-defined]
        )
        return _Instance(cls, inert.state) if plain and cls is not None else _Reduced(inert)

    class InertAwarePickler(Pickler):  # type: ignore[misc]
        def _flatten_obj_instance(self, obj: Any) -> Any:
            # type(), not isinstance(): an Inert reports the class it copies as __class__.
            return super()._flatten_obj_instance(_stand_in(obj) if type(obj) is Inert else obj)

    return InertAwarePickler


def same_shape(original: Any, flat: Any, depth: int = 0) -> bool:
    """Whether jsonpickle's tree ``flat`` keeps every key and item of ``original``'s plain
    containers, and no function became ``null`` (only types are read: no object's code runs)."""
    if depth > 100 or (isinstance(flat, dict) and "py/id" in flat):
        return True  # a reference to an object flattened earlier
    kind = type(original)
    if kind is dict:
        if not isinstance(flat, dict):
            return False
        from jsonpickle.tags import RESERVED  # noqa: PLC0415 - optional extra

        data_keys = [key for key in flat if key not in RESERVED]  # a key "py/x" of yours counts
        return len(data_keys) == len(original) and all(
            same_shape(value, flat[key], depth + 1)
            for key, value in original.items()
            if type(key) is str and key in flat
        )
    if kind is list or kind is tuple:
        items = flat.get("py/tuple") if kind is tuple and isinstance(flat, dict) else flat
        return (
            isinstance(items, list)
            and len(items) == len(original)
            and all(same_shape(a, b, depth + 1) for a, b in zip(original, items, strict=True))
        )
    return not (flat is None and original is not None and callable(original))
