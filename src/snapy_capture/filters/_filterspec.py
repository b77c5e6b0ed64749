"""Resolving an ``arg_filter`` setting (a mapping or a dotted path) into a filter.

The public entry points are :func:`~snapy_capture.filters.resolve_filter_spec` and
:func:`~snapy_capture.filters.check_filter_spec`; this module holds their parsing, the import
of a named filter and the per-process cache of those imports. It takes the filter class as
an argument instead of importing :mod:`snapy_capture.filters`, which imports it.

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
import re
import threading
import types
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from snapy_capture._forksafe import fork_safe
from snapy_capture.errors import ConfigError

if TYPE_CHECKING:
    from snapy_capture.filters import ArgumentFilter

__all__ = ["build_filter", "is_dotted", "resolve_dotted"]

_SPEC: Final = re.compile(r"^[A-Za-z_][\w.]*(?::[A-Za-z_][\w.]*)?$")
_SPEC_KEYS: Final = frozenset(
    {
        "ignore_args",
        "allow_args",
        "patterns",
        "pii_patterns",
        "filter_pii",
        "filter_types",
        "max_size",
        "max_depth",
    }
)
# Dotted paths are imported once per process: a filter named in the configuration is shared
# by every function it applies to, and importing it again per call would be slow.
_resolved: dict[str, ArgumentFilter] = {}
_resolved_lock = fork_safe(threading.Lock())
_MISSING: Final[Any] = object()


def is_dotted(spec: str) -> bool:
    """Whether ``spec`` is shaped like ``"package.module:name"`` or ``"package.module.name"``."""
    return _SPEC.match(spec.strip()) is not None


def build_filter(factory: Callable[..., ArgumentFilter], spec: Mapping[Any, Any]) -> ArgumentFilter:
    """``factory(**spec)``, with unknown keys and bad values reported as :class:`ConfigError`."""
    unknown = set(spec) - _SPEC_KEYS
    if unknown:
        raise ConfigError(
            f"unknown arg_filter option(s) {sorted(map(str, unknown))}; "
            f"known: {', '.join(sorted(_SPEC_KEYS))}"
        )
    try:
        return factory(**{str(key): value for key, value in spec.items()})
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid arg_filter options: {exc}") from None


def resolve_dotted(spec: object) -> ArgumentFilter:
    """The filter a ``"package.module:name"`` string names, imported on first use only."""
    if not isinstance(spec, str) or not is_dotted(spec):
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
    from snapy_capture.filters import ArgumentFilter  # noqa: PLC0415 - filters imports this module

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
