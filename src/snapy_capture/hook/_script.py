"""The program's own script (``__main__``): its target functions are wrapped as it defines them.

A script is not imported, so the finder never sees it, and its body is the whole program: a
function it defines is called before any hook could look at the finished module. So the
script is compiled with a call to :func:`snapy_capture.hook.script_defined` after each
module-level ``def`` and ``class`` (:func:`instrumented`), which wraps the script's targets
before the script goes on to call them.

The runner compiles the script itself. Under autoload the interpreter does, after
``sitecustomize`` has run: :func:`capture_script` (called by autoload when a target names
the script about to run) adds an audit hook that waits for the ``exec`` event of the
script's code object, which the interpreter raises (for ``python app.py`` as for ``python
-m app``) just before running it. The hook runs the instrumented script instead, in the same
``__main__`` namespace, and ends the original's run with the script's own exit: an uncaught
exception is shown by ``sys.excepthook`` with our frames left out and exits with status 1,
as the interpreter does. After the script's ``exec`` event the hook does nothing (an audit
hook cannot be removed: it returns at once on every other event).
"""

from __future__ import annotations

import os
import sys
import types

# ``ast`` is imported where used: autoload imports this module at start-up, and only a
# script a target names is instrumented. Not typing's TYPE_CHECKING: see _startup.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import ast
    from typing import Any, Final

__all__ = ["capture_script", "instrumented", "main_name"]

#: The advice when autoload cannot capture the script.
WORKAROUND: Final = "run it with 'python -m snapy_capture.run' instead"


def instrumented(source: bytes | str, filename: str) -> types.CodeType:
    """``source`` compiled with a call to the hook after each module-level definition."""
    import ast  # noqa: PLC0415 - see the imports

    tree = ast.parse(source, filename)
    tree.body = _announce_definitions(tree.body)
    return compile(ast.fix_missing_locations(tree), filename, "exec", dont_inherit=True)


def _announce_definitions(body: list[ast.stmt]) -> list[ast.stmt]:
    """After each module-level ``def``/``class``, tell the hook, so the script's own target
    functions are wrapped before the script calls them (its body is the whole program)."""
    import ast  # noqa: PLC0415

    statements: list[ast.stmt] = []
    for statement in body:
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(statement, field, None)
            if isinstance(inner, list) and not isinstance(
                statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
            ):
                setattr(statement, field, _announce_definitions(inner))
        for handler in getattr(statement, "handlers", []):
            handler.body = _announce_definitions(handler.body)
        statements.append(statement)
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            call = ast.parse(
                f"__import__('snapy_capture.hook', fromlist=('_',))"
                f".script_defined({statement.name!r})"
            ).body[0]
            line = statement.end_lineno or statement.lineno
            for node in ast.walk(call):
                if isinstance(node, (ast.expr, ast.stmt)):
                    node.lineno = node.end_lineno = line
                    node.col_offset = node.end_col_offset = 0
            statements.append(call)
    return statements


#: What ``capture._proxies.hide_frame`` appends to the file name of our frames on a captured
#: call's path (repeated: this module does not import the capture layer).
_OWN_FRAME: Final = " (a snapy_capture call frame, skipped like importlib._bootstrap)"


def as_without_capture(exc: BaseException) -> None:
    """Leave our captured-call frames out of the tracebacks of ``exc`` and of the exceptions
    it chains or groups, so that it prints as the program's own exception would without
    capture: the program is ending on it, and nothing else reads those tracebacks."""
    pending, seen = [exc], set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        current.__traceback__ = _without_own_frames(current.__traceback__)
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
        pending.extend(getattr(current, "exceptions", None) or ())


def _without_own_frames(first: types.TracebackType | None) -> types.TracebackType | None:
    nodes: list[types.TracebackType] = []
    node = first
    while node is not None:
        nodes.append(node)
        node = node.tb_next
    kept = [n for n in nodes if not n.tb_frame.f_code.co_filename.endswith(_OWN_FRAME)]
    if len(kept) == len(nodes):
        return first
    for index, node in enumerate(kept):
        node.tb_next = kept[index + 1] if index + 1 < len(kept) else None
    return kept[0] if kept else None


def main_name() -> str | None:
    """The importable name of the script this interpreter is about to run (``app`` for
    ``python app.py``, ``pkg.tool`` for ``python -m pkg.tool``), read from its command line
    at start-up; ``None`` for ``-c``, stdin or the interactive prompt."""
    argv = getattr(sys, "argv", None) or [""]
    first = argv[0]
    if first == "-m":
        given: list[str] = [str(arg) for arg in getattr(sys, "orig_argv", ())]
        for index, arg in enumerate(given[1:], 1):
            if arg == "-m" and index + 1 < len(given):
                return given[index + 1]
            if arg.startswith("-m") and len(arg) > 2:
                return arg[2:]
        return None
    if first in ("", "-", "-c"):
        return None
    return os.path.splitext(os.path.basename(first))[0] or None


def capture_script(hook: Any, name: str) -> str | None:
    """Arrange for the script about to run as ``__main__`` (importable as ``name``) to be
    run instrumented, so its targets are captured.

    Returns:
        Why it cannot be, or ``None``.
    """
    if sys.flags.inspect:
        return "'python -i' goes on to an interactive prompt after the script"
    state = _Takeover(hook, name)
    sys.addaudithook(state.on_event)
    return None


class _Takeover:
    """The audit hook waiting for the script's ``exec`` event (see the module's doc)."""

    def __init__(self, hook: Any, name: str) -> None:
        self.hook = hook
        self.name = name
        self.done = False

    def on_event(self, event: str, args: tuple[Any, ...]) -> None:
        if self.done or event != "exec":
            return
        code = args[0] if args else None
        if not isinstance(code, types.CodeType) or code.co_name != "<module>":
            return
        main = sys.modules.get("__main__")
        path = _own_file(main)
        if path is None or not _same_file(code.co_filename, path):
            return
        self.done = True
        assert main is not None  # noqa: S101 - _own_file found its __file__
        source = _source(main, path)
        if source is None:
            _warn(f"cannot read the source of {path}; {WORKAROUND}", self.name)
            return
        try:
            program = instrumented(source, code.co_filename)
        except (SyntaxError, ValueError):
            return  # the interpreter's own compile succeeded: leave the run to it
        self.hook.set_script(main, self.name)
        try:
            exec(program, vars(main))  # noqa: S102 - running the user's program is the point
        except SystemExit:
            raise
        except KeyboardInterrupt:
            raise  # the interpreter's own handling (exit by SIGINT)
        except BaseException as exc:  # noqa: BLE001 - shown as the interpreter shows it
            traceback = exc.__traceback__
            exc.with_traceback(traceback.tb_next if traceback is not None else None)
            as_without_capture(exc)
            sys.excepthook(type(exc), exc, exc.__traceback__)
            raise SystemExit(1) from None
        # The script ran to its end: end the interpreter's own run of it, as it would end.
        raise SystemExit(0)


def _own_file(module: types.ModuleType | None) -> str | None:
    if module is None:
        return None
    path = vars(module).get("__file__")
    return path if isinstance(path, str) else None


def _same_file(first: str, second: str) -> bool:
    return os.path.normcase(os.path.abspath(first)) == os.path.normcase(os.path.abspath(second))


def _source(main: types.ModuleType, path: str) -> bytes | str | None:
    spec = vars(main).get("__spec__")
    loader = getattr(spec, "loader", None)
    if spec is not None and loader is not None and hasattr(loader, "get_source"):
        try:
            source: str | None = loader.get_source(spec.name)
            if source is not None:
                return source
        except Exception:  # noqa: BLE001, S110 - fall back to reading the file
            pass
    try:
        with open(path, "rb") as stream:
            return stream.read()
    except OSError:
        return None


def _warn(message: str, name: str) -> None:
    from snapy_capture.hook._finder import _warn as warn  # noqa: PLC0415 - the finder imports us

    warn(f"snapy_capture: the script {name} runs uncaptured: {message}")
