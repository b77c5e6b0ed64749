"""``snapy-capture gen-tests``: write a ready pytest module that replays a function's captures.

The module imports the target and parametrizes one test over
:func:`snapy_capture.pytest_plugin.replay_records`. In ``mode="snapshot"`` each case
compares :func:`~snapy_capture.pytest_plugin.replay_outcome` (the result's state, or the
exception raised) with a syrupy ``snapshot``; in ``mode="result"`` (captures recorded with
``record_result=True``) :func:`~snapy_capture.pytest_plugin.assert_replay_matches` compares
with the recorded result. Either way a method runs on the instance captured with the call
(the test passes ``Owner.method``; nothing to build by hand), and a case that cannot be
replayed is skipped with the reason.

The module opens with a ``SUBSTITUTES`` block listing the paths the filters removed from
the captures' inputs, commented out, ready to be given test values.

The target module is imported once, to tell functions from methods and coroutines; when it
cannot be imported, nothing is written (the test could not import it either).

No silent nothing: a suite that could only skip is refused with one line saying why (no
captures, naming the directories searched; every capture unloadable, or skipped for filtered
values without substitutes).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import json
import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from snapy_capture.config import is_url
from snapy_capture.errors import CaptureNotFoundError, GenerateError
from snapy_capture.hook import TargetNotFoundError, project_on_path, resolve
from snapy_capture.replay._cases import collect_cases, skip_reason
from snapy_capture.replay._substitutes import covered, input_filtered, is_unstored
from snapy_capture.replay.loader import CaptureLoader
from snapy_capture.storage._files import _make_private_dirs, _read_file, _write_private

__all__ = ["FROZEN_DIR", "GenerateError", "generate_test_module", "refresh_frozen"]

#: The directory, next to a generated module, its frozen captures are copied to.
FROZEN_DIR: Final = "snapy_captures"

Mode = Literal["snapshot", "result"]
_MODES: Final = ("snapshot", "result")
_GENERATORS: Final = ("generator", "asyncgen")
# Names the generated module defines or imports; a target called like one is aliased.
_TAKEN: Final = frozenset(
    {
        "pytest",
        "Path",
        "CAPTURES",
        "SUBSTITUTES",
        "replay_outcome",
        "replay_records",
        "assert_replay_matches",
        "snapshot",
        "record",
        "annotations",
    }
)


@dataclass(frozen=True)
class _Target:
    module: str  # what the test imports from
    name: str  # module:qualname as stored in the captures
    qualname: str
    # function, method, init (a class's __init__), static (static/classmethod), property,
    # unknown
    kind: str
    flavour: str  # plain, coroutine, generator, asyncgen


@dataclass(frozen=True)
class _Plan:
    """Everything one generated module depends on."""

    target: _Target
    captures: str | None  # the CAPTURES expression, None to read the plugin's paths
    limit: int | None
    mode: str
    filtered: dict[str, str]  # input redaction path -> reason, for the SUBSTITUTES block
    substitutes: dict[str, str]  # redaction path -> the literal given for it
    deterministic: bool
    returns_generator: bool = False  # a generator function, or its captures returned one


def generate_test_module(
    name: str,
    *,
    path: str | os.PathLike[str] | None = None,
    output: str | os.PathLike[str] | None = None,
    limit: int | None = None,
    mode: Mode | str = "snapshot",
    import_path: str | None = None,
    overwrite: bool = False,
    deterministic: bool = False,
    substitutes: Mapping[str, Any] | None = None,
    freeze: bool = True,
) -> str:
    """Return (and, with ``output``, write) the source of a pytest module replaying ``name``.

    Args:
        name: the captured function: ``module:qualname``, a qualname or a dotted suffix. A
            ``module:qualname`` without captures yet is accepted (its test skips until
            captures arrive).
        path: the capture directory the test reads. With ``output`` it is written relative
            to the test file (``Path(__file__).parent / ...``); ``None`` leaves the choice to
            the plugin's ``--snapy-capture-path`` / the default paths.
        output: file to write; ``None`` or ``"-"`` only returns the source.
        limit: replay at most this many (the newest) captures.
        mode: ``"snapshot"`` (syrupy) or ``"result"`` (compare with the recorded result).
        import_path: module to import the function from, when it differs from the captured
            module (required for functions captured in a script run as ``__main__``).
        overwrite: replace an existing ``output`` file.
        deterministic: replay each case with the clock frozen at its capture's time and
            ``random`` seeded per case (needs time-machine: ``snapy-capture[time]``).
        substitutes: test values for filtered inputs, keyed by redaction path, written into
            the module's ``SUBSTITUTES`` (each must be a Python literal).
        freeze: with ``output``, copy the captures replayed into ``snapy_captures/`` next
            to it (byte for byte: signed captures stay signed), and have the module read
            them from there: the suite runs from any directory, survives ``clear`` and new
            captures change it only through :func:`refresh_frozen` (``--refresh``). Captures
            of one local directory only; others are read where they are.

    Returns:
        The module's source code.

    Raises:
        GenerateError: bad arguments, a target that a test cannot import, an existing
            ``output`` without ``overwrite``, syrupy missing for ``mode="snapshot"``, or a
            suite that could only skip: no captures, or every one unloadable or skipped.
        AmbiguousCaptureError: ``name`` matches several captured functions.
    """
    if mode not in _MODES:
        raise GenerateError(f"mode must be 'snapshot' or 'result', got {mode!r}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise GenerateError(f"limit must be a positive integer, got {limit!r}")
    destination = None if output is None or os.fspath(output) == "-" else Path(output)
    if destination is not None:
        _check_destination(destination)
    if destination is not None and destination.exists() and not overwrite:
        raise GenerateError(f"{destination} already exists (pass overwrite=True / --force)")
    if mode == "snapshot" and importlib.util.find_spec("syrupy") is None:
        # Without it the module fails at collection with "fixture 'snapshot' not found".
        raise GenerateError(
            "syrupy is not installed here and snapshot tests need its 'snapshot' fixture: "
            'pip install "snapy-capture[pytest]" (or use --mode result)'
        )
    if deterministic and importlib.util.find_spec("time_machine") is None:
        # Every case would skip saying so: a suite that could only skip is refused.
        raise GenerateError(
            "--deterministic replays freeze the clock with time-machine, which is not "
            "installed here: pip install 'snapy-capture[time]' (or leave --deterministic out)"
        )
    given = _literals(substitutes or {})
    target = _target(name, path, import_path)
    filtered, returned_generator = _read_captures(
        target.name, path, limit, str(mode), dict(substitutes or {})
    )
    # Only the test values this function's captures need: a suite-wide file's others (the
    # login's password in the slugify module) stay out of it.
    given = {key: value for key, value in given.items() if any(covered(p, [key]) for p in filtered)}
    captures = _captures_expr(path, destination)
    if (
        freeze
        and destination is not None
        and _freeze(target.name, path, limit, str(mode), destination)
    ):
        captures = f"Path(__file__).parent / {_literal(FROZEN_DIR)}"
    plan = _Plan(
        target,
        captures,
        limit,
        str(mode),
        filtered,
        given,
        deterministic,
        returned_generator or target.flavour in _GENERATORS,
    )
    source = _render(plan)
    if destination is not None:
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(source, encoding="utf-8")
    return source


def _check_destination(destination: Path) -> None:
    """Refuse now an output that cannot be written, before the captures are frozen next to
    it (which would leave them there with no module)."""
    if destination.is_dir():
        raise GenerateError(f"{destination} is a directory: name the test module file to write")
    ancestor = destination.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise GenerateError(f"cannot write {destination}: {ancestor} is not a directory")


def refresh_frozen(
    name: str,
    output: str | os.PathLike[str],
    *,
    path: str | os.PathLike[str] | None = None,
    limit: int | None = None,
    mode: Mode | str = "snapshot",
    substitutes: Mapping[str, Any] | None = None,
) -> int:
    """Copy the current captures of ``name`` over the frozen ones of the module ``output``
    (written by :func:`generate_test_module`), leaving the module itself as it is.

    ``substitutes`` are those the module holds (or ``--substitutes`` gave): with them, a
    refresh whose every capture has filtered inputs is not refused.

    Returns:
        How many captures the frozen directory now holds.

    Raises:
        GenerateError: no such module, or the captures cannot be frozen (several or remote
            capture directories), or none would run (as for :func:`generate_test_module`).
    """
    destination = Path(output)
    if not destination.is_file():
        raise GenerateError(f"{destination} does not exist: generate it first (without --refresh)")
    resolved = _target_name(name, path)
    _read_captures(resolved, path, limit, str(mode), dict(substitutes or {}))
    copied = _freeze(resolved, path, limit, str(mode), destination)
    if copied is None:
        raise GenerateError(
            f"the captures of {resolved} are not in one local directory: nothing to freeze"
        )
    return copied


def _freeze(
    name: str,
    path: str | os.PathLike[str] | None,
    limit: int | None,
    mode: str,
    destination: Path,
) -> int | None:
    """Copy the captures the module replays to ``<its directory>/snapy_captures/<function>/``
    (the function's directory replaced); ``None`` when they are not all in one local
    directory (then the module reads them where they are)."""
    sources = CaptureLoader(path).locate(name)
    if len(sources) != 1 or not isinstance(sources[0][1].directory, Path):
        return None
    directory = sources[0][1].directory
    where = _has_result if mode == "result" else None
    cases = collect_cases(name, path=path, limit=limit, where=where).cases
    frozen = destination.parent / FROZEN_DIR / directory.name
    staging = frozen.with_name(f".{frozen.name}.new")
    shutil.rmtree(staging, ignore_errors=True)
    # Private like the captures they copy (0700, 0600): production data, filtered.
    _make_private_dirs(staging)
    for source in [directory / ".function.json", *(Path(case.source) for case in cases)]:
        try:
            # Never through a link, never a pipe (a planted link to /etc/shadow, a FIFO
            # that blocks or fails the copy): what is not a regular file is left behind.
            data = _read_file(source)
        except OSError:
            continue
        # The same name (sequence number) keeps each case's id, hence its snapshot's name;
        # the same bytes keep a signature valid.
        _write_private(staging / source.name, data)
    shutil.rmtree(frozen, ignore_errors=True)
    staging.rename(frozen)
    return len(cases)


def _target_name(name: str, path: str | os.PathLike[str] | None) -> str:
    loader = CaptureLoader(path)
    try:
        return loader.resolve(name)
    except CaptureNotFoundError:
        # A suite with nothing to replay only skips: refuse it, saying where we looked.
        searched = ", ".join(loader.paths) or "(no capture path)"
        raise GenerateError(
            f"no captures of {name!r}; searched: {searched} "
            "(capture some first, or pass --path DIR)"
        ) from None


def _target(name: str, path: str | os.PathLike[str] | None, import_path: str | None) -> _Target:
    resolved = _target_name(name, path)
    module, _, qualname = resolved.partition(":")
    if not module or not qualname:
        raise GenerateError(f"expected module:qualname, got {name!r}")
    if "<locals>" in qualname or "<lambda>" in qualname:
        raise GenerateError(f"{resolved} is defined inside a function; a test cannot import it")
    source_module = import_path or module
    if source_module == "__main__":
        raise GenerateError(
            f"{resolved} was captured in a script run as __main__; pass the "
            "module to import it from (import_path / --import-path)"
        )
    if not all(part.isidentifier() for part in [*source_module.split("."), *qualname.split(".")]):
        raise GenerateError(f"cannot import {qualname!r} from {source_module!r}")
    kind, flavour = _inspect(source_module, qualname)
    if kind == "method" and qualname.endswith(".__init__"):
        kind = "init"  # replayed by building the instance: Owner(*args, **kwargs)
    return _Target(source_module, resolved, qualname, kind, flavour)


def _inspect(module: str, qualname: str) -> tuple[str, str]:
    """(kind, flavour) of the target, from the imported object when it can be imported."""
    with project_on_path():
        try:
            imported = importlib.import_module(module)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - the user's module: say why
            # The generated test would fail at collection the same way.
            raise GenerateError(
                f"cannot import module {module!r} ({type(exc).__name__}: {exc}); run "
                "gen-tests where the test will import it from, or name the module to import "
                "the function from with --import-path MODULE"
            ) from None
    try:
        # The import hook's own lookup: a staticmethod/classmethod is seen as what it is.
        owner, _attr, raw, _kind = resolve(imported, qualname)
    except TargetNotFoundError as missing:
        raise GenerateError(str(missing)) from None
    if isinstance(raw, property):
        # Its getter was captured, with the instance as its one argument: the test calls fget.
        return "property", "plain"
    if isinstance(raw, (staticmethod, classmethod)):
        kind, func = "static", raw.__func__
    else:
        kind, func = ("method" if inspect.isclass(owner) else "function"), raw
    func = inspect.unwrap(func) if callable(func) else func
    if inspect.iscoroutinefunction(func):
        return kind, "coroutine"
    if inspect.isasyncgenfunction(func):
        return kind, "asyncgen"
    if inspect.isgeneratorfunction(func):
        return kind, "generator"
    return kind, "plain"


def _captures_expr(path: str | os.PathLike[str] | None, destination: Path | None) -> str | None:
    if path is None:
        return None
    if is_url(os.fspath(path)):
        return _literal(os.fspath(path))  # an object store: the same URL from anywhere
    absolute = os.path.abspath(os.fspath(path))
    if destination is not None:
        try:
            relative = os.path.relpath(absolute, os.path.abspath(destination.parent))
        except ValueError:  # another drive on Windows
            return f"Path({_literal(absolute)})"
        return f"Path(__file__).parent / {_literal(Path(relative).as_posix())}"
    return f"Path({_literal(absolute)})"


def _literal(text: str) -> str:
    return json.dumps(text)  # a double-quoted string literal Python reads back unchanged


def _read_captures(
    name: str,
    path: str | os.PathLike[str] | None,
    limit: int | None,
    mode: str,
    substitutes: dict[str, Any],
) -> tuple[dict[str, str], bool]:
    """The input paths the filters removed in the captures replayed, with their reasons; and
    whether a recorded result is a generator (capture stores only a placeholder for it).

    Raises:
        GenerateError: every case the module would hold is unloadable or skipped (or, in
            result mode, no capture has a result).
    """
    found: dict[str, str] = {}
    where = _has_result if mode == "result" else None
    cases = collect_cases(name, path=path, limit=limit, where=where).cases
    if not cases:
        searched = ", ".join(CaptureLoader(path).paths) or "(no capture path)"
        raise GenerateError(
            f"no captures of {name} with a recorded result (results are recorded with "
            "record_result, never for generator functions: use --mode snapshot); searched: "
            f"{searched}"
        )
    generator = False
    why: list[str] = []
    for case in cases:
        if case.error is not None:
            why.append(case.error)
            continue
        record = case.record
        reason = skip_reason(record, substitutes)
        if reason is not None:
            why.append(reason)
        result = record.get("result")
        value = result.get("value") if isinstance(result, dict) else None
        generator = generator or (
            isinstance(value, str) and value.startswith("[FILTERED: ") and "generator" in value
        )
        for filtered, cause in input_filtered(record).items():
            shown = cause or "could not be stored"
            if is_unstored(filtered, cause):
                shown += " (optional: the case runs without it)"
            found.setdefault(filtered, shown)
    if len(why) == len(cases):
        raise GenerateError(_nothing_runs(name, len(cases), why, found, substitutes))
    return dict(sorted(found.items())), generator


def has_results(name: str, path: str | os.PathLike[str] | None) -> bool:
    """Whether a capture of ``name`` has a recorded result (result mode has cases)."""
    return bool(collect_cases(name, path=path, limit=None, where=_has_result).cases)


def _has_result(record: dict[str, Any]) -> bool:
    result = record.get("result")
    return isinstance(result, dict) and bool({"value", "exception"} & result.keys())


def _nothing_runs(
    name: str,
    count: int,
    why: list[str],
    filtered: dict[str, str],
    substitutes: Mapping[str, Any],
) -> str:
    """One line: why none of the ``count`` captures of ``name`` would run."""
    blocking = [path for path, reason in filtered.items() if "(optional" not in reason]
    if blocking and all("had values filtered" in reason for reason in why):
        # The paths still without a test value: naming the given ones again reads as if the
        # substitutes file had been ignored.
        given = [path for path in blocking if path in substitutes]
        missing = [path for path in blocking if path not in substitutes]
        if not missing:
            missing, given = blocking, []
        shown = f" (test values given for {', '.join(given)})" if given else ""
        return (
            f"every capture of {name} ({count}) would be skipped: the filters removed "
            f"{', '.join(missing)}{shown}; give SUBSTITUTES for these paths (--substitutes FILE)"
        )
    distinct = list(dict.fromkeys(why))
    shown = "; ".join(distinct[:2]) + (
        f"; and {len(distinct) - 2} more" if len(distinct) > 2 else ""
    )
    return f"none of the {count} capture(s) of {name} would run: {shown}"


def _literals(substitutes: Mapping[str, Any]) -> dict[str, str]:
    """Each substitute as Python source the generated module can hold."""
    written: dict[str, str] = {}
    for key, value in substitutes.items():
        text = _literal(value) if isinstance(value, str) else repr(value)
        try:
            same = _same_literal(ast.literal_eval(text), value)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            same = False
        if not same:
            raise GenerateError(
                f"substitute {key!r} is not a Python literal; give it in the generated "
                "module's SUBSTITUTES or in a suite-wide substitutes file instead"
            )
        written[key] = text
    return written


def _same_literal(read: Any, value: Any) -> bool:
    """Whether ``read`` (a literal read back) is ``value``: equal, and of the same types all
    the way down. A dict subclass equal to its items (tomlkit's document) would otherwise be
    written as a plain dict, and the case would replay on something else than was given."""
    if type(read) is not type(value):
        return False
    if type(read) is dict:
        return read.keys() == value.keys() and all(
            _same_literal(item, value[key]) for key, item in read.items()
        )
    if type(read) in (list, tuple):
        return len(read) == len(value) and all(
            _same_literal(a, b) for a, b in zip(read, value, strict=True)
        )
    return bool(read == value)


def _render(plan: _Plan) -> str:
    target, captures, mode = plan.target, plan.captures, plan.mode
    top = target.qualname.split(".")[0]
    alias = f"{top}_target" if top in _TAKEN else top
    attr = target.qualname.split(".", 1)[1] if "." in target.qualname else ""
    if target.kind == "init":
        attr = attr.removesuffix("__init__").rstrip(".")
    callee = f"{alias}.{attr}" if attr else alias
    if target.kind == "property":
        callee += ".fget"
    lines = [
        *_header(target, captures, mode, top, alias, generator=plan.returns_generator),
        *_substitutes_block(plan.filtered, plan.substitutes),
        "",
        *_parametrize(target, captures, plan.limit, mode),
        *_test_function(target, mode, callee, plan.deterministic),
    ]
    return "\n".join(lines) + "\n"


def _header(
    target: _Target, captures: str | None, mode: str, top: str, alias: str, *, generator: bool
) -> list[str]:
    """The generated module's docstring and imports (and its CAPTURES directory)."""
    imports = "replay_outcome" if mode == "snapshot" else "assert_replay_matches"
    target_import = f"from {target.module} import {top}" + (f" as {alias}" if alias != top else "")
    # isort's sections, so that the module lints clean wherever its target comes from.
    sections: dict[str, list[str]] = {
        "stdlib": ["from pathlib import Path"] if captures is not None else [],
        "thirdparty": [
            "import pytest",
            f"from snapy_capture.pytest_plugin import {imports}, replay_records",
        ],
        "firstparty": [],
    }
    sections[_section(target.module)].append(target_import)
    imported = ["from __future__ import annotations", ""]
    for section in sections.values():
        if section:
            imported += [*sorted(section, key=_isort_key), ""]
    lines = [
        f'"""Characterization tests for {target.name}, generated by `snapy-capture gen-tests`.',
        "",
        "Each case replays one captured call; its id is the capture's sequence number.",
        *_doc_kind(target),
        *(_DOC_SNAPSHOT if mode == "snapshot" else _DOC_RESULT),
        *(_doc_frozen(target) if captures is not None and FROZEN_DIR in captures else ()),
        *(_doc_generator(target) if mode == "result" and generator else ()),
        '"""',
        "",
        *imported,
    ]
    if captures is not None:
        lines += [f"CAPTURES = {captures}", ""]
    return lines


def _section(module: str) -> str:
    """Where isort files ``module``: the standard library, an installed package, or the
    project (anything else, e.g. a module next to the tests)."""
    top = module.partition(".")[0]
    if top in sys.stdlib_module_names:
        return "stdlib"
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return "firstparty"
    origin = spec.origin if spec is not None else None
    if origin and any(part in ("site-packages", "dist-packages") for part in Path(origin).parts):
        return "thirdparty"
    return "firstparty"


def _isort_key(line: str) -> tuple[bool, str]:
    """``import x`` lines before ``from x import y`` ones, each sorted by module."""
    return line.startswith("from "), line.split()[1].lower()


def _substitutes_block(filtered: dict[str, str], given: dict[str, str]) -> list[str]:
    """``SUBSTITUTES``: the filtered paths seen, commented out, ready for test values."""
    lines = [
        "# Test values for what the filters removed from the captures, keyed by redaction path",
        "# (`snapy-capture show` lists them). A case runs once each of its filtered values has",
        "# one here; until then it is skipped, naming them.",
    ]
    if not filtered:
        lines[-1] += " None was filtered in the captures read."
    lines.append("SUBSTITUTES: dict[str, object] = {")
    lines += [f"    {_literal(path)}: {value}," for path, value in given.items()]
    lines += [
        f"    # {_literal(path)}: None,  # {reason}"
        for path, reason in filtered.items()
        if path not in given
    ]
    lines.append("}")
    return lines


def _parametrize(target: _Target, captures: str | None, limit: int | None, mode: str) -> list[str]:
    """The ``parametrize`` decorator: one case per capture (of those with a result)."""
    options = "".join(
        [
            ", path=CAPTURES" if captures is not None else "",
            f", limit={limit}" if limit is not None else "",
            ", with_result=True" if mode == "result" else "",
            ", substitutes=SUBSTITUTES",
        ]
    )
    return [
        "",
        "@pytest.mark.parametrize(",
        '    "record",',
        f"    replay_records({_literal(target.name)}{options}),",
        ")",
    ]


def _test_function(target: _Target, mode: str, callee: str, deterministic: bool) -> list[str]:
    """The parametrized test: it replays each captured call, and compares."""
    slug = "_".join(part.lower() for part in target.qualname.split("."))
    options = ", deterministic=True" if deterministic else ""
    if target.kind == "init":
        slug = slug.removesuffix("___init__")
        if mode != "snapshot":
            return [
                f"def test_{slug}_builds_the_recorded_instances(record):",
                '    """Each captured construction builds an instance in the recorded state."""',
                f"    assert_replay_matches({callee}, record{options})",
            ]
        return [
            f"def test_{slug}_builds_captured_instances(record, snapshot):",
            '    """Each captured construction builds the instance stored in its snapshot."""',
            f"    assert replay_outcome({callee}, record{options}) == snapshot",
        ]
    if mode != "snapshot":
        return [
            f"def test_{slug}_matches_recorded_results(record):",
            '    """Each captured call still gives the result recorded with it."""',
            f"    assert_replay_matches({callee}, record{options})",
        ]
    return [
        f"def test_{slug}_replays_captured_calls(record, snapshot):",
        '    """Each captured call still gives the outcome stored in its snapshot."""',
        f"    assert replay_outcome({callee}, record{options}) == snapshot",
    ]


def _doc_kind(target: _Target) -> tuple[str, ...]:
    return {"method": _DOC_METHOD, "init": _DOC_INIT, "property": _DOC_PROPERTY}.get(
        target.kind, ()
    )


_DOC_METHOD: Final = (
    "Methods run on a copy of the instance captured with each call; what they leave in it",
    "is checked too.",
)
_DOC_INIT: Final = (
    "Each case builds the instance from the captured arguments and checks its state.",
)


_DOC_PROPERTY: Final = ("The property's getter runs on the instance captured with each call.",)


def _doc_generator(target: _Target) -> tuple[str, ...]:
    """Why a result-mode module of a generator has nothing (or little) to compare."""
    if target.flavour in _GENERATORS:
        return (
            "It is a generator function: capture records no result for it (it never consumes",
            "the program's generator), so its cases skip saying so. Use --mode snapshot to",
            "characterize the items it yields.",
        )
    return (
        "The function returns a generator, which capture never consumes: results hold no",
        "items, so cases skip saying so unless the call raised. Use --mode snapshot for items.",
    )


_DOC_SNAPSHOT: Final = (
    "Review the outcomes (results, or the exceptions raised), then record them with",
    "`pytest --snapshot-update`; from then on a change in behaviour fails the test.",
)


def _doc_frozen(target: _Target) -> tuple[str, ...]:
    return (
        f"The captures replayed are frozen in {FROZEN_DIR}/ next to this file (commit them",
        "with it); new captures come in only with",
        f"`snapy-capture gen-tests {target.name} -o <this file> --refresh`.",
    )


_DOC_RESULT: Final = (
    "Each result is compared with the one recorded when the call was captured",
    "(captured with record_result=True); a difference fails with a diff.",
)
