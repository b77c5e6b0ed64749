"""Serializers: how a capture record becomes bytes and back.

A serializer is any object with a ``name`` and ``dumps(obj) -> bytes`` / ``loads(bytes)``.
Each capture file names the serializer that wrote it, so loading never depends on the
current configuration (see :mod:`snapy_capture._envelope`).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import decimal
import enum
import importlib
import json
import pathlib
import pickle
import uuid
from typing import Any, Final, Protocol, runtime_checkable

from ._errors import ConfigError

__all__ = [
    "JSONPickleSerializer",
    "JSONSerializer",
    "PickleSerializer",
    "Serializer",
    "get_serializer",
]


@runtime_checkable
class Serializer(Protocol):
    """What storage needs from a serializer."""

    name: str

    def dumps(self, obj: Any) -> bytes: ...

    def loads(self, data: bytes) -> Any: ...


class PickleSerializer:
    """The default: stores any picklable object exactly. Loading runs code (see README Security)."""

    name = "pickle"

    def __init__(self, protocol: int = 5) -> None:
        self.protocol = protocol

    def dumps(self, obj: Any) -> bytes:
        return pickle.dumps(obj, protocol=self.protocol)

    def loads(self, data: bytes) -> Any:
        return pickle.loads(data)  # noqa: S301 - callers check the signature first when one is required

    def __repr__(self) -> str:
        return f"PickleSerializer(protocol={self.protocol})"


_TAG: Final = "__snapy__"


def _import_path(kind: type) -> str:
    return f"{kind.__module__}:{kind.__qualname__}"


def _resolve_type(path: str) -> Any:
    module, _, qualname = path.partition(":")
    target: Any = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


class JSONSerializer:
    """Readable, diffable JSON. Tuples, bytes, sets, dates, decimals, UUIDs, paths, enums,
    dataclasses and namedtuples round-trip through tagged objects (``{"__snapy__": ...}``).

    Other types raise ``TypeError``; register more with :meth:`register`.
    """

    name = "json"

    def __init__(self, *, indent: int | None = 1) -> None:
        self.indent = indent
        self._encoders: list[tuple[type, str, Any, Any]] = []

    def register(self, kind: type, tag: str, encode: Any, decode: Any) -> None:
        """Teach the serializer a type: ``encode(obj) -> JSON-able``, ``decode(data) -> obj``."""
        self._encoders.append((kind, tag, encode, decode))

    def dumps(self, obj: Any) -> bytes:
        return json.dumps(self._encode(obj), indent=self.indent, ensure_ascii=False,
                          allow_nan=True).encode("utf-8")

    def loads(self, data: bytes) -> Any:
        return self._decode(json.loads(data))

    def _encode(self, obj: Any) -> Any:  # noqa: PLR0911 - one branch per supported type
        from .filters import Redacted  # local: filters imports nothing from here, keep it so

        kind = type(obj)
        if obj is None or kind in (bool, int, float):
            return obj
        if kind is str:
            return obj
        if isinstance(obj, Redacted):
            return {_TAG: "redacted", "reason": obj.reason}
        for custom_kind, tag, encode, _ in self._encoders:
            if isinstance(obj, custom_kind):
                return {_TAG: "custom", "tag": tag, "data": self._encode(encode(obj))}
        if isinstance(obj, enum.Enum):
            return {_TAG: "enum", "type": _import_path(kind), "value": self._encode(obj.value)}
        if kind is list:
            return [self._encode(item) for item in obj]
        if kind is dict and all(type(key) is str and key != _TAG for key in obj):
            return {key: self._encode(value) for key, value in obj.items()}
        if isinstance(obj, dict):
            return {_TAG: "dict", "items": [[self._encode(k), self._encode(v)] for k, v in
                                            obj.items()]}
        if isinstance(obj, tuple) and hasattr(kind, "_fields"):
            return {_TAG: "namedtuple", "type": _import_path(kind),
                    "items": [self._encode(item) for item in obj]}
        if kind is tuple:
            return {_TAG: "tuple", "items": [self._encode(item) for item in obj]}
        if isinstance(obj, (set, frozenset)):
            tag = "frozenset" if isinstance(obj, frozenset) else "set"
            return {_TAG: tag, "items": [self._encode(item) for item in obj]}
        if isinstance(obj, (bytes, bytearray)):
            return {_TAG: "bytes", "b64": base64.b64encode(bytes(obj)).decode("ascii")}
        if isinstance(obj, dt.datetime):
            return {_TAG: "datetime", "iso": obj.isoformat()}
        if isinstance(obj, dt.date):
            return {_TAG: "date", "iso": obj.isoformat()}
        if isinstance(obj, dt.time):
            return {_TAG: "time", "iso": obj.isoformat()}
        if isinstance(obj, dt.timedelta):
            return {_TAG: "timedelta", "seconds": obj.total_seconds()}
        if isinstance(obj, decimal.Decimal):
            return {_TAG: "decimal", "value": str(obj)}
        if isinstance(obj, uuid.UUID):
            return {_TAG: "uuid", "value": str(obj)}
        if isinstance(obj, pathlib.PurePath):
            return {_TAG: "path", "value": str(obj)}
        if isinstance(obj, complex):
            return {_TAG: "complex", "real": obj.real, "imag": obj.imag}
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            fields = {f.name: self._encode(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
            return {_TAG: "dataclass", "type": _import_path(kind), "fields": fields}
        raise TypeError(f"JSONSerializer cannot store {kind.__qualname__!r} objects")

    def _decode(self, data: Any) -> Any:  # noqa: PLR0911
        if isinstance(data, list):
            return [self._decode(item) for item in data]
        if not isinstance(data, dict):
            return data
        tag = data.get(_TAG)
        if tag is None:
            return {key: self._decode(value) for key, value in data.items()}
        if tag == "redacted":
            from .filters import Redacted

            return Redacted(data["reason"])
        if tag == "custom":
            for _, custom_tag, _, decode in self._encoders:
                if custom_tag == data["tag"]:
                    return decode(self._decode(data["data"]))
            raise ValueError(f"no decoder registered for tag {data['tag']!r}")
        items = [self._decode(item) for item in data.get("items", [])]
        simple = {
            "tuple": lambda: tuple(items),
            "set": lambda: set(items),
            "frozenset": lambda: frozenset(items),
            "dict": lambda: {_freeze(k): v for k, v in items},
            "bytes": lambda: base64.b64decode(data["b64"]),
            "datetime": lambda: dt.datetime.fromisoformat(data["iso"]),
            "date": lambda: dt.date.fromisoformat(data["iso"]),
            "time": lambda: dt.time.fromisoformat(data["iso"]),
            "timedelta": lambda: dt.timedelta(seconds=data["seconds"]),
            "decimal": lambda: decimal.Decimal(data["value"]),
            "uuid": lambda: uuid.UUID(data["value"]),
            "path": lambda: pathlib.Path(data["value"]),
            "complex": lambda: complex(data["real"], data["imag"]),
            "namedtuple": lambda: _resolve_type(data["type"])(*items),
            "enum": lambda: _resolve_type(data["type"])(self._decode(data["value"])),
            "dataclass": lambda: self._dataclass(data),
        }
        if tag not in simple:
            raise ValueError(f"unknown JSON capture tag {tag!r}")
        return simple[tag]()

    def _dataclass(self, data: dict[str, Any]) -> Any:
        kind = _resolve_type(data["type"])
        fields = {name: self._decode(value) for name, value in data["fields"].items()}
        obj = object.__new__(kind)
        for name, value in fields.items():
            object.__setattr__(obj, name, value)
        return obj

    def __repr__(self) -> str:
        return "JSONSerializer()"


def _freeze(key: Any) -> Any:
    return tuple(_freeze(k) for k in key) if isinstance(key, list) else key


class JSONPickleSerializer:
    """jsonpickle: JSON text for nearly any object (``pip install snapy-capture[jsonpickle]``)."""

    name = "jsonpickle"

    def __init__(self) -> None:
        try:
            import jsonpickle  # noqa: F401, PLC0415 - optional extra, imported on use
        except ImportError:
            raise ConfigError(
                "JSONPickleSerializer needs jsonpickle: pip install 'snapy-capture[jsonpickle]'"
            ) from None

    def dumps(self, obj: Any) -> bytes:
        import jsonpickle  # noqa: PLC0415

        return str(jsonpickle.encode(obj, keys=True, indent=1)).encode("utf-8")

    def loads(self, data: bytes) -> Any:
        import jsonpickle  # noqa: PLC0415

        return jsonpickle.decode(data.decode("utf-8"), keys=True)

    def __repr__(self) -> str:
        return "JSONPickleSerializer()"


_BY_NAME: Final[dict[str, type]] = {
    "pickle": PickleSerializer,
    "json": JSONSerializer,
    "jsonpickle": JSONPickleSerializer,
}
_instances: dict[str, Serializer] = {}


def get_serializer(spec: str | Serializer) -> Serializer:
    """Return the serializer for a name (``pickle``, ``json``, ``jsonpickle``) or object."""
    if not isinstance(spec, str):
        return spec
    if spec not in _instances:
        if spec not in _BY_NAME:
            raise ConfigError(f"unknown serializer {spec!r} (known: {', '.join(_BY_NAME)})")
        _instances[spec] = _BY_NAME[spec]()
    return _instances[spec]
