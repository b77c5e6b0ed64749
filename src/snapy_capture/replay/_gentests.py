"""``snapy-capture gen-tests``: write a ready pytest module that replays a function's captures.

The module imports the target, parametrizes one test over
:func:`snapy_capture.pytest_plugin.replay_cases` and asserts against a syrupy ``snapshot``
(``mode="snapshot"``), or over ``replay_records(..., with_result=True)`` with
:func:`~snapy_capture.pytest_plugin.assert_replay_matches` (``mode="result"``, for captures
recorded with ``record_result=True``).

The target module is imported once, if it can be, to tell functions from methods and
coroutines; when it cannot, the qualname decides (a dotted one is taken for a method).
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from snapy_capture.config import is_url
from snapy_capture.errors import CaptureNotFoundError, GenerateError
from snapy_capture.hook import TargetNotFoundError, project_on_path, resolve
from snapy_capture.replay.loader import CaptureLoader

__all__ = ["GenerateError", "generate_test_module"]

Mode = Literal["snapshot", "result"]
_MODES: Final = ("snapshot", "result")
# Names the generated module defines or imports; a target called like one is aliased.
_TAKEN: Final = frozenset(
    {
        "pytest",
        "asyncio",
        "Path",
        "CAPTURES",
        "replay_cases",
        "replay_records",
        "assert_replay_matches",
        "snapshot",
        "args",
        "kwargs",
        "record",
        "instance",
        "annotations",
        "_drain",
    }
)


@dataclass(frozen=True)
class _Target:
    module: str  # what the test imports from
    name: str  # module:qualname as stored in the captures
    qualname: str
    kind: str  # function, method, static (staticmethod/classmethod), unknown
    flavour: str  # plain, coroutine, generator, asyncgen


def generate_test_module(
    name: str,
    *,
    path: str | os.PathLike[str] | None = None,
    output: str | os.PathLike[str] | None = None,
    limit: int | None = None,
    mode: Mode | str = "snapshot",
    import_path: str | None = None,
    overwrite: bool = False,
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

    Returns:
        The module's source code.

    Raises:
        GenerateError: bad arguments, a target that a test cannot import, or an existing
            ``output`` without ``overwrite``.
        AmbiguousCaptureError: ``name`` matches several captured functions.
    """
    if mode not in _MODES:
        raise GenerateError(f"mode must be 'snapshot' or 'result', got {mode!r}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise GenerateError(f"limit must be a positive integer, got {limit!r}")
    destination = None if output is None or os.fspath(output) == "-" else Path(output)
    if destination is not None and destination.exists() and not overwrite:
        raise GenerateError(f"{destination} already exists (pass overwrite=True / --force)")
    target = _target(name, path, import_path)
    if mode == "result" and target.flavour in ("generator", "asyncgen"):
        raise GenerateError(
            f"{target.name} is a generator: results are not recorded for "
            "generators; use mode 'snapshot'"
        )
    source = _render(target, _captures_expr(path, destination), limit, str(mode))
    if destination is not None:
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_text(source, encoding="utf-8")
    return source


def _target(name: str, path: str | os.PathLike[str] | None, import_path: str | None) -> _Target:
    try:
        resolved = CaptureLoader(path).resolve(name)
    except CaptureNotFoundError as exc:
        if ":" not in name:
            raise GenerateError(
                f"{exc} Name it as module:qualname to generate tests for a "
                "function that has no captures yet."
            ) from None
        resolved = name
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
    return _Target(source_module, resolved, qualname, kind, flavour)


def _inspect(module: str, qualname: str) -> tuple[str, str]:
    """(kind, flavour) of the target, from the imported object when it can be imported."""
    fallback = ("method" if "." in qualname else "function", "plain")
    with project_on_path():
        try:
            imported = importlib.import_module(module)
        except Exception:  # noqa: BLE001 - user code may fail to import; the name still works
            return fallback
    try:
        # The import hook's own lookup: a staticmethod/classmethod is seen as what it is.
        owner, _attr, raw, _kind = resolve(imported, qualname)
    except TargetNotFoundError as missing:
        raise GenerateError(str(missing)) from None
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


def _render(target: _Target, captures: str | None, limit: int | None, mode: str) -> str:
    top = target.qualname.split(".")[0]
    alias = f"{top}_target" if top in _TAKEN else top
    attr = target.qualname.split(".", 1)[1] if "." in target.qualname else ""
    callee = f"{alias}.{attr}" if attr else alias
    lines = _header(target, captures, mode, top, alias)
    params = ["args", "kwargs", "snapshot"] if mode == "snapshot" else ["record"]
    if target.kind == "method":
        owner, _, method = callee.rpartition(".")
        lines += [
            "",
            "@pytest.fixture",
            "def instance():",
            '    """The object the captured calls run on: captures do not store `self`."""',
            f"    return {owner}()  # adjust if the constructor needs arguments",
            "",
        ]
        callee = f"instance.{method}"
        params.insert(0, "instance")
    if target.flavour == "asyncgen":
        lines += [
            "",
            "async def _drain(generator):",
            "    return [item async for item in generator]",
            "",
        ]
    options = "".join(
        [
            ", path=CAPTURES" if captures is not None else "",
            f", limit={limit}" if limit is not None else "",
            ", with_result=True" if mode == "result" else "",
        ]
    )
    helper = "replay_cases" if mode == "snapshot" else "replay_records"
    argnames = '("args", "kwargs")' if mode == "snapshot" else '"record"'
    lines += [
        "",
        "@pytest.mark.parametrize(",
        f"    {argnames},",
        f"    {helper}({_literal(target.name)}{options}),",
        ")",
        *_test_function(target, mode, callee, params),
    ]
    return "\n".join(lines) + "\n"


def _header(target: _Target, captures: str | None, mode: str, top: str, alias: str) -> list[str]:
    """The generated module's docstring and imports (and its CAPTURES directory)."""
    stdlib = ["from __future__ import annotations", ""]
    extra = ["import asyncio"] if target.flavour in ("coroutine", "asyncgen") else []
    if captures is not None:
        extra.append("from pathlib import Path")
    if extra:
        stdlib += [*extra, ""]
    imports = "replay_cases" if mode == "snapshot" else "assert_replay_matches, replay_records"
    target_import = f"from {target.module} import {top}" + (f" as {alias}" if alias != top else "")
    lines = [
        f'"""Characterization tests for {target.name}, generated by `snapy-capture gen-tests`.',
        "",
        "Each case replays one captured call; its id is the capture's sequence number.",
        *(_DOC_SNAPSHOT if mode == "snapshot" else _DOC_RESULT),
        '"""',
        "",
        *stdlib,
        "import pytest",
        f"from snapy_capture.pytest_plugin import {imports}",
        "",
        target_import,
        "",
    ]
    if captures is not None:
        lines += [f"CAPTURES = {captures}", ""]
    return lines


def _test_function(target: _Target, mode: str, callee: str, params: list[str]) -> list[str]:
    """The parametrized test: it calls the target as each captured call did, and compares."""
    slug = "_".join(part.lower() for part in target.qualname.split("."))
    if mode != "snapshot":
        return [
            f"def test_{slug}_matches_recorded_results({', '.join(params)}):",
            '    """Each captured call still gives the result recorded with it."""',
            f"    assert_replay_matches({callee}, record)",
        ]
    call = f"{callee}(*args, **kwargs)"
    if target.flavour == "coroutine":
        call = f"asyncio.run({call})"
    elif target.flavour == "generator":
        call = f"list({call})"
    elif target.flavour == "asyncgen":
        call = f"asyncio.run(_drain({call}))"
    return [
        f"def test_{slug}_replays_captured_calls({', '.join(params)}):",
        '    """Each captured call still gives the result stored in its snapshot."""',
        f"    assert {call} == snapshot",
    ]


_DOC_SNAPSHOT: Final = (
    "Review the results, then record them with `pytest --snapshot-update`; from then on a",
    "change in behaviour fails the test. New captures arrive as cases without a snapshot.",
)
_DOC_RESULT: Final = (
    "Each result is compared with the one recorded when the call was captured",
    "(captured with record_result=True); a difference fails with a diff.",
)
