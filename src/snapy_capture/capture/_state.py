"""What a capture site resolved from the configuration, and the storages sites share.

A :class:`State` is rebuilt whenever the configuration changes, and the caller's side of the
site's captures is made for it (``_caller.make_caller``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from snapy_capture._forksafe import fork_safe
from snapy_capture.capture import _writer
from snapy_capture.capture._context import CLOCK, Clock
from snapy_capture.capture._snapshot import SNAPSHOT_LIMIT
from snapy_capture.config import CaptureConfig, thaw_options
from snapy_capture.filters import resolve_filter_spec
from snapy_capture.storage import CaptureStorage, check_key
from snapy_capture.storage.serializers import (
    JSONPickleSerializer,
    JSONSerializer,
    PickleSerializer,
    get_serializer,
)

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from typing import Any, Protocol

    from snapy_capture.storage.serializers import Serializer

__all__ = ["Pending", "SiteOptions", "State"]

_storages: dict[tuple[Any, ...], CaptureStorage] = {}
_storages_lock = fork_safe(threading.Lock())


class _RateLimit:
    """At most ``limit`` captures per one-second window (approximate under threads, by design)."""

    __slots__ = ("count", "limit", "monotonic", "window")

    def __init__(self, limit: float, monotonic: Callable[[], float]) -> None:
        self.limit = limit
        self.monotonic = monotonic
        self.window = 0.0
        self.count = 0

    def allow(self) -> bool:
        # Read, then called: ``self.monotonic()`` would compile to a method lookup, which finds
        # no method on the class and stays unspecialized (about 100 instructions a call more).
        monotonic = self.monotonic
        now = monotonic()
        if now - self.window >= 1.0:
            self.window = now
            self.count = 0
        self.count += 1
        return self.count <= self.limit


if TYPE_CHECKING:  # protocols: annotations only

    class SiteOptions(Protocol):
        """What a state is resolved from, besides the configuration: its capture site's options."""

        @property
        def storage(self) -> CaptureStorage | None: ...
        @property
        def overrides(self) -> dict[str, Any]: ...
        @property
        def kind(self) -> str: ...
        @property
        def name(self) -> str: ...
        def takes_cls(self) -> bool: ...


class State:
    """What a site resolved from the configuration; rebuilt when the configuration changes."""

    __slots__ = (
        "background",
        "budget_reason",
        "clock",
        "config",
        "copy_limit",
        "deferred",
        "fallback",
        "filter",
        "lazy",
        "limit",
        "max_age",
        "queue_size",
        "records_result",
        "retention",
        "self_after",
        "self_before",
        "snapshot_limit",
        "snapshots",
        "storage",
        "takes_cls",
    )

    def __init__(self, site: SiteOptions, config: CaptureConfig) -> None:
        self.config = config
        # The clock of this state's whole life: ``set_clock`` makes the sites resolve anew.
        self.clock: Clock = CLOCK[0]
        if site.storage is not None:
            self.storage = site.storage
            given = site.overrides
            self.retention = given.get("retention", site.storage.retention)
            self.max_age = given.get("max_age", site.storage.max_age)
        else:
            self.storage = _shared_storage(config)
            self.retention = config.retention
            self.max_age = config.max_age
        # A signing key set but empty: the site captures nothing (one warning), never unsigned.
        check_key(self.storage.signing_key)
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
        rate = config.max_per_second
        self.limit = None if rate is None else _RateLimit(rate, self.clock.monotonic)
        # Off the caller's thread: filtering, building and encoding the record (see Deferred).
        # A storage over a network (an object store) is always written in the background:
        # a caller never waits on a request.
        self.background = config.async_storage or self.storage.remote
        if self.storage.remote:
            _writer.flush_before_threads_stop()
        self.deferred = self.background or config.lazy_serialization
        self.lazy = config.lazy_serialization
        self.queue_size = config.queue_size
        # Read once here rather than per call: a captured call's own cost is counted in ns.
        self.records_result = config.record_result and site.kind in ("function", "coroutine")
        # A method's receiver: as called ("self"), and as the call left it ("self_after").
        # ``__init__``'s is half-built when it is called: only what it built is stored.
        self.self_before = config.capture_self and site.name != "__init__"
        self.self_after = config.capture_self and self.records_result
        # Read once here: on 3.13+ a classmethod's class can arrive as the first argument.
        self.takes_cls = config.enabled and site.takes_cls()
        # Snapshots are unpickled as inert copies (``_inert``), which only the built-in
        # formats encode as the objects they copy; other serializers (and JSON codecs, which
        # expect their own type) are given filtered live values on the caller's thread.
        self.snapshots = _encodes_inert(self.storage.serializer) and (
            self.fallback is None or _encodes_inert(self.fallback)
        )
        size = config.max_capture_size
        # The size limit of a call's arguments (together, their budget in ``filter_call``), of
        # a receiver and of a result (each pickled up to it): 1 MiB, or 4x max_capture_size
        # when that is set (either way: a larger one is how to store larger values); past
        # it, a placeholder reported under the option that set it.
        self.snapshot_limit = SNAPSHOT_LIMIT if size is None else 4 * size
        self.budget_reason = "snapshot_limit" if size is None else "max_capture_size"
        # A receiver read on the caller's thread is copied first (``_record.receiver_state``):
        # its reducer runs once, and the call cannot change what is stored. Not for a
        # serializer given live values, unless the call may change them before encoding.
        self.copy_limit = self.snapshot_limit if self.snapshots or self.records_result else None


def _encodes_inert(serializer: Serializer) -> bool:
    if type(serializer) is JSONSerializer:
        return not JSONSerializer.has_codecs()  # a codec would be handed a copy, not its type
    return type(serializer) in (PickleSerializer, JSONPickleSerializer)


def _shared_storage(config: CaptureConfig) -> CaptureStorage:
    # Sites writing to one root share a storage, and with it the lock objects per directory.
    serializer = get_serializer(config.serializer)
    key = (config.path, id(serializer), config.signing_key, config.storage_options)
    storage = _storages.get(key)
    if storage is None:
        with _storages_lock:
            storage = _storages.get(key) or _storages.setdefault(
                key,
                CaptureStorage(
                    config.path,
                    serializer=serializer,
                    signing_key=config.signing_key,
                    storage_options=thaw_options(config.storage_options),
                ),
            )
    return storage


class Pending:
    """A record built at call time whose result is added when the call returns."""

    __slots__ = ("receiver", "record", "result_filter", "state")

    def __init__(
        self, state: State, record: dict[str, Any], result_filter: Any, receiver: Any = None
    ) -> None:
        self.state = state
        self.record = record
        self.result_filter = result_filter
        #: The method's receiver, whose state after the call is recorded (``None``: none).
        self.receiver = receiver
