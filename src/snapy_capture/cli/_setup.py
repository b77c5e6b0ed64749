"""Commands that set capturing up: ``check``, ``gen-tests``, ``enable``, ``disable``.

``check capture.yaml`` answers "is this target file right?" before it is deployed: for each
target, can its module be found, and what does the qualname (or glob pattern) select? The
import hook's own parser reads the file and its own resolver decides
(:func:`snapy_capture.hook.resolve_statically`), from the module's source: nothing in it runs.
"""

from __future__ import annotations

import argparse
import os

from snapy_capture.cli._commands import EXIT_FAILED, EXIT_OK, CliError, Context
from snapy_capture.cli._format import format_table
from snapy_capture.errors import ConfigError
from snapy_capture.hook import (
    Resolution,
    Target,
    disable_autoload,
    enable_autoload,
    load_targets,
    refusal,
    resolve_statically,
)

__all__ = ["cmd_check", "cmd_disable", "cmd_enable", "cmd_gen_tests"]


def cmd_check(args: argparse.Namespace, ctx: Context) -> int:
    """Validate the target file ``args.config`` and resolve every target in it."""
    file_errors, targets = _load(args.config)
    failed = len(file_errors) + sum(bool(result.errors) for _target, result in targets)
    if args.json:
        ctx.json(
            {
                "file": args.config,
                "ok": failed == 0,
                "errors": file_errors,
                "targets": [
                    {
                        "target": target.name,
                        "module": target.module,
                        "qualname": target.qualname,
                        "ok": not result.errors,
                        "errors": result.errors,
                        "matches": result.matches,
                        **({"note": result.note} if result.note else {}),
                    }
                    for target, result in targets
                ],
            }
        )
        return EXIT_FAILED if failed else EXIT_OK
    if file_errors:  # the file itself is wrong: one line, as every error of ours
        raise CliError(file_errors[0])
    if targets:
        rows = [_row(target, result) for target, result in targets]
        ctx.print(format_table(("STATUS", "TARGET", "DETAIL"), rows))
    if failed:
        ctx.print(f"{args.config}: {failed} error(s).")
        return EXIT_FAILED
    ctx.print(f"{args.config}: {len(targets)} target(s), all resolve.")
    return EXIT_OK


def _row(target: Target, result: Resolution) -> tuple[str, str, str]:
    if result.errors:
        return ("ERROR", target.name, "; ".join(result.errors))
    details = [result.note] if result.note else []
    if result.matches != [target.qualname]:
        shown = ", ".join(result.matches[:5]) + (", ..." if len(result.matches) > 5 else "")
        details.append(f"matches {len(result.matches)}: {shown}")
    return ("ok", target.name, "; ".join(details))


def _load(path: str) -> tuple[list[str], list[tuple[Target, Resolution]]]:
    """File-level errors, and each target with what the hook would wrap for it."""
    if not os.path.exists(path):
        raise CliError(f"target file not found: {path}")
    try:
        spec = load_targets(path)
    except ConfigError as exc:
        return [str(exc)], []
    resolved = [(target, resolve_statically(target)) for target in spec.targets]
    refused = [(t, Resolution(errors=[refusal(t.name)])) for t in spec.refused]
    return [], resolved + refused


# --- gen-tests, enable, disable: thin wrappers over replay and hook -------------------------


def cmd_gen_tests(args: argparse.Namespace, ctx: Context) -> int:
    """Write a pytest module that replays the captures of NAME."""
    # Imported on use: the generator pulls in what only test generation needs.
    from snapy_capture.replay import generate_test_module, load_substitutes  # noqa: PLC0415

    # The generator's own refusal speaks to Python callers (overwrite=True); a user of the
    # command line is told the command line's word for it.
    if args.output not in (None, "-") and not args.force and os.path.isfile(args.output):
        raise CliError(f"{args.output} already exists (pass --force to replace it)")
    # Only an explicit --path is written into the test; otherwise the generated module
    # reads from wherever the pytest plugin looks (--snapy-capture-path or the default).
    source = generate_test_module(
        args.name,
        path=ctx.path,
        output=args.output,
        limit=args.limit,
        mode=args.mode,
        import_path=args.import_path,
        overwrite=args.force,
        deterministic=args.deterministic,
        substitutes=load_substitutes(args.substitutes) if args.substitutes else None,
    )
    if args.output is None or args.output == "-":
        ctx.out.write(source if source.endswith("\n") else source + "\n")
    else:
        ctx.print(f"Wrote {args.output}.")
    return EXIT_OK


def cmd_enable(args: argparse.Namespace, ctx: Context) -> int:
    """Install the switch that captures processes started with SNAP_CAPTURE_CONFIG set."""
    where = enable_autoload(site_dir=args.site_dir)
    ctx.print(f"Enabled: wrote {where}.")
    ctx.print(
        "Python processes started with SNAP_CAPTURE_CONFIG=<capture.yaml> are now "
        "captured; 'snapy-capture disable' undoes this."
    )
    return EXIT_OK


def cmd_disable(args: argparse.Namespace, ctx: Context) -> int:
    """Remove the switch installed by ``enable``."""
    if disable_autoload(site_dir=args.site_dir):
        ctx.print("Disabled: the capture switch was removed.")
    else:
        ctx.print("Nothing to disable: the capture switch was not installed.")
    return EXIT_OK
