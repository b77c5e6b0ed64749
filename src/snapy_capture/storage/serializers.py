"""Serializers: how a capture record becomes bytes and back.

A serializer is any object with a ``name`` and ``dumps(obj) -> bytes`` / ``loads(bytes)``.
Each capture file names the serializer that wrote it, so loading never depends on the
current configuration (see :mod:`snapy_capture.storage._envelope`).

Classes defined in a script run as ``__main__`` are a special case: pickle would store them
as ``__main__.Cls``, which a test process cannot find. Both built-in formats that store class
references instead record the script's importable module name (see
:func:`set_main_module_name`) and, when none is known, fail on load with a message saying how
to fix it.
"""

from __future__ import annotations

import io
import json
import pickle
import sys
import threading
from collections.abc import Callable

from snapy_capture._forksafe import fork_safe
from snapy_capture.config import SERIALIZER_NAMES
from snapy_capture.errors import CaptureFormatError, ConfigError
from snapy_capture.storage import _jsonpickle
from snapy_capture.storage._jsontags import Codec, Decoder, Encoder
from snapy_capture.storage._mainrefs import MainMappingPickler, find_global, guess_main_module_name
from snapy_capture.storage._missing import describe_missing

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from typing import Any, ClassVar, Final

    from snapy_capture.config import Serializer
else:  # for typing.get_type_hints of the public names (see there)
    from snapy_capture._stdtypes import for_readers

    for_readers(
        globals(),
        {
            "Any": "typing:Any",
            "ClassVar": "typing:ClassVar",
            "Serializer": "snapy_capture.config._protocols:Serializer",
        },
    )

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


def serializer_name(serializer: object) -> str:
    """The name a capture file records for ``serializer`` (its ``name``, else its class)."""
    name = getattr(serializer, "name", None)
    if isinstance(name, str) and name:
        return name
    kind = type(serializer)
    return f"{kind.__module__}.{kind.__qualname__}"


# --- classes defined in the script run as __main__ (helpers in _mainrefs) -------------------

# The one copy of the runner's declaration; _mainrefs and _jsontags read it through
# main_module_name, passed to them, so that they need not import this module.
_main_name: str | None = None


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
    return guess_main_module_name()


def _load_main_global(module: str | None, qualname: str, script: str | None) -> Any:
    """Unpickling entry point for objects of ``__main__``; stored in files by name: keep it."""
    return find_global(module, qualname, script, main_name=main_module_name)


# --- pickle ---------------------------------------------------------------------------------


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
        # find(), not `in`: bytes.__contains__ first tries the argument as an int, and formats
        # (then drops) a TypeError on every capture.
        if data.find(b"_main__") != -1:  # __main__, or __mp_main__ in multiprocessing children
            buffer = io.BytesIO()
            MainMappingPickler(
                buffer, self.protocol, module=main_module_name(), loader=_load_main_global
            ).dump(obj)
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
            # A program run with ``python -m pkg.app`` shows its __main__ as 'pkg.app'.
            main = sys.modules.get("__main__")
            text = str(exc)
            if "module '__main__'" not in text and (main is None or repr(main) not in text):
                raise _missing(data, exc) from None
            raise CaptureFormatError(
                f"{exc}: the capture refers to a class defined in a script run as __main__; "
                f"recapture with this version of snapy_capture, or move the class into a module"
            ) from None
        except ImportError as exc:  # the module moved (ModuleNotFoundError) or fails
            raise _missing(data, exc) from None

    def __repr__(self) -> str:
        return f"PickleSerializer(protocol={self.protocol})"


def _missing(data: bytes, exc: BaseException) -> BaseException:
    """The error naming the class a pickle could not find, else ``exc`` itself."""
    return describe_missing(data, exc) or exc


# --- JSON (the tagged encoding is in _jsontags) ---------------------------------------------


class JSONSerializer:
    """Readable, diffable JSON.

    Plain ``None``/``bool``/``int``/``float``/``str``/``list``/``dict`` are stored as JSON;
    tuples, sets, frozensets, bytes, bytearrays, dicts with non-string keys, ``OrderedDict``,
    dates, times, datetimes, timedeltas, decimals, UUIDs, paths, complex numbers, NaN and
    infinities, huge ints, enums, namedtuples, dataclasses and filter placeholders round-trip
    through tagged objects (``{"__snapy__": "<tag>", ...}``). Any other type (subclasses of the
    built-in types included) raises ``TypeError``, so the capture pipeline can fall back.

    Loading only ever constructs the types above and imports nothing: the class of an enum,
    namedtuple or dataclass is looked up in the modules already imported (``sys.modules``), so
    a capture file cannot make the loader run a module it names. The tests that replay it have
    imported the code under test already; for a class whose module they have not, the capture
    is skipped with a message naming the module: import it first (``conftest.py``), or list it
    with :meth:`allow_import`.

    Args:
        indent: JSON indentation (``None`` for one line).
    """

    name = "json"
    _codecs: ClassVar[dict[str, Codec]] = {}
    _codecs_lock: ClassVar[threading.Lock] = fork_safe(threading.Lock())
    #: Modules (and their submodules) that loading may import: see :meth:`allow_import`.
    allowed_imports: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, *, indent: int | None = 1) -> None:
        self.indent = indent

    @classmethod
    def has_codecs(cls) -> bool:
        """Whether any codec is registered (see :meth:`register`)."""
        return bool(cls._codecs)

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
            cls._codecs = {**cls._codecs, tag: Codec(kind, tag, encode, decode)}

    @classmethod
    def allow_import(cls, *modules: str) -> None:
        """Let loading import these modules (and their submodules) to find a class.

        Loading imports nothing by default (see the class docstring); allow only modules of
        your own project, never a location others can write to (such as the capture
        directory). Process-wide, like :meth:`register`.

        Raises:
            ConfigError: a name that is not a module name.
        """
        for module in modules:
            if not isinstance(module, str) or not all(
                part.isidentifier() for part in module.split(".")
            ):
                raise ConfigError(
                    f"JSONSerializer.allow_import expects module names, got {module!r}"
                )
        with cls._codecs_lock:
            cls.allowed_imports = cls.allowed_imports | frozenset(modules)

    @classmethod
    def _may_import(cls, module: str) -> bool:
        allowed = cls.allowed_imports
        return any(module == name or module.startswith(f"{name}.") for name in allowed)

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
        return Encoder(list(self._codecs.values()), main_module_name).encode(obj)

    def from_jsonable(self, tree: Any) -> Any:
        """Rebuild objects from a tree that :meth:`to_jsonable` made (after ``json.loads``).

        Raises:
            CaptureFormatError: an unknown tag, or a type that cannot be found.
        """
        return Decoder(self._codecs, main_module_name, self._may_import).decode(tree)

    def __repr__(self) -> str:
        return f"JSONSerializer(indent={self.indent!r})"


# --- jsonpickle -----------------------------------------------------------------------------


class JSONPickleSerializer:
    """jsonpickle: JSON text for nearly any object (``pip install snapy-capture[jsonpickle]``).

    Loading a jsonpickle capture can run code, as pickle does (a file may name any function
    of a loaded module for jsonpickle to call): sign captures or load only files you trust.
    Loading imports nothing, though: every class, function or module the file names must be
    in a module imported already (``sys.modules``), as for :class:`JSONSerializer` (whose
    :meth:`~JSONSerializer.allow_import` list applies here too). Some objects are stored
    approximately (functions become ``null``).

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
        # flatten + json directly: jsonpickle.encode would try other backends (yaml) on a
        # failure, with a DeprecationWarning, instead of reporting it.
        flat = _jsonpickle.pickler()(keys=True).flatten(obj)
        try:
            data = json.dumps(flat, indent=1, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: let JSON escape them instead
            data = json.dumps(flat, indent=1).encode("ascii")
        # jsonpickle silently drops what it cannot store (a lambda in a dict vanishes with its
        # key); a capture that lost part of an argument would replay wrongly, so compare the
        # flattened tree with the value and fail like pickle would, letting the pipeline use
        # a placeholder. (Not by loading it back: that would run the objects' reconstruction
        # code in the host program.)
        if not _jsonpickle.same_shape(obj, flat):
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
        # jsonpickle imports every module the file names (loadclass, py/mod): resolve them
        # here from what is imported already, and hand jsonpickle the objects found, so that
        # it never gets to import one.
        classes = _jsonpickle.referenced_objects(tree, JSONSerializer._may_import)
        try:
            # on_missing="error": by default jsonpickle returns the raw dict for a missing
            # class, which would replay as the wrong argument without a word.
            return Unpickler(keys=True, on_missing="error", safe=True).restore(
                tree, classes=classes
            )
        except ClassNotFoundError as exc:  # a BaseException in jsonpickle: convert it
            raise CaptureFormatError(
                f"jsonpickle capture names a class that cannot be "
                f"imported here ({_jsonpickle.reason(exc)})"
            ) from None

    def __repr__(self) -> str:
        return "JSONPickleSerializer()"


_CLASSES: Final[dict[str, type]] = {
    PickleSerializer.name: PickleSerializer,
    JSONSerializer.name: JSONSerializer,
    JSONPickleSerializer.name: JSONPickleSerializer,
}
# The names are config's (``SERIALIZER_NAMES``, what the option accepts): one list.
_BY_NAME: Final[dict[str, type]] = {name: _CLASSES[name] for name in SERIALIZER_NAMES}
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


def __getattr__(name: str) -> object:  # PEP 562: see snapy_capture.config._protocols
    if name == "Serializer":
        from snapy_capture.config import _protocols  # noqa: PLC0415

        return _protocols.Serializer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
