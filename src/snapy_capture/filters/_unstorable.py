"""Type-based filtering for :class:`~snapy_capture.filters.ArgumentFilter`: values not to store."""

from __future__ import annotations

import copyreg
import io
import sys
import types
import weakref
from collections.abc import Iterable

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from typing import Any, Final

__all__ = ["builtin_reason", "imported_type", "reference_reason", "type_reason"]

# Types that cannot or should not be stored, named by "module.qualname" anywhere in the MRO so
# that checking them imports nothing (sqlite3 or socket may never be loaded in the host).
_UNSTORABLE_NAMES: Final = frozenset(
    {
        "socket.socket",
        "_socket.socket",
        "ssl.SSLSocket",
        "ssl.SSLContext",
        "sqlite3.Connection",
        "sqlite3.Cursor",
        "_thread.lock",
        "_thread.RLock",
        "_thread._local",
        "threading.Condition",
        "threading.Semaphore",
        "threading.Event",
        "threading.Thread",
        "threading.Barrier",
        "multiprocessing.process.BaseProcess",
        "multiprocessing.queues.Queue",
        "queue.Queue",
        "queue.SimpleQueue",
        "_queue.SimpleQueue",
        "asyncio.events.AbstractEventLoop",
        "asyncio.locks.Lock",
        "asyncio.locks.Event",
        "asyncio.locks.Condition",
        "asyncio.locks.Semaphore",
        "asyncio.queues.Queue",
        "asyncio.futures.Future",
        "_asyncio.Future",
        "_asyncio.Task",
        "asyncio.streams.StreamReader",
        "asyncio.streams.StreamWriter",
        "concurrent.futures._base.Executor",
        "concurrent.futures._base.Future",
        "selectors.BaseSelector",
        "subprocess.Popen",
        "mmap.mmap",
        "psycopg2.extensions.connection",
        "psycopg2.extensions.cursor",
        "psycopg.Connection",
        "psycopg.Cursor",
        "pymysql.connections.Connection",
        "sqlalchemy.engine.base.Connection",
        "sqlalchemy.engine.base.Engine",
        "sqlalchemy.orm.session.Session",
        # What pickle cannot store at all: better a placeholder than a lost capture.
        "_contextvars.Context",
        "_contextvars.ContextVar",
        "weakref.WeakValueDictionary",
        "weakref.WeakKeyDictionary",
        "_weakrefset.WeakSet",
        "weakref.finalize",
    }
)
_UNSTORABLE_TYPES: Final = (
    io.IOBase,
    types.GeneratorType,
    types.AsyncGeneratorType,
    types.CoroutineType,
    types.FrameType,
    types.TracebackType,
    types.ModuleType,
    types.CodeType,
    types.CellType,
    types.MappingProxyType,
    types.GetSetDescriptorType,
    weakref.ReferenceType,
    weakref.ProxyType,
    weakref.CallableProxyType,
    memoryview,
    property,
    staticmethod,
    classmethod,
)
_OBJECT_REDUCE_EX: Final = object.__reduce_ex__
_OBJECT_REDUCE: Final = object.__reduce__
_TYPE_FLAGS: Final = type.__dict__["__flags__"]
_HEAPTYPE: Final = 1 << 9  # Py_TPFLAGS_HEAPTYPE
_IMMUTABLETYPE: Final = 1 << 8  # Py_TPFLAGS_IMMUTABLETYPE: built-in and C extension types
#: The flags of a class made by a class statement (or ``type()``): a heap type, mutable.
_PYTHON_CLASS: Final = _HEAPTYPE | _IMMUTABLETYPE
#: In-memory streams are stored when their content passes the filters (parsers take them).
_MEMORY_STREAMS: Final = (io.StringIO, io.BytesIO)


def type_reason(kind: type, filter_types: Iterable[type | str]) -> str | None:
    """A placeholder reason when values of type ``kind`` must not be stored, else ``None``."""
    names = {f"{klass.__module__}.{klass.__qualname__}" for klass in kind.__mro__}
    for filtered in filter_types:
        if (
            names_type(filtered, kind, names)
            if isinstance(filtered, str)
            else issubclass(kind, filtered)
        ):
            return f"type:{kind.__qualname__}"
    if issubclass(kind, _MEMORY_STREAMS):
        return None
    if issubclass(kind, _UNSTORABLE_TYPES) or any(
        names_type(name, kind, names) for name in _UNSTORABLE_NAMES
    ):
        return f"unstorable:{kind.__qualname__}"
    if (
        _TYPE_FLAGS.__get__(kind) & _PYTHON_CLASS == _HEAPTYPE  # a class statement's
        and getattr(kind, "__reduce_ex__", None) is _OBJECT_REDUCE_EX
        and getattr(kind, "__reduce__", None) is _OBJECT_REDUCE
    ):
        # Pickled by its class's name (``copyreg.__newobj__``): a local class cannot be.
        # A class with its own ``__reduce__`` may store a factory instead: left to it.
        reason = reference_reason(kind)
        if reason is not None:
            return f"unstorable:instance of {reason.removeprefix('unstorable:')}"
        if _new_needs_arguments(kind):
            # Loading calls ``kind.__new__(kind)``: it would raise, and take the whole
            # capture with it (jinja2's Template). Judged once per class (the filter caches it).
            qualname = _TYPE_QUALNAME.__get__(kind)
            return f"unstorable:{qualname}.__new__ needs arguments that pickle does not pass"
    return None


def _new_needs_arguments(kind: type) -> bool:
    """Whether unpickling could not make an instance of ``kind``, a class pickled by default:
    it calls ``kind.__new__(kind)`` (no ``__getnewargs__``), and ``kind``'s ``__new__`` is a
    Python function requiring more. Read from the class dicts and the function's code: no
    code of the host runs."""
    if issubclass(kind, type) or kind in copyreg.dispatch_table:
        # A metaclass's instances are classes, pickled by name (an EnumType's __new__ wants
        # arguments, an Enum is no less storable); a registered reducer pickles the others.
        return False
    for attr in ("__getnewargs_ex__", "__getnewargs__"):
        if _lookup(kind, attr) is not None:
            return False
    new = _lookup(kind, "__new__")
    if type(new) is staticmethod:
        new = new.__func__
    if type(new) is not types.FunctionType:  # object.__new__, a C type's, or none
        return False
    code = new.__code__
    defaults = new.__defaults__ or ()
    keyword_defaults = new.__kwdefaults__ or {}
    required_keywords = code.co_varnames[
        code.co_argcount : code.co_argcount + code.co_kwonlyargcount
    ]
    return code.co_argcount - len(defaults) > 1 or any(
        name not in keyword_defaults for name in required_keywords
    )


def _lookup(kind: type, name: str) -> Any:
    """``name`` as stored in the dict of the first class of ``kind``'s MRO that has it."""
    for klass in _TYPE_MRO.__get__(kind):
        namespace = _TYPE_DICT.__get__(klass)
        if name in namespace:
            return namespace[name]
    return None


def names_type(spec: str, kind: type, names: set[str]) -> bool:
    """Whether ``"module.Name"`` names ``kind`` or a base of it, importing nothing.

    ``names`` holds the ``"module.qualname"`` of every class in ``kind``'s MRO. The defining
    module may differ from the public one (``pathlib.PurePath`` is defined in
    ``pathlib._local`` on 3.13), so a public name whose module is already loaded is resolved.
    """
    if spec in names:
        return True
    module, _, attr = spec.rpartition(".")
    target = getattr(sys.modules.get(module), attr, None)
    return isinstance(target, type) and issubclass(kind, target)


#: Types pickle stores by their name although no module holds them under it.
_SPECIAL_TYPES: Final = (type(None), type(NotImplemented), type(Ellipsis))
_TYPE_QUALNAME: Final = type.__dict__["__qualname__"]
_TYPE_MODULE: Final = type.__dict__["__module__"]
_TYPE_DICT: Final[Any] = type.__dict__["__dict__"]
_TYPE_MRO: Final[Any] = type.__dict__["__mro__"]
_MODULE_DICT: Final[Any] = vars(types.ModuleType)["__dict__"]


def imported_type(kind: Any, names: dict[str, Any]) -> str | None:
    """The module name of ``kind`` when it is a class that ``names`` lists for its module and
    that module, imported already, holds under that name (``names[module]`` is the name, or a
    tuple whose first item is); else ``None``. Read through the base types' descriptors and
    the module's dict: no code of the host's or of the module's runs, nothing is imported."""
    try:
        module_name = _TYPE_MODULE.__get__(kind)
    except (AttributeError, TypeError):  # not a class
        return None
    if type(module_name) is not str or (entry := names.get(module_name)) is None:
        return None
    name = entry[0] if type(entry) is tuple else entry
    module = sys.modules.get(module_name)
    if type(module) is not types.ModuleType or vars(module).get(name) is not kind:
        return None
    return module_name


def reference_reason(value: Any) -> str | None:
    """Why pickle cannot store this function or class, which it stores by reference, else
    ``None``.

    Pickle stores a function or a class as its module and qualified name, and fails when that
    name does not lead back to the very object: a lambda, a function or class defined inside
    a function (``<locals>``), the original of a decorated function. This reads only the
    object's own name fields and the ``__dict__`` of its module and enclosing classes, through
    the base types' descriptors: no host code (a module's ``__getattr__``, a metaclass's
    properties) runs, nothing is imported: a module not loaded counts as not found. A name
    pickle would search every module for (``__module__`` not a string) gets ``None``.
    """
    # type(), not isinstance(): an object's own ``__class__`` is host code.
    if issubclass(type(value), type):
        if any(value is special for special in _SPECIAL_TYPES):
            return None
        qualname, module, what = _TYPE_QUALNAME.__get__(value), _TYPE_MODULE.__get__(value), "class"
    elif type(value) is types.FunctionType:
        qualname, module, what = value.__qualname__, value.__module__, "function"
    else:
        return None
    if not isinstance(qualname, str):
        return None
    if "<locals>" in qualname or "<lambda>" in qualname:
        return f"unstorable:local {what} {qualname}"
    if not isinstance(module, str):
        return None  # pickle searches every module for it: left to pickle
    owner = sys.modules.get(module)
    if owner is None:
        # Pickle would import it (host code); jsonpickle writes a name no loader finds.
        return f"unstorable:{what} {qualname} of a module not loaded ({module})"
    found: Any = owner
    for part in qualname.split("."):
        if issubclass(type(found), type):
            namespace: Any = _TYPE_DICT.__get__(found)
        elif issubclass(type(found), types.ModuleType):
            namespace = _MODULE_DICT.__get__(found)
        else:
            return None  # reached through an instance: not something to judge here
        found = namespace.get(part) if type(namespace) in (dict, types.MappingProxyType) else None
        if found is None:
            return f"unstorable:{what} {qualname} is not found by its name"
    if type(found) is staticmethod:
        found = found.__func__
    if found is not value:
        return f"unstorable:{what} {qualname} is not the one its name leads to"
    return None


#: Built-in (C) types without state pickle can see, by whether pickle can store one: decided
#: by the type's layout, so the first instance tells for all.
_builtin_verdicts: dict[type, str | None] = {}


def builtin_reason(value: Any) -> str | None:
    """Why pickle cannot store ``value``, an instance of a built-in type that pickles by the
    default protocol and has no ``__dict__`` or slots (``hashlib.sha256()``, a C extension's
    handle), else ``None``. Such a type holds its state in C, where pickle refuses it; asking
    pickle's own default reduction runs only the interpreter's code (C types are immutable;
    a class statement's types get ``None``: what pickle stores of them, the filters walk)."""
    kind = type(value)
    if not _TYPE_FLAGS.__get__(kind) & _IMMUTABLETYPE:
        return None
    if kind in _builtin_verdicts:
        return _builtin_verdicts[kind]
    try:
        _OBJECT_REDUCE_EX(value, 4)
    except Exception:  # noqa: BLE001 - "cannot pickle 'HASH' object"
        reason: str | None = f"unstorable:{kind.__qualname__}"
    else:
        reason = None
    if len(_builtin_verdicts) < 1024:
        _builtin_verdicts[kind] = reason
    return reason
