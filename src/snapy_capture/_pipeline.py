"""The one capture pipeline, shared by ``@capture_args`` and the import hook.

config resolution → sampling → argument binding → filtering → record → serialization →
storage (synchronous, or through the background writer).

Nothing in here may change what the wrapped function does: every failure while capturing is
caught, logged once per function on the ``snapy_capture`` logger, and counted.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import pickle
import platform
import random
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from contextvars import ContextVar
from typing import Any, Final, NamedTuple, SupportsIndex

import wrapt

from . import _stats, _writer
from ._errors import ConfigError
from .config import CaptureConfig, parse_option, resolve_config, subscribe
from .filters import ArgumentFilter, FilterResult, Redacted, resolve_filter_spec
from .serializers import Serializer, get_serializer, main_module_name
from .storage import CaptureStorage

__all__ = ["CaptureSite", "CaptureWrapper", "call_depth", "seed_sampler", "wrap"]

logger = logging.getLogger("snapy_capture")

#: Captured calls active in this thread or asyncio task (contextvars give both).
_DEPTH: ContextVar[int] = ContextVar("snapy_capture_call_depth", default=0)
_PYTHON: Final = platform.python_version()
#: Arguments pickling to more than this are filtered on the caller's thread instead (see
#: ``_freeze``): the filters may drop a large value that a snapshot would copy in full.
_SNAPSHOT_LIMIT: Final = 1 << 20
_sampler = random.Random()
_OFF, _ON, _SAMPLED, _UNRESOLVED = 0, 1, 2, -1
_storages: dict[tuple[Any, ...], CaptureStorage] = {}
_storages_lock = threading.Lock()


def call_depth() -> int:
    """How many captured calls enclose the current point (in this thread or task)."""
    return _DEPTH.get()


def seed_sampler(seed: int | None) -> None:
    """Seed the sampler that ``sample_rate`` draws from, for reproducible runs and tests."""
    _sampler.seed(seed)


class _RateLimit:
    """At most ``limit`` captures per one-second window (approximate under threads, by design)."""

    __slots__ = ("count", "limit", "window")

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.window = 0.0
        self.count = 0

    def allow(self) -> bool:
        now = time.monotonic()
        if now - self.window >= 1.0:
            self.window = now
            self.count = 0
        self.count += 1
        return self.count <= self.limit


class _State:
    """What a site resolved from the configuration; rebuilt when the configuration changes."""

    __slots__ = (
        "config",
        "deferred",
        "fallback",
        "filter",
        "limit",
        "max_age",
        "retention",
        "snapshot_limit",
        "storage",
    )

    def __init__(self, site: CaptureSite, config: CaptureConfig) -> None:
        self.config = config
        if site.storage is not None:
            self.storage = site.storage
            given = site.overrides
            self.retention = given.get("retention", site.storage.retention)
            self.max_age = given.get("max_age", site.storage.max_age)
        else:
            self.storage = _shared_storage(config)
            self.retention = config.retention
            self.max_age = config.max_age
        fallback = config.fallback_serializer
        self.fallback: Serializer | None = None if fallback is None else get_serializer(fallback)
        base = resolve_filter_spec(config.arg_filter)  # a 'module:name' string loads here
        self.filter = base.derive(
            ignore_args=[*base.ignore_args, *config.ignore_args],
            allow_args=[*base.allow_args, *config.allow_args],
            filter_pii=base.filter_pii and config.filter_pii,
            max_size=config.large_object_size if config.ignore_large_objects else base.max_size,
            max_depth=min(base.max_depth, config.max_depth),
        )
        self.limit = None if config.max_per_second is None else _RateLimit(config.max_per_second)
        # Off the caller's thread: filtering, building and encoding the record (see _Deferred).
        self.deferred = config.async_storage or config.lazy_serialization
        size = config.max_capture_size
        self.snapshot_limit = _SNAPSHOT_LIMIT if size is None else min(_SNAPSHOT_LIMIT, 4 * size)


def _shared_storage(config: CaptureConfig) -> CaptureStorage:
    # Sites writing to one root share a storage, and with it the lock objects per directory.
    serializer = get_serializer(config.serializer)
    key = (config.path, id(serializer), config.signing_key)
    storage = _storages.get(key)
    if storage is None:
        with _storages_lock:
            storage = _storages.setdefault(
                key,
                CaptureStorage(config.path, serializer=serializer, signing_key=config.signing_key),
            )
    return storage


class _Pending:
    """A record built at call time whose result is added when the call returns."""

    __slots__ = ("record", "state")

    def __init__(self, state: _State, record: dict[str, Any]) -> None:
        self.state = state
        self.record = record


class _Deferred:
    """A capture handed to the background writer before it is filtered, built and encoded.

    The caller's thread only takes what cannot wait: the call time, the thread name, and the
    arguments, as a pickle snapshot (so the capture shows them as they were at the call, even
    if they are mutated afterwards) or, with ``lazy_serialization``, as references (cheaper
    still, but the capture shows them as they are when the writer reaches them).
    """

    __slots__ = (
        "depth",
        "frozen",
        "names",
        "now",
        "payload",
        "result",
        "site",
        "size",
        "state",
        "thread",
    )

    def __init__(
        self,
        site: CaptureSite,
        state: _State,
        depth: int,
        names: Sequence[str],
        payload: bytes | tuple[tuple[Any, ...], dict[str, Any]],
    ) -> None:
        self.site = site
        self.state = state
        self.depth = depth
        self.names = names
        self.payload = payload
        # bytes: a snapshot; a tuple: the arguments themselves (lazy serialization).
        self.frozen = frozen = type(payload) is bytes
        self.size = len(payload) if frozen else 0
        self.now = time.time()
        self.thread = None if state.config.minimal_capture else threading.current_thread().name
        self.result: tuple[Any, ...] | None = None

    def set_result(self, result: Any, exception: BaseException | None) -> None:
        """Keep the outcome of the call (on the caller's thread, as the call returns)."""
        if exception is not None:
            kind = type(exception)
            self.result = ("exception", kind.__qualname__, kind.__module__, _safe_str(exception))
        elif not self.frozen:
            self.result = ("value", result)
        elif (frozen := _freeze(result, self.state.snapshot_limit)) is not None:
            self.result = ("frozen", frozen)
            self.size += len(frozen)
        else:
            value, report = self.state.filter.filter_value(result, "result")
            self.result = ("filtered", value, report)

    def run(self) -> None:
        """Filter, build, encode and store the capture (on the writer's thread)."""
        site, state = self.site, self.state
        try:
            payload = self.payload
            args, kwargs = pickle.loads(payload) if isinstance(payload, bytes) else payload
            filtered = site.filter_args(state, self.names, args, kwargs)
            record = site.record(
                state.config, filtered, self.depth, now=self.now, thread=self.thread
            )
            if self.result is not None:
                self._add_result(record, self.result)
            data = site.encode(state, record)
        except Exception as exc:  # noqa: BLE001 - e.g. an argument mutated while read (lazy)
            site.fail(exc, "capture")
            return
        site.store(state, data, timed=True)

    def _add_result(self, record: dict[str, Any], result: tuple[Any, ...]) -> None:
        kind, *rest = result
        value_filter = self.state.filter
        if kind == "exception":
            _exception_result(value_filter, record, rest[0], rest[1], rest[2])
            return
        if kind == "filtered":
            value, report = rest
        else:
            raw = pickle.loads(rest[0]) if kind == "frozen" else rest[0]
            value, report = value_filter.filter_value(raw, "result")
        record["result"] = {"value": value}
        record["metadata"].setdefault("redactions", []).extend(report)


class CaptureSite:
    """Everything capture needs to know about one wrapped function."""

    __slots__ = (
        "__weakref__",
        "_names",
        "_names_cache",
        "func",
        "kind",
        "mode",
        "module",
        "name",
        "overrides",
        "qualname",
        "rate",
        "state",
        "storage",
        "warned",
    )

    def __init__(
        self,
        func: Any,
        overrides: dict[str, Any],
        *,
        storage: CaptureStorage | None = None,
        module: str | None = None,
        qualname: str | None = None,
    ) -> None:
        target = func.__func__ if isinstance(func, (classmethod, staticmethod)) else func
        self.func = target
        # Always strings: a callable may carry any object as its names, and a name that cannot
        # be printed would fail every capture (and the warning about it) later.
        self.module = _safe_str(module or getattr(target, "__module__", None) or "__unknown__")
        if self.module in ("__main__", "__mp_main__"):
            # Stored under the script's importable name (``app`` for app.py), as pickle stores
            # the script's classes, so tests can import and load it as ``app:func``.
            self.module = main_module_name() or self.module
        self.qualname = _safe_str(
            qualname or getattr(target, "__qualname__", None) or _safe_repr(target)
        )
        self.name = _safe_str(getattr(target, "__name__", self.qualname))
        self.overrides = overrides
        self.storage = storage
        self.kind = _kind(target)
        self.mode = _UNRESOLVED
        self.rate = 1.0
        self.state: _State | None = None
        self.warned = False
        self._names: _Signature | None = None
        self._names_cache: dict[tuple[int, bool], Sequence[str]] = {}
        subscribe(self)

    def invalidate(self) -> None:
        self.mode = _UNRESOLVED

    def resolve(self) -> int:
        try:
            config = resolve_config(self.overrides)
            self.state = _State(self, config)
            self.rate = config.sample_rate
            mode = (
                _OFF
                if not config.enabled or self.rate <= 0.0
                else (_ON if self.rate >= 1.0 else _SAMPLED)
            )
        except Exception as exc:  # noqa: BLE001 - a bad configuration disables, never raises
            self.fail(exc, "configuration")
            mode = _OFF
        self.mode = mode
        return mode

    # --- per call ---------------------------------------------------------------------

    def call(
        self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        state = self.state
        if state is None or (state.limit is not None and not state.limit.allow()):
            # Over the rate cap: not captured, so not counted in call_depth either, exactly
            # like a sampled-out call.
            return wrapped(*args, **kwargs)
        depth = _DEPTH.get()
        start = time.perf_counter_ns()
        try:
            pending = self.begin(state, depth, instance, args, kwargs)
        except Exception as exc:  # noqa: BLE001 - capture must never break the call
            pending = None
            self.fail(exc, "capture")
        _stats.record_caller_time(time.perf_counter_ns() - start)
        token = _DEPTH.set(depth + 1)
        if self.kind == "coroutine":
            try:
                coroutine = wrapped(*args, **kwargs)
            finally:
                _DEPTH.reset(token)
            return self.run_coroutine(coroutine, depth + 1, pending)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            if pending is not None:
                self.finish(pending, exception=exc)
            raise
        finally:
            _DEPTH.reset(token)
        if pending is not None:
            self.finish(pending, result=result)
        return result

    async def run_coroutine(
        self,
        coroutine: Coroutine[Any, Any, Any],
        depth: int,
        pending: _Pending | _Deferred | None,
    ) -> Any:
        # The body of an ``async def`` runs here, not at call time: count its depth here too.
        token = _DEPTH.set(depth)
        try:
            result = await coroutine
        except BaseException as exc:
            if pending is not None:
                self.finish(pending, exception=exc)
            raise
        finally:
            _DEPTH.reset(token)
        if pending is not None:
            self.finish(pending, result=result)
        return result

    def begin(
        self,
        state: _State,
        depth: int,
        instance: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> _Pending | _Deferred | None:
        if state.deferred:
            job = self.defer(state, depth, instance, args, kwargs)
            if job is not None:
                if state.config.record_result and self.kind in ("function", "coroutine"):
                    return job
                self.submit(state, job.run, job.size)
                return None
            # Arguments that cannot be snapshotted cheaply: filter them here, as synchronously.
        names = self.param_names(len(args), bound=instance is not None)
        filtered = self.filter_args(state, names, args, kwargs)
        record = self.record(state.config, filtered, depth)
        if state.config.record_result and self.kind in ("function", "coroutine"):
            if not state.config.lazy_serialization:
                # Arguments are recorded as called: keep a copy the body cannot mutate.
                record["args"], record["kwargs"] = _snapshot(record["args"], record["kwargs"])
            return _Pending(state, record)
        self.dispatch(state, record)
        return None

    def defer(
        self,
        state: _State,
        depth: int,
        instance: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> _Deferred | None:
        """The background job for a call, or ``None`` when its arguments must be filtered now."""
        names = self.param_names(len(args), bound=instance is not None)
        if state.config.lazy_serialization:
            # ``kwargs`` is this call's own dict and ``args`` a tuple: only their items are
            # shared with the caller, and those are what lazy serialization reads late.
            return _Deferred(self, state, depth, names, (args, kwargs))
        frozen = _freeze((args, kwargs), state.snapshot_limit)
        if frozen is None:
            return None
        return _Deferred(self, state, depth, names, frozen)

    def finish(
        self,
        pending: _Pending | _Deferred,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        try:
            if isinstance(pending, _Deferred):
                pending.set_result(result, exception)
                self.submit(pending.state, pending.run, pending.size)
                return
            record = pending.record
            if exception is not None:
                kind = type(exception)
                _exception_result(
                    pending.state.filter,
                    record,
                    kind.__qualname__,
                    kind.__module__,
                    _safe_str(exception),
                )
            else:
                value, report = pending.state.filter.filter_value(result, "result")
                record["result"] = {"value": value}
                record["metadata"].setdefault("redactions", []).extend(report)
            self.dispatch(pending.state, record)
        except Exception as exc:  # noqa: BLE001
            self.fail(exc, "capture")

    def record(
        self,
        config: CaptureConfig,
        filtered: FilterResult,
        depth: int,
        *,
        now: float | None = None,
        thread: str | None = None,
    ) -> dict[str, Any]:
        if now is None:
            now = time.time()
        metadata: dict[str, Any] = {"call_depth": depth}
        if not config.minimal_capture:
            metadata["thread_id"] = thread or threading.current_thread().name
            metadata["python_version"] = _PYTHON
            metadata["pid"] = os.getpid()
        metadata["redactions"] = filtered.redactions
        return {
            "function_name": self.name,
            "module": self.module,
            "qualname": self.qualname,
            "timestamp": _timestamp(now),
            "args": list(filtered.args),
            "kwargs": filtered.kwargs,
            "metadata": metadata,
        }

    def dispatch(self, state: _State, record: dict[str, Any]) -> None:
        config = state.config
        if config.lazy_serialization:
            self.submit(state, lambda: self.store(state, self.encode(state, record), timed=True))
        elif config.async_storage:
            data = self.encode(state, record)
            if data is not None:
                self.submit(state, lambda: self.store(state, data, timed=True))
        else:
            self.store(state, self.encode(state, record), timed=False)

    def submit(self, state: _State, job: Callable[[], None], size: int = 0) -> None:
        if not _writer.submit(job, state.config.queue_size, size):
            _stats.record_drop(error=False)
            self.warn_once("the background writer's queue is full; captures are being dropped")

    def store(self, state: _State, data: bytes | None, *, timed: bool) -> None:
        if data is None:
            return
        start = time.perf_counter_ns()
        try:
            state.storage.write(
                self.module, self.qualname, data, retention=state.retention, max_age=state.max_age
            )
        except Exception as exc:  # noqa: BLE001
            self.fail(exc, "storage")
            return
        _stats.record_stored(len(data), time.perf_counter_ns() - start if timed else 0)

    def encode(self, state: _State, record: dict[str, Any]) -> bytes | None:
        """The capture file's bytes, degrading argument by argument rather than losing it all."""
        storage, config = state.storage, state.config
        data: bytes | None
        try:
            data = storage.encode(record)
        except Exception as first:  # noqa: BLE001
            data = None
            if state.fallback is not None:
                with contextlib.suppress(Exception):  # the next step reports the first error
                    data = storage.encode(record, state.fallback)
            if data is None:
                if not config.ignore_serialization_errors:
                    self.fail(first, "serialization")
                    return None
                _replace_unserializable(storage, record)
                data = storage.encode(record)
        limit = config.max_capture_size
        if data is not None and limit is not None and len(data) > limit:
            data = _shrink(storage, record, limit)
            if data is None:
                _stats.record_drop(error=False)
                self.warn_once(f"a capture exceeded max_capture_size={limit} and was dropped")
        return data

    def signature(self) -> _Signature:
        if self._names is None:
            self._names = _signature(self.func)
        return self._names

    def filter_args(
        self, state: _State, names: Sequence[str], args: Sequence[Any], kwargs: dict[str, Any]
    ) -> FilterResult:
        """Filter one call's arguments, knowing which keywords ``**kwargs`` collected."""
        signature = self.signature()
        return state.filter.filter_call(
            names, args, kwargs, var_keyword=signature.var_keyword, keyword_params=signature.keyword
        )

    def param_names(self, count: int, *, bound: bool) -> Sequence[str]:
        cached = self._names_cache.get((count, bound))
        if cached is not None:
            return cached
        positional, var = self.signature()[:2]
        names = positional[1:] if bound else positional
        if count > len(names) and var is not None:
            names = [*names, *[f"{var}[{i}]" for i in range(count - len(names))]]
        if len(self._names_cache) < 64:
            self._names_cache[(count, bound)] = names
        return names

    # --- failures ----------------------------------------------------------------------

    def fail(self, exc: BaseException, stage: str) -> None:
        _stats.record_drop(error=True)
        self.warn_once(f"{stage} failed ({type(exc).__name__}: {_safe_str(exc)})", exc)

    def warn_once(self, message: str, exc: BaseException | None = None) -> None:
        if self.warned:
            return
        self.warned = True
        logger.warning(
            "snapy_capture: not capturing %s:%s: %s; further problems with this "
            "function are only counted",
            self.module,
            self.qualname,
            message,
        )
        if exc is not None:
            logger.debug("snapy_capture: details", exc_info=exc)


_last_second: tuple[int, str] = (-1, "")


def _timestamp(now: float) -> str:
    """ISO-8601 UTC with microseconds; the date and time part is formatted once a second."""
    global _last_second  # noqa: PLW0603 - a one-entry cache, swapped whole (thread-safe)
    second = int(now // 1)
    cached = _last_second
    if cached[0] != second:
        cached = _last_second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)))
    return f"{cached[1]}.{int(now % 1 * 1e6):06d}Z"


def _kind(func: Any) -> str:
    if inspect.iscoroutinefunction(func):
        return "coroutine"
    if inspect.isasyncgenfunction(func):
        return "asyncgen"
    if inspect.isgeneratorfunction(func):
        return "generator"
    return "function"


class _Signature(NamedTuple):
    """What filtering needs to know of a function's parameters."""

    positional: list[str]
    var_positional: str | None
    var_keyword: str | None
    keyword: frozenset[str]


def _signature(func: Any) -> _Signature:
    try:
        parameters = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return _Signature([], None, None, frozenset())
    kind = inspect.Parameter
    positional = [
        p.name for p in parameters if p.kind in (kind.POSITIONAL_ONLY, kind.POSITIONAL_OR_KEYWORD)
    ]
    var = next((p.name for p in parameters if p.kind is kind.VAR_POSITIONAL), None)
    var_keyword = next((p.name for p in parameters if p.kind is kind.VAR_KEYWORD), None)
    keyword = frozenset(
        p.name for p in parameters if p.kind in (kind.POSITIONAL_OR_KEYWORD, kind.KEYWORD_ONLY)
    )
    return _Signature(positional, var, var_keyword, keyword)


def _exception_result(
    flt: ArgumentFilter, record: dict[str, Any], qualname: str, module: str, message: str
) -> None:
    masked, report = flt.filter_value(message, "result.exception")
    record["result"] = {"exception": {"type": qualname, "module": module, "message": masked}}
    record["metadata"].setdefault("redactions", []).extend(report)


def _safe_str(value: object) -> str:
    try:
        return str(value)
    except Exception:  # noqa: BLE001
        return f"<unprintable {type(value).__name__}>"


def _safe_repr(value: object) -> str:
    try:
        return repr(value)
    except Exception:  # noqa: BLE001
        return f"<unprintable {type(value).__name__}>"


def _snapshot(args: list[Any], kwargs: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    try:
        copied: tuple[list[Any], dict[str, Any]] = pickle.loads(pickle.dumps((args, kwargs), 5))
    except Exception:  # noqa: BLE001 - unpicklable: the encoder will degrade it later anyway
        return args, kwargs
    return copied


class _TooLargeError(Exception):
    pass


class _BoundedSink:
    """A file for ``pickle.Pickler`` that gives up past ``limit`` bytes."""

    __slots__ = ("data", "limit")

    def __init__(self) -> None:
        self.data: bytes | None = None
        self.limit = 0

    def write(self, data: bytes) -> int:
        # The pickler writes once at the end, or once per 64 KiB frame of a large value.
        self.limit -= len(data)
        if self.limit < 0:
            raise _TooLargeError
        self.data = bytes(data) if self.data is None else self.data + data
        return len(data)


class _Picklers(threading.local):
    """One reusable pickler per thread: creating one costs more than pickling a few args."""

    def __init__(self) -> None:
        self.sink = _BoundedSink()
        self.pickler = pickle.Pickler(self.sink, pickle.HIGHEST_PROTOCOL)
        self.busy = False


_picklers = _Picklers()


def _freeze(value: Any, limit: int) -> bytes | None:
    """A pickle of ``value`` taken now, or ``None`` if it cannot be pickled within ``limit``.

    Pickling stops as soon as the output passes ``limit`` (the pickler writes in frames of
    64 KiB), so a huge argument costs the caller little before it goes to the filters instead.
    """
    own = _picklers
    if own.busy:  # an argument's __reduce__ capturing in turn: use a pickler of its own
        sink = _BoundedSink()
        pickler = pickle.Pickler(sink, pickle.HIGHEST_PROTOCOL)
    else:
        own.busy = True
        sink, pickler = own.sink, own.pickler
    sink.limit = limit
    try:
        pickler.dump(value)
        return sink.data
    except Exception:  # noqa: BLE001 - unpicklable or too large: the caller filters it instead
        return None
    finally:
        # Forget the value: the memo and the sink would keep it alive until the next call.
        pickler.clear_memo()
        sink.data = None
        if pickler is own.pickler:
            own.busy = False


def _slots(record: dict[str, Any]) -> list[tuple[Any, Any, str]]:
    """(container, key, path) of each argument (and the result value) in a record."""
    slots: list[tuple[Any, Any, str]] = [
        (record["args"], i, f"args[{i}]") for i in range(len(record["args"]))
    ]
    slots += [(record["kwargs"], key, key) for key in record["kwargs"]]
    result = record.get("result")
    if isinstance(result, dict) and "value" in result:
        slots.append((result, "value", "result"))
    return slots


def _replace_unserializable(storage: CaptureStorage, record: dict[str, Any]) -> None:
    report = record["metadata"].setdefault("redactions", [])
    for container, key, path in _slots(record):
        value = container[key]
        try:
            storage.encode({"args": [value], "kwargs": {}})
        except Exception:  # noqa: BLE001
            container[key] = Redacted(f"unserializable {type(value).__qualname__}")
            report.append({"path": path, "reason": "unserializable"})


def _shrink(storage: CaptureStorage, record: dict[str, Any], limit: int) -> bytes | None:
    sizes = []
    for container, key, path in _slots(record):
        size = len(storage.encode({"args": [container[key]], "kwargs": {}}))
        sizes.append((size, container, key, path))
    report = record["metadata"].setdefault("redactions", [])
    for size, container, key, path in sorted(sizes, key=lambda item: -item[0]):
        container[key] = Redacted(f"too large ({size} bytes)")
        report.append({"path": path, "reason": "max_capture_size"})
        data = storage.encode(record)
        if len(data) <= limit:
            return data
    data = storage.encode(record)
    return data if len(data) <= limit else None


class _BoundCaptureWrapper(wrapt.BoundFunctionWrapper):  # type: ignore[type-arg]
    """A captured method bound to its instance; pickles as ``getattr(instance, name)``."""

    def __reduce_ex__(self, protocol: SupportsIndex) -> tuple[Any, ...]:
        return (getattr, (self._self_instance, self.__name__))

    def __copy__(self) -> _BoundCaptureWrapper:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> _BoundCaptureWrapper:
        return self


class CaptureWrapper(wrapt.FunctionWrapper):  # type: ignore[type-arg]
    """A wrapt proxy that captures calls; pickles and copies like the function it wraps.

    A plain wrapt proxy refuses to pickle, which would break code that hands a captured
    function to multiprocessing; pickle stores functions by reference, and so do we.
    """

    __bound_function_wrapper__ = _BoundCaptureWrapper
    _self_capture_site: CaptureSite

    def __reduce_ex__(self, protocol: SupportsIndex) -> str:
        # A string means "the global of that name in __module__": resolves to this wrapper.
        return str(self.__qualname__)

    def __copy__(self) -> CaptureWrapper:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> CaptureWrapper:
        return self


def wrap(
    func: Any,
    overrides: dict[str, Any] | None = None,
    *,
    storage: CaptureStorage | None = None,
    module: str | None = None,
    qualname: str | None = None,
) -> CaptureWrapper:
    """Wrap ``func`` so that its calls are captured (the decorator and the hook both use this)."""
    if isinstance(func, property):
        raise ConfigError("cannot capture a property; wrap its getter function (fget) instead")
    if not callable(func) and not isinstance(func, (classmethod, staticmethod)):
        raise ConfigError(f"capture_args expects a function, got {func!r}")
    site = CaptureSite(
        func, dict(overrides or {}), storage=storage, module=module, qualname=qualname
    )
    sample = _sampler.random

    def capture_wrapper(
        wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        mode = site.mode
        if mode == _OFF:
            return wrapped(*args, **kwargs)
        if mode == _SAMPLED:
            if sample() >= site.rate:
                return wrapped(*args, **kwargs)
        elif mode == _UNRESOLVED:
            site.resolve()
            return capture_wrapper(wrapped, instance, args, kwargs)
        return site.call(wrapped, instance, args, kwargs)

    wrapper = CaptureWrapper(func, capture_wrapper)
    wrapper._self_capture_site = site
    return wrapper


def site_of(func: Any) -> CaptureSite | None:
    """The capture site of a wrapped function, or ``None`` if it is not wrapped by us."""
    site = getattr(func, "_self_capture_site", None)
    return site if isinstance(site, CaptureSite) else None


def parse_overrides(options: dict[str, Any]) -> dict[str, Any]:
    """Validate decorator/YAML options given in code; unknown or bad ones raise ConfigError."""
    return {name: parse_option(name, value) for name, value in options.items()}
