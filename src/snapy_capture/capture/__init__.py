"""``@capture_args``: record a function's arguments each time it is called.

The decorator and the import hook build the very same wrapper (see ``_pipeline``): options
resolved per function (decorator > environment > global config > defaults), sampling,
filtering, serialization and storage.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

from snapy_capture.capture._context import Clock, call_depth, set_clock
from snapy_capture.capture._context import own_code as own_code
from snapy_capture.capture._pipeline import parse_overrides, seed_sampler
from snapy_capture.capture._pipeline import site_of as site_of
from snapy_capture.capture._pipeline import wrap as wrap
from snapy_capture.capture._stats import CaptureProfiler, stats
from snapy_capture.capture._writer import flush
from snapy_capture.errors import ConfigError
from snapy_capture.filters import ArgumentFilter
from snapy_capture.storage import CaptureStorage

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from typing import Any, TypeVar, cast, overload

    from snapy_capture.storage.serializers import Serializer

    F = TypeVar("F", bound=Callable[..., Any])
else:
    from snapy_capture._stdtypes import for_readers

    def cast(_type: object, value: object) -> object:  # typing's, at run time
        return value

    # For typing.get_type_hints of the public names (see there).
    for_readers(
        globals(), {"Any": "typing:Any", "Serializer": "snapy_capture.config._protocols:Serializer"}
    )


__all__ = [
    "CaptureProfiler",
    "Clock",
    "call_depth",
    "capture_args",
    "flush",
    "seed_sampler",
    "set_clock",
    "stats",
]
# For the layers above (the import hook, the runner), not public API: ``own_code``, ``site_of``
# and ``wrap`` are imported from here too.

_NOT_GIVEN: Any = type("_NotGiven", (), {"__repr__": lambda self: "<not given>"})()


if TYPE_CHECKING:  # the decorator's two forms, for type checkers

    @overload
    def capture_args(path: F) -> F: ...

    @overload
    def capture_args(
        path: str | os.PathLike[str] | None = None,
        retention: int | None = ...,
        ignore_args: Iterable[str] | None = None,
        *,
        enabled: bool | None = None,
        max_age: float | str | None = None,
        sample_rate: float | None = None,
        async_storage: bool | None = None,
        lazy_serialization: bool | None = None,
        max_capture_size: int | None = None,
        arg_filter: ArgumentFilter | None = None,
        storage: CaptureStorage | None = None,
        serializer: str | Serializer | None = None,
        fallback_serializer: str | Serializer | None = None,
        ignore_serialization_errors: bool | None = None,
        record_result: bool | None = None,
        capture_self: bool | None = None,
        dedupe: bool | None = None,
    ) -> Callable[[F], F]: ...


def capture_args(
    path: Any = None,
    retention: Any = _NOT_GIVEN,
    ignore_args: Iterable[str] | None = None,
    *,
    enabled: bool | None = None,
    max_age: float | str | None = None,
    sample_rate: float | None = None,
    async_storage: bool | None = None,
    lazy_serialization: bool | None = None,
    max_capture_size: int | None = None,
    arg_filter: ArgumentFilter | None = None,
    storage: CaptureStorage | None = None,
    serializer: str | Serializer | None = None,
    fallback_serializer: str | Serializer | None = None,
    ignore_serialization_errors: bool | None = None,
    record_result: bool | None = None,
    capture_self: bool | None = None,
    dedupe: bool | None = None,
) -> Any:
    """Capture the arguments of every call of the decorated function.

    Every option left out is resolved from the configuration (see :mod:`snapy_capture.config`).
    ``retention=N`` keeps the newest N captures per function; an explicit ``retention=None``
    keeps them all. ``ignore_args`` names are added to the default sensitive patterns.

    Works on functions, methods, classmethods, staticmethods, ``async def`` coroutines,
    generators and async generators; also as a plain call: ``f = capture_args(...)(f)``, or
    bare: ``@capture_args``. ``self``/``cls`` are never part of ``args``; a method's receiver
    is stored beside them as the record's ``"self"`` (filtered like an argument, its attributes
    under the path ``self.<name>``), and with ``record_result`` its state after the call as
    ``"self_after"``; ``capture_self=False`` leaves both out. Classmethods and staticmethods
    have no receiver; ``__init__`` only has ``"self_after"`` (the instance it built).
    ``dedupe`` (on by default): a call whose capture would equal one kept for the function
    counts on that capture instead of being stored again; ``dedupe=False``: one per call.

    Raises:
        ConfigError: (a ``ValueError``) naming the option when a value is invalid.
    """
    if callable(path) and not isinstance(path, (str, os.PathLike)):
        return capture_args()(path)  # used bare: @capture_args
    given = {
        "path": path,
        "ignore_args": ignore_args,
        "enabled": enabled,
        "max_age": max_age,
        "sample_rate": sample_rate,
        "async_storage": async_storage,
        "lazy_serialization": lazy_serialization,
        "max_capture_size": max_capture_size,
        "arg_filter": arg_filter,
        "serializer": serializer,
        "fallback_serializer": fallback_serializer,
        "ignore_serialization_errors": ignore_serialization_errors,
        "record_result": record_result,
        "capture_self": capture_self,
        "dedupe": dedupe,
    }
    options = {name: value for name, value in given.items() if value is not None}
    if retention is not _NOT_GIVEN:
        options["retention"] = retention
    overrides = parse_overrides(options)
    _check_storage(storage)

    def decorator(func: F) -> F:
        # The proxy behaves as ``func`` (wrapt), so it is typed as ``func``.
        return cast("F", wrap(func, overrides, storage=storage))

    return decorator


def _check_storage(storage: object) -> None:
    if storage is not None and not isinstance(storage, CaptureStorage):
        raise ConfigError(
            f"invalid value for option 'storage': expected a CaptureStorage, got {storage!r}"
        )
