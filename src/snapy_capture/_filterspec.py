"""Resolving an ``arg_filter`` setting (a mapping or a dotted path) into a filter.

The public entry points are :func:`~snapy_capture.filters.resolve_filter_spec` and
:func:`~snapy_capture.filters.check_filter_spec`; this module holds their parsing, the import
of a named filter and the per-process cache of those imports. It takes the filter class as
an argument instead of importing :mod:`snapy_capture.filters`, which imports it.
"""

from __future__ import annotations

import importlib
import re
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from ._errors import ConfigError
from ._forksafe import fork_safe

if TYPE_CHECKING:
    from .filters import ArgumentFilter

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
            found = _resolved[text] = _load_filter(text)
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
    except Exception as exc:  # noqa: BLE001 - any import failure is a configuration error
        raise ConfigError(f"cannot load arg_filter {spec!r}: {type(exc).__name__}: {exc}") from None
    try:
        made = (
            target()
            if isinstance(target, type) or (callable(target) and not hasattr(target, "filter_call"))
            else target
        )
    except Exception as exc:  # noqa: BLE001
        raise ConfigError(f"arg_filter {spec!r} failed: {type(exc).__name__}: {exc}") from None
    if not callable(getattr(made, "filter_call", None)) or not callable(
        getattr(made, "derive", None)
    ):
        raise ConfigError(f"arg_filter {spec!r} gave {type(made).__name__}, not an ArgumentFilter")
    return made  # type: ignore[no-any-return]
