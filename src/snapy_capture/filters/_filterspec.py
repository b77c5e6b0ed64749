"""Resolving an ``arg_filter`` setting (a mapping or a dotted path) into a filter.

:func:`check_filter_spec` validates the option where it is given (``capture_args``, a target
file), :func:`resolve_filter_spec` turns it into a filter where a function's options are
resolved; the configuration itself only checks the option's shape (it does not import this
layer). Named filters are imported once per process.

A dotted path is resolved in the host program, on its first captured call, so what it names
is checked before anything is called: an ``ArgumentFilter`` instance is used as is, an
``ArgumentFilter`` subclass is instantiated, and a function is called only if its return
annotation names ``ArgumentFilter`` or a subclass (``def make() -> ArgumentFilter``), which is
how its author marks it a filter factory. Anything else is refused unrun: ``sys:exit`` or
``os:abort`` in a target file must not stop the program.
"""

from __future__ import annotations

import builtins
import importlib
import inspect
import threading
import types
from collections.abc import Mapping

from snapy_capture._forksafe import fork_safe
from snapy_capture.config import invalid_option, is_dotted_path, parse_option
from snapy_capture.errors import ConfigError
from snapy_capture.filters._filter import ArgumentFilter

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from typing import Any, Final

__all__ = ["check_filter_spec", "resolve_filter_spec"]

#: The keys a mapping may hold: the filter's own keyword arguments.
_SPEC_KEYS: Final = frozenset(inspect.signature(ArgumentFilter).parameters)
# Dotted paths are imported once per process: a filter named in the configuration is shared
# by every function it applies to, and importing it again per call would be slow.
_resolved: dict[str, ArgumentFilter] = {}
_resolved_lock = fork_safe(threading.Lock())
_MISSING: Final[Any] = object()


def check_filter_spec(spec: object) -> object:
    """Validate an ``arg_filter`` option, importing nothing.

    Returns the filter itself, a dotted-path string (resolved on first use with
    :func:`resolve_filter_spec`), or a new :class:`ArgumentFilter` built from a mapping.

    Raises:
        ConfigError: naming the option, when ``spec`` is none of those.
    """
    if isinstance(spec, Mapping):
        try:
            return _build_filter(spec)
        except ConfigError as exc:
            raise invalid_option("arg_filter", exc) from None
    return parse_option("arg_filter", spec)


def resolve_filter_spec(spec: object) -> ArgumentFilter:
    """Turn an ``arg_filter`` setting into a filter.

    ``spec`` may be an :class:`ArgumentFilter` (returned as is); ``None`` (a default filter);
    a mapping of :class:`ArgumentFilter` keyword arguments (as written in YAML); or a string
    ``"package.module:name"`` (or ``"package.module.name"``) naming an ``ArgumentFilter``
    instance, an ``ArgumentFilter`` subclass (instantiated without arguments) or a factory
    function returning a filter. Strings are resolved once per process.

    Raises:
        ConfigError: (a ``ValueError``) naming the spec when it cannot be resolved.
    """
    if spec is None:
        return ArgumentFilter()
    if callable(getattr(spec, "filter_call", None)) and not isinstance(spec, type):
        return spec  # type: ignore[return-value]
    if isinstance(spec, Mapping):
        return _build_filter(spec)
    return _resolve_dotted(spec)


def _build_filter(spec: Mapping[Any, Any]) -> ArgumentFilter:
    """``ArgumentFilter(**spec)``; unknown keys and bad values raise :class:`ConfigError`."""
    unknown = set(spec) - _SPEC_KEYS
    if unknown:
        raise ConfigError(
            f"unknown arg_filter option(s) {sorted(map(str, unknown))}; "
            f"known: {', '.join(sorted(_SPEC_KEYS))}"
        )
    try:
        return ArgumentFilter(**{str(key): value for key, value in spec.items()})
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid arg_filter options: {exc}") from None


def _resolve_dotted(spec: object) -> ArgumentFilter:
    """The filter a ``"package.module:name"`` string names, imported on first use only."""
    if not isinstance(spec, str) or not is_dotted_path(spec):
        raise ConfigError(f"expected an ArgumentFilter or 'package.module:name', got {spec!r}")
    text = spec.strip()
    with _resolved_lock:
        found = _resolved.get(text)
    if found is None:
        # Not under the lock: the import runs the user's module, which may itself call a
        # captured function and so come back here on this thread.
        made = _load_filter(text)
        with _resolved_lock:
            found = _resolved.setdefault(text, made)
    return found


def _load_filter(spec: str) -> ArgumentFilter:
    if ":" in spec:
        module_name, _, attr_path = spec.partition(":")
    else:
        module_name, _, attr_path = spec.rpartition(".")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attr_path.split("."):
            target = getattr(target, part)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - any failure is a config error
        raise ConfigError(f"cannot load arg_filter {spec!r}: {type(exc).__name__}: {exc}") from None
    if isinstance(target, ArgumentFilter):
        return target
    if isinstance(target, type) and issubclass(target, ArgumentFilter):
        factory: Any = target
    elif _is_factory(target, ArgumentFilter):
        factory = target
    else:
        raise ConfigError(
            f"arg_filter {spec!r} is {_describe(target)}, not an ArgumentFilter: name an "
            f"ArgumentFilter instance or subclass, or a function annotated "
            f"'-> ArgumentFilter' (only such a function is called)"
        )
    try:
        made = factory()
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - the user's code: a config error
        raise ConfigError(f"arg_filter {spec!r} failed: {type(exc).__name__}: {exc}") from None
    if not isinstance(made, ArgumentFilter):
        raise ConfigError(f"arg_filter {spec!r} gave {type(made).__name__}, not an ArgumentFilter")
    return made


def _is_factory(target: object, base: type) -> bool:
    """Whether ``target`` is a Python function whose return annotation names ``base`` (or a
    subclass): the mark of a filter factory. Found without evaluating the annotation."""
    if not isinstance(target, types.FunctionType):
        return False  # builtins (sys.exit, os.abort), classes, partials, other callables
    annotation = target.__annotations__.get("return")
    if isinstance(annotation, str):  # `from __future__ import annotations`, or quoted
        found: Any = target.__globals__.get(annotation.split(".")[0], _MISSING)
        if found is _MISSING:
            found = getattr(builtins, annotation.split(".")[0], _MISSING)
        for part in annotation.strip().split(".")[1:]:
            found = getattr(found, part, _MISSING)
        annotation = found
    return isinstance(annotation, type) and issubclass(annotation, base)


def _describe(target: object) -> str:
    if isinstance(target, type):
        return f"the class {target.__qualname__}"
    if callable(target):
        name = getattr(target, "__qualname__", None) or type(target).__qualname__
        return f"the callable {name} (not marked as a filter factory)"
    return f"a {type(target).__qualname__}"
