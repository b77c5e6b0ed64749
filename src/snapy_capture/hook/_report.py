"""What each target captured: the line at exit and the JSON report.

At exit, the runner (and autoload, in a process that asked for capture) says in one line on
stderr which targets captured nothing, and ``--report FILE`` (``SNAP_CAPTURE_REPORT`` for
autoload) writes, per target: the functions it matched, the calls captured, the captures
dropped and why, the paths filtered out of them, the registries rebound and the references
that could not be, or why it captured nothing (its module was never imported, it matched
nothing, its functions were never called, capture was off).

The counts come from each capture site's counters (``capture._stats.SiteCounts``: an int
increment where the process-wide counters are updated, no other per-call work). A program
the runner runs may capture in child processes too: each child (autoload, or a fork of the
program) writes its counts to a private directory the runner names in
``SNAP_CAPTURE_COUNTS_DIR``, and the runner adds them up, so a target captured only in a
worker process is not reported as capturing nothing.

The report holds names, counts and redaction *paths* (``password``, ``self.api_key``),
never a value.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import time

from snapy_capture._forksafe import after_fork_in_child
from snapy_capture.hook._display import one_line
from snapy_capture.hook._startup import absent_module

# The runner imports this module at start; the capture layer (whose counts are read only when
# it was loaded: a process that imported no target captured nothing), json and tempfile are
# imported where used. Not ``typing.TYPE_CHECKING``: see _startup.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any, Final

    from snapy_capture.capture import _stats

__all__ = [
    "COUNTS_ENV",
    "REPORT_ENV",
    "REPORT_VERSION",
    "collect",
    "costly",
    "counts_dir",
    "finish",
    "gather",
    "merge",
    "summary",
    "watch_first_captures",
    "write_json",
]

#: The directory where child processes of the runner leave their counts (set by the runner).
COUNTS_ENV: Final = "SNAP_CAPTURE_COUNTS_DIR"
#: Where autoload writes its report at exit (``{pid}`` is replaced by the process id).
REPORT_ENV: Final = "SNAP_CAPTURE_REPORT"
REPORT_VERSION: Final = 1
#: The process that reports (the runner); every other process with the variable set is a child.
_owner: list[int] = []
#: The name of a counts directory (:func:`counts_dir`) starts with this.
_COUNTS_PREFIX: Final = "snapy-capture-counts-"
#: How many targets the line at exit names before "and N more".
_NAMED: Final = 5
#: The line naming costly targets: when capturing took this many seconds, and this share of
#: the run, at least; it names at most this many targets, each with that share of the cost.
_COSTLY_SECONDS: Final = 1.0
_COSTLY_SHARE: Final = 0.2
_NAMED_COSTLY: Final = 3

#: Why a target captured nothing, most specific last (merging keeps the furthest stage).
_STAGES: Final = ("module not imported", "matched nothing", "never called", "not captured")


def collect(hook: Any) -> dict[str, Any]:
    """This process's counts, per target name (the hook's targets, in file order)."""
    targets: dict[str, Any] = {}
    site_of = _site_reader(hook)
    for entry in hook.spec.targets:
        functions: dict[str, Any] = {}
        for qualname, wrapper in hook.sites.get(entry.name, ()):
            site = site_of(wrapper) or site_of(getattr(wrapper, "fget", None))
            if site is None:
                continue
            counts = site.counts
            # A site resolves its configuration on its first call (a failure is a drop).
            called = site.resolved or counts.dropped > 0
            mine = {
                "called": called,
                "capture_off": called and not site.switch,
                "captured": counts.captured,
                "dropped": counts.dropped,
                "drop_reasons": dict(counts.reasons),
                "redactions": dict(counts.redactions),
                "capture_ns": counts.spent,
            }
            key = f"{site.module}:{qualname}"
            if key in functions:
                # The module imported again (reload, a test clearing sys.modules): a new
                # wrapper, a new site; the calls of the old one still count.
                _add_counts(functions[key], mine)
            else:
                functions[key] = mine
        targets[entry.name] = {
            "where": entry.where,
            "module_imported": entry.module in hook.seen,
            "matched": entry.name in hook.matched or bool(functions),
            "functions": functions,
            "rebound": list(hook.rebound.get(entry.name, ())),
            "held_unwrapped": list(hook.held.get(entry.name, ())),
        }
    return targets


def explain_uncalled(hook: Any, targets: dict[str, Any]) -> None:
    """Add to ``held_unwrapped`` the places that still hold the unwrapped function of a
    target never called: a registry the hook could not reach when it wrapped it (a dict on
    an object, ``app.view_functions``; a module that imported it first), through which the
    program may well have called it. One pass over the heap, at exit, and only when some
    target needs explaining."""
    functions: list[Any] = []
    # id -> (index in functions, target name): no reference to a function but the list's.
    wanted: dict[int, tuple[int, str]] = {}
    site_of = _site_reader(hook)
    for name in targets:
        for _qualname, wrapper in hook.sites.get(name, ()):
            site = site_of(wrapper) or site_of(getattr(wrapper, "fget", None))
            if site is not None and not site.resolved and not site.counts.dropped:
                wanted[id(site.func)] = (len(functions), name)
                functions.append(site.func)
    if not functions:
        return
    from snapy_capture.hook._patch import label_key  # noqa: PLC0415

    modules: dict[int, object] = {}
    for module in list(sys.modules.values()):
        namespace = getattr(module, "__dict__", None)
        if isinstance(namespace, dict):
            modules[id(namespace)] = namespace.get("__name__")

    def target_of(value: Any) -> str | None:
        hit = wanted.get(id(value))
        return hit[1] if hit is not None and functions[hit[0]] is value else None

    for referrer in gc.get_referrers(*functions):
        kind = type(referrer)
        if referrer is functions:
            continue
        if kind is dict:
            for key, value in list(referrer.items()):
                holder = target_of(value)
                if holder is None or key == "__wrapped__":
                    continue
                home = modules.get(id(referrer))
                where = f"{home}.{key}" if home else f"a dict under {label_key(key)}"
                _note(targets[holder], where)
        elif kind in (list, tuple, set):
            for value in list(referrer):
                holder = target_of(value)
                if holder is not None:
                    _note(targets[holder], f"a {kind.__name__}")


def _note(entry: dict[str, Any], where: str) -> None:
    held = entry.setdefault("held_unwrapped", [])
    if where not in held:
        held.append(where)


def merge(into: dict[str, Any], other: Mapping[str, Any]) -> None:
    """Add another process's counts (from :func:`collect`) to ``into``."""
    for name, theirs in other.items():
        mine = into.get(name)
        if not isinstance(theirs, dict):
            continue
        if mine is None:
            into[name] = theirs
            continue
        mine["module_imported"] = bool(mine.get("module_imported") or theirs.get("module_imported"))
        mine["matched"] = bool(mine.get("matched") or theirs.get("matched"))
        for key in ("rebound", "held_unwrapped"):
            mine[key] = list(dict.fromkeys([*mine.get(key, []), *theirs.get(key, [])]))
        functions = mine.setdefault("functions", {})
        for function, counts in dict(theirs.get("functions") or {}).items():
            have = functions.get(function)
            if have is None:
                functions[function] = counts
                continue
            _add_counts(have, counts)


def _add_counts(have: dict[str, Any], counts: Mapping[str, Any]) -> None:
    """Add one function's counts (another process's, or another site's) to ``have``."""
    have["called"] = bool(have.get("called") or counts.get("called"))
    have["capture_off"] = bool(have.get("capture_off") or counts.get("capture_off"))
    for key in ("captured", "dropped", "capture_ns"):
        have[key] = int(have.get(key, 0)) + int(counts.get(key, 0))
    for key in ("drop_reasons", "redactions"):
        bucket = have.setdefault(key, {})
        for item, count in dict(counts.get(key) or {}).items():
            bucket[item] = int(bucket.get(item, 0)) + int(count)


def report(targets: Mapping[str, Any], *, config: str, processes: int) -> dict[str, Any]:
    """The JSON report: each target's counts and status, and the targets that captured
    nothing, with why."""
    listed = []
    nothing = []
    for name, entry in targets.items():
        functions = entry.get("functions") or {}
        captured = sum(int(f.get("captured", 0)) for f in functions.values())
        dropped = sum(int(f.get("dropped", 0)) for f in functions.values())
        spent = sum(int(f.get("capture_ns", 0)) for f in functions.values())
        status, why = _status(name, entry, captured)
        listed.append(
            {
                "target": name,
                "where": entry.get("where", ""),
                "status": status,
                **({"why": why} if why else {}),
                "captured": captured,
                "dropped": dropped,
                "capture_ms": round(spent / 1e6, 1),
                "functions": functions,
                "rebound": entry.get("rebound", []),
                "held_unwrapped": entry.get("held_unwrapped", []),
            }
        )
        if status != "captured":
            nothing.append({"target": name, "status": status, "why": why})
    return {
        "version": REPORT_VERSION,
        "config": config,
        "processes": processes,
        "capture_ms": round(sum(item["capture_ms"] for item in listed), 1),
        "targets": listed,
        "captured_nothing": nothing,
    }


def _status(name: str, entry: Mapping[str, Any], captured: int) -> tuple[str, str]:
    if captured:
        return "captured", ""
    module = name.partition(":")[0]
    functions = entry.get("functions") or {}
    if not entry.get("module_imported"):
        absent = absent_module(module)
        if absent is not None:
            return _STAGES[0], f"no module named {absent}"
        return _STAGES[0], f"the program never imported {module}"
    if not entry.get("matched"):
        return _STAGES[1], f"no function {name.partition(':')[2]} in {module}"
    called = [f for f in functions.values() if f.get("called")]
    if not called:
        held = entry.get("held_unwrapped") or []
        if held:
            return _STAGES[2], (
                f"matched, but never called through the wrapper; still held unwrapped in "
                f"{', '.join(held[:3])}{', ...' if len(held) > 3 else ''}"
            )
        return _STAGES[2], "matched, but never called"
    if any(f.get("capture_off") for f in called) and not any(f.get("dropped") for f in called):
        return _STAGES[3], "called, but capture was off (enabled: false, or sample_rate)"
    reasons: dict[str, int] = {}
    for function in called:
        for reason, count in dict(function.get("drop_reasons") or {}).items():
            reasons[reason] = reasons.get(reason, 0) + int(count)
    if reasons:
        detail = ", ".join(f"{reason} ({count})" for reason, count in reasons.items())
        return _STAGES[3], f"called, but every capture was dropped: {detail}"
    return _STAGES[3], "called, but not captured (sampled out, or the rate limit)"


def summary(built: Mapping[str, Any], hint: str) -> str | None:
    """The one line at exit, or ``None`` when every target captured something."""
    nothing = [item["target"] for item in built["captured_nothing"]]
    if not nothing:
        return None
    named = ", ".join(nothing[:_NAMED])
    if len(nothing) > _NAMED:
        named += f" and {len(nothing) - _NAMED} more"
    return one_line(
        f"{len(nothing)} of {len(built['targets'])} targets captured nothing: {named} ({hint})"
    )


def costly(built: Mapping[str, Any], elapsed: float) -> str | None:
    """The line at exit naming the targets whose capture made the program slow, or ``None``:
    only when the program's threads spent at least :data:`_COSTLY_SECONDS` capturing and at
    least :data:`_COSTLY_SHARE` of the ``elapsed`` seconds since capture was set up (a
    user sees which target to bound, where the cost is otherwise silent)."""
    total = float(built.get("capture_ms", 0)) / 1000
    if total < _COSTLY_SECONDS or total < _COSTLY_SHARE * elapsed:
        return None
    ranked = sorted(built["targets"], key=lambda item: -float(item.get("capture_ms", 0)))
    parts = []
    for item in ranked[:_NAMED_COSTLY]:
        seconds = float(item.get("capture_ms", 0)) / 1000
        if seconds < _COSTLY_SHARE * total:
            break
        calls = int(item.get("captured", 0)) + int(item.get("dropped", 0))
        # Three significant digits: a cheap capture made costly by its number of calls
        # reads "0.00612 ms each", not "0.0 ms each".
        each = f", {seconds * 1000 / calls:.3g} ms each" if calls else ""
        parts.append(f"{item['target']} {seconds:.1f} s ({calls} calls{each})")
    return one_line(
        f"capturing took {total:.1f} s {_of_the_run(built, elapsed)}: {'; '.join(parts)}; "
        "bound it with capture_self: false, sample_rate or max_per_second on such targets "
        "(see the performance guide)"
    )


def _of_the_run(built: Mapping[str, Any], elapsed: float) -> str:
    # Children's capture time is added to the runner's: with several processes at work, more
    # than the program ran ("12.0 s of the program's 5.0 s"), which must not read as a slip.
    processes = int(built.get("processes", 1) or 1)
    if processes > 1:
        return f"in {processes} processes (the program ran {elapsed:.1f} s)"
    return f"of the program's {elapsed:.1f} s"


#: How every report begins (``json.dump(..., indent=2)`` of a dict whose first key is
#: ``version``): what :func:`replaceable` recognizes, its line ends read as ``\n``: on
#: Windows the report is written in text mode (``{\r\n  "version"``), and each run must
#: replace the report the previous one wrote there as anywhere.
_REPORT_START: Final = b'{\n  "version": '


def replaceable(path: str) -> bool:
    """Whether a report may be written at ``path``: nothing there, an empty file, a file
    that is not a regular one (``/dev/null``), or a report an earlier run wrote; not a file
    of the user's (``--report capture.yaml``: the target file would be overwritten)."""
    if not os.path.isfile(path):  # never opened for reading here: a pipe would block
        return True
    try:
        with open(path, "rb") as stream:
            head = stream.read(len(_REPORT_START) + 1)
    except OSError:
        return True  # not readable: the write says why
    return not head or head.replace(b"\r\n", b"\n").startswith(_REPORT_START)


def write_json(path: str, data: Mapping[str, Any]) -> None:
    """Write ``data`` to ``path`` (private to the user: it names the program's functions)."""
    import json  # noqa: PLC0415 - see the imports

    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    descriptor = os.open(path, flags, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
        json.dump(data, stream, indent=2, sort_keys=False)
        stream.write("\n")


def counts_dir() -> str:
    """A new private directory for child processes' counts: what ``tempfile.mkdtemp`` makes
    (mode 0700, a random name, never an existing directory), without importing tempfile
    where it is not loaded yet (shutil, random, re: ~10 ms at every start of the runner)."""
    if "tempfile" in sys.modules or os.name == "nt":
        import tempfile  # noqa: PLC0415 - loaded already (or Windows' own directories)

        return tempfile.mkdtemp(prefix=_COUNTS_PREFIX)
    # tempfile's own candidates, in its order.
    bases = [os.environ.get(name) for name in ("TMPDIR", "TEMP", "TMP")]
    error: OSError = FileNotFoundError("no usable temporary directory")
    for base in [*filter(None, bases), "/tmp", "/var/tmp", "/usr/tmp", os.getcwd()]:  # noqa: S108
        for _attempt in range(10):
            path = os.path.join(os.path.abspath(base), f"{_COUNTS_PREFIX}{os.urandom(8).hex()}")
            try:
                os.mkdir(path, 0o700)
            except FileExistsError as exc:  # taken: another name
                error = exc
                continue
            except OSError as exc:  # not usable: the next directory
                error = exc
                break
            return path
    raise error


def leave_counts(directory: str, targets: Mapping[str, Any]) -> None:
    """A child's counts, for the runner to add up (no error escapes: the runner may be gone)."""
    with contextlib.suppress(OSError, TypeError, ValueError):
        write_json(os.path.join(directory, f"{os.getpid()}.json"), {"targets": targets})


def gather(directory: str) -> Iterable[Mapping[str, Any]]:
    """The counts the children left, read once; the directory is removed."""
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    if not names:
        return []
    import json  # noqa: PLC0415 - see the imports

    found = []
    for name in names:
        path = os.path.join(directory, name)
        try:
            if name.endswith(".json"):
                with open(path, encoding="utf-8") as stream:
                    data = json.load(stream)
                if isinstance(data, dict) and isinstance(data.get("targets"), dict):
                    found.append(data["targets"])
        except (OSError, ValueError):
            pass
        with contextlib.suppress(OSError):
            os.unlink(path)
    with contextlib.suppress(OSError):
        os.rmdir(directory)
    return found


def say(line: str) -> None:
    """Write one line to stderr; a closed stderr loses it, not the program's exit."""
    stream = sys.stderr
    if stream is None:
        return
    try:
        stream.write(f"{line}\n")
        stream.flush()
    except (OSError, ValueError):
        pass


def finish(
    hook: Any,
    *,
    config: str,
    hint: str,
    report_path: str | None = None,
    directory: str | None = None,
    owner: bool = True,
    only_if_used: bool = False,
) -> None:
    """At exit: a child leaves its counts in ``directory``; the process that reports adds up
    what its children left there, writes the report to ``report_path`` and says in one line
    which targets captured nothing (with ``only_if_used`` and no report asked for: only the
    targets whose module this process imported, so a process that has nothing to do with
    the targets says nothing)."""
    targets = collect(hook)
    if report_path or not owner:
        # Only the report says where an uncalled target's function is still held (the line
        # at exit names targets alone), and a child's counts go to the process that may
        # write one: without either, the pass over the heap (~2 ms) would tell no one.
        explain_uncalled(hook, targets)
    if not owner:
        if directory:
            leave_counts(directory, targets)
        return
    processes = 1
    if directory:
        for other in gather(directory):
            merge(targets, other)
            processes += 1
    built = report(targets, config=config, processes=processes)
    if report_path:
        try:
            if not replaceable(report_path):
                # SNAP_CAPTURE_REPORT=capture.yaml (autoload cannot refuse it at start).
                raise OSError("exists and is not a report of ours; not overwritten")
            write_json(report_path, built)
        except OSError as exc:
            say(one_line(f"cannot write the report {report_path}: {exc.strerror or exc}"))
    if only_if_used and not report_path:
        # Autoload, in any process the variable reaches: a target whose module this process
        # never imported says nothing about it (a fleet's target file names modules of
        # other programs); none imported, no line at all.
        imported = {name: entry for name, entry in targets.items() if entry.get("module_imported")}
        line = summary(report(imported, config=config, processes=processes), hint)
    else:
        line = summary(built, hint)
    if line is not None:
        say(line)
    started = getattr(hook, "started", None)
    if started is not None:
        cost = costly(built, time.perf_counter() - started)
        if cost is not None:
            say(cost)


@after_fork_in_child
def _forked() -> None:
    """A forked child counts its own captures (its parent counts the ones made before the
    fork), and leaves them for the runner when it exits, as the writer flushes (a child
    that multiprocessing forked leaves through ``os._exit``, after its finalizers)."""
    hook = _installed_hook()
    if hook is None:
        return
    site_of = _site_reader(hook)
    for sites in hook.sites.values():
        for _qualname, wrapper in sites:
            site = site_of(wrapper) or site_of(getattr(wrapper, "fget", None))
            if site is not None:
                site.counts.reset()
    util = sys.modules.get("multiprocessing.util")
    if util is not None and os.environ.get(COUNTS_ENV):
        _leave_at_child_exit(util)
        # Registered in a registry multiprocessing clears while it sets the child up; its
        # after-fork callbacks run after that.
        util.register_after_fork(util, _leave_at_child_exit)


def _installed_hook() -> Any:
    """The installed import hook, if any: the finder's module holds it (it imports this
    module, so it is read where it is rather than imported: no hook without it loaded)."""
    finder = sys.modules.get("snapy_capture.hook._finder")
    return None if finder is None else finder.current()


def _leave_at_child_exit(util: Any) -> None:
    util.Finalize(None, _leave_now, exitpriority=1)  # after the writer's flush (priority 100)


def _leave_now() -> None:
    hook, directory = _installed_hook(), os.environ.get(COUNTS_ENV)
    if hook is not None and directory:
        leave_counts(directory, collect(hook))


def own_report() -> None:
    """This process is the one that reports (the runner): it leaves no counts of its own."""
    _owner[:] = [os.getpid()]


def _first_capture(counts: _stats.SiteCounts) -> None:
    """A child's first capture of a site: leave the counts now, in case it never exits."""
    if _owner and _owner[0] == os.getpid():
        return
    with contextlib.suppress(Exception):  # a count lost, never the program's call
        _leave_now()


def watch_first_captures() -> None:
    """Count a child's first captures (see :func:`_first_capture`): called by the hook when it
    loads the capture layer (idempotent)."""
    from snapy_capture.capture import _stats  # noqa: PLC0415

    if _first_capture not in _stats.on_first_capture:
        _stats.on_first_capture.append(_first_capture)


def _site_reader(hook: Any) -> Any:
    """``capture.site_of``, or, when the hook has wrapped nothing (so the capture layer may
    never have been loaded), a stand-in that finds no site, without loading it."""
    if not any(hook.sites.values()):
        return lambda _wrapper: None
    from snapy_capture.capture._pipeline import site_of  # noqa: PLC0415

    return site_of
