"""Commands that set capturing up: ``check``, ``gen-tests``, ``enable``, ``disable``.

``check capture.yaml`` answers "is this target file right?" before it is deployed: for each
target, can its module be found, and what does the qualname (or glob pattern) select? The
import hook's own parser reads the file and its own resolver decides
(:func:`snapy_capture.hook.resolve_statically`), from the module's source: nothing in it runs.
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path
from typing import Any

from snapy_capture.cli._commands import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CliError, Context
from snapy_capture.cli._format import format_table
from snapy_capture.errors import ConfigError, GenerateError
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
    """Write a pytest module that replays the captures of NAME (or, with ``--config``, one
    per captured function of the target file's targets)."""
    # Imported on use: the generator pulls in what only test generation needs.
    from snapy_capture.replay import generate_test_module, load_substitutes  # noqa: PLC0415

    if (args.name is None) == (args.config is None):
        raise CliError("give NAME or --config FILE (one of them)", EXIT_USAGE)
    substitutes = load_substitutes(args.substitutes) if args.substitutes else None
    if args.config is not None:
        return _gen_tests_for_file(args, ctx, substitutes)
    if args.refresh:
        return _refresh(args, ctx, substitutes)
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
        substitutes=substitutes,
        freeze=not args.live,
    )
    if args.output is None or args.output == "-":
        ctx.out.write(source if source.endswith("\n") else source + "\n")
    else:
        ctx.print(f"Wrote {args.output}.")
    return EXIT_OK


def _gen_tests_for_file(
    args: argparse.Namespace, ctx: Context, substitutes: dict[str, Any] | None
) -> int:
    """``gen-tests --config FILE -o DIR``: a module per captured function of each target.

    A target without captures is one ``skip`` line (not an error: a target file lists what
    may be called, not what was). A function that cannot get a module (its module does not
    import, every capture filtered...) is one ``error`` line, the others are still written,
    and the exit status is 1; so it is when nothing at all was written.
    """
    from snapy_capture.replay import CaptureLoader, generate_test_module  # noqa: PLC0415
    from snapy_capture.replay._gentests import has_results  # noqa: PLC0415

    if args.output in (None, "-"):
        raise CliError("--config needs -o DIR, the directory the modules are written to")
    if args.import_path:
        raise CliError("--import-path names one function's module: use it with NAME")
    if not os.path.exists(args.config):
        raise CliError(f"target file not found: {args.config}")
    spec = load_targets(args.config)
    directory = Path(args.output)
    written = failed = 0
    for target in spec.targets:
        path = ctx.path or target.options.get("path")
        loader = CaptureLoader(path)
        functions = [
            name
            for name in loader.functions()
            if name.partition(":")[0] == target.module and target.matches(name.partition(":")[2])
        ]
        if not functions:
            searched = ", ".join(loader.paths) or "(no capture path)"
            ctx.print(f"skip  {target.name}: no captures (searched: {searched})")
            continue
        for name in functions:
            output = directory / f"test_{_slug(name)}.py"
            mode = args.mode
            if mode == "result" and not has_results(name, path):
                mode = "snapshot"  # captured without record_result: nothing to compare with
            if output.exists() and not args.force:
                ctx.print(f"error {name}: {output} already exists (pass --force to replace it)")
                failed += 1
                continue
            try:
                generate_test_module(
                    name,
                    path=path,
                    output=output,
                    limit=args.limit,
                    mode=mode,
                    overwrite=args.force,
                    deterministic=args.deterministic,
                    substitutes=substitutes,
                    freeze=not args.live,
                )
            except GenerateError as exc:
                ctx.print(f"error {name}: {exc}")
                failed += 1
                continue
            written += 1
            why = ", no recorded results" if mode != args.mode else ""
            ctx.print(f"wrote {output} ({mode} mode{why})")
    if not written:
        raise CliError(f"no test module written for the targets of {args.config}")
    return EXIT_FAILED if failed else EXIT_OK


def _refresh(args: argparse.Namespace, ctx: Context, substitutes: dict[str, Any] | None) -> int:
    """``gen-tests NAME -o FILE --refresh``: the frozen captures of FILE replaced by the
    current ones; the module (its SUBSTITUTES, edits) stays as it is."""
    from snapy_capture.replay._gentests import FROZEN_DIR, refresh_frozen  # noqa: PLC0415

    if args.output in (None, "-"):
        raise CliError("--refresh needs -o FILE, the generated module whose captures to refresh")
    count = refresh_frozen(
        args.name,
        args.output,
        path=ctx.path,
        limit=args.limit,
        mode=args.mode,
        substitutes=substitutes,
    )
    where = Path(args.output).parent / FROZEN_DIR
    ctx.print(f"Refreshed the captures of {args.output} in {where}: {count} capture(s).")
    return EXIT_OK


def _slug(name: str) -> str:
    """``pkg.shop:Cart.price`` -> ``pkg_shop_cart_price``: a test module's name."""
    return re.sub(r"[\W_]+", "_", name).strip("_").lower()


def cmd_enable(args: argparse.Namespace, ctx: Context) -> int:
    """Install the switch that captures processes started with SNAP_CAPTURE_CONFIG set."""
    if args.site_dir is not None and not os.path.isdir(args.site_dir):
        # A typo must not create a directory no interpreter reads and report success.
        raise CliError(f"--site-dir {args.site_dir}: no such directory")
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
