"""The one capture pipeline, shared by ``@capture_args`` and the import hook.

config resolution → sampling → argument binding → filtering → record → serialization →
storage (synchronous, or through the background writer). A :class:`CaptureSite` is one wrapped
function: its names, its resolved :class:`~._state.State`, and how its records are built,
encoded and stored. The caller's side of a call is in ``_caller``, the writer's side of a
queued capture in ``_queued``; building and degrading records in ``_record``; the wrapt
proxies in ``_proxies``.

Nothing in here may change what the wrapped function does: every failure while capturing is
caught, logged once per function on the ``snapy_capture`` logger, and counted.
"""

from __future__ import annotations

import _random
import contextlib
import functools
import sys
import time
from collections.abc import Callable, Sequence

from snapy_capture import _logger as logger
from snapy_capture._text import safe_repr, safe_str
from snapy_capture._version import python_version
from snapy_capture.capture import _stats, _writer
from snapy_capture.capture._caller import (
    call_after_interrupted_capture,
    call_through,
    make_caller,
)
from snapy_capture.capture._context import PID, per_thread
from snapy_capture.capture._proxies import CaptureWrapper, hide_frame, proxy
from snapy_capture.capture._record import (
    Signature,
    add_receiver,
    callable_kind,
    degrade_receiver,
    echoes_masked,
    format_timestamp,
    read_signature,
    receiver_mask,
    receiver_of,
    receiver_state,
    replace_unserializable,
    result_filter,
    shrink,
    too_large,
)
from snapy_capture.capture._snapshot import snapshot
from snapy_capture.capture._state import Pending, State
from snapy_capture.config import parse_option, resolve_config, subscribe
from snapy_capture.errors import ConfigError
from snapy_capture.filters import FilterResult, check_filter_spec
from snapy_capture.storage import CaptureStorage
from snapy_capture.storage.serializers import main_module_name

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from typing import Any, Final

__all__ = ["CaptureSite", "CaptureWrapper", "parse_overrides", "seed_sampler", "site_of", "wrap"]

_PYTHON: Final = python_version()
# The C generator random.Random is built on (the same sequence for a seed), without importing
# random (and the hashes it loads): ~0.8 ms of every capturing process's start-up.
_sampler = _random.Random()

#: Points a ``functools.partial`` at another function, in place: ``(partial, (function, (),
#: None, None))``. Its pickle protocol's method, one C call (so atomic under the GIL).
_retarget: Any = vars(functools.partial)["__setstate__"]


def seed_sampler(seed: int | None) -> None:
    """Seed the sampler that ``sample_rate`` draws from, for reproducible runs and tests."""
    _sampler.seed(seed)


class CaptureSite:
    """Everything capture needs to know about one wrapped function."""

    __slots__ = (
        "__weakref__",
        "_names",
        "_names_cache",
        "call",
        "counts",
        "func",
        "generation",
        "kind",
        "module",
        "name",
        "overrides",
        "qualname",
        "resolved",
        "storage",
        "switch",
        "unresolved",
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
        self.module = safe_str(module or getattr(target, "__module__", None) or "__unknown__")
        if self.module in ("__main__", "__mp_main__"):
            # Stored under the script's importable name (``app`` for app.py), as pickle stores
            # the script's classes, so tests can import and load it as ``app:func``.
            self.module = main_module_name() or self.module
        self.qualname = safe_str(
            qualname or getattr(target, "__qualname__", None) or safe_repr(target)
        )
        self.name = safe_str(getattr(target, "__name__", self.qualname))
        self.overrides = overrides
        self.storage = storage
        self.kind = callable_kind(target)
        # What wrapt calls for each captured call, ``(wrapped, instance, args, kwargs)``: a
        # partial of the handler for the current state (``call_unresolved`` until the
        # configuration is resolved, then the one ``make_caller`` made for it), pointed at
        # the next one in place (``_retarget``). wrapt keeps its wrapper, and every method
        # proxy bound from it copies it; a C partial adds no frame, nor (3.11) a recursion
        # level, so the handler is the one frame of ours on the stack (see ``wrap``).
        self.unresolved: Callable[..., Any] = self.call_unresolved  # one bound method, kept
        self.call = functools.partial(self.unresolved)
        # Counts invalidations: a resolution they overtook is not installed.
        self.generation = 0
        # Whether a call has resolved the configuration yet (the import hook's report).
        self.resolved = False
        self.warned = False
        #: This site's own counters, for the import hook's report (see ``_stats.SiteCounts``).
        self.counts = _stats.SiteCounts()
        # wrapt's ``enabled`` flag (see ``_proxies.proxy``): empty while capture is off.
        self.switch: list[bool] = [True]
        self._names: Signature | None = None
        # Parameter names by argument count (``~count`` when self/cls is bound).
        self._names_cache: dict[int, Sequence[str]] = {}
        subscribe(self)

    def invalidate(self) -> None:
        self.generation += 1
        # The next call, through any proxy of this site, resolves the new configuration.
        _retarget(self.call, (self.unresolved, (), None, None))
        if not self.switch:
            self.switch.append(True)

    def resolve(self) -> None:
        """Resolve the configuration, and install the handler made for it."""
        generation = self.generation
        self.resolved = True
        off = False
        handler: Callable[..., Any] = call_through
        try:
            config = resolve_config(self.overrides)
            rate = config.sample_rate
            state = State(self, config)
            off = not config.enabled or rate <= 0.0
            if not off:
                handler = make_caller(self, state)
                if rate < 1.0:
                    handler = sampled(handler, rate)
        except Exception as exc:  # noqa: BLE001 - a bad configuration disables, never raises
            self.fail(exc, "configuration")
            off = True
        _retarget(self.call, (handler, (), None, None))
        if generation != self.generation:
            # Invalidated meanwhile: the next call resolves the newer configuration.
            _retarget(self.call, (self.unresolved, (), None, None))
            return
        if off:
            self.switch.clear()  # calls go straight to the function, through wrapt's C code
            if generation != self.generation:  # invalidated meanwhile: resolve again
                self.switch.append(True)

    def call_unresolved(
        self, wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """The handler of a site whose configuration is not resolved (yet, or any more)."""
        slot = per_thread.slot
        if slot.capturing:  # see _context.Slot.capturing
            _stats.record_skip()
            return wrapped(*args, **kwargs)
        # Resolving reads the configuration and may build a storage: under the guard, a
        # target called from there (``os.fspath``...) is not captured, and does not recurse.
        interrupted: BaseException | None = None
        slot.capturing = True
        try:
            self.resolve()
        except BaseException as exc:  # noqa: BLE001 - Ctrl-C landing in our code, say
            # Not resolved: the next call tries again.
            _retarget(self.call, (self.unresolved, (), None, None))
            interrupted = exc
        finally:
            slot.capturing = False
        if interrupted is not None:
            # Called all the same, as when a capture is interrupted: exactly once, and a
            # KeyboardInterrupt is raised again after it.
            return call_after_interrupted_capture(self, interrupted, wrapped, args, kwargs)
        return self.call(wrapped, instance, args, kwargs)

    # --- building, encoding and storing a capture ------------------------------------

    def capture_here(
        self,
        state: State,
        depth: int,
        bound: bool,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        instance: Any = None,
        oversize: bool = False,
    ) -> Pending | None:
        """Filter and build the capture on the caller's thread, and store or queue it; what
        ``_caller.finish`` needs when the result is recorded. ``instance``: what wrapt passed
        (a method's receiver, a classmethod's class, or ``None``); ``oversize``: the caller
        found the receiver too large to copy (it is not tried again)."""
        names = self.param_names(len(args), bound=bound)
        filtered = self.filter_args(state, names, args, kwargs)
        record = self.record(state, filtered, depth, now=state.clock.time())
        receiver = receiver_of(instance)
        before = receiver if state.self_before else None
        if before is not None:
            limit = state.copy_limit
            stored = (
                too_large("self", limit)
                if oversize and limit is not None
                else receiver_state(
                    state.filter,
                    before,
                    "self",
                    limit,
                    mask=receiver_mask(state.filter, names, args, kwargs, filtered.redactions),
                )
            )
            add_receiver(record, "self", *stored)
        if state.records_result:
            # Arguments are recorded as called: keep a copy the body cannot mutate.
            record["args"], record["kwargs"] = snapshot(
                record["args"], record["kwargs"], state.snapshot_limit
            )
            echo = result_filter(state.filter, names, args, kwargs, before)
            return Pending(state, record, echo, receiver if state.self_after else None)
        self.dispatch(state, record)
        return None

    def record(
        self,
        state: State,
        filtered: FilterResult,
        depth: int,
        *,
        now: float,
        thread: str | None = None,
    ) -> dict[str, Any]:
        metadata: dict[str, Any]
        if state.config.minimal_capture:
            metadata = {"call_depth": depth, "redactions": filtered.redactions}
        else:
            metadata = {
                "call_depth": depth,
                # This thread's name (on the writer's thread, the caller's is given), which
                # is data of the program's too: filtered like a value.
                "thread_id": state.filter.thread_label(thread or per_thread.slot.thread.name),
                "python_version": _PYTHON,
                "pid": PID[0],
                "redactions": filtered.redactions,
            }
        return {
            "function_name": self.name,
            "module": self.module,
            "qualname": self.qualname,
            "timestamp": format_timestamp(now),
            "args": list(filtered.args),
            "kwargs": filtered.kwargs,
            "metadata": metadata,
        }

    def dispatch(self, state: State, record: dict[str, Any]) -> None:
        # Lazy serialization never gets here: such captures are always queued (``_queued``).
        if state.background:  # async_storage, or an object store (never on the caller)
            data = self.encode(state, record)
            if data is None:
                return
            # Counted by its size: these are the captures too large for a snapshot.
            job = functools.partial(self.store, state, data, timed=True)
            if not _writer.submit(job, state.queue_size, len(data)):
                self.queue_full()
        else:
            self.store(state, self.encode(state, record), timed=False)

    def queue_full(self) -> None:
        _stats.record_drop(error=False, site=self.counts, reason="queue full")
        self.warn_once("the background writer's queue is full; captures are being dropped")

    def store(self, state: State, data: bytes | None, *, timed: bool) -> None:
        if data is None:
            return
        start = time.perf_counter_ns() if timed else 0
        try:
            # The str-returning core of ``write``: every captured call pays for a Path otherwise.
            state.storage._write(
                self.module,
                self.qualname,
                data,
                state.retention,
                state.max_age,
                state.config.dedupe,
            )
        except Exception as exc:  # noqa: BLE001
            self.fail(exc, "storage")
            return
        _stats.record_stored(len(data), time.perf_counter_ns() - start if timed else 0, self.counts)

    def encode(self, state: State, record: dict[str, Any]) -> bytes | None:
        """The capture file's bytes, degrading argument by argument rather than losing it all."""
        storage, config = state.storage, state.config
        redactions = record["metadata"].get("redactions")
        if redactions:
            _stats.count_redactions(self.counts, redactions)
        data: bytes | None
        used = None  # the serializer that produced ``data`` (None: the storage's own)
        try:
            data = storage.encode(record)
        except Exception as first:  # noqa: BLE001
            data = None
            if state.fallback is not None:
                with contextlib.suppress(Exception):  # the next step reports the first error
                    data = storage.encode(record, state.fallback)
                    used = state.fallback
            if data is None and degrade_receiver(storage, record):
                # The receiver held what the serializer cannot store: its placeholder, and
                # the arguments, rather than no capture.
                with contextlib.suppress(Exception):
                    data = storage.encode(record)
            if data is None:
                if not config.ignore_serialization_errors:
                    self.fail(first, "serialization")
                    return None
                replace_unserializable(storage, record)
                data = storage.encode(record)
        limit = config.max_capture_size
        if data is not None and limit is not None and len(data) > limit:
            data = shrink(storage, record, limit, used)
            if data is None:
                _stats.record_drop(error=False, site=self.counts, reason="max_capture_size")
                self.warn_once(f"a capture exceeded max_capture_size={limit} and was dropped")
        return data

    def takes_cls(self) -> bool:
        """Whether this is a function defined in a class whose first parameter is ``cls``."""
        positional = self.signature().positional
        return bool(positional) and positional[0] == "cls" and "." in self.qualname

    def signature(self) -> Signature:
        if self._names is None:
            self._names = read_signature(self.func)
        return self._names

    def filter_args(
        self, state: State, names: Sequence[str], args: Sequence[Any], kwargs: dict[str, Any]
    ) -> FilterResult:
        """Filter one call's arguments, knowing which keywords ``**kwargs`` collected."""
        signature = self.signature()
        filtered = state.filter.filter_call(
            names,
            args,
            kwargs,
            var_keyword=signature.var_keyword,
            keyword_params=signature.keyword,
            budget=state.snapshot_limit,
            budget_reason=state.budget_reason,
        )
        for entry in filtered.redactions:
            if entry["reason"].startswith("name:"):
                # A secret redacted by its name may be passed again under a harmless one:
                # marshmallow's ``_deserialize(value, attr, data)`` gets the password as
                # ``value`` and in ``data["password"]``. Masked as in a recorded result; only
                # calls holding such a secret pay for it.
                options = {
                    "var_keyword": signature.var_keyword,
                    "keyword_params": signature.keyword,
                    "budget": state.snapshot_limit,
                    "budget_reason": state.budget_reason,
                }
                return echoes_masked(state.filter, names, args, kwargs, filtered, options=options)
        return filtered

    def param_names(self, count: int, *, bound: bool) -> Sequence[str]:
        key = ~count if bound else count  # an int, not a tuple: hashed without being built
        cached = self._names_cache.get(key)
        if cached is not None:
            return cached
        positional, var = self.signature()[:2]
        names = positional[1:] if bound else positional
        if count > len(names) and var is not None:
            names = [*names, *[f"{var}[{i}]" for i in range(count - len(names))]]
        if len(self._names_cache) < 64:
            self._names_cache[key] = names
        return names

    # --- failures ----------------------------------------------------------------------

    def fail(self, exc: BaseException, stage: str) -> None:
        _stats.record_drop(
            error=True, site=self.counts, reason=f"{stage} failed: {type(exc).__name__}"
        )
        self.warn_once(f"{stage} failed ({type(exc).__name__}: {safe_str(exc)})", exc)

    def warn_once(self, message: str, exc: BaseException | None = None) -> None:
        if self.warned:
            return
        if sys.is_finalizing():
            # A finalizer called a target while the interpreter tears its modules down:
            # nothing can be captured then (pickle finds no module), and a line the program
            # would not print is not ours to add at its exit. Still counted.
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
    # One frame of ours per captured call, the handler's (see CaptureSite.call); a second,
    # say a dispatch between wrapt and the handler, would cost a recursive function a
    # quarter (3.11) to a third (3.13) of the depth it can reach. A disabled capture has
    # none (see ``proxy``).
    wrapper = proxy(func, site.call, site.switch)
    wrapper._self_capture_site = site
    return wrapper


hide_frame(CaptureSite.call_unresolved)


def sampled(captured: Callable[..., Any], fraction: float) -> Callable[..., Any]:
    """The handler of a site that captures ``fraction`` of its calls, with ``captured``.

    A call sampled out runs this frame of ours only; one sampled in runs ``captured`` too.
    The draw is not made inside ``captured``: its frame is large (its settings are a dozen
    closure cells, copied into the frame on each call), which would make every sampled-out
    call pay for it.
    """
    sample = _sampler.random  # ``seed_sampler`` reseeds this same generator

    def sampled_call(
        wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if sample() < fraction:
            return captured(wrapped, instance, args, kwargs)
        return wrapped(*args, **kwargs)

    return hide_frame(sampled_call)


def site_of(func: Any) -> CaptureSite | None:
    """The capture site of a wrapped function, or ``None`` if it is not wrapped by us."""
    site = getattr(func, "_self_capture_site", None)
    return site if isinstance(site, CaptureSite) else None


def parse_overrides(options: dict[str, Any]) -> dict[str, Any]:
    """Validate decorator/YAML options given in code; unknown or bad ones raise ConfigError."""
    # A mapping of filter options is built here, so a bad one fails at decoration time.
    return {
        name: check_filter_spec(value) if name == "arg_filter" else parse_option(name, value)
        for name, value in options.items()
    }
