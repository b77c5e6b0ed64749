"""The ``snapy-capture`` command line (also ``python -m snapy_capture``).

``main(argv, stdout, stderr, stdin) -> int`` takes its streams as arguments so tests drive it
exactly as a user would. Exit codes: 0 ok, 1 failures found (unknown name, check errors,
nothing readable), 2 usage (bad arguments, a deletion without confirmation). Every error is
one line on stderr starting ``snapy-capture: error:``; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
import warnings
from collections.abc import Callable, Sequence
from typing import IO, Any, NoReturn

from snapy_capture._version import __version__
from snapy_capture.cli import _commands as commands
from snapy_capture.cli import _setup as setup
from snapy_capture.cli._commands import EXIT_FAILED, EXIT_USAGE, CliError, Context
from snapy_capture.cli._format import SHOW_CHARS, SHOW_ITEMS
from snapy_capture.config import parse_option
from snapy_capture.errors import SnapyCaptureError

__all__ = ["main", "main_entry"]

PROG = "snapy-capture"
Command = Callable[[argparse.Namespace, Context], int]


class _UsageError(Exception):
    """Raised instead of argparse's ``sys.exit(2)``, so ``main`` decides how it is shown."""


class _Exit(Exception):
    """Raised instead of ``sys.exit`` by ``--help`` and ``--version``."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that writes to the injected streams and never calls ``sys.exit``."""

    out: IO[str] = sys.stdout

    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{message} (see '{self.prog} --help')")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            self._print_message(message)
        raise _Exit(status)

    def _print_message(self, message: str, file: Any = None) -> None:
        if message:
            self.out.write(message)


def _option(name: str) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            return parse_option(name, text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc).split(": ", 1)[-1]) from None

    parse.__name__ = name.replace("_", "-")
    return parse


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {value}")
    return value


def _positive(text: str) -> int:
    value = _non_negative(text)
    if value == 0:
        raise argparse.ArgumentTypeError("expected 1 or more, got 0")
    return value


class _Commands:
    """Adds sub-commands to the parser, with the option groups each one takes."""

    def __init__(self) -> None:
        # Options shared by every command, accepted before or after the command name.
        # SUPPRESS keeps a sub-command from overwriting a value given before it with its
        # default.
        self.common = _Parser(add_help=False)
        self.common.add_argument(
            "--debug",
            action="store_true",
            default=argparse.SUPPRESS,
            help="show the traceback of an unexpected error",
        )
        self.storage = _Parser(add_help=False)
        self.storage.add_argument(
            "--path",
            metavar="DIR",
            default=argparse.SUPPRESS,
            help="capture directory or object-store URL, e.g. s3://bucket/prefix "
            "(default: SNAP_CAPTURE_DEFAULT_PATH or ./captures)",
        )
        # Reading pickle captures of your own classes needs your project importable; nothing
        # is added to sys.path unless you say so (a .py planted next to the captures must
        # not run).
        self.reading = _Parser(add_help=False)
        self.reading.add_argument(
            "--import-path",
            metavar="DIR",
            action="append",
            default=[],
            help="put DIR on sys.path while loading (repeatable; e.g. your project's directory)",
        )
        self.sub: Any = None  # the parser's sub-parsers, once it exists

    def add(
        self,
        name: str,
        func: Command,
        help_text: str,
        *,
        uses_path: bool = True,
        loads: bool = False,
    ) -> argparse.ArgumentParser:
        parents = [self.common, self.storage] if uses_path else [self.common]
        if loads:
            parents.append(self.reading)
        cmd: argparse.ArgumentParser = self.sub.add_parser(
            name, parents=parents, help=help_text, description=help_text
        )
        cmd.set_defaults(func=func)
        return cmd


def build_parser(out: IO[str]) -> argparse.ArgumentParser:
    """The argument parser; help text is written to ``out``."""
    parser_class: type[_Parser] = type("_BoundParser", (_Parser,), {"out": out})
    commands_ = _Commands()
    parser = parser_class(
        prog=PROG,
        parents=[commands_.common, commands_.storage],
        description="Look at, export, prune and replay captured arguments.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands_.sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=parser_class
    )
    _reading_commands(commands_)
    _maintenance_commands(commands_)
    _transfer_commands(commands_)
    _setup_commands(commands_)
    return parser


def _reading_commands(commands_: _Commands) -> None:
    cmd = commands_.add(
        "list", commands.cmd_list, "list captured functions: count, newest, oldest, size"
    )
    cmd.add_argument("--json", action="store_true", help="machine-readable output")

    cmd = commands_.add(
        "show",
        commands.cmd_show,
        "print one capture: arguments, metadata, redactions, result",
        loads=True,
    )
    cmd.add_argument("name", metavar="NAME", help="module:qualname, qualname or a suffix")
    cmd.add_argument(
        "--index",
        "-i",
        type=_non_negative,
        default=0,
        metavar="I",
        help="which capture, 0 = newest (default 0)",
    )
    cmd.add_argument(
        "--full",
        action="store_true",
        help=f"print long values whole (default: the first {SHOW_ITEMS} items of a list or "
        f"mapping, {SHOW_CHARS} characters of a string; --json is always whole)",
    )
    cmd.add_argument("--json", action="store_true", help="machine-readable output")

    cmd = commands_.add(
        "export", commands.cmd_export, "write the captures of a function as JSON", loads=True
    )
    cmd.add_argument("name", metavar="NAME", help="module:qualname, qualname or a suffix")
    cmd.add_argument(
        "--format",
        choices=("json", "jsonl"),
        default="json",
        help="one JSON array, or one capture per line (default json)",
    )
    cmd.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    cmd.add_argument("--limit", type=_positive, metavar="N", help="at most N, newest first")


def _maintenance_commands(commands_: _Commands) -> None:
    cmd = commands_.add(
        "prune",
        commands.cmd_prune,
        "apply retention and max-age now; remove orphaned temporary files",
    )
    cmd.add_argument(
        "--retention",
        type=_option("retention"),
        default=commands.FROM_CONFIG,
        metavar="N|none",
        help="captures kept per function (default: configured)",
    )
    cmd.add_argument(
        "--max-age",
        type=_option("max_age"),
        default=commands.FROM_CONFIG,
        metavar="AGE",
        help="drop captures older than this, e.g. 7d, 12h, 3600 (default: configured)",
    )
    cmd.add_argument("--json", action="store_true", help="machine-readable output")

    cmd = commands_.add("clear", commands.cmd_clear, "delete the captures of one function, or all")
    cmd.add_argument("name", metavar="NAME", nargs="?", help="the function whose captures go")
    cmd.add_argument("--all", action="store_true", help="delete every capture under --path")
    cmd.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")

    cmd = commands_.add(
        "migrate",
        commands.cmd_migrate,
        "rename class references in the pickled captures of one function (a class moved)",
    )
    cmd.add_argument("name", metavar="NAME", help="module:qualname, qualname or a suffix")
    cmd.add_argument(
        "--rename",
        action="append",
        required=True,
        metavar="OLD=NEW",
        help="old.module:OldClass=new.module:NewClass (repeatable); nothing is unpickled",
    )


def _transfer_commands(commands_: _Commands) -> None:
    cmd = commands_.add(
        "pull",
        commands.cmd_pull,
        "copy the captures of an object store (s3://bucket/prefix) into a local directory",
        uses_path=False,
    )
    cmd.add_argument("source", metavar="URL", help="the object store, e.g. s3://bucket/prefix")
    cmd.add_argument("destination", metavar="DIR", help="the local capture directory")
    cmd = commands_.add(
        "push",
        commands.cmd_push,
        "copy the captures of a local directory into an object store",
        uses_path=False,
    )
    cmd.add_argument("source", metavar="DIR", help="the local capture directory")
    cmd.add_argument("destination", metavar="URL", help="the object store, e.g. s3://bucket/p")


def _setup_commands(commands_: _Commands) -> None:
    cmd = commands_.add(
        "check",
        setup.cmd_check,
        "validate a target file: does each target import and resolve?",
        uses_path=False,
    )
    cmd.add_argument("config", metavar="FILE", help="the YAML target file (capture.yaml)")
    cmd.add_argument("--json", action="store_true", help="machine-readable output")

    cmd = commands_.add(
        "gen-tests",
        setup.cmd_gen_tests,
        "generate a pytest module replaying the captures of a function",
    )
    cmd.add_argument(
        "name", metavar="NAME", nargs="?", help="module:qualname, qualname or a suffix"
    )
    cmd.add_argument(
        "--config",
        metavar="FILE",
        help="instead of NAME: a module per captured function of this target file's "
        "targets, written to the directory -o DIR (targets without captures are skipped)",
    )
    cmd.add_argument(
        "--output", "-o", metavar="FILE", help="write here instead of stdout (--config: a DIR)"
    )
    cmd.add_argument(
        "--mode",
        choices=("snapshot", "result"),
        default="snapshot",
        help="compare with a syrupy snapshot, or with the recorded result (--config: for "
        "the functions whose captures recorded results; the others use snapshot mode)",
    )
    cmd.add_argument("--limit", type=_positive, metavar="N", help="at most N captures")
    cmd.add_argument(
        "--import-path",
        metavar="MODULE",
        help="module the test imports the function from (needed for functions "
        "captured in a script run as __main__)",
    )
    cmd.add_argument("--force", action="store_true", help="overwrite an existing --output")
    cmd.add_argument(
        "--refresh",
        action="store_true",
        help="replace the frozen captures of the module -o FILE with the current ones "
        "(the module itself is left as it is)",
    )
    cmd.add_argument(
        "--live",
        action="store_true",
        help="do not freeze: the module reads the capture directory as it is when the tests "
        "run (default: the captures replayed are copied to snapy_captures/ next to it)",
    )
    cmd.add_argument(
        "--substitutes",
        metavar="FILE",
        help="test values for filtered inputs (.py defining SUBSTITUTES, .json or .yaml), "
        "written into the module's SUBSTITUTES (only those its captures need)",
    )
    cmd.add_argument(
        "--deterministic",
        action="store_true",
        help="replay each case with the clock frozen at its capture's time and random "
        "seeded per case (needs time-machine: pip install 'snapy-capture[time]')",
    )

    for name, func, text in (
        (
            "enable",
            setup.cmd_enable,
            "install the autoload .pth switch: processes with SNAP_CAPTURE_CONFIG set are captured",
        ),
        ("disable", setup.cmd_disable, "remove the switch installed by 'enable'"),
    ):
        cmd = commands_.add(name, func, text, uses_path=False)
        cmd.add_argument(
            "--site-dir",
            metavar="DIR",
            help="site-packages directory (default: this environment's)",
        )


def main(
    argv: Sequence[str] | None = None,
    stdout: IO[str] | None = None,
    stderr: IO[str] | None = None,
    stdin: IO[str] | None = None,
) -> int:
    """Run the command line; returns the exit code.

    Args:
        argv: the arguments (default ``sys.argv[1:]``).
        stdout, stderr, stdin: the streams to use (default the process's own).

    Returns:
        0 ok, 1 failures found, 2 usage error.
    """
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    args_in = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_in
    parser = build_parser(out)
    try:
        args = parser.parse_args(args_in)
    except _UsageError as exc:
        return _fail(err, str(exc), EXIT_USAGE)
    except _Exit as exc:
        return exc.code
    if getattr(args, "command", None) is None:
        parser.print_help()
        return EXIT_USAGE
    if args.command == "clear" and bool(args.name) == bool(args.all):
        return _fail(err, "clear needs a function NAME or --all (not both)", EXIT_USAGE)
    ctx = Context(
        out=out,
        err=err,
        stdin=stdin if stdin is not None else sys.stdin,
        path=getattr(args, "path", None),
    )
    return _run(args.func, args, ctx, debug)


def _run(func: Command, args: argparse.Namespace, ctx: Context, debug: bool) -> int:
    """Run one command: every failure is one line on stderr (``--debug``: the traceback)."""
    err = ctx.err
    with warnings.catch_warnings():
        # A library warning (a bad SNAP_CAPTURE_* variable, a skipped file) is one line here.
        warnings.simplefilter("default")
        warnings.showwarning = _warning_printer(err)
        try:
            return func(args, ctx)
        except CliError as exc:
            return _fail(err, exc.message, exc.exit_code)
        except BrokenPipeError:
            raise  # the reader went away (`| head`): main_entry ends quietly
        except (SnapyCaptureError, OSError, ValueError) as exc:
            if debug:
                traceback.print_exc(file=err)
            return _fail(err, _one_line(exc), EXIT_FAILED)
        except SystemExit as exc:
            # Our commands return their exit code; only the user's code a command runs (a
            # module imported to unpickle or inspect) raises this. Not a silent exit.
            if debug:
                traceback.print_exc(file=err)
            return _fail(
                err,
                f"code run by '{args.command}' called sys.exit({exc.code!r}); "
                "rerun with --debug to see where",
                EXIT_FAILED,
            )
        except KeyboardInterrupt:
            return _fail(err, "interrupted", 130)
        except Exception as exc:  # noqa: BLE001 - a user never sees our traceback unasked
            if debug:
                traceback.print_exc(file=err)
                return _fail(err, f"unexpected {_one_line(exc)}", EXIT_FAILED)
            return _fail(
                err,
                f"unexpected {_one_line(exc)} (rerun with --debug for the traceback)",
                EXIT_FAILED,
            )


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        text = f"{exc.strerror}{where}"
    if isinstance(exc, SnapyCaptureError):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _fail(err: IO[str], message: str, code: int) -> int:
    err.write(f"{PROG}: error: {message}\n")
    return code


def _warning_printer(err: IO[str]) -> Callable[..., None]:
    def show(message: Warning | str, *_: object, **__: object) -> None:
        text = " ".join(str(message).split()).removeprefix("snapy_capture: ")
        err.write(f"{PROG}: warning: {text}\n")

    return show


def main_entry() -> NoReturn:
    """The console script ``snapy-capture``."""
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # `snapy-capture list | head`: the reader left; say nothing, as other tools do, and
        # point stdout at devnull so the interpreter's final flush does not complain either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = EXIT_FAILED
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    main_entry()
