"""The object-store backend: captures in S3 (or any fsspec store) shared by many hosts.

Layout under a root URL ``s3://bucket/prefix``::

    <prefix>/<function_dirname(module, qualname)>/
        .function.json                     the function's module and qualname
        8234110963456123-3f9a0c1e5b7d2a44.cap   one capture

A capture's key is ``<16 digits: 10**16 - 1 - the write's time in microseconds>-<16 hex
digits: a random token of the writing process>``. So:

- keys never collide without a lock server: the token is drawn per process (again after a
  fork), and one process never gives the same time twice (it counts on from the last);
- the store lists keys in lexicographic order, which is newest first: the newest capture is
  on the first page of a listing (one request whatever the count: :meth:`ObjectStore.captures`
  asks for a handful of keys), and every reader sees the same order;
- retention needs no shared state: after its write, a writer lists the function's keys and
  deletes those past the newest ``N``. A listing that misses a concurrent write only ever
  deletes keys that are past ``N`` in the full set too, and the last writer's listing sees
  every write, so the count converges to exactly ``N`` once writers stop. Order among writers
  follows their clocks (a host whose clock is behind sorts its captures as older).

A write is one ``PUT`` of the whole capture: a reader never sees part of one. A signed
capture's signature binds its function and its key's id (the local backend's binds the
number), so a capture copied to another key or function does not verify.

Deduplication (the ``dedupe`` option) does not apply to an object store: every call is
stored, and ``retention`` keeps the newest ``N`` calls, as with ``dedupe: false``. Counting
calls on a kept capture needs a read-modify-write of shared state (a count, a last-seen
order for retention) that several hosts would race on without a lock server; content-hash
keys would make equal captures idempotent puts but lose the count and the order.
``snapy-capture pull`` copies a content once per function (by payload hash), so a local copy
holds each distinct capture once; the count of calls it stood for is not carried.

A store that fails (down, slow, refusing) marks itself unavailable for a back-off period
(1 s, doubling up to 30 s): writes fail at once, without a request, and the capture layer
counts them as dropped; the first write after the period tries again, and writing resumes
when the store answers. Credentials come from the store's own configuration (for S3 the
standard AWS environment, ``AWS_ENDPOINT_URL``, profiles) and ``storage_options``; none is
ever put into a capture, a key, an error message or a log line.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any, Final

from snapy_capture._forksafe import after_fork_in_child, fork_safe
from snapy_capture.errors import CaptureFormatError, ConfigError, SnapyCaptureError
from snapy_capture.storage._backend import Backend
from snapy_capture.storage._envelope import Signer
from snapy_capture.storage._layout import _META, CaptureRef, FunctionInfo, function_dirname
from snapy_capture.storage._objpath import ObjectPath, StoredPath

__all__ = ["ObjectStore", "ObjectStoreError"]

logger = logging.getLogger("snapy_capture")
_INVERT: Final = 10**16 - 1
_KEY: Final = re.compile(r"([0-9]{16})-([0-9a-f]{16})\.cap\Z")
#: Keys asked for to find the newest captures (a loader reads the newest, rarely more).
_FIRST_PAGE: Final = 8
_BACKOFF_FIRST: Final = 1.0
_BACKOFF_MAX: Final = 30.0
#: What a writer's requests may take: a capture is dropped rather than waited for, and the
#: background writer must not sit on one request for long (its queue fills meanwhile).
_S3_DEFAULTS: Final[dict[str, Any]] = {
    "config_kwargs": {
        "connect_timeout": 2,
        "read_timeout": 5,
        # s3fs retries (twice, see _url_to_fs); botocore's own retries would multiply them.
        "retries": {"max_attempts": 1, "mode": "standard"},
    },
}


class ObjectStoreError(SnapyCaptureError, OSError):
    """The object store cannot be written or read (one line saying why; no credentials)."""


# --- keys -------------------------------------------------------------------------------

_token = os.urandom(8).hex()
_last_micros = 0
_id_lock = fork_safe(threading.Lock())


@after_fork_in_child
def _new_token_in_child() -> None:
    # A fork child is another writer: the parent's token would let their keys collide.
    global _token  # noqa: PLW0603
    _token = os.urandom(8).hex()


def new_id(now: float) -> str:
    """A capture id for a write at ``now`` (seconds): unique, sorting newest first."""
    global _last_micros  # noqa: PLW0603
    micros = int(now * 1_000_000)
    with _id_lock:
        micros = max(micros, _last_micros + 1)
        _last_micros = micros
    return f"{_INVERT - micros:016d}-{_token}"


def id_time(ident: str) -> float:
    """When the capture with id ``ident`` was written, in seconds since the epoch."""
    return (_INVERT - int(ident[:16])) / 1_000_000


def _ident(name: str) -> str | None:
    match = _KEY.match(name)
    return None if match is None else name[: -len(".cap")]


# --- the backend ------------------------------------------------------------------------


# File system objects by URL and options, per process: a loader opens a storage per call, and
# a new S3 client (its session, its connections) costs tens of milliseconds.
_filesystems: dict[tuple[int, str, str], tuple[Any, str]] = {}


def _url_to_fs(fsspec: Any, url: str, options: dict[str, Any]) -> tuple[Any, str]:
    key = (os.getpid(), url, json.dumps(options, sort_keys=True, default=repr))
    found = _filesystems.get(key)
    if found is None:
        fs, prefix = fsspec.core.url_to_fs(url, **options)
        if hasattr(fs, "retries"):
            fs.retries = 2  # s3fs retries 5 times with back-off; the writer drops instead
        found = _filesystems[key] = (fs, prefix)
    return found


class ObjectStore(Backend):
    """Captures under an fsspec URL (see the module)."""

    remote = True
    root: ObjectPath

    def __init__(self, url: str, storage_options: Mapping[str, Any] | None = None) -> None:
        try:
            import fsspec  # noqa: PLC0415 - an optional dependency, needed for URLs only
        except ImportError:
            raise ConfigError(
                f"{url}: object-store paths need fsspec and the store's package: "
                f"pip install 'snapy-capture[s3]' (S3), or fsspec with gcsfs/adlfs"
            ) from None
        self._fsspec = fsspec
        self.url = url
        self.protocol = url.partition("://")[0]
        options: dict[str, Any] = {}
        if self.protocol in ("s3", "s3a"):
            options.update(_S3_DEFAULTS)
            options["skip_instance_cache"] = True  # ours: its retries are set (_url_to_fs)
            options["use_listings_cache"] = False  # other hosts write: never list from memory
        options.update(storage_options or {})
        self._options = options
        self._guard = fork_safe(threading.Lock())
        self._pid = -1
        self._fs: Any = None
        self._prefix = ""
        self._connect()
        self.root = ObjectPath(self.protocol, self._prefix, self._fs)
        self._dirs: dict[tuple[str, str], str] = {}
        self._down_until = 0.0
        self._backoff = _BACKOFF_FIRST
        self._down_reason = ""

    def __repr__(self) -> str:
        return f"ObjectStore({self.url!r})"  # never the options: they may hold a secret

    def _connect(self) -> Any:
        """The file system object of this process (made again in a fork child: the parent's
        event loop and connections do not exist there)."""
        pid = os.getpid()
        if self._pid == pid:
            return self._fs
        with self._guard:
            if self._pid != pid:
                try:
                    fs, prefix = _url_to_fs(self._fsspec, self.url, self._options)
                except ImportError as exc:
                    raise ConfigError(
                        f"{self.url}: the package for {self.protocol}:// is missing ({exc}); "
                        f"for S3: pip install 'snapy-capture[s3]'"
                    ) from None
                except (TypeError, ValueError) as exc:
                    raise ConfigError(f"{self.url}: bad storage_options ({exc})") from None
                self._fs, self._prefix = fs, prefix.rstrip("/")
                self._pid = pid
        return self._fs

    def _path(self, key: str) -> ObjectPath:
        return ObjectPath(self.protocol, key, self._connect())

    def _key_of(self, path: Any) -> str:
        if isinstance(path, ObjectPath):
            return path.key
        text = os.fspath(path) if not isinstance(path, str) else path
        return str(self._connect()._strip_protocol(text))

    # --- availability -------------------------------------------------------------------

    def _check_available(self) -> None:
        if self._down_until and time.monotonic() < self._down_until:
            raise ObjectStoreError(self._down_reason)

    def _failed(self, exc: BaseException, doing: str) -> ObjectStoreError:
        reason = self._explain(exc, doing)
        self._down_reason = (
            f"{reason}; captures are dropped until it answers again "
            f"(tried again after {self._backoff:g} s)"
        )
        self._down_until = time.monotonic() + self._backoff
        self._dirs.clear()  # come back to an emptied store: write ``.function.json`` again
        self._backoff = min(self._backoff * 2, _BACKOFF_MAX)
        return ObjectStoreError(self._down_reason)

    def _explain(self, exc: BaseException, doing: str) -> str:
        if isinstance(exc, FileNotFoundError) and self._bucket_missing():
            return self._no_bucket()
        # The exception's type only: botocore's messages may quote request details.
        return f"cannot {doing} {self.url}: {type(exc).__name__}"

    def _bucket_missing(self) -> bool:
        bucket = self._prefix.split("/", 1)[0]
        if self.protocol not in ("s3", "s3a", "gs", "gcs", "az", "abfs"):
            return False
        try:
            return not self._connect().exists(bucket)
        except Exception:  # noqa: BLE001 - unreachable: not known to be missing
            return False

    def _no_bucket(self) -> str:
        bucket = self._prefix.split("/", 1)[0]
        return f"{self.url}: the bucket {bucket!r} does not exist (create it, or fix the path)"

    # --- writing ------------------------------------------------------------------------

    def write(
        self,
        module: str,
        qualname: str,
        data: bytes,
        *,
        signer: Signer | None,
        retention: int | None,
        max_age: float | None,
        dedupe: bool = False,
    ) -> str:
        del dedupe  # not here: see the module
        self._check_available()
        now = time.time()
        try:
            fs = self._connect()
            directory = self._dirs.get((module, qualname)) or self._prepare(fs, module, qualname)
            ident = new_id(now)
            if signer is not None:
                data = signer.signed(data, ident)
            key = f"{directory}/{ident}.cap"
            fs.pipe_file(key, data)
        except (ConfigError, CaptureFormatError):
            raise
        except Exception as exc:  # noqa: BLE001 - the store's own errors (botocore, aiohttp...)
            raise self._failed(exc, "write to") from None
        self._down_until = 0.0
        self._backoff = _BACKOFF_FIRST
        if retention is not None or max_age is not None:
            try:
                self._retire(directory, ident, retention, max_age, now)
            except Exception:
                logger.debug("snapy_capture: retention in %s failed", self.url, exc_info=True)
        return key

    def _prepare(self, fs: Any, module: str, qualname: str) -> str:
        directory = f"{self._prefix}/{function_dirname(module, qualname)}"
        meta = f"{directory}/{_META}"
        if not fs.exists(meta):
            fs.pipe_file(meta, json.dumps({"module": module, "qualname": qualname}).encode())
        self._dirs[(module, qualname)] = directory
        return directory

    def _retire(
        self,
        directory: str,
        own: str,
        retention: int | None,
        max_age: float | None,
        now: float,
    ) -> int:
        idents = self._list(directory)
        doomed = idents[retention:] if retention is not None else []
        if max_age is not None:
            cutoff = now - max_age
            kept = idents[: len(idents) - len(doomed)]
            doomed += [i for i in kept if i != own and id_time(i) < cutoff]
        if doomed:
            self._connect().rm([f"{directory}/{ident}.cap" for ident in doomed])
        return len(doomed)

    # --- reading ------------------------------------------------------------------------

    def _list(self, directory: str, limit: int | None = None) -> list[str]:
        """The capture ids under ``directory``, newest first; with ``limit``, about the first
        ``limit`` of them, from one request where the store can page (S3)."""
        fs = self._connect()
        lsdir = getattr(fs, "_lsdir", None)
        if limit is not None and lsdir is not None and getattr(fs, "loop", None) is not None:
            # s3fs: one ListObjectsV2 request for the first keys (``ls`` would page through
            # them all). ``.function.json`` sorts first: one more.
            entries = self._fsspec.asyn.sync(
                fs.loop, lsdir, directory, refresh=True, max_items=limit + 1
            )
            names = [entry["name"] for entry in entries]
        else:
            names = fs.ls(directory, detail=False)
        idents = [i for name in names if (i := _ident(name.rpartition("/")[2])) is not None]
        idents.sort()
        return idents

    def function(self, module: str, qualname: str) -> FunctionInfo:
        directory = self._path(f"{self._prefix}/{function_dirname(module, qualname)}")
        return FunctionInfo(module, qualname, directory)

    def functions(self) -> list[FunctionInfo]:
        fs = self._connect()
        try:
            entries = fs.ls(self._prefix, detail=True)
        except FileNotFoundError:
            if self._bucket_missing():
                raise ObjectStoreError(self._no_bucket()) from None
            return []
        except Exception as exc:  # noqa: BLE001 - the store's own errors (botocore, aiohttp...)
            raise ObjectStoreError(self._explain(exc, "list")) from None
        found = []
        for entry in sorted(entries, key=lambda e: str(e["name"])):
            name = str(entry["name"]).rstrip("/")
            if entry.get("type") != "directory" or name.rpartition("/")[2].startswith("."):
                continue
            try:
                meta = json.loads(fs.cat_file(f"{name}/{_META}"))
                found.append(
                    FunctionInfo(str(meta["module"]), str(meta["qualname"]), self._path(name))
                )
            except (OSError, ValueError, KeyError, TypeError):
                continue  # not a function's directory of ours
        return found

    def captures(self, info: FunctionInfo) -> Iterator[CaptureRef]:
        directory = info.directory
        key = directory.key if isinstance(directory, ObjectPath) else self._key_of(directory)
        try:
            first = self._list(key, _FIRST_PAGE)
        except FileNotFoundError:
            return
        except Exception as exc:  # noqa: BLE001 - the store's own errors (botocore, aiohttp...)
            raise ObjectStoreError(self._explain(exc, "list")) from None
        for ident in first:
            yield self._ref(info, key, ident)
        if len(first) < _FIRST_PAGE:
            return
        last = first[-1]
        for ident in self._list(key):
            if ident > last:
                yield self._ref(info, key, ident)

    def _ref(self, info: FunctionInfo, directory: str, ident: str) -> CaptureRef:
        return CaptureRef(self.root, info.name, ident, self._path(f"{directory}/{ident}.cap"))

    def read_bytes(
        self, path: Any, function: str | None
    ) -> tuple[bytes, str | None, int | str | None]:
        key = self._key_of(path)
        shown = str(path)
        fs = self._connect()
        try:
            data = bytes(fs.cat_file(key))
        except FileNotFoundError:
            raise CaptureFormatError(f"cannot read {shown}: no such capture") from None
        except Exception as exc:  # noqa: BLE001 - the store's own errors (botocore, aiohttp...)
            raise CaptureFormatError(
                f"cannot read {shown}: {self._explain(exc, 'read from')}"
            ) from None
        directory, _, name = key.rpartition("/")
        if function is None:
            try:
                meta = json.loads(fs.cat_file(f"{directory}/{_META}"))
                function = f"{meta['module']}:{meta['qualname']}"
            except (OSError, ValueError, KeyError, TypeError):
                function = None
        return data, function, _ident(name)

    def stored_files(self, info: FunctionInfo) -> list[StoredPath]:
        key = self._key_of(info.directory)
        try:
            idents = self._list(key)
        except FileNotFoundError:
            return []
        return [self._path(f"{key}/{ident}.cap") for ident in idents]

    # --- maintenance ----------------------------------------------------------------------

    def prune(self, retention: int | None, max_age: float | None) -> int:
        removed = 0
        now = time.time()
        for info in self.functions():
            removed += self._retire(self._key_of(info.directory), "", retention, max_age, now)
        return removed

    def clear(self, info: FunctionInfo) -> int:
        key = self._key_of(info.directory)
        try:
            idents = self._list(key)
        except FileNotFoundError:
            return 0
        if idents:
            self._connect().rm([f"{key}/{ident}.cap" for ident in idents])
        return len(idents)
