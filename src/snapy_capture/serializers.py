"""Serializers: how a capture record becomes bytes and back.

A serializer is any object with a ``name`` and ``dumps(obj) -> bytes`` / ``loads(bytes)``.
Each capture file names the serializer that wrote it, so loading never depends on the
current configuration (see :mod:`snapy_capture._envelope`).

Classes defined in a script run as ``__main__`` are a special case: pickle would store them
as ``__main__.Cls``, which a test process cannot find. Both built-in formats that store class
references instead record the script's importable module name (see
:func:`set_main_module_name`) and, when none is known, fail on load with a message saying how
to fix it.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import decimal
import enum
import importlib
import io
import json
import math
import os
import pathlib
import pickle
import sys
import threading
import types
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, ClassVar, Final, Protocol, runtime_checkable

from ._errors import CaptureFormatError, ConfigError

__all__ = [
    "JSONPickleSerializer",
    "JSONSerializer",
    "PickleSerializer",
    "Serializer",
    "get_serializer",
    "main_module_name",
    "serializer_name",
    "set_main_module_name",
]


@runtime_checkable
class Serializer(Protocol):
    """What storage needs from a serializer."""

    name: str

    def dumps(self, obj: Any) -> bytes: ...

    def loads(self, data: bytes) -> Any: ...


def serializer_name(serializer: object) -> str:
    """The name a capture file records for ``serializer`` (its ``name``, else its class)."""
    name = getattr(serializer, "name", None)
    if isinstance(name, str) and name:
        return name
    kind = type(serializer)
    return f"{kind.__module__}.{kind.__qualname__}"


# --- classes defined in the script run as __main__ ------------------------------------------

_main_name: str | None = None
# multiprocessing's spawn/forkserver children import the script as __mp_main__.
_MAIN_MODULES: Final = ("__main__", "__mp_main__")


def set_main_module_name(name: str | None) -> None:
    """Declare the importable module name of the script running as ``__main__``.

    The runner (``python -m snapy_capture.run app.py``) calls this with ``"app"``, so that an
    instance of a class defined in ``app.py`` is stored as ``app.Cls`` and loads again from a
    test that can ``import app``. ``None`` goes back to guessing (see :func:`main_module_name`).
    """
    global _main_name  # noqa: PLW0603 - one process-wide fact, set by the runner
    _main_name = name or None


def main_module_name() -> str | None:
    """The importable name of the ``__main__`` module, or ``None`` when it cannot be known.

    Set by :func:`set_main_module_name`; otherwise ``__main__.__spec__.name`` (``python -m
    pkg.mod``), else the script's file stem when the script's directory is ``sys.path[0]``
    (``python app.py``).
    """
    if _main_name is not None:
        return _main_name
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    spec_name = getattr(spec, "name", None)
    if isinstance(spec_name, str) and spec_name and spec_name != "__main__":
        return spec_name
    file = getattr(main, "__file__", None)
    if not isinstance(file, str) or not sys.path or not sys.path[0]:
        return None
    script = pathlib.Path(file)
    if script.suffix != ".py" or not script.stem.isidentifier():
        return None
    try:
        importable = os.path.samefile(script.parent, sys.path[0])
    except OSError:
        return None
    return script.stem if importable else None


def _main_script() -> str | None:
    file = getattr(sys.modules.get("__main__"), "__file__", None)
    return os.path.basename(file) if isinstance(file, str) else None


def _lookup(root: Any, qualname: str) -> Any:
    target = root
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


def _find_global(module: str | None, qualname: str, script: str | None = None) -> Any:
    """Resolve a class or function stored by reference, explaining how to fix a failure.

    ``module`` is ``None`` (or ``"__main__"``) when the object came from a script whose
    importable name was unknown when it was stored.

    Raises:
        CaptureFormatError: the object cannot be found; the message says what to do.
    """
    if module in (None, "__main__") or module == main_module_name():
        # Loading in the process that runs the script itself: its __main__ has the class.
        try:
            return _lookup(sys.modules["__main__"], qualname)
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
        return _lookup(importlib.import_module(module), qualname)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - any failure gets the same advice
        reason = f"{type(exc).__name__}: {exc}"
    raise CaptureFormatError(
        f"{qualname} was defined in {where} run as __main__ and stored as {module}.{qualname}, "
        f"but it cannot be loaded ({reason}); make the script's directory importable in the "
        f"tests (PYTHONPATH, or pytest's `pythonpath` ini option) or move {qualname} into a module"
    )


def _load_main_global(module: str | None, qualname: str, script: str | None) -> Any:
    """Unpickling entry point for objects of ``__main__``; stored in files by name: keep it."""
    return _find_global(module, qualname, script)


# --- pickle ---------------------------------------------------------------------------------


class _MainMappingPickler(pickle.Pickler):
    """Stores classes and functions of ``__main__`` as references that tests can load."""

    def __init__(self, file: io.BytesIO, protocol: int) -> None:
        super().__init__(file, protocol)
        self._module = main_module_name()
        self._script = _main_script()

    def reducer_override(self, obj: Any) -> Any:
        if not isinstance(obj, (type, types.FunctionType)):
            return NotImplemented
        module = getattr(obj, "__module__", None)
        if module not in _MAIN_MODULES:
            return NotImplemented
        qualname = getattr(obj, "__qualname__", "")
        try:
            found = _lookup(sys.modules[module], qualname)
        except (KeyError, AttributeError):
            found = None
        if found is not obj:  # a lambda or a local class: let pickle report it as usual
            return NotImplemented
        return _load_main_global, (self._module, qualname, self._script)


class PickleSerializer:
    """The default: stores any picklable object exactly. Loading runs code (see README Security).

    Args:
        protocol: the pickle protocol (5 reads on Python 3.8+).
    """

    name = "pickle"

    def __init__(self, protocol: int = 5) -> None:
        self.protocol = protocol

    def dumps(self, obj: Any) -> bytes:
        """Pickle ``obj``; references to ``__main__`` are rewritten (see module docstring)."""
        data = pickle.dumps(obj, protocol=self.protocol)
        # The C pickler's fast path first; only a pickle naming __main__ (rare, and a cheap
        # test) is redone by the slower pickler that maps the script's classes.
        if b"_main__" in data:  # __main__, or __mp_main__ in multiprocessing children
            buffer = io.BytesIO()
            _MainMappingPickler(buffer, self.protocol).dump(obj)
            data = buffer.getvalue()
        return data

    def loads(self, data: bytes) -> Any:
        """Unpickle ``data``. Runs code: callers verify the signature first when one is required.

        Raises:
            CaptureFormatError: a class of a script run as ``__main__`` cannot be found.
        """
        try:
            return pickle.loads(data)
        except AttributeError as exc:
            # Captures written before classes of __main__ were mapped (or by plain pickle).
            if "module '__main__'" not in str(exc):
                raise
            raise CaptureFormatError(
                f"{exc}: the capture refers to a class defined in a script run as __main__; "
                f"recapture with this version of snapy_capture, or move the class into a module"
            ) from None

    def __repr__(self) -> str:
        return f"PickleSerializer(protocol={self.protocol})"


# --- JSON -----------------------------------------------------------------------------------

_TAG: Final = "__snapy__"
_BIG_INT_BITS: Final = 10_000  # decimal text of bigger ints hits sys.get_int_max_str_digits()
_PATH_TYPES: Final = {
    cls.__name__: cls
    for cls in (
        pathlib.PurePath,
        pathlib.PurePosixPath,
        pathlib.PureWindowsPath,
        pathlib.Path,
        pathlib.PosixPath,
        pathlib.WindowsPath,
    )
}


@dataclasses.dataclass(frozen=True)
class _Codec:
    kind: type
    tag: str
    encode: Callable[[Any], Any]
    decode: Callable[[Any], Any]


def _type_ref(kind: type) -> str:
    """``module:qualname`` of a class, checked to load again by that name.

    Raises:
        TypeError: a class defined inside a function, or otherwise not importable by name.
    """
    module, qualname = kind.__module__, kind.__qualname__
    try:
        found = _lookup(sys.modules[module], qualname)
    except (KeyError, AttributeError):
        found = None
    if found is not kind:
        raise TypeError(
            f"JSONSerializer cannot store {qualname!r}: the class cannot be "
            f"imported by name (defined inside a function?)"
        )
    if module in _MAIN_MODULES:
        module = main_module_name() or "__main__"
    return f"{module}:{qualname}"


def _resolve_type(ref: object, check: Callable[[Any], bool], what: str) -> Any:
    if not isinstance(ref, str) or ":" not in ref:
        raise CaptureFormatError(f"bad type reference {ref!r} in a JSON capture")
    module, _, qualname = ref.partition(":")
    kind = _find_global(module, qualname)
    if not (isinstance(kind, type) and check(kind)):
        # Refuse to call anything but the expected constructor: a JSON file must not be able
        # to name ``os:system`` and have it called with its own arguments.
        raise CaptureFormatError(f"{ref} is not {what}")
    return kind


def _is_namedtuple(kind: type) -> bool:
    return issubclass(kind, tuple) and hasattr(kind, "_fields") and hasattr(kind, "_make")


class JSONSerializer:
    """Readable, diffable JSON.

    Plain ``None``/``bool``/``int``/``float``/``str``/``list``/``dict`` are stored as JSON;
    tuples, sets, frozensets, bytes, bytearrays, dicts with non-string keys, ``OrderedDict``,
    dates, times, datetimes, timedeltas, decimals, UUIDs, paths, complex numbers, NaN and
    infinities, huge ints, enums, namedtuples, dataclasses and filter placeholders round-trip
    through tagged objects (``{"__snapy__": "<tag>", ...}``). Any other type (subclasses of the
    built-in types included) raises ``TypeError``, so the capture pipeline can fall back.

    Loading only ever constructs the types above: a JSON capture cannot run arbitrary code,
    though it may import the modules that define its enums, namedtuples and dataclasses.

    Args:
        indent: JSON indentation (``None`` for one line).
    """

    name = "json"
    _codecs: ClassVar[dict[str, _Codec]] = {}
    _codecs_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, *, indent: int | None = 1) -> None:
        self.indent = indent

    @classmethod
    def register(
        cls, kind: type, tag: str, encode: Callable[[Any], Any], decode: Callable[[Any], Any]
    ) -> None:
        """Teach every JSONSerializer in this process a type.

        Registration is process-wide because loading picks the serializer by name from the
        file: register in the program that captures and in the tests that load (conftest.py).

        Args:
            kind: instances of this class (and its subclasses) use the codec.
            tag: a name stored in the file; registering a tag again replaces it.
            encode: ``encode(obj)`` returns something this serializer can store.
            decode: ``decode(data)`` rebuilds the object from what ``encode`` returned.

        Raises:
            ConfigError: a bad ``kind`` or ``tag``.
        """
        if not isinstance(kind, type):
            raise ConfigError(f"JSONSerializer.register expects a class, got {kind!r}")
        if not isinstance(tag, str) or not tag:
            raise ConfigError(f"JSONSerializer.register expects a non-empty tag, got {tag!r}")
        with cls._codecs_lock:
            cls._codecs = {**cls._codecs, tag: _Codec(kind, tag, encode, decode)}

    @classmethod
    def unregister(cls, tag: str) -> None:
        """Forget the codec registered under ``tag`` (no error if there is none)."""
        with cls._codecs_lock:
            cls._codecs = {key: codec for key, codec in cls._codecs.items() if key != tag}

    def dumps(self, obj: Any) -> bytes:
        """Encode ``obj`` as UTF-8 JSON.

        Raises:
            TypeError: an unsupported type; ValueError: a reference cycle.
        """
        tree = self.to_jsonable(obj)
        text = json.dumps(tree, indent=self.indent, ensure_ascii=False, allow_nan=False)
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: let JSON escape them instead
            return json.dumps(tree, indent=self.indent, allow_nan=False).encode("ascii")

    def loads(self, data: bytes) -> Any:
        """Decode what :meth:`dumps` wrote.

        Raises:
            CaptureFormatError: an unknown tag, or a type that cannot be found.
        """
        return self.from_jsonable(json.loads(data))

    def to_jsonable(self, obj: Any) -> Any:
        """The tagged tree :meth:`dumps` writes, before it becomes text (for other formats).

        Raises:
            TypeError: an unsupported type; ValueError: a reference cycle.
        """
        return _Encoder(list(self._codecs.values())).encode(obj)

    def from_jsonable(self, tree: Any) -> Any:
        """Rebuild objects from a tree that :meth:`to_jsonable` made (after ``json.loads``).

        Raises:
            CaptureFormatError: an unknown tag, or a type that cannot be found.
        """
        return _Decoder(self._codecs).decode(tree)

    def __repr__(self) -> str:
        return f"JSONSerializer(indent={self.indent!r})"


class _Encoder:
    __slots__ = ("active", "codecs")

    def __init__(self, codecs: list[_Codec]) -> None:
        self.codecs = codecs
        self.active: set[int] = set()  # containers on the current path, to report cycles

    def encode(self, obj: Any) -> Any:
        kind = type(obj)
        if obj is None or kind is bool or kind is str:
            return obj
        if kind is int:
            if obj.bit_length() > _BIG_INT_BITS:
                return {_TAG: "int", "hex": hex(obj)}
            return obj
        if kind is float:
            return obj if math.isfinite(obj) else {_TAG: "float", "value": repr(obj)}
        if id(obj) in self.active:
            raise ValueError("JSONSerializer cannot store a reference cycle")
        self.active.add(id(obj))
        try:
            return self._compound(obj, kind)
        finally:
            self.active.discard(id(obj))

    def _compound(self, obj: Any, kind: type) -> Any:
        for codec in self.codecs:
            if isinstance(obj, codec.kind):
                return {_TAG: "custom", "tag": codec.tag, "data": self.encode(codec.encode(obj))}
        if kind is list:
            return [self.encode(item) for item in obj]
        if kind is dict:
            if all(type(key) is str for key in obj) and _TAG not in obj:
                return {key: self.encode(value) for key, value in obj.items()}
            return {_TAG: "dict", "items": self._pairs(obj)}
        if kind is OrderedDict:
            return {_TAG: "odict", "items": self._pairs(obj)}
        if kind is tuple:
            return {_TAG: "tuple", "items": [self.encode(item) for item in obj]}
        if kind is set or kind is frozenset:
            items = [self.encode(item) for item in obj]
            # Sets have no order; sort the encoded items so that files diff cleanly.
            items.sort(key=lambda item: json.dumps(item, sort_keys=True))
            return {_TAG: kind.__name__, "items": items}
        return self._other(obj, kind)

    def _pairs(self, obj: dict[Any, Any]) -> list[list[Any]]:
        return [[self.encode(key), self.encode(value)] for key, value in obj.items()]

    def _other(self, obj: Any, kind: type) -> Any:
        from .filters import Redacted  # noqa: PLC0415 - filters must not import serializers

        if kind is Redacted:
            return {_TAG: "redacted", "reason": obj.reason}
        simple = _SIMPLE.get(kind)
        if simple is not None:
            tag, encode = simple
            return {_TAG: tag, **encode(obj)}
        if kind is complex:
            return {_TAG: "complex", "real": self.encode(obj.real), "imag": self.encode(obj.imag)}
        if kind.__name__ in _PATH_TYPES and _PATH_TYPES[kind.__name__] is kind:
            return {_TAG: "path", "type": kind.__name__, "value": str(obj)}
        if isinstance(obj, enum.Enum):
            return {_TAG: "enum", "type": _type_ref(kind), "value": self.encode(obj.value)}
        if isinstance(obj, tuple) and _is_namedtuple(kind):
            return {
                _TAG: "namedtuple",
                "type": _type_ref(kind),
                "items": [self.encode(item) for item in obj],
            }
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            ref = _type_ref(kind)
            fields = {f.name: self.encode(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
            return {_TAG: "dataclass", "type": ref, "fields": fields}
        raise TypeError(
            f"JSONSerializer cannot store {kind.__module__}.{kind.__qualname__} "
            f"objects (register a codec with JSONSerializer.register)"
        )


def _timedelta_fields(value: dt.timedelta) -> dict[str, Any]:
    return {"days": value.days, "seconds": value.seconds, "microseconds": value.microseconds}


_SIMPLE: Final[dict[type, tuple[str, Callable[[Any], dict[str, Any]]]]] = {
    bytes: ("bytes", lambda v: {"b64": base64.b64encode(v).decode("ascii")}),
    bytearray: ("bytearray", lambda v: {"b64": base64.b64encode(v).decode("ascii")}),
    dt.datetime: ("datetime", lambda v: {"iso": v.isoformat(), "fold": v.fold}),
    dt.date: ("date", lambda v: {"iso": v.isoformat()}),
    dt.time: ("time", lambda v: {"iso": v.isoformat(), "fold": v.fold}),
    dt.timedelta: ("timedelta", _timedelta_fields),
    decimal.Decimal: ("decimal", lambda v: {"value": str(v)}),
    uuid.UUID: ("uuid", lambda v: {"value": str(v)}),
}


class _Decoder:
    __slots__ = ("codecs",)

    def __init__(self, codecs: dict[str, _Codec]) -> None:
        self.codecs = codecs

    def decode(self, data: Any) -> Any:
        if isinstance(data, list):
            return [self.decode(item) for item in data]
        if not isinstance(data, dict):
            return data
        tag = data.get(_TAG)
        if tag is None:
            return {key: self.decode(value) for key, value in data.items()}
        try:
            return self._tagged(tag, data)
        except CaptureFormatError:
            raise
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise CaptureFormatError(
                f"bad {tag!r} object in a JSON capture ({type(exc).__name__}: {exc})"
            ) from None

    def _items(self, data: dict[str, Any]) -> list[Any]:
        return [self.decode(item) for item in data["items"]]

    def _tagged(self, tag: object, data: dict[str, Any]) -> Any:
        if tag == "custom":
            codec = self.codecs.get(data["tag"])
            if codec is None:
                raise CaptureFormatError(
                    f"no JSON codec registered for tag {data['tag']!r}; call "
                    f"JSONSerializer.register(...) before loading (e.g. in conftest.py)"
                )
            return codec.decode(self.decode(data["data"]))
        if tag in ("dict", "odict"):
            pairs = [(self.decode(key), self.decode(value)) for key, value in data["items"]]
            return dict(pairs) if tag == "dict" else OrderedDict(pairs)
        decoder = _DECODERS.get(tag) if isinstance(tag, str) else None
        if decoder is None:
            raise CaptureFormatError(
                f"unknown JSON capture tag {tag!r} (written by a newer snapy_capture?)"
            )
        return decoder(self, data)


def _decode_dataclass(decoder: _Decoder, data: dict[str, Any]) -> Any:
    kind = _resolve_type(data["type"], dataclasses.is_dataclass, "a dataclass")
    obj = object.__new__(kind)
    # As pickle does: restore the state without calling __init__ or __post_init__.
    for name, value in data["fields"].items():
        object.__setattr__(obj, name, decoder.decode(value))
    return obj


def _decode_redacted(decoder: _Decoder, data: dict[str, Any]) -> Any:
    from .filters import Redacted  # noqa: PLC0415

    return Redacted(str(data["reason"]))


def _decode_float(decoder: _Decoder, data: dict[str, Any]) -> float:
    if data["value"] not in ("nan", "inf", "-inf"):
        raise ValueError(f"not a special float: {data['value']!r}")
    return float(data["value"])


def _decode_timedelta(decoder: _Decoder, data: dict[str, Any]) -> dt.timedelta:
    if "days" not in data:  # the early draft's form, still written by some exports
        return dt.timedelta(seconds=data["seconds"])
    return dt.timedelta(
        days=data["days"], seconds=data["seconds"], microseconds=data["microseconds"]
    )


def _decode_path(decoder: _Decoder, data: dict[str, Any]) -> pathlib.PurePath:
    kind = _PATH_TYPES[data.get("type", "Path")]
    if kind in (pathlib.PosixPath, pathlib.WindowsPath):
        kind = pathlib.Path  # the concrete flavour of this machine
    return kind(data["value"])


_DECODERS: Final[dict[str, Callable[[_Decoder, dict[str, Any]], Any]]] = {
    "tuple": lambda d, data: tuple(d._items(data)),
    "set": lambda d, data: set(d._items(data)),
    "frozenset": lambda d, data: frozenset(d._items(data)),
    "int": lambda d, data: int(data["hex"], 16),
    "float": _decode_float,
    "bytes": lambda d, data: base64.b64decode(data["b64"], validate=True),
    "bytearray": lambda d, data: bytearray(base64.b64decode(data["b64"], validate=True)),
    "datetime": lambda d, data: dt.datetime.fromisoformat(data["iso"]).replace(
        fold=data.get("fold", 0)
    ),
    "date": lambda d, data: dt.date.fromisoformat(data["iso"]),
    "time": lambda d, data: dt.time.fromisoformat(data["iso"]).replace(fold=data.get("fold", 0)),
    "timedelta": _decode_timedelta,
    "decimal": lambda d, data: decimal.Decimal(data["value"]),
    "uuid": lambda d, data: uuid.UUID(data["value"]),
    "path": _decode_path,
    "complex": lambda d, data: complex(d.decode(data["real"]), d.decode(data["imag"])),
    "redacted": _decode_redacted,
    "enum": lambda d, data: _resolve_type(
        data["type"], lambda k: issubclass(k, enum.Enum), "an enum"
    )(d.decode(data["value"])),
    "namedtuple": lambda d, data: _resolve_type(data["type"], _is_namedtuple, "a namedtuple")._make(
        d._items(data)
    ),
    "dataclass": _decode_dataclass,
}


# --- jsonpickle -----------------------------------------------------------------------------


class JSONPickleSerializer:
    """jsonpickle: JSON text for nearly any object (``pip install snapy-capture[jsonpickle]``).

    Loading a jsonpickle capture can run code, as pickle does: sign captures or load only
    files you trust. Some objects are stored approximately (functions become ``null``).

    Raises:
        ConfigError: jsonpickle is not installed.
    """

    name = "jsonpickle"

    def __init__(self) -> None:
        try:
            import jsonpickle  # noqa: F401, PLC0415 - optional extra, imported on use
        except ImportError:
            raise ConfigError(
                "JSONPickleSerializer needs jsonpickle: pip install 'snapy-capture[jsonpickle]'"
            ) from None

    def dumps(self, obj: Any) -> bytes:
        """Encode ``obj`` with jsonpickle (non-string dict keys kept)."""
        from jsonpickle.pickler import Pickler  # noqa: PLC0415

        # flatten + json directly: jsonpickle.encode would try other backends (yaml) on a
        # failure, with a DeprecationWarning, instead of reporting it.
        flat = Pickler(keys=True).flatten(obj)
        try:
            data = json.dumps(flat, indent=1, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: let JSON escape them instead
            data = json.dumps(flat, indent=1).encode("ascii")
        # jsonpickle silently drops what it cannot store (a lambda in a dict vanishes with its
        # key); a capture that lost part of an argument would replay wrongly, so check the
        # round trip and fail like pickle would, letting the pipeline use a placeholder.
        try:
            restored = self.loads(data)
        except Exception as exc:  # noqa: BLE001
            raise TypeError(f"jsonpickle cannot restore this value: {exc}") from None
        if not _same_shape(obj, restored):
            raise TypeError("jsonpickle would store this value incompletely (e.g. functions)")
        return data

    def loads(self, data: bytes) -> Any:
        """Decode a jsonpickle capture.

        Raises:
            CaptureFormatError: a class named in the file cannot be found.
        """
        from jsonpickle.errors import ClassNotFoundError  # noqa: PLC0415
        from jsonpickle.unpickler import Unpickler  # noqa: PLC0415

        tree = json.loads(data)
        try:
            # on_missing="error": by default jsonpickle returns the raw dict for a missing
            # class, which would replay as the wrong argument without a word.
            return Unpickler(keys=True, on_missing="error").restore(tree)
        except ClassNotFoundError as exc:  # a BaseException in jsonpickle: convert it
            raise CaptureFormatError(
                f"jsonpickle capture names a class that cannot be "
                f"imported here ({_jsonpickle_reason(exc)})"
            ) from None

    def __repr__(self) -> str:
        return "JSONPickleSerializer()"


def _jsonpickle_reason(exc: BaseException) -> str:
    return str(exc) or (exc.__cause__ and str(exc.__cause__)) or type(exc).__name__


def _same_shape(original: Any, restored: Any, depth: int = 0) -> bool:
    """Whether containers kept their keys and lengths through a round trip (not values)."""
    if depth > 100:
        return True
    if isinstance(original, dict):
        return (
            isinstance(restored, dict)
            and len(original) == len(restored)
            and all(
                _same_shape(v, restored.get(k), depth + 1)
                for k, v in original.items()
                if _hashable(k) and k in restored
            )
        )
    if isinstance(original, (list, tuple)):
        return (
            isinstance(restored, (list, tuple))
            and len(original) == len(restored)
            and all(_same_shape(a, b, depth + 1) for a, b in zip(original, restored, strict=True))
        )
    return not (callable(original) and restored is None)


def _hashable(key: Any) -> bool:
    try:
        hash(key)
    except TypeError:
        return False
    return True


_BY_NAME: Final[dict[str, type]] = {
    "pickle": PickleSerializer,
    "json": JSONSerializer,
    "jsonpickle": JSONPickleSerializer,
}
_instances: dict[str, Serializer] = {}


def get_serializer(spec: str | Serializer) -> Serializer:
    """Return the serializer for a name (``pickle``, ``json``, ``jsonpickle``) or object.

    Raises:
        ConfigError: an unknown name, or jsonpickle missing for ``"jsonpickle"``.
    """
    if not isinstance(spec, str):
        return spec
    instance = _instances.get(spec)
    if instance is None:
        if spec not in _BY_NAME:
            raise ConfigError(f"unknown serializer {spec!r} (known: {', '.join(_BY_NAME)})")
        instance = _instances.setdefault(spec, _BY_NAME[spec]())
    return instance
