"""The tagged JSON encoding behind :class:`~snapy_capture.storage.serializers.JSONSerializer`.

Plain JSON values are stored as themselves; every other supported type becomes a tagged object
``{"__snapy__": "<tag>", ...}``. :class:`Encoder` turns objects into such a tree and
:class:`Decoder` rebuilds them, constructing only the types listed here or a registered
:class:`Codec`'s result. The codec registry itself stays on ``JSONSerializer`` (one per process).

Loading imports nothing: a type reference (``"pkg.mod:Cls"``) is resolved in ``sys.modules``
only, unless its module is on the allow list ``JSONSerializer.allow_import`` builds. A capture
file can be planted by anyone who can write to the capture directory, and importing a module
it names would run that module (a ``.py`` planted beside the captures, for one).
"""

from __future__ import annotations

import binascii
import dataclasses
import enum
import importlib
import json
import math
import sys
from collections import OrderedDict
from collections.abc import Callable

from snapy_capture._stdtypes import PATH_TYPES, imported, is_path_type
from snapy_capture._stdtypes import datetime as dt
from snapy_capture.errors import CaptureFormatError
from snapy_capture.filters import Inert
from snapy_capture.storage._mainrefs import MAIN_MODULES, MainName, lookup

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from pathlib import PurePath
    from typing import Any, Final

#: Says whether a module that is not imported yet may be imported to resolve a type reference.
MayImport = Callable[[str], bool]

__all__ = ["TAG", "Codec", "Decoder", "Encoder"]

TAG: Final = "__snapy__"
_BIG_INT_BITS: Final = 10_000  # decimal text of bigger ints hits sys.get_int_max_str_digits()


class Codec:
    """A type taught by ``JSONSerializer.register``, stored as ``{"__snapy__": "custom"}``."""

    # Not a dataclass: creating one costs every capturing process ~0.5 ms at start-up.
    __slots__ = ("decode", "encode", "kind", "tag")

    def __init__(
        self,
        kind: type,
        tag: str,
        encode: Callable[[Any], Any],
        decode: Callable[[Any], Any],
    ) -> None:
        self.kind = kind
        self.tag = tag
        self.encode = encode
        self.decode = decode


def _type_ref(kind: type, main_name: MainName) -> str:
    """``module:qualname`` of a class, checked to load again by that name.

    Raises:
        TypeError: a class defined inside a function, or otherwise not importable by name.
    """
    module, qualname = kind.__module__, kind.__qualname__
    try:
        found = lookup(sys.modules[module], qualname)
    except (KeyError, AttributeError):
        found = None
    if found is not kind:
        raise TypeError(
            f"JSONSerializer cannot store {qualname!r}: the class cannot be "
            f"imported by name (defined inside a function?)"
        )
    if module in MAIN_MODULES:
        module = main_name() or "__main__"
    return f"{module}:{qualname}"


def _resolve_type(ref: object, check: Callable[[Any], bool], what: str, decoder: Decoder) -> Any:
    if not isinstance(ref, str) or ":" not in ref:
        raise CaptureFormatError(f"bad type reference {ref!r} in a JSON capture")
    module, _, qualname = ref.partition(":")
    kind = _find_loaded(module, qualname, decoder)
    if not (isinstance(kind, type) and check(kind)):
        # Refuse to call anything but the expected constructor: a JSON file must not be able
        # to name ``os:system`` and have it called with its own arguments.
        raise CaptureFormatError(f"{ref} is not {what}")
    return kind


def _find_loaded(module: str, qualname: str, decoder: Decoder) -> Any:
    """The object ``module:qualname`` names, from modules already imported (see module doc)."""
    if module == "__main__" or (module not in sys.modules and module == decoder.main_name()):
        # Loading in the process that runs the script itself: its __main__ has the class.
        try:
            return lookup(sys.modules["__main__"], qualname)
        except (KeyError, AttributeError):
            if module == "__main__":
                raise CaptureFormatError(
                    f"{qualname} was defined in a script run as __main__, and its importable "
                    f"module name was unknown when it was captured; move {qualname} into a "
                    f"module the tests can import, or capture with `python -m "
                    f"snapy_capture.run` so the name is recorded"
                ) from None
    owner = sys.modules.get(module)
    if owner is None:
        if not decoder.may_import(module):
            raise CaptureFormatError(
                f"{module}:{qualname}: module {module!r} is not imported, and loading a JSON "
                f"capture imports nothing; import {module} before loading (in the test "
                f"module or conftest.py, its directory on sys.path), or allow it: "
                f"JSONSerializer.allow_import({module!r})"
            )
        try:
            owner = importlib.import_module(module)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - any failure: same advice
            raise CaptureFormatError(
                f"{module}:{qualname}: cannot import {module} ({type(exc).__name__}: {exc})"
            ) from None
    try:
        return lookup(owner, qualname)
    except AttributeError:
        raise CaptureFormatError(
            f"{module}:{qualname}: module {module!r} has no {qualname!r}"
        ) from None


def _is_namedtuple(kind: type) -> bool:
    return issubclass(kind, tuple) and hasattr(kind, "_fields") and hasattr(kind, "_make")


class Encoder:
    """Turns one object into a tree of JSON values and tagged objects (one per ``dumps``)."""

    __slots__ = ("active", "codecs", "main_name")

    def __init__(self, codecs: list[Codec], main_name: MainName) -> None:
        self.codecs = codecs
        self.main_name = main_name
        self.active: set[int] = set()  # containers on the current path, to report cycles

    def encode(self, obj: Any) -> Any:
        kind = type(obj)
        if obj is None or kind is bool or kind is str:
            return obj
        if kind is int:
            if obj.bit_length() > _BIG_INT_BITS:
                return {TAG: "int", "hex": hex(obj)}
            return obj
        if kind is float:
            return obj if math.isfinite(obj) else {TAG: "float", "value": repr(obj)}
        if id(obj) in self.active:
            raise ValueError("JSONSerializer cannot store a reference cycle")
        self.active.add(id(obj))
        try:
            return self._compound(obj, kind)
        finally:
            self.active.discard(id(obj))

    def _compound(self, obj: Any, kind: type) -> Any:
        if kind is Inert:
            return self._inert(obj)
        for codec in self.codecs:
            if isinstance(obj, codec.kind):
                return {TAG: "custom", "tag": codec.tag, "data": self.encode(codec.encode(obj))}
        if kind is list:
            return [self.encode(item) for item in obj]
        if kind is dict:
            if all(type(key) is str for key in obj) and TAG not in obj:
                return {key: self.encode(value) for key, value in obj.items()}
            return {TAG: "dict", "items": self._pairs(obj)}
        if kind is OrderedDict:
            return {TAG: "odict", "items": self._pairs(obj)}
        if kind is tuple:
            return {TAG: "tuple", "items": [self.encode(item) for item in obj]}
        if kind is set or kind is frozenset:
            items = [self.encode(item) for item in obj]
            # Sets have no order; sort the encoded items so that files diff cleanly.
            items.sort(key=lambda item: json.dumps(item, sort_keys=True))
            return {TAG: kind.__name__, "items": items}
        return self._other(obj, kind)

    def _pairs(self, obj: dict[Any, Any]) -> list[list[Any]]:
        return [[self.encode(key), self.encode(value)] for key, value in obj.items()]

    def _other(self, obj: Any, kind: type) -> Any:
        from snapy_capture.filters import Redacted  # noqa: PLC0415 - filters must not import serializers

        if kind is Redacted:
            return {TAG: "redacted", "reason": obj.reason}
        simple = _SIMPLE.get(kind)
        if simple is not None:
            tag, encode = simple
            return {TAG: tag, **encode(obj)}
        # Read from the modules the program imported: importing uuid (with platform) or
        # decimal would cost a capturing process's start-up ~2.5 ms and ~1 ms.
        if kind is imported("decimal", "Decimal"):
            return {TAG: "decimal", "value": str(obj)}
        if kind is imported("uuid", "UUID"):
            return {TAG: "uuid", "value": str(obj)}
        if kind is complex:
            return {TAG: "complex", "real": self.encode(obj.real), "imag": self.encode(obj.imag)}
        if is_path_type(kind):  # from the pathlib the program imported, as decimal above
            return {TAG: "path", "type": kind.__name__, "value": str(obj)}
        if isinstance(obj, enum.Enum):
            return {
                TAG: "enum",
                "type": _type_ref(kind, self.main_name),
                "value": self.encode(obj.value),
            }
        if isinstance(obj, tuple) and _is_namedtuple(kind):
            return {
                TAG: "namedtuple",
                "type": _type_ref(kind, self.main_name),
                "items": [self.encode(item) for item in obj],
            }
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            ref = _type_ref(kind, self.main_name)
            fields = {f.name: self.encode(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
            return {TAG: "dataclass", "type": ref, "fields": fields}
        raise TypeError(
            f"JSONSerializer cannot store {kind.__module__}.{kind.__qualname__} "
            f"objects (register a codec with JSONSerializer.register)"
        )

    def _inert(self, obj: Inert) -> Any:
        """An async snapshot's copy of an enum, namedtuple or dataclass: tagged as the live
        object is, from its pickled parts (nothing of the class runs)."""
        kind = obj.cls
        if kind is not None and not any(issubclass(kind, c.kind) for c in self.codecs):
            args, state = obj.args, obj.state
            if issubclass(kind, enum.Enum) and obj.func is kind and len(args) == 1:
                return {
                    TAG: "enum",
                    "type": _type_ref(kind, self.main_name),
                    "value": self.encode(args[0]),
                }
            if issubclass(kind, tuple) and _is_namedtuple(kind) and obj.func is not kind:
                items = [self.encode(item) for item in args[1:]]
                return {TAG: "namedtuple", "type": _type_ref(kind, self.main_name), "items": items}
            if dataclasses.is_dataclass(kind) and obj.func is not kind:
                names = [f.name for f in dataclasses.fields(kind)]
                values = _dataclass_values(names, state)
                if values is not None:
                    fields = {name: self.encode(value) for name, value in values.items()}
                    return {
                        TAG: "dataclass",
                        "type": _type_ref(kind, self.main_name),
                        "fields": fields,
                    }
        raise TypeError(
            f"JSONSerializer cannot store {obj.type_name()} objects "
            f"(register a codec with JSONSerializer.register)"
        )


def _dataclass_values(names: list[str], state: Any) -> dict[str, Any] | None:
    """A dataclass's field values from its pickled state: a dict, (dict, slots), or a list."""
    if type(state) is list and len(state) == len(names):
        return dict(zip(names, state, strict=True))
    merged: dict[str, Any] = {}
    for part in state if type(state) is tuple else (state,):
        if type(part) is dict:
            merged.update(part)
    if all(name in merged for name in names):
        return {name: merged[name] for name in names}
    return None


def _base64(value: bytes | bytearray) -> dict[str, Any]:
    # What base64.b64encode returns, from binascii as it does: base64 (and its import's
    # cost) only where a capture is read back.
    return {"b64": binascii.b2a_base64(value, newline=False).decode("ascii")}


def _timedelta_fields(value: dt.timedelta) -> dict[str, Any]:
    return {"days": value.days, "seconds": value.seconds, "microseconds": value.microseconds}


_SIMPLE: Final[dict[type, tuple[str, Callable[[Any], dict[str, Any]]]]] = {
    bytes: ("bytes", _base64),
    bytearray: ("bytearray", _base64),
    dt.datetime: ("datetime", lambda v: {"iso": v.isoformat(), "fold": v.fold}),
    dt.date: ("date", lambda v: {"iso": v.isoformat()}),
    dt.time: ("time", lambda v: {"iso": v.isoformat(), "fold": v.fold}),
    dt.timedelta: ("timedelta", _timedelta_fields),
}


class Decoder:
    """Rebuilds objects from a tree that :class:`Encoder` made (one per ``loads``)."""

    __slots__ = ("codecs", "main_name", "may_import")

    def __init__(
        self,
        codecs: dict[str, Codec],
        main_name: MainName,
        may_import: MayImport = lambda module: False,
    ) -> None:
        self.codecs = codecs
        self.main_name = main_name
        self.may_import = may_import

    def decode(self, data: Any) -> Any:
        if isinstance(data, list):
            return [self.decode(item) for item in data]
        if not isinstance(data, dict):
            return data
        tag = data.get(TAG)
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


def _decode_dataclass(decoder: Decoder, data: dict[str, Any]) -> Any:
    kind = _resolve_type(data["type"], dataclasses.is_dataclass, "a dataclass", decoder)
    obj = object.__new__(kind)
    # As pickle does: restore the state without calling __init__ or __post_init__.
    for name, value in data["fields"].items():
        object.__setattr__(obj, name, decoder.decode(value))
    return obj


def _decode_redacted(decoder: Decoder, data: dict[str, Any]) -> Any:
    from snapy_capture.filters import Redacted  # noqa: PLC0415

    return Redacted(str(data["reason"]))


def _decode_float(decoder: Decoder, data: dict[str, Any]) -> float:
    if data["value"] not in ("nan", "inf", "-inf"):
        raise ValueError(f"not a special float: {data['value']!r}")
    return float(data["value"])


def _decode_timedelta(decoder: Decoder, data: dict[str, Any]) -> dt.timedelta:
    if "days" not in data:  # the early draft's form, still written by some exports
        return dt.timedelta(seconds=data["seconds"])
    return dt.timedelta(
        days=data["days"], seconds=data["seconds"], microseconds=data["microseconds"]
    )


def _decode_path(decoder: Decoder, data: dict[str, Any]) -> PurePath:
    import pathlib  # noqa: PLC0415 - loading a capture (see Encoder._other)

    name = data.get("type", "Path")
    if name not in PATH_TYPES:
        raise KeyError(name)
    kind = getattr(pathlib, name)
    if kind in (pathlib.PosixPath, pathlib.WindowsPath):
        kind = pathlib.Path  # the concrete flavour of this machine
    return kind(data["value"])  # type: ignore[no-any-return]


def _uuid(value: str) -> Any:
    import uuid  # noqa: PLC0415 - loading a capture (see Encoder._other)

    return uuid.UUID(value)


def _b64decode(text: str) -> bytes:
    import base64  # noqa: PLC0415 - loading a capture (see _SIMPLE)

    return base64.b64decode(text, validate=True)


def _decimal(value: str) -> Any:
    import decimal  # noqa: PLC0415 - loading a capture (see Encoder._other)

    return decimal.Decimal(value)


_DECODERS: Final[dict[str, Callable[[Decoder, dict[str, Any]], Any]]] = {
    "tuple": lambda d, data: tuple(d._items(data)),
    "set": lambda d, data: set(d._items(data)),
    "frozenset": lambda d, data: frozenset(d._items(data)),
    "int": lambda d, data: int(data["hex"], 16),
    "float": _decode_float,
    "bytes": lambda d, data: _b64decode(data["b64"]),
    "bytearray": lambda d, data: bytearray(_b64decode(data["b64"])),
    "datetime": lambda d, data: dt.datetime.fromisoformat(data["iso"]).replace(
        fold=data.get("fold", 0)
    ),
    "date": lambda d, data: dt.date.fromisoformat(data["iso"]),
    "time": lambda d, data: dt.time.fromisoformat(data["iso"]).replace(fold=data.get("fold", 0)),
    "timedelta": _decode_timedelta,
    "decimal": lambda d, data: _decimal(data["value"]),
    "uuid": lambda d, data: _uuid(data["value"]),
    "path": _decode_path,
    "complex": lambda d, data: complex(d.decode(data["real"]), d.decode(data["imag"])),
    "redacted": _decode_redacted,
    "enum": lambda d, data: _resolve_type(
        data["type"], lambda k: issubclass(k, enum.Enum), "an enum", d
    )(d.decode(data["value"])),
    "namedtuple": lambda d, data: _resolve_type(
        data["type"], _is_namedtuple, "a namedtuple", d
    )._make(d._items(data)),
    "dataclass": _decode_dataclass,
}
