"""pytest plugin: replay captured calls as test cases (registered through ``pytest11``).

- fixture ``capture_loader``: a :class:`~snapy_capture.CaptureLoader` over the search paths;
- :func:`replay_cases` / :func:`replay_records`: ``pytest.param`` entries, one per capture;
- :func:`assert_replay_matches` / :func:`replay_and_compare`: compare with a recorded result;
- options: ``--snapy-capture-path`` / ini ``snapy_capture_path`` (searched first by every
  loader given no path), ``--snapy-capture-enable`` / ini ``snapy_capture_enabled`` (capturing
  is *off* while tests run unless turned on, so replaying a decorated function never rewrites
  the captures being replayed), ``--snapy-capture-require`` / ini ``snapy_capture_require``
  (a function without captures fails instead of being skipped, for CI).

State lives in ``config.stash``; :func:`replay_cases` runs at collection time and only reads
what the configuration and the registered search paths hold, so it works in pytest-xdist
workers and with the plugin disabled (``-p no:snapy_capture``).
"""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pytest

from snapy_capture.capture import flush
from snapy_capture.config import (
    is_suspended,
    is_url,
    reload_environment,
    set_suspended,
    storage_root,
)
from snapy_capture.errors import AmbiguousCaptureError, NoRecordedResultError
from snapy_capture.replay import (
    Cases,
    ReplayResult,
    Where,
    assert_replay_matches,
    collect_cases,
    loader,
    replay_and_compare,
)
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
    "replay_records",
]

#: Every "no captures" skip reason starts with this; ``--snapy-capture-require`` looks for it.
MISSING_PREFIX: Final = "snapy_capture: no captures of "
_MISSING_ID: Final = "no-captures"


class _PluginState:
    """What the plugin changed in this process, to undo it at the end of the session."""

    __slots__ = ("added_path", "enabled", "path", "require", "was_suspended")

    def __init__(
        self,
        *,
        enabled: bool,
        require: bool,
        path: str | None,
        added_path: bool,
        was_suspended: bool,
    ) -> None:
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
    enabled = _flag(config, "snapy_capture_enable", "snapy_capture_enabled")
    require = _flag(config, "snapy_capture_require", "snapy_capture_require")
    path = _configured_path(config)
    added = path is not None and loader.add_search_path(path)
    state = _PluginState(
        enabled=enabled, require=require, path=path, added_path=added, was_suspended=is_suspended()
    )
    config.stash[_STATE] = state
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
    del config.stash[_STATE]


def pytest_report_header(config: pytest.Config) -> str | None:
    state = config.stash.get(_STATE, None)
    if state is None:
        return None
    mode = "on" if state.enabled else "off (replay only)"
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
    return bool(pytest_config.getini(ini))


def _configured_path(pytest_config: pytest.Config) -> str | None:
    given = pytest_config.getoption("snapy_capture_path", None)
    if given:
        return storage_root(os.path.expanduser(str(given)))
    ini = str(pytest_config.getini("snapy_capture_path") or "").strip()
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
) -> list[ParameterSet]:
    """``pytest.param(args, kwargs, id=...)`` for each capture of ``name``, newest first.

    Use with ``@pytest.mark.parametrize("args, kwargs", replay_cases("module:function"))``.
    Ids are ``capture-<n>``, ``n`` being the capture's sequence number, which never changes
    while the capture exists: snapshot names stay put as new captures arrive and retention
    drops old ones. With no captures, one entry is skipped (``no-captures``) with a reason
    naming the function and the paths searched; ``--snapy-capture-require`` fails it instead.

    Args:
        name: ``module:qualname``, a qualname, or a dotted suffix of one.
        path: one capture directory; ``None`` searches the plugin's path and the default paths.
        limit: at most this many captures (the newest).
        storage: read with this storage (e.g. a ``CaptureStorage`` subclass).
        where: criteria (``{"thread_id": "MainThread"}``) or a predicate on the record.
    """
    found = _collect(name, path=path, limit=limit, storage=storage, where=where)
    if not found.cases:
        return [_missing(found, (None, None), where=where)]
    return [pytest.param(case.args, case.kwargs, id=case.id) for case in found.cases]


def replay_records(
    name: str,
    *,
    path: str | os.PathLike[str] | None = None,
    limit: int | None = None,
    storage: CaptureStorage | None = None,
    where: Where | None = None,
    with_result: bool = False,
) -> list[ParameterSet]:
    """Like :func:`replay_cases`, but one whole record per entry (``parametrize("record", ...)``).

    Args:
        with_result: keep only captures that have a recorded result (``record_result=True``),
            for use with :func:`assert_replay_matches`.
    """
    criteria = where
    if with_result:
        criteria = _with_result(where)
    found = _collect(name, path=path, limit=limit, storage=storage, where=criteria)
    if not found.cases:
        return [_missing(found, (None,), where=where, with_result=with_result)]
    if not with_result:
        return [pytest.param(case.record, id=case.id) for case in found.cases]
    # A call whose arguments were filtered ran on values the replay does not have: its
    # recorded result cannot be expected back, so the case is skipped, saying why.
    return [
        pytest.param(
            case.record,
            id=case.id,
            marks=pytest.mark.skip(
                reason=(
                    f"snapy_capture: {case.id} had arguments filtered at capture time "
                    f"({', '.join(redacted)}); its recorded result cannot be reproduced"
                )
            ),
        )
        if (redacted := _filtered_arguments(case.record))
        else pytest.param(case.record, id=case.id)
        for case in found.cases
    ]


def _filtered_arguments(record: dict[str, Any]) -> list[str]:
    """Paths of the arguments the filters changed (the redaction report; never values)."""
    report = record.get("metadata", {}).get("redactions") or []
    return sorted(
        {
            str(entry.get("path"))
            for entry in report
            if not str(entry.get("path", "")).startswith("result")
        }
    )


def _collect(name: str, **options: Any) -> Cases:
    try:
        return collect_cases(name, **options)
    except (AmbiguousCaptureError, ValueError) as exc:
        # At collection time: one line naming the problem, not a traceback into this module.
        pytest.fail(f"snapy_capture: {exc}", pytrace=False)


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
