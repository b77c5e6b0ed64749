"""pytest plugin: replay captured calls as test cases (registered through ``pytest11``).

- fixture ``capture_loader``: a :class:`~snapy_capture.CaptureLoader` over the search paths;
- :func:`replay_cases` / :func:`replay_records`: ``pytest.param`` entries, one per capture;
- :func:`assert_replay_matches` / :func:`replay_and_compare`: compare with a recorded result;
  :func:`replay_outcome`: a value to snapshot (the result's state, or the exception raised);
  a case that cannot be replayed (filtered values without substitutes, no usable instance)
  is skipped with the reason;
- substitutes for filtered values: ``substitutes=`` on the helpers, and for a whole suite
  ``--snapy-capture-substitutes FILE`` / ini ``snapy_capture_substitutes`` (a ``.py`` file
  defining ``SUBSTITUTES``, or a JSON/YAML mapping; relative to the ini file);
- options: ``--snapy-capture-path`` / ini ``snapy_capture_path`` (searched first by every
  loader given no path), ``--snapy-capture-enable`` / ini ``snapy_capture_enabled`` (capturing
  is *off* while tests run unless turned on, so replaying a decorated function never rewrites
  the captures being replayed; ``SNAP_CAPTURE_CONFIG`` set, as under ``python -m
  snapy_capture.run -m pytest``, turns it on),
  ``--snapy-capture-require`` / ini ``snapy_capture_require``
  (a function without captures fails instead of being skipped, for CI).

State lives in ``config.stash``; :func:`replay_cases` runs at collection time and only reads
what the configuration and the registered search paths hold, so it works in pytest-xdist
workers and with the plugin disabled (``-p no:snapy_capture``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NoReturn

import pytest

from snapy_capture.capture import flush
from snapy_capture.config import (
    CONFIG_FILE_ENV,
    is_suspended,
    is_url,
    reload_environment,
    set_suspended,
    storage_root,
)
from snapy_capture.errors import AmbiguousCaptureError, NoRecordedResultError, SnapyCaptureError
from snapy_capture.replay import (
    CannotReplayError,
    Cases,
    ReplayResult,
    Where,
    clear_default_substitutes,
    collect_cases,
    load_substitutes,
    loader,
    set_default_substitutes,
    set_snapshot_seconds,
    snapshot_state,
)
from snapy_capture.replay import assert_replay_matches as _assert_replay_matches
from snapy_capture.replay import replay_and_compare as _replay_and_compare
from snapy_capture.replay import replay_outcome as _replay_outcome
from snapy_capture.replay._budget import SNAPSHOT_SECONDS
from snapy_capture.replay._cases import case_arguments, skip_reason
from snapy_capture.replay.loader import CaptureLoader

if TYPE_CHECKING:
    from _pytest.mark.structures import ParameterSet

    from snapy_capture.storage import CaptureStorage

__all__ = [
    "NoRecordedResultError",
    "ReplayResult",
    "assert_replay_matches",
    "capture_loader",
    "replay_and_compare",
    "replay_cases",
    "replay_outcome",
    "replay_records",
    "snapshot_state",
]

#: Every "no captures" skip reason starts with this; ``--snapy-capture-require`` looks for it.
MISSING_PREFIX: Final = "snapy_capture: no captures of "
_MISSING_ID: Final = "no-captures"
_UNREADABLE_ID: Final = "captures-unreadable"
#: Marks a case whose capture file cannot be loaded; the plugin fails it (pytest_runtest_call).
UNLOADABLE_MARK: Final = "snapy_capture_unloadable"


class _PluginState:
    """What the plugin changed in this process, to undo it at the end of the session."""

    __slots__ = ("added_path", "enabled", "path", "require", "substitutes", "was_suspended")

    def __init__(
        self,
        *,
        enabled: bool,
        require: bool,
        path: str | None,
        added_path: bool,
        was_suspended: bool,
        substitutes: bool = False,
    ) -> None:
        self.substitutes = substitutes
        self.enabled = enabled
        self.require = require
        self.path = path
        self.added_path = added_path
        self.was_suspended = was_suspended


_STATE: Final = pytest.StashKey[_PluginState]()
_MISSING: Final = pytest.StashKey[str]()


# --- hooks ------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("snapy_capture", "snapy_capture (replay captured calls)")
    group.addoption(
        "--snapy-capture-path",
        dest="snapy_capture_path",
        default=None,
        metavar="DIR",
        help="capture directory searched first when loading captures "
        "(default: ini snapy_capture_path, else SNAP_CAPTURE_DEFAULT_PATH or ./captures)",
    )
    group.addoption(
        "--snapy-capture-enable",
        dest="snapy_capture_enable",
        action="store_true",
        default=None,
        help="keep capturing on while tests run (off by default so that replaying a "
        "decorated function never rewrites the captures being replayed)",
    )
    group.addoption(
        "--snapy-capture-require",
        dest="snapy_capture_require",
        action="store_true",
        default=None,
        help="fail, instead of skip, replay tests of functions that have no captures (CI)",
    )
    group.addoption(
        "--snapy-capture-substitutes",
        dest="snapy_capture_substitutes",
        default=None,
        metavar="FILE",
        help="test values for what the filters removed from captures, keyed by redaction "
        "path: a .py file defining SUBSTITUTES, or a JSON/YAML mapping",
    )
    group.addoption(
        "--snapy-capture-snapshot-timeout",
        dest="snapy_capture_snapshot_timeout",
        default=None,
        metavar="SECONDS",
        help="time budget of building one case's snapshot value, which runs the value's own "
        f"code (a __repr__); past it the case fails (default {SNAPSHOT_SECONDS:g}; 0: none; "
        "enforced in the main thread on POSIX)",
    )
    parser.addini(
        "snapy_capture_snapshot_timeout",
        "time budget in seconds of building one case's snapshot value; see "
        "--snapy-capture-snapshot-timeout",
        type="string",
        default="",
    )
    parser.addini(
        "snapy_capture_substitutes",
        "substitutes file for filtered values (relative to the ini file); see "
        "--snapy-capture-substitutes",
        type="string",
        default="",
    )
    parser.addini(
        "snapy_capture_path",
        "capture directory searched first when loading captures (relative to the ini file)",
        type="string",
        default="",
    )
    parser.addini(
        "snapy_capture_enabled",
        "capture while tests run (default: false)",
        type="bool",
        default=False,
    )
    parser.addini(
        "snapy_capture_require",
        "fail replay tests of functions without captures (default: false, they are skipped)",
        type="bool",
        default=False,
    )


def pytest_configure(config: pytest.Config) -> None:
    # A target file named in the environment (the runner exports it, autoload reads it) is
    # an explicit request to capture this run: the tests are the program being captured.
    enabled = _flag(config, "snapy_capture_enable", "snapy_capture_enabled") or bool(
        os.environ.get(CONFIG_FILE_ENV)
    )
    require = _flag(config, "snapy_capture_require", "snapy_capture_require")
    path = _configured_path(config, "snapy_capture_path")
    substitutes = _configured_path(config, "snapy_capture_substitutes")
    if substitutes is not None:
        try:
            # Before collection: replay_cases/replay_records read them at import time.
            set_default_substitutes(load_substitutes(substitutes))
        except SnapyCaptureError as exc:
            raise pytest.UsageError(str(exc)) from None
    set_snapshot_seconds(_snapshot_seconds(config))
    added = path is not None and loader.add_search_path(path)
    state = _PluginState(
        enabled=enabled,
        require=require,
        path=path,
        added_path=added,
        was_suspended=is_suspended(),
        substitutes=substitutes is not None,
    )
    config.stash[_STATE] = state
    config.addinivalue_line(
        "markers",
        f"{UNLOADABLE_MARK}(reason): a replay case whose capture cannot be loaded (it fails)",
    )
    set_suspended(not enabled)


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    if state is None:
        return
    if state.enabled:
        flush(timeout=60.0)  # captures taken during the run land before pytest exits
    set_suspended(state.was_suspended)
    if state.added_path and state.path is not None:
        loader.remove_search_path(state.path)
    if state.substitutes:
        clear_default_substitutes()
    set_snapshot_seconds(SNAPSHOT_SECONDS)
    del config.stash[_STATE]


def pytest_report_header(config: pytest.Config) -> str | None:
    state = config.stash.get(_STATE, None)
    if state is None:
        return None
    mode = "on" if state.enabled else "off (replay only)"
    if state.enabled and os.environ.get(CONFIG_FILE_ENV):
        mode = f"on ({CONFIG_FILE_ENV} is set)"
    where = f", captures from {state.path}" if state.path else ""
    return f"snapy_capture: capturing {mode}{where}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # replay_cases runs at import time and cannot see this configuration, so its "no
    # captures" entry is a plain skip with a recognizable reason; require mode swaps that
    # skip for a failure of the test's call phase (see pytest_runtest_call).
    state = config.stash.get(_STATE, None)
    if state is None or not state.require:
        return
    for item in items:
        if not isinstance(item, pytest.Function):
            continue
        kept = []
        for mark in item.own_markers:
            reason = mark.kwargs.get("reason", "")
            if (
                mark.name == "skip"
                and isinstance(reason, str)
                and reason.startswith(MISSING_PREFIX)
            ):
                item.stash[_MISSING] = reason
            else:
                kept.append(mark)
        item.own_markers[:] = kept


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    # Environment set by monkeypatch (in fixtures) takes effect for the test body, and a
    # previous test's environment never leaks into this one's configuration.
    reload_environment()
    try:
        return (yield)
    finally:
        reload_environment()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    unloadable = item.get_closest_marker(UNLOADABLE_MARK)
    if unloadable is not None:
        pytest.fail(f"snapy_capture: {unloadable.kwargs.get('reason', '')}", pytrace=False)
    reason = item.stash.get(_MISSING, None)
    if reason is not None:
        pytest.fail(
            f"{reason} (--snapy-capture-require / snapy_capture_require is on)", pytrace=False
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    try:
        return (yield)
    finally:
        reload_environment()


def _flag(pytest_config: pytest.Config, option: str, ini: str) -> bool:
    given = pytest_config.getoption(option, None)
    if given is not None:
        return bool(given)
    try:
        return bool(pytest_config.getini(ini))
    except (ValueError, pytest.UsageError) as exc:  # "invalid truth value 'x'" names no key
        raise pytest.UsageError(f"ini {ini}: {exc}") from None


def _snapshot_seconds(pytest_config: pytest.Config) -> float | None:
    given = pytest_config.getoption("snapy_capture_snapshot_timeout", None)
    where = "--snapy-capture-snapshot-timeout"
    if given is None:
        given = str(pytest_config.getini("snapy_capture_snapshot_timeout") or "").strip()
        where = "ini snapy_capture_snapshot_timeout"
        if not given:
            return SNAPSHOT_SECONDS
    try:
        seconds = float(given)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0 or seconds == float("inf"):
        raise pytest.UsageError(f"{where}: expected a number of seconds >= 0, got {given!r}")
    return seconds or None


def _configured_path(pytest_config: pytest.Config, name: str) -> str | None:
    given = pytest_config.getoption(name, None)
    if given:
        return storage_root(os.path.expanduser(str(given)))
    ini = str(pytest_config.getini(name) or "").strip()
    if is_url(ini):
        return ini  # an object store: not relative to the ini file
    if ini:
        base = pytest_config.inipath.parent if pytest_config.inipath else pytest_config.rootpath
        return os.path.abspath(base / Path(os.path.expanduser(ini)))
    return None


# --- fixtures and helpers -------------------------------------------------------------------


@pytest.fixture
def capture_loader() -> CaptureLoader:
    """A :class:`~snapy_capture.CaptureLoader` over the plugin's path and the default paths."""
    return CaptureLoader()


def replay_cases(
    name: str,
    *,
    path: str | os.PathLike[str] | None = None,
    limit: int | None = None,
    storage: CaptureStorage | None = None,
    where: Where | None = None,
    substitutes: Mapping[str, Any] | None = None,
) -> list[ParameterSet]:
    """``pytest.param(args, kwargs, id=...)`` for each capture of ``name``, newest first.

    Use with ``@pytest.mark.parametrize("args, kwargs", replay_cases("module:function"))``.
    Ids are ``capture-<n>``, ``n`` being the capture's sequence number, which never changes
    while the capture exists: snapshot names stay put as new captures arrive and retention
    drops old ones. With no captures, one entry is skipped (``no-captures``) with a reason
    naming the function and the paths searched; ``--snapy-capture-require`` fails it instead.
    A capture file that cannot be loaded is a failing case naming the file and the reason
    (under this plugin). A capture whose arguments had values filtered out is skipped,
    naming them, unless ``substitutes`` (or the suite's substitutes file) gives a value for
    each; an argument that could not be stored (``unstorable: ...``, not a secret) is handed
    out as its placeholder.

    Args:
        name: ``module:qualname``, a qualname, or a dotted suffix of one.
        path: one capture directory; ``None`` searches the plugin's path and the default paths.
        limit: at most this many captures (the newest).
        storage: read with this storage (e.g. a ``CaptureStorage`` subclass).
        where: criteria (``{"thread_id": "MainThread"}``) or a predicate on the record.
        substitutes: test values for filtered arguments, keyed by redaction path
            (``{"password": "test-pw", "opts['token']": "t"}``).
    """
    found = _collect(name, path=path, limit=limit, storage=storage, where=where)
    if isinstance(found, str):
        return [_unloadable((None, None), _UNREADABLE_ID, found)]
    if not found.cases:
        return [_missing(found, (None, None), where=where)]
    entries = []
    for case in found.cases:
        if case.error is not None:
            entries.append(_unloadable((None, None), case.id, case.error))
            continue
        try:
            args, kwargs = case_arguments(case.record, substitutes)
        except CannotReplayError as exc:
            entries.append(_skipped((None, None), case.id, exc.reason))
            continue
        entries.append(pytest.param(args, kwargs, id=case.id))
    return entries


def replay_records(
    name: str,
    *,
    path: str | os.PathLike[str] | None = None,
    limit: int | None = None,
    storage: CaptureStorage | None = None,
    where: Where | None = None,
    with_result: bool = False,
    substitutes: Mapping[str, Any] | None = None,
) -> list[ParameterSet]:
    """Like :func:`replay_cases`, but one whole record per entry (``parametrize("record", ...)``).

    A capture whose arguments or instance had secrets filtered out, or whose instance could
    not be stored, is skipped with the reason unless substitutes cover them (parts of it that
    could not be stored do not skip it: the helpers skip it if the call then raises); the
    record of a case that runs carries its substitutes (``record["substitutes"]``) to the
    helpers (:func:`replay_outcome`, :func:`assert_replay_matches`).

    Args:
        with_result: keep only captures that have a recorded result (``record_result=True``),
            for use with :func:`assert_replay_matches`.
        substitutes: as for :func:`replay_cases`; ``"self.api_key"`` is an attribute of the
            captured instance.
    """
    criteria = where
    if with_result:
        criteria = _with_result(where)
    found = _collect(name, path=path, limit=limit, storage=storage, where=criteria)
    if isinstance(found, str):
        return [_unloadable((None,), _UNREADABLE_ID, found)]
    if not found.cases:
        return [_missing(found, (None,), where=where, with_result=with_result)]
    entries = []
    for case in found.cases:
        if case.error is not None:
            entries.append(_unloadable((None,), case.id, case.error))
            continue
        reason = skip_reason(case.record, substitutes)
        if reason is not None:
            entries.append(_skipped((case.record,), case.id, reason))
            continue
        record = case.record
        if substitutes:
            record = {**record, "substitutes": dict(substitutes)}
        entries.append(pytest.param(record, id=case.id))
    return entries


def replay_and_compare(
    func: Callable[..., Any],
    record: Mapping[str, Any],
    *,
    substitutes: Mapping[str, Any] | None = None,
    deterministic: bool = False,
) -> ReplayResult:
    """:func:`snapy_capture.replay.replay_and_compare`, skipping the test (with the reason)
    when the capture cannot be replayed."""
    __tracebackhide__ = True
    try:
        return _replay_and_compare(
            func, record, substitutes=substitutes, deterministic=deterministic
        )
    except CannotReplayError as exc:
        _skip(exc)


def assert_replay_matches(
    func: Callable[..., Any],
    record: Mapping[str, Any],
    *,
    substitutes: Mapping[str, Any] | None = None,
    deterministic: bool = False,
) -> None:
    """:func:`snapy_capture.replay.assert_replay_matches`: ``AssertionError`` with a diff
    when the replay differs from the recorded result; the test is skipped, with the reason,
    when the capture cannot be replayed."""
    __tracebackhide__ = True
    try:
        _assert_replay_matches(func, record, substitutes=substitutes, deterministic=deterministic)
    except CannotReplayError as exc:
        _skip(exc)


def replay_outcome(
    func: Callable[..., Any],
    record: Mapping[str, Any],
    *,
    substitutes: Mapping[str, Any] | None = None,
    deterministic: bool = False,
    max_seconds: float | None = None,
) -> Any:
    """:func:`snapy_capture.replay.replay_outcome`: a value to compare with a snapshot
    (``assert replay_outcome(Owner.method, record) == snapshot``); the test is skipped,
    with the reason, when the capture cannot be replayed."""
    __tracebackhide__ = True
    try:
        return _replay_outcome(
            func,
            record,
            substitutes=substitutes,
            deterministic=deterministic,
            max_seconds=max_seconds,
        )
    except CannotReplayError as exc:
        _skip(exc)


def _skip(exc: CannotReplayError) -> NoReturn:
    __tracebackhide__ = True
    pytest.skip(f"snapy_capture: {exc.reason}")


def _skipped(values: tuple[Any, ...], case_id: str, reason: str) -> ParameterSet:
    return pytest.param(
        *values, id=case_id, marks=pytest.mark.skip(reason=f"snapy_capture: {reason}")
    )


def _unloadable(values: tuple[Any, ...], case_id: str, reason: str) -> ParameterSet:
    # A failure, not a skip: captures that stopped loading (a class moved in an upgrade, a
    # bad signature) would otherwise shrink the suite without anyone noticing.
    return pytest.param(
        *values, id=case_id, marks=pytest.mark.snapy_capture_unloadable(reason=reason)
    )


def _collect(name: str, **options: Any) -> Cases | str:
    """The cases, or why the captures cannot be read at all."""
    try:
        return collect_cases(name, **options)
    except (AmbiguousCaptureError, ValueError, TypeError) as exc:
        # A mistake in the test module: one line at collection, not a traceback into ours.
        pytest.fail(f"snapy_capture: {exc}", pytrace=False)
    except (SnapyCaptureError, OSError) as exc:
        # The captures cannot be read (an object store that does not answer, a directory
        # this user may not list): this test fails saying so; the session goes on (a
        # collection error would stop it, and showed a traceback through this module).
        return f"cannot read the captures of {name!r}: {' '.join(str(exc).split())}"


def _missing(
    found: Cases, values: tuple[None, ...], *, where: Where | None, with_result: bool = False
) -> ParameterSet:
    searched = ", ".join(found.paths) or "(no capture path)"
    detail = ""
    if found.found:
        wanted = [
            label
            for label, on in (
                ("matching the criteria", where is not None),
                ("with a recorded result", with_result),
            )
            if on
        ]
        detail = f" ({' and '.join(wanted)})" if wanted else " (no readable capture)"
        if with_result:
            # Captured without record_result, or a generator function: capture records no
            # result for those (it never consumes the program's generator).
            detail += (
                "; results are recorded with record_result, never for generator functions "
                "(replay those in snapshot mode)"
            )
    reason = f"{MISSING_PREFIX}{found.name}{detail}; searched: {searched}"
    return pytest.param(*values, id=_MISSING_ID, marks=pytest.mark.skip(reason=reason))


def _with_result(where: Where | None) -> Where:
    def has_result(record: dict[str, Any]) -> bool:
        result = record.get("result")
        if not isinstance(result, dict) or not ({"value", "exception"} & result.keys()):
            return False
        if where is None:
            return True
        if callable(where):
            return bool(where(record))
        return all(_holds(record, key, want) for key, want in where.items())

    return has_result


def _holds(record: dict[str, Any], key: str, want: Any) -> bool:
    return loader.criterion_holds(record, key, want)
