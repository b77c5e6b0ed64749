"""The caller's side of a capture: what a captured call runs around the function, in its thread.

One path for every capture (:func:`make_caller`, a handler per case): take the arguments (a
snapshot queued for the writer, or filtered here), call the function one level deeper, and,
when the result is recorded, complete the capture as the call returns. Nothing in here may
change what the function does: a failure is reported through the site (``fail``) and the call
goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine

from snapy_capture.capture._context import DEPTH, per_thread
from snapy_capture.capture._proxies import hide_frame
from snapy_capture.capture._queued import Deferred, run_queued
from snapy_capture.capture._record import (
    add_receiver,
    exception_message,
    exception_result,
    freeze_filtered,
    receiver_state,
    result_state,
)
from snapy_capture.capture._snapshot import TOO_LARGE, freeze
from snapy_capture.capture._state import Pending, State
from snapy_capture.capture._stats import (
    SiteCounts,
    active,
    counters,
    record_caller_time,
    record_skip,
)
from snapy_capture.capture._writer import push

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from contextvars import Token
    from typing import Any, Protocol

    from snapy_capture.capture._queued import Site

__all__ = ["CallerSite", "call_through", "make_caller"]

_perf_counter_ns = time.perf_counter_ns
#: _NEAR_THE_LIMIT: a call made a few frames short of the recursion limit can have its
#: capture fail with RecursionError, and then the report of that failure too (logging is
#: deep): that second one is dropped where it is caught, or it would skip the call, or lose
#: a result the call returned, which a program without capture would have had.
#: _DEPTH_NEAR_THE_LIMIT: reading or setting DEPTH there can fail as well, outside the
#: capture's guard: CPython's context map compares it with a variable of the host's filed in
#: the same slot (decided by the variables' addresses: with three set, as in a pytest process,
#: about one process in eleven), and a comparison counts as a recursion level, one more than
#: the call itself needs. The capture is then dropped, or the call made without its depth
#: counted (so deep, none of the calls it makes can be captured anyway).
# Bound once: a method called on an imported name compiles to an attribute read, which makes
# a bound method on every call (LOAD_ATTR, not LOAD_METHOD).
_depth, _set_depth, _reset_depth = DEPTH.get, DEPTH.set, DEPTH.reset


if TYPE_CHECKING:  # a protocol: annotations only

    class CallerSite(Site, Protocol):
        """What the caller's side needs from its capture site (``_pipeline.CaptureSite``)."""

        @property
        def kind(self) -> str: ...
        @property
        def counts(self) -> SiteCounts: ...
        def dispatch(self, state: State, record: dict[str, Any]) -> None: ...
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
        ) -> Pending | None: ...


def call_through(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: Any) -> Any:
    """A caller that captures nothing (a site's before its configuration is resolved)."""
    return wrapped(*args, **kwargs)


def make_caller(site: CallerSite, state: State) -> Callable[..., Any]:
    """What a call of ``site`` runs, ``(wrapped, instance, args, kwargs)``, under ``state``.

    One handler per case, each the one frame of ours on the call's path (see
    ``_pipeline.CaptureSite.call``): its settings bound as closure variables, since an
    attribute read or a Python call less is a measurable part of what the caller of an async
    capture pays, and only the branches its case needs.
    """
    if state.records_result:
        return _result_caller(site, state)
    return _caller(site, state)


def _settings(state: State) -> tuple[Any, ...]:
    """``(lazy, limit, rate, snapshots, named, takes_cls, before, wall)``, what every handler
    reads per call."""
    # Queued as a snapshot for the writer to filter; a custom filter is given the live values.
    snapshots = state.deferred and state.snapshots and not state.filter.custom_filters
    return (
        state.lazy,
        state.snapshot_limit,
        state.limit,
        snapshots,
        not state.config.minimal_capture,  # the thread's name is recorded
        state.takes_cls,
        state.self_before,  # a method's receiver is queued with its arguments
        state.clock.time,  # the call's time, for the record the writer builds
    )


def _caller(site: CallerSite, state: State) -> Callable[..., Any]:  # noqa: PLR0915
    """The handler of a site that does not record results: the capture is taken (queued, or
    stored) before the call, and the call is the handler's tail."""
    lazy, limit, rate, snapshots, named, takes_cls, before, wall = _settings(state)
    plain, flt, queue_size = site.kind != "coroutine", state.filter, state.queue_size
    counts = site.counts  # the site's own share of capture_ns, for the runner's report

    def captured_call(  # noqa: PLR0915
        wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        slot = per_thread.slot
        if slot.capturing:  # called by our own capture code on this thread (Slot.capturing)
            return call_skipped(wrapped, args, kwargs)
        if rate is not None and not rate.allow():  # not captured: not counted in call_depth
            return wrapped(*args, **kwargs)
        try:
            depth = _depth()
        except RecursionError:  # see _DEPTH_NEAR_THE_LIMIT
            return wrapped(*args, **kwargs)
        start = _perf_counter_ns()
        interrupted: BaseException | None = None  # what ended the capture (Ctrl-C...)
        slot.capturing = True
        try:
            given, bound = args, instance is not None
            if takes_cls and not bound and args and isinstance(args[0], type):  # see State
                given, bound = args[1:], True
            # With the instance a method was called on (a classmethod's class is none).
            receiver = instance is not None and before and not issubclass(type(instance), type)
            call = (given, kwargs, instance) if receiver else (given, kwargs)
            # Lazily queued as references: the writer reads them later.
            payload = (call if lazy else freeze(call, limit, slot, receiver)) if snapshots else None
            if not payload and snapshots:  # did not pickle, or too large
                payload = freeze_filtered(call, flt, limit, slot, payload)
            if not payload:  # synchronous, or no snapshot within the limit: filtered here
                site.capture_here(state, depth, bound, given, kwargs, instance=instance)
            else:
                thread = slot.thread.name if named else None  # now: it may be renamed later
                size = 0 if payload is call else len(payload)
                # A QueuedCapture's fields, as a plain tuple: cheaper to build and to drop.
                queued = (run_queued, size, site, state, depth, bound, payload, wall(), thread)
                if not push(queued, queue_size):
                    site.queue_full()
        except Exception as exc:  # noqa: BLE001 - capture must never break the call
            try:  # noqa: SIM105 - suppress() is a call: near the limit it fails too
                site.fail(exc, "capture")
            except RecursionError:
                pass  # near the recursion limit even saying so fails (see _NEAR_THE_LIMIT)
        except BaseException as exc:  # noqa: BLE001 - a hook raised SystemExit, Ctrl-C...
            interrupted = exc
        finally:
            slot.capturing = False
            elapsed = _perf_counter_ns() - start
            counts.spent += elapsed
            if not active:
                counters["capture_ns"] += elapsed  # see record_caller_time
            else:
                try:  # noqa: SIM105 - see _NEAR_THE_LIMIT
                    record_caller_time(elapsed)
                except RecursionError:
                    pass
        if interrupted is not None or not plain:
            return call_and_finish(site, interrupted, wrapped, args, kwargs, depth=depth + 1)
        try:
            token = _set_depth(depth + 1)
        except RecursionError:  # see _DEPTH_NEAR_THE_LIMIT
            return wrapped(*args, **kwargs)
        try:
            return wrapped(*args, **kwargs)
        finally:
            _reset_depth(token)

    return hide_frame(captured_call)


def _result_caller(site: CallerSite, state: State) -> Callable[..., Any]:  # noqa: PLR0915
    """The handler of a site that records results: what the capture needs is taken before
    the call (a snapshot, or a record built here), completed with the outcome as the call
    returns (``finish``), in this same frame for a plain function."""
    lazy, limit, rate, snapshots, named, takes_cls, before, wall = _settings(state)
    plain = site.kind != "coroutine"
    counts = site.counts  # the site's own share of capture_ns, for the runner's report

    def captured_call(  # noqa: PLR0915
        wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        slot = per_thread.slot
        if slot.capturing:  # called by our own capture code on this thread (Slot.capturing)
            return call_skipped(wrapped, args, kwargs)
        if rate is not None and not rate.allow():  # not captured: not counted in call_depth
            return wrapped(*args, **kwargs)
        try:
            depth = _depth()
        except RecursionError:  # see _DEPTH_NEAR_THE_LIMIT
            return wrapped(*args, **kwargs)
        start = _perf_counter_ns()
        # What completes the capture as the call returns, or what ended it (BaseException).
        pending: Pending | Deferred | BaseException | None = None
        slot.capturing = True
        try:
            given, bound = args, instance is not None
            if takes_cls and not bound and args and isinstance(args[0], type):  # see State
                given, bound = args[1:], True
            receiver = instance is not None and before and not issubclass(type(instance), type)
            call = (given, kwargs, instance) if receiver else (given, kwargs)
            # Lazily queued as references, unless the receiver would be read after the call:
            # it would show the state the call left, as "self_after" does. Not filtered here
            # when it does not pickle: the result's filter must see the receiver's secrets,
            # which the one filtered here has lost.
            payload = (
                (call if lazy and not receiver else freeze(call, limit, slot, receiver))
                if snapshots
                else None
            )
            if not payload:  # synchronous, or no snapshot within the limit: filtered here
                # Past the limit, with the arguments within it: the receiver is too large.
                oversize = payload is TOO_LARGE and receiver and freeze(call[:2], limit, slot)
                pending = site.capture_here(
                    state, depth, bound, given, kwargs, instance=instance, oversize=bool(oversize)
                )
            else:
                thread = slot.thread.name if named else None  # now: it may be renamed later
                size = 0 if payload is call else len(payload)
                queued = (run_queued, size, site, state, depth, bound, payload, wall(), thread)
                pending = Deferred(queued, size, site, state, instance)
        except Exception as exc:  # noqa: BLE001 - capture must never break the call
            try:  # noqa: SIM105 - suppress() is a call: near the limit it fails too
                site.fail(exc, "capture")
            except RecursionError:
                pass  # near the recursion limit even saying so fails (see _NEAR_THE_LIMIT)
        except BaseException as exc:  # noqa: BLE001 - a hook raised SystemExit, Ctrl-C...
            pending = exc
        finally:
            slot.capturing = False
            elapsed = _perf_counter_ns() - start
            counts.spent += elapsed
            if not active:
                counters["capture_ns"] += elapsed  # see record_caller_time
            else:
                try:  # noqa: SIM105 - see _NEAR_THE_LIMIT
                    record_caller_time(elapsed)
                except RecursionError:
                    pass
        if not plain or isinstance(pending, BaseException):
            return call_and_finish(site, pending, wrapped, args, kwargs, depth=depth + 1)
        # call_and_finish's own path, here: no second frame of ours above the function (also
        # when the capture failed: near the recursion limit, that frame is what fails next).
        try:
            token: Token[int] | None = _set_depth(depth + 1)
        except RecursionError:  # see _DEPTH_NEAR_THE_LIMIT
            token = None
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            if pending is not None:
                finish(site, pending, exception=exc)
            raise
        finally:
            if token is not None:
                _reset_depth(token)
        if pending is not None:
            finish(site, pending, result=result)
        return result

    return hide_frame(captured_call)


def call_skipped(wrapped: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Call the function, not captured: our own capture code on this thread called it."""
    record_skip()
    return wrapped(*args, **kwargs)


def call_and_finish(
    site: CallerSite,
    pending: Pending | Deferred | BaseException | None,
    wrapped: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    depth: int,
) -> Any:
    """Call the function at ``depth``, and complete ``pending`` with its outcome; a
    coroutine's outcome is known once it is awaited (see :func:`run_coroutine`). A
    ``BaseException`` as ``pending`` ended the capture: see ``call_after_interrupted_capture``."""
    if isinstance(pending, BaseException):
        return call_after_interrupted_capture(site, pending, wrapped, args, kwargs)
    try:
        token: Token[int] | None = DEPTH.set(depth)
    except RecursionError:  # see _DEPTH_NEAR_THE_LIMIT
        token = None
    if site.kind == "coroutine":
        try:
            coroutine = wrapped(*args, **kwargs)
        finally:
            if token is not None:
                DEPTH.reset(token)
        return run_coroutine(site, coroutine, depth, pending)
    try:
        result = wrapped(*args, **kwargs)
    except BaseException as exc:
        if pending is not None:
            finish(site, pending, exception=exc)
        raise
    finally:
        if token is not None:
            DEPTH.reset(token)
    if pending is not None:
        finish(site, pending, result=result)
    return result


async def run_coroutine(
    site: CallerSite,
    coroutine: Coroutine[Any, Any, Any],
    depth: int,
    pending: Pending | Deferred | None,
) -> Any:
    """Await a captured coroutine function's coroutine; its body runs here, not at call time,
    so its depth is counted here too."""
    try:
        outer: int | None = DEPTH.get()
        DEPTH.set(depth)
    except RecursionError:  # see _DEPTH_NEAR_THE_LIMIT
        outer = None
    try:
        result = await coroutine
    except BaseException as exc:
        if pending is not None:
            finish(site, pending, exception=exc)
        raise
    finally:
        # Not ``reset(token)``: a scheduler may resume the coroutine in another Context,
        # where the token is invalid and reset() would raise into the host's coroutine.
        if outer is not None:
            DEPTH.set(outer)
    if pending is not None:
        finish(site, pending, result=result)
    return result


def finish(
    site: CallerSite,
    pending: Pending | Deferred,
    *,
    result: Any = None,
    exception: BaseException | None = None,
) -> None:
    """Complete a capture with the call's outcome (on the caller's thread, as it returns)."""
    slot = per_thread.slot
    if slot.capturing:
        # A coroutine awaited from inside our own capture code (an argument's hook).
        record_skip()
        return
    slot.capturing = True
    # Counted with the part before the call: with a receiver, as much work again (its state
    # after the call), and synchronously the encoding and storing too.
    start = _perf_counter_ns()
    try:
        if isinstance(pending, Deferred):
            pending.set_result(result, exception)
            pending.submit()
            return
        record, receiver = pending.record, pending.receiver
        if receiver is not None:
            # Filtered like the result: a secret the call was given is masked there too.
            after = receiver_state(
                pending.result_filter, receiver, "self_after", pending.state.copy_limit
            )
            add_receiver(record, "self_after", *after)
        if exception is not None:
            kind = type(exception)
            exception_result(
                pending.result_filter,
                record,
                kind.__qualname__,
                kind.__module__,
                exception_message(exception, pending.state.snapshot_limit),
            )
        elif receiver is not None and result is receiver:
            # ``return self``: the very object stored as self_after (pickle stores it once).
            record["result"] = {"value": record["self_after"], "is_self": True}
        else:
            limit = pending.state.snapshot_limit
            value, report = result_state(pending.result_filter, result, limit)
            record["result"] = {"value": value}
            record["metadata"].setdefault("redactions", []).extend(report)
        site.dispatch(pending.state, record)
    except BaseException as exc:  # the result's hook raised it, or Ctrl-C
        try:  # noqa: SIM105 - suppress() is a call: near the limit it fails too
            site.fail(exc, "capture")
        except RecursionError:
            pass  # see _NEAR_THE_LIMIT: the call has returned, its result is the host's
        if isinstance(exc, KeyboardInterrupt):
            raise
    finally:
        elapsed = _perf_counter_ns() - start
        site.counts.spent += elapsed
        if active:
            record_caller_time(elapsed)
        else:
            counters["capture_ns"] += elapsed  # see record_caller_time
        slot.capturing = False


def call_after_interrupted_capture(
    site: CallerSite, exc: BaseException, wrapped: Any, args: Any, kwargs: Any
) -> Any:
    """Call the function (exactly once, as always) after its capture was ended by a
    ``BaseException`` raised inside it: an argument's ``__reduce__`` raising ``SystemExit``,
    or a Ctrl-C landing while capture code ran. The capture is dropped and counted; a
    ``KeyboardInterrupt`` is raised again once the call has returned, so Ctrl-C is delayed by
    one call, never lost."""
    try:  # noqa: SIM105 - suppress() is a call: near the limit it fails too
        site.fail(exc, "capture")
    except RecursionError:
        pass  # see _NEAR_THE_LIMIT
    try:
        token: Token[int] | None = DEPTH.set(DEPTH.get() + 1)
    except RecursionError:  # see _DEPTH_NEAR_THE_LIMIT
        token = None
    try:
        result = wrapped(*args, **kwargs)
    finally:
        if token is not None:
            DEPTH.reset(token)
    if isinstance(exc, KeyboardInterrupt):
        raise exc
    return result


# On a captured call's path: hidden from warnings' and logging's stacklevel.
hide_frame(call_and_finish)
hide_frame(run_coroutine)
hide_frame(call_after_interrupted_capture)
hide_frame(call_skipped)
hide_frame(call_through)
