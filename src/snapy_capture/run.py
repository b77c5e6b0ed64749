"""``python -m snapy_capture.run [--config FILE] script.py args...``: run a program captured.

The program sees what ``python script.py args...`` (or ``python -m module args...``) would
give it: ``sys.argv``, ``sys.path[0]``, a real ``__main__`` module with ``__file__``,
``__loader__`` and, for ``-m``, ``__spec__``; its exit code; its exceptions, printed through
``sys.excepthook`` with this runner's frames left out; its stdin, untouched. (The model is
coverage.py's ``execfile.py``; ``runpy.run_path`` is not used because classes defined in a
script run that way cannot be unpickled.)

Targets come from ``--config``, else ``$SNAP_CAPTURE_CONFIG``, else ``./capture.yaml``. Child
Python processes are captured too: the runner exports ``SNAP_CAPTURE_CONFIG`` and puts a
bootstrap ``sitecustomize`` first on ``PYTHONPATH``.

At exit, one line on stderr names the targets that captured nothing, in this process or its
children; ``--report FILE`` writes what each target captured as JSON (see
:mod:`snapy_capture.hook._report`). Our warnings read ``snapy_capture: <message>``.
"""

from __future__ import annotations

import atexit
import builtins
import importlib.machinery
import importlib.util
import os
import sys
import types

from snapy_capture.errors import ConfigError

# Only the hook's start-up part: the capture layer, yaml and wrapt are imported when the
# program imports a target module (see snapy_capture.hook._startup), and the script
# instrumentation (ast) when the script itself is one. Nor typing (TYPE_CHECKING is not
# typing's): it costs a few ms.
from snapy_capture.hook import CONFIG_FILE_ENV, _report, flush, install, own_code, read_targets
from snapy_capture.hook._display import one_line_warnings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any, Final

    from snapy_capture.hook import ImportHook

__all__ = ["main"]

PROG: Final = "python -m snapy_capture.run"
USAGE: Final = f"usage: {PROG} [--config FILE] [--report FILE] (script.py | -m module) [args...]"
HELP: Final = f"""{USAGE}

Run a Python program as the interpreter would, capturing the calls of the functions named
in a target file (no edit to the program's source).

options:
  --config FILE  the YAML target file (default: $SNAP_CAPTURE_CONFIG, else ./capture.yaml)
  --report FILE  write what each target captured (calls captured, dropped and why,
                 filtered paths, targets that captured nothing) as JSON at exit
  -m module      run a module as a script, as 'python -m module' does
  -h, --help     show this help and exit
"""
#: ``signal.SIGINT`` (2 on every platform Python runs on), without the signal module, which
#: imports enum: a few ms at every start.
_SIGINT: Final = 2
BOOTSTRAP_DIR: Final = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_bootstrap")
_THIS_FILE: Final = os.path.normcase(os.path.abspath(__file__))
#: How long the runner waits at exit for captures queued on the background writer.
FLUSH_TIMEOUT: Final = 60.0


class _UsageError(Exception):
    pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the program named by ``argv`` and return its exit code.

    Args:
        argv: the runner's arguments (default: ``sys.argv[1:]``).

    Returns:
        The program's exit code; 2 for a bad command line or a broken target file;
        ``-signal.SIGINT`` when the program ended by an uncaught ``KeyboardInterrupt`` (the
        code ``subprocess`` reports for a ``python`` that did).

    Raises:
        SystemExit: the program's own, when it exited with a message or any object other
            than an int (``sys.exit("bad input")``), for the interpreter to print and exit 1.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        config, report, module, target, program_args = _parse(args)
    except _UsageError as exc:
        sys.stderr.write(f"{USAGE}\n{PROG}: error: {exc}\n")
        return 2
    if target is None:
        sys.stdout.write(HELP)
        return 0
    unwritable = report and _unwritable(report)
    if unwritable:
        # Said now: found out at exit, after the program ran (for hours, perhaps), it is lost.
        sys.stderr.write(f"{PROG}: error: --report {report}: {unwritable}\n")
        return 2
    given = config or os.environ.get(CONFIG_FILE_ENV)
    path = os.path.abspath(given or "capture.yaml")
    try:
        if given is None and not os.path.exists(path):
            raise ConfigError(
                f"{path}: target file not found (pass --config FILE, set "
                f"{CONFIG_FILE_ENV}, or create ./capture.yaml)"
            )
        spec = read_targets(path)
    except ConfigError as exc:
        sys.stderr.write(f"{PROG}: error: {exc}\n")
        return 2
    if spec.refused:  # the user is here to read it: stop, as for any mistake in the file
        for message in spec.refusals():
            sys.stderr.write(f"{PROG}: error: {message}\n")
        return 2
    if not spec.by_module:
        # Not a mistake (emptying the list is a way to stop capturing), but not silent: the
        # line at exit names targets that captured nothing, and there are none to name.
        sys.stderr.write(f"{PROG}: warning: {path} names no targets: nothing will be captured\n")
    report = os.path.abspath(report) if report else None
    one_line_warnings()
    counts = _report.counts_dir()
    _report.own_report()
    pid = os.getpid()
    _export_to_children(path, counts)
    with own_code():  # only the program's own calls are captured (see _execute)
        hook = install(spec)
        # Registered before the program runs, so both run after the program's own handlers
        # (atexit runs the last registered first: the report, then forget_program), and
        # after the interpreter has waited for the program's threads, as python does before
        # atexit: a worker still running when the script's last line returns captures on.
        atexit.register(hook.forget_program)
        atexit.register(_finish, hook, path, report, counts, pid)
        if module:
            return _run_module(target, program_args, hook)
        return _run_path(target, program_args, hook)


def _parse(args: list[str]) -> tuple[str | None, str | None, bool, str | None, list[str]]:
    """(config, report, is_module, script or module name, program arguments); options end at
    the script, as for the interpreter: everything after it belongs to the program."""
    options: dict[str, str | None] = {"--config": None, "--report": None}
    while args:
        arg = args.pop(0)
        if arg in ("-h", "--help"):
            return options["--config"], options["--report"], False, None, []
        option = arg.partition("=")[0]
        if option in options:
            value = arg.partition("=")[2] if "=" in arg else (args.pop(0) if args else "")
            if not value:
                raise _UsageError(f"{option} needs a file name")
            options[option] = value
        elif arg == "-m" or (arg.startswith("-m") and len(arg) > 2):
            name = arg[2:] or (args.pop(0) if args else "")
            if not name:
                raise _UsageError("-m needs a module name")
            return options["--config"], options["--report"], True, name, args
        elif arg == "--":
            if not args:
                raise _UsageError("no script given")
            return options["--config"], options["--report"], False, args[0], args[1:]
        elif arg.startswith("-") and arg != "-":
            raise _UsageError(f"unknown option {arg!r}")
        else:
            return options["--config"], options["--report"], False, arg, args
    raise _UsageError("no script or -m module given")


def _unwritable(report: str) -> str | None:
    """Why the report file cannot be written at exit, or ``None``."""
    path = os.path.abspath(report)
    if os.path.isdir(path):
        return "is a directory"
    if not os.path.isdir(os.path.dirname(path)):
        return f"the directory {os.path.dirname(path)} does not exist"
    if not _report.replaceable(path):
        # ``--report capture.yaml app.py``: the target file (or the script, a data file)
        # would be overwritten at exit.
        return "exists and is not a report of ours; refusing to overwrite it"
    return None


def _export_to_children(config_path: str, counts: str) -> None:
    os.environ[CONFIG_FILE_ENV] = config_path
    os.environ[_report.COUNTS_ENV] = counts
    entries = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if BOOTSTRAP_DIR not in entries:
        os.environ["PYTHONPATH"] = os.pathsep.join([BOOTSTRAP_DIR, *entries])


def _run_path(script: str, args: list[str], hook: ImportHook) -> int:
    if script == "-":
        return _run_stdin(args, hook)
    path = os.path.abspath(script)
    if os.path.isdir(path) or _is_zip(path):
        return _run_main_of(script, args, hook)
    try:
        with open(path, "rb") as stream:
            source = stream.read()
    except OSError as exc:
        sys.stderr.write(
            f"{sys.executable}: can't open file {path!r}: [Errno {exc.errno}] {exc.strerror}\n"
        )
        return 2
    name = os.path.splitext(os.path.basename(path))[0]
    # Set before anything imports, exactly as the interpreter does for a script: the
    # directory of the file a symbolic link leads to (a script linked into ~/bin imports
    # its own modules from where it really is).
    sys.path[0] = os.path.dirname(os.path.realpath(path))
    sys.argv = [script, *args]
    module = _main_module(path, importlib.machinery.SourceFileLoader("__main__", path), None)
    return _execute(module, source, path, name, hook)


def _run_stdin(args: list[str], hook: ImportHook) -> int:
    """``python -``: the program read from stdin, run as the interpreter runs it."""
    sys.path[0] = ""
    sys.argv = ["-", *args]
    source = sys.stdin.read()
    module = _main_module("<stdin>", importlib.machinery.BuiltinImporter, None)
    return _execute(module, source, "<stdin>", "__main__", hook)


def _is_zip(path: str) -> bool:
    """Whether ``path`` is a zip the interpreter would run (``python app.pyz``): one that
    zipimport opens (frozen, imported at start-up already). A ``.py`` file is not tried."""
    if path.endswith(".py") or not os.path.isfile(path):
        return False
    import zipimport  # noqa: PLC0415 - frozen and loaded already: costs a dict lookup

    try:
        zipimport.zipimporter(path)
    except (zipimport.ZipImportError, OSError):
        return False
    return True


def _run_main_of(script: str, args: list[str], hook: ImportHook) -> int:
    """``python DIR`` or ``python app.pyz``: the ``__main__`` module found in it, with it first
    on ``sys.path``, as the interpreter runs it (``runpy._run_module_as_main``)."""
    path = script if os.path.isabs(script) else os.path.join(os.getcwd(), script)
    sys.path[0] = path
    sys.argv = [script, *args]
    spec = importlib.machinery.PathFinder.find_spec("__main__", [path])
    if spec is None or spec.loader is None:
        sys.stderr.write(f"{sys.executable}: can't find '__main__' module in {path!r}\n")
        return 1
    loader: Any = spec.loader
    origin = spec.origin or path
    try:
        source = loader.get_source("__main__") if hasattr(loader, "get_source") else None
        code = None if source is not None else loader.get_code("__main__")
    except Exception as exc:  # noqa: BLE001 - reported as the interpreter reports it
        sys.stderr.write(f"{sys.executable}: can't find '__main__' module in {path!r} ({exc})\n")
        return 1
    module = _main_module(origin, loader, spec)
    return _execute(module, source if source is not None else code, origin, "__main__", hook)


def _run_module(name: str, args: list[str], hook: ImportHook) -> int:
    sys.path[0] = os.getcwd()
    sys.argv = ["-m", *args]
    try:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations is not None:
            package, name = name, f"{name}.__main__"
            spec = importlib.util.find_spec(name)
            if spec is None:
                sys.stderr.write(
                    f"{sys.executable}: No module named {name}; {package!r} is a "
                    f"package and cannot be directly executed\n"
                )
                return 1
    except Exception as exc:  # noqa: BLE001 - reported as the interpreter reports it
        sys.stderr.write(
            f"{sys.executable}: Error while finding module specification for "
            f"{name!r} ({type(exc).__name__}: {exc})\n"
        )
        return 1
    if spec is None:
        sys.stderr.write(f"{sys.executable}: No module named {name}\n")
        return 1
    loader: Any = getattr(spec.loader, "_snapy_loader", spec.loader)
    spec.loader = loader
    origin = spec.origin or name
    try:
        source = loader.get_source(name) if hasattr(loader, "get_source") else None
        code = None if source is not None else loader.get_code(name)
    except Exception as exc:  # noqa: BLE001
        sys.stderr.write(
            f"{sys.executable}: Error while finding module specification for "
            f"{name!r} ({type(exc).__name__}: {exc})\n"
        )
        return 1
    sys.argv[0] = origin
    module = _main_module(origin, loader, spec)
    return _execute(module, source if source is not None else code, origin, name, hook)


def _main_module(
    path: str,
    loader: Any,
    spec: importlib.machinery.ModuleSpec | None,
) -> types.ModuleType:
    module = types.ModuleType("__main__")
    module.__file__ = path
    module.__loader__ = loader
    module.__spec__ = spec
    module.__package__ = spec.parent if spec is not None else None
    module.__dict__.update(__builtins__=builtins, __cached__=None, __annotations__={})
    return module


def _execute(
    module: types.ModuleType,
    source: bytes | str | types.CodeType | None,
    filename: str,
    name: str,
    hook: ImportHook,
) -> int:
    sys.modules["__main__"] = module
    hook.set_script(module, name)
    try:
        if source is None:
            raise ImportError(f"no code object available for {name}")
        if isinstance(source, types.CodeType):
            code = source
        else:
            try:
                if "__main__" in hook.modules or name in hook.modules:
                    # ast, only for a script a target names (see the imports).
                    from snapy_capture.hook._script import instrumented  # noqa: PLC0415

                    code = instrumented(source, filename)
                else:
                    code = compile(source, filename, "exec", dont_inherit=True)
            except SyntaxError as exc:
                if module.__spec__ is not None:  # python -m shows runpy's frames: ours are
                    raise
                # A script that does not compile: the interpreter shows no traceback.
                sys.excepthook(type(exc), exc.with_traceback(None), None)
                return 1
        with own_code(False):
            exec(code, module.__dict__)  # noqa: S102 - running the user's program is the point
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return 0 if exc.code is None else exc.code
        # sys.exit("message"), or any other object: the interpreter prints it as it would
        # for the program (to sys.stderr, or its own stderr when that is None or closed; an
        # object whose __str__ fails as a blank line), and exits 1.
        raise
    except BaseException as exc:  # noqa: BLE001 - reported the way the interpreter would
        exc.with_traceback(_trim(exc.__traceback__))
        if "snapy_capture.capture._proxies" in sys.modules:  # frames of ours can be there
            from snapy_capture.hook._script import as_without_capture  # noqa: PLC0415

            as_without_capture(exc)
        sys.excepthook(type(exc), exc, exc.__traceback__)
        return -_SIGINT if isinstance(exc, KeyboardInterrupt) else 1
    return 0


def _trim(traceback: types.TracebackType | None) -> types.TracebackType | None:
    while (
        traceback is not None
        and os.path.normcase(traceback.tb_frame.f_code.co_filename) == _THIS_FILE
    ):
        traceback = traceback.tb_next
    return traceback


def _finish(hook: ImportHook, config: str, report: str | None, counts: str, pid: int) -> None:
    """At exit: flush, then say which targets captured nothing (a fork of the program leaves
    its counts for the runner instead)."""
    try:
        with own_code():  # a target the report's own calls reach (json...) is not captured
            if not flush(FLUSH_TIMEOUT):
                _report.say("snapy_capture: some captures were still queued at exit and are lost")
            hint = f"see {report}" if report else "see --report"
            _report.finish(
                hook,
                config=config,
                hint=hint,
                report_path=report,
                directory=counts,
                owner=os.getpid() == pid,
            )
    except KeyboardInterrupt:  # Ctrl-C while waiting on the queue: one line, no traceback
        _report.say("snapy_capture: interrupted at exit; captures still queued are lost")
    except Exception as exc:  # noqa: BLE001 - the program's exit code matters more
        _report.say(f"snapy_capture: could not finish capturing: {exc!r}")


def _die_by_sigint() -> None:
    """End as ``python`` ends on an uncaught Ctrl-C: the interpreter finishes exiting (atexit
    handlers run), then kills itself with SIGINT, so a shell sees the signal (a loop stops).
    Letting a KeyboardInterrupt leave ``-m`` makes the interpreter do exactly that; the
    traceback was printed already, so the hook that would print it again is silenced."""
    sys.excepthook = lambda *_: None
    raise KeyboardInterrupt


if __name__ == "__main__":
    _code = main()
    if _code == -_SIGINT:
        _die_by_sigint()
    sys.exit(_code)
