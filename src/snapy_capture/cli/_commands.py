"""The commands behind ``snapy-capture``: each takes the parsed arguments and a :class:`Context`.

A command prints through the context's streams and returns an exit code; a failure the user
should read about is raised as :class:`CliError` (one line, the code it exits with).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pickletools
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from snapy_capture.cli._format import (
    format_record,
    format_size,
    format_table,
    format_time,
    to_jsonable,
)
from snapy_capture.config import resolve_config
from snapy_capture.errors import CaptureFormatError, ConfigError, SnapyCaptureError
from snapy_capture.replay.loader import CaptureLoader
from snapy_capture.storage import CaptureStorage, FunctionInfo, StoredPath, is_temporary
from snapy_capture.storage._files import _write_private
from snapy_capture.storage._migrate import migrate_captures, parse_renames
from snapy_capture.storage._transfer import copy_captures

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "CliError", "Context"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class CliError(SnapyCaptureError):
    """A failure reported as one line on stderr; ``exit_code`` is 1 (failure) or 2 (usage)."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message, exit_code)
        self.message = message
        self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


@dataclass
class Context:
    """The streams a command talks through, and the storage root it works on."""

    out: IO[str]
    err: IO[str]
    stdin: IO[str]
    path: str | None = None
    _storage: CaptureStorage | None = field(default=None, repr=False)

    @property
    def storage(self) -> CaptureStorage:
        """The storage at ``--path``, else at the configured default path (as the library)."""
        if self._storage is None:
            config = resolve_config()
            self._storage = CaptureStorage(self.path or config.path, signing_key=config.signing_key)
        return self._storage

    def print(self, text: str = "") -> None:
        self.out.write(text + "\n")

    def note(self, text: str) -> None:
        self.err.write(f"snapy-capture: note: {text}\n")

    def json(self, data: Any) -> None:
        self.out.write(json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n")


def _resolve(ctx: Context, name: str) -> FunctionInfo:
    """The captured function ``name`` designates, resolved exactly as the loader does."""
    full = CaptureLoader(storage=ctx.storage).resolve(name)
    for info in ctx.storage.functions():
        if info.name == full:
            return info
    raise CliError(f"no capture found for {name!r}; searched: {ctx.storage.path}")


def problem(storage: CaptureStorage, path: StoredPath) -> str | None:
    """Why the capture file at ``path`` cannot be loaded, or ``None`` when it looks sound.

    Checks the envelope (header, signature) and the payload's structure without running
    anything: a pickle is walked opcode by opcode, never unpickled, so ``list`` imports no
    user code.
    """
    try:
        # Never through a link; a signature verified for this directory's function and number.
        envelope = storage.unpack_file(path)
    except CaptureFormatError as exc:
        return str(exc)
    try:
        if envelope.serializer == "pickle":
            for _ in pickletools.genops(envelope.payload):
                pass
        elif envelope.text:
            json.loads(envelope.payload)
    except Exception as exc:  # noqa: BLE001 - any parse failure means "corrupt"
        return f"corrupt payload ({type(exc).__name__})"
    return None


def _calls(storage: Any, path: StoredPath) -> int:
    """The calls one capture stands for (1 unless deduplication counted more)."""
    try:
        seen = storage.calls(path)
    except (CaptureFormatError, OSError):
        return 1
    return 1 if seen is None else seen[0]


def _stat(path: StoredPath) -> tuple[int, float] | None:
    try:
        result = path.stat()
    except OSError:
        return None
    return result.st_size, result.st_mtime


# --- list -------------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace, ctx: Context) -> int:
    """A table of every captured function: count, newest, oldest, size, directory."""
    storage = ctx.storage
    rows: list[dict[str, Any]] = []
    for info in storage.functions():
        files = [ref.path for ref in storage.captures(info)]  # newest first
        stats = [(path, st) for path in files if (st := _stat(path)) is not None]
        if not stats:
            continue  # cleared, or every file vanished meanwhile: nothing to show
        broken = {path for path, _ in stats if problem(storage, path) is not None}
        corrupt = len(broken)
        times = [st[1] for _, st in stats]
        # Calls the captures stand for (deduplication counts repeats on a kept capture).
        calls = sum(_calls(storage, path) for path, _ in stats if path not in broken)
        rows.append(
            {
                "name": info.name,
                "module": info.module,
                "qualname": info.qualname,
                "count": len(stats) - corrupt,
                "calls": calls,
                "corrupt": corrupt,
                # When the newest and the oldest captures (storage's order) were written.
                "newest": format_time(times[0]),
                "oldest": format_time(times[-1]),
                "size_bytes": sum(st[0] for _, st in stats),
                "directory": str(info.directory),
            }
        )
    if args.json:
        ctx.json({"path": str(storage.path), "functions": rows})
        return EXIT_OK
    if not rows:
        where = "" if storage.path.is_dir() else " (the directory does not exist)"
        if storage.path.exists() and not storage.path.is_dir():
            where = " (it is a file, not a capture directory)"
        if storage.remote:
            where = ""
        ctx.print(f"No captures in {storage.path}{where}.")
        ctx.print(
            "(Captures elsewhere? Pass --path DIR or set SNAP_CAPTURE_DEFAULT_PATH; a "
            "`path:` in capture.yaml is relative to that file.)"
        )
        return EXIT_OK
    headers = ("FUNCTION", "CAPTURES", "CALLS", "CORRUPT", "NEWEST", "OLDEST", "SIZE", "DIRECTORY")
    table = [
        (
            row["name"],
            str(row["count"]),
            str(row["calls"]),
            str(row["corrupt"]),
            row["newest"],
            row["oldest"],
            format_size(row["size_bytes"]),
            os.path.basename(row["directory"]),
        )
        for row in rows
    ]
    ctx.print(f"Captures in {storage.path}:")
    ctx.print(format_table(headers, table, right=frozenset({1, 2, 3, 6})))
    total = sum(row["count"] for row in rows)
    corrupt = sum(row["corrupt"] for row in rows)
    summary = f"{len(rows)} function(s), {total} capture(s)"
    calls = sum(row["calls"] for row in rows)
    if calls != total:
        summary += f" standing for {calls} call(s) (equal calls are stored once)"
    if corrupt:
        summary += f", {corrupt} corrupt file(s) (see 'snapy-capture show NAME')"
    ctx.print(summary + ".")
    return EXIT_OK


# --- show / export ------------------------------------------------------------------------


def _readable(
    ctx: Context, info: FunctionInfo, missing: set[str] | None = None
) -> Iterator[tuple[StoredPath, dict[str, Any]]]:
    """``(file, record)`` newest first; unreadable files are skipped with a note on stderr.
    ``missing`` collects the top-level modules that skipped files name but could not load."""
    # One note per reason: a class that cannot be loaded makes every capture of a method
    # unreadable, and the same advice repeated hides the line that says what to do.
    repeats: dict[str, int] = {}
    for item in ctx.storage.read_captures(info):
        path = item.ref.path
        if item.record is None:
            if path.exists():
                reason = str(item.error)
                if reason in repeats:
                    repeats[reason] += 1
                else:
                    repeats[reason] = 0
                    ctx.note(f"skipping {path}: {reason}")
                ref = getattr(item.error, "ref", None)
                if missing is not None and isinstance(ref, tuple) and ref:
                    missing.add(str(ref[0]).partition(".")[0])
            continue
        yield path, item.record
    for count in repeats.values():
        if count:
            ctx.note(f"{count} more capture(s) skipped for the same reason")


def _nothing_readable(ctx: Context, info: FunctionInfo, missing: set[str]) -> CliError:
    """The one-line error when captures exist but none could be loaded: names the project
    found in the working directory (never imported from by default) when that is why."""
    hint = ""
    if next(ctx.storage.captures(info), None) is not None:
        here = sorted(
            name
            for name in missing
            if name.isidentifier()
            and (os.path.isdir(name) or os.path.isfile(f"{name}.py"))
            and os.path.abspath(os.curdir) not in sys.path
        )
        if here:
            hint = (
                f" ({', '.join(here)} {'is' if len(here) == 1 else 'are'} in the working "
                "directory, which is not imported from unless asked: if it is your project, "
                "add --import-path .)"
            )
        else:
            hint = (
                " (see the notes above; if they name your project's modules, give its "
                "directory with --import-path DIR)"
            )
    return CliError(f"{info.name} has no readable capture in {ctx.storage.path}{hint}")


def cmd_show(args: argparse.Namespace, ctx: Context) -> int:
    """One capture of NAME, pretty-printed (``--json`` for machines)."""
    with _import_paths(args.import_path):
        return _show(ctx, args)


def _show(ctx: Context, args: argparse.Namespace) -> int:
    info = _resolve(ctx, args.name)
    seen = 0
    missing: set[str] = set()
    for path, record in _readable(ctx, info, missing):
        if seen == args.index:
            if args.json:
                ctx.json(
                    {
                        "function": info.name,
                        "index": seen,
                        "file": str(path),
                        "capture": to_jsonable(record),
                    }
                )
            else:
                ctx.print(
                    format_record(
                        record, name=info.name, index=seen, file=str(path), full=args.full
                    )
                )
            return EXIT_OK
        seen += 1
    if seen == 0:
        raise _nothing_readable(ctx, info, missing)
    raise CliError(
        f"{info.name} has {seen} readable capture(s); index {args.index} is out of "
        f"range (0 = newest, {seen - 1} = oldest)"
    )


def cmd_export(args: argparse.Namespace, ctx: Context) -> int:
    """Every capture of NAME as JSON (one array) or JSON Lines (one capture per line)."""
    with _import_paths(args.import_path):
        return _export(ctx, args)


def _export(ctx: Context, args: argparse.Namespace) -> int:
    info = _resolve(ctx, args.name)
    records: list[Any] = []
    missing: set[str] = set()
    for _, record in _readable(ctx, info, missing):
        if args.limit is not None and len(records) >= args.limit:
            break
        records.append(to_jsonable(record))
    if not records and args.limit != 0:
        raise _nothing_readable(ctx, info, missing)  # exit 1, as show: not an empty export
    if args.format == "jsonl":
        text = "".join(json.dumps(r, ensure_ascii=False, allow_nan=False) + "\n" for r in records)
    else:
        text = json.dumps(records, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    if args.output is None or args.output == "-":
        ctx.out.write(text)
        return EXIT_OK
    output = Path(args.output)
    _write_private(output, text.encode("utf-8"))
    ctx.print(f"Exported {len(records)} capture(s) of {info.name} to {output}.")
    return EXIT_OK


@contextlib.contextmanager
def _import_paths(paths: list[str]) -> Iterator[None]:
    """``--import-path``: the directories the user named on ``sys.path`` while loading, and
    nothing else (not the working directory: a module planted next to the captures could
    then run when a capture names it)."""
    saved = list(sys.path)
    sys.path[:0] = [os.path.abspath(path) for path in paths]
    try:
        yield
    finally:
        sys.path[:] = saved


# --- prune / clear ------------------------------------------------------------------------


def _snapshot(storage: CaptureStorage) -> dict[StoredPath, str]:
    return {path: info.name for info in storage.functions() for path in storage.stored_files(info)}


def cmd_prune(args: argparse.Namespace, ctx: Context) -> int:
    """Apply retention and max-age now and remove orphaned temporary files."""
    config = resolve_config()
    retention = config.retention if args.retention is FROM_CONFIG else args.retention
    max_age = config.max_age if args.max_age is FROM_CONFIG else args.max_age
    storage = ctx.storage
    before = _snapshot(storage)
    storage.prune(retention, max_age)
    after = _snapshot(storage)
    removed = sorted(path for path in before if path not in after)
    captures: dict[str, int] = {}
    temps = 0
    for path in removed:
        if is_temporary(path):
            temps += 1
        else:
            captures[before[path]] = captures.get(before[path], 0) + 1
    policy = (
        f"retention={'none' if retention is None else retention}, "
        f"max-age={'none' if max_age is None else _seconds(max_age)}"
    )
    if args.json:
        ctx.json(
            {
                "path": str(storage.path),
                "retention": retention,
                "max_age": max_age,
                "removed": [str(path) for path in removed],
            }
        )
        return EXIT_OK
    if not removed:
        ctx.print(f"Nothing to prune in {storage.path} ({policy}).")
        return EXIT_OK
    for name, count in sorted(captures.items()):
        ctx.print(f"{name}: removed {count} capture(s)")
    if temps:
        ctx.print(f"removed {temps} orphaned temporary file(s)")
    ctx.print(f"Pruned {storage.path} ({policy}): {len(removed)} file(s) removed.")
    return EXIT_OK


def _seconds(value: float) -> str:
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if value >= size and value % size == 0:
            return f"{int(value // size)}{unit}"
    return f"{value:g}s"


FROM_CONFIG: Any = type("_Default", (), {"__repr__": lambda self: "<from config>"})()
"""Marks an option not given on the command line (``None`` is a value: "no limit")."""


def cmd_clear(args: argparse.Namespace, ctx: Context) -> int:
    """Delete the captures of NAME, or of every function with ``--all``."""
    storage = ctx.storage
    if args.all:
        infos = storage.functions()
        what = f"every capture in {storage.path}"
    else:
        infos = [_resolve(ctx, args.name)]
        what = f"the captures of {infos[0].name} in {storage.path}"
    count = sum(sum(1 for _ in storage.captures(info)) for info in infos)
    if count == 0:
        ctx.print(
            f"Nothing to delete: no captures{'' if args.all else ' of ' + infos[0].name} "
            f"in {storage.path}."
        )
        return EXIT_OK
    if not args.yes and not _confirm(ctx, f"Delete {count} capture file(s): {what}?"):
        ctx.print("Aborted; nothing deleted.")
        return EXIT_FAILED
    removed = 0
    for info in infos:
        removed += storage.clear(info.module, info.qualname)
    ctx.print(f"Deleted {removed} capture file(s) from {storage.path}.")
    return EXIT_OK


# --- migrate --------------------------------------------------------------------------------


def cmd_migrate(args: argparse.Namespace, ctx: Context) -> int:
    """Rewrite the class references of NAME's pickled captures (``--rename OLD=NEW``)."""
    try:
        renames = parse_renames(args.rename)
    except ConfigError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    info = _resolve(ctx, args.name)
    report = migrate_captures(ctx.storage, info, renames)
    for where, why in report.refused:
        ctx.note(f"left {where} as it was: {why}")
    ctx.print(
        f"Rewrote {report.rewritten} capture(s) of {info.name}; {report.unchanged} did not "
        f"refer to the renamed classes."
    )
    return EXIT_FAILED if report.refused else EXIT_OK


# --- pull / push ----------------------------------------------------------------------------


def cmd_pull(args: argparse.Namespace, ctx: Context) -> int:
    """Copy the captures of an object store (``s3://bucket/prefix``) into a local directory."""
    return _transfer(ctx, args.source, args.destination, "Pulled")


def cmd_push(args: argparse.Namespace, ctx: Context) -> int:
    """Copy the captures of a local directory into an object store."""
    return _transfer(ctx, args.source, args.destination, "Pushed")


def _transfer(ctx: Context, source: str, destination: str, verb: str) -> int:
    config = resolve_config()
    origin = CaptureStorage(source, signing_key=config.signing_key, retention=None)
    if not origin.remote and not origin.path.is_dir():
        # A mistyped source copied nothing and said so as a success.
        raise CliError(f"{origin.path}: no such capture directory")
    target = CaptureStorage(destination, signing_key=config.signing_key, retention=None)
    report = copy_captures(origin, target)
    for where, why in report.refused:
        ctx.note(f"not copied: {where}: {why}")
    if report.unverifiable:
        ctx.note(
            f"{report.unverifiable} signed capture(s) copied without a signing key: they "
            f"verify only where they were written; set SNAP_CAPTURE_SIGNING_KEY to have them "
            f"verified and signed again for their new place"
        )
    line = (
        f"{verb} {report.copied} capture(s) of {len(report.functions)} function(s) "
        f"from {origin.path} to {target.path}"
    )
    extra = []
    if report.present:
        extra.append(f"{report.present} already there")
    if report.refused:
        extra.append(f"{len(report.refused)} refused")
    ctx.print(line + (f" ({', '.join(extra)})" if extra else "") + ".")
    return EXIT_FAILED if report.refused else EXIT_OK


def _confirm(ctx: Context, question: str) -> bool:
    isatty = getattr(ctx.stdin, "isatty", None)
    if not (callable(isatty) and isatty()):
        raise CliError(
            "refusing to delete without confirmation: stdin is not a terminal; pass --yes",
            EXIT_USAGE,
        )
    ctx.out.write(f"{question} [y/N] ")
    ctx.out.flush()
    answer = ctx.stdin.readline()
    return answer.strip().lower() in ("y", "yes")
