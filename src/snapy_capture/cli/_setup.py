"""Commands that set capturing up: ``check``, ``gen-tests``, ``enable``, ``disable``.

``check capture.yaml`` answers "is this target file right?" before it is deployed.

For each target: can its module be found, and does the qualname (or glob pattern) name
something that can be captured? Names are resolved by reading the module's source (its
syntax tree), so nothing in it runs — legacy scripts without an ``if __name__ ==
"__main__"`` guard would otherwise run when checked. Only modules without Python source
(extensions) are imported; finding ``pkg.mod`` imports the package ``pkg`` itself.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib
import importlib.util
import inspect
import io
import os
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from snapy_capture.cli._commands import EXIT_FAILED, EXIT_OK, CliError, Context
from snapy_capture.cli._format import format_table
from snapy_capture.errors import ConfigError

__all__ = ["cmd_check", "cmd_disable", "cmd_enable", "cmd_gen_tests"]


@dataclass
class _Target:
    spec: str
    module: str
    qualname: str
    errors: list[str] = field(default_factory=list)
    matches: list[str] = field(default_factory=list)
    is_pattern: bool = False
    match: Callable[[str], bool] | None = None

    @property
    def ok(self) -> bool:
        return not self.errors


def cmd_check(args: argparse.Namespace, ctx: Context) -> int:
    """Validate the target file ``args.config`` and resolve every target in it."""
    file_errors, targets = _load(args.config)
    # Targets name modules of the user's project, which is the working directory.
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    for target in targets:
        if not target.errors:
            _resolve(target)
    failed = len(file_errors) + sum(not t.ok for t in targets)
    if args.json:
        ctx.json(
            {
                "file": args.config,
                "ok": failed == 0,
                "errors": file_errors,
                "targets": [
                    {
                        "target": t.spec,
                        "module": t.module,
                        "qualname": t.qualname,
                        "ok": t.ok,
                        "errors": t.errors,
                        "matches": t.matches,
                    }
                    for t in targets
                ],
            }
        )
        return EXIT_FAILED if failed else EXIT_OK
    if file_errors:  # the file itself is wrong: one line, as every error of ours
        raise CliError(file_errors[0])
    if targets:
        rows = []
        for t in targets:
            if t.errors:
                rows.append(("ERROR", t.spec, "; ".join(t.errors)))
            elif t.matches != [t.qualname]:
                shown = ", ".join(t.matches[:5]) + (", ..." if len(t.matches) > 5 else "")
                rows.append(("ok", t.spec, f"matches {len(t.matches)}: {shown}"))
            else:
                rows.append(("ok", t.spec, ""))
        ctx.print(format_table(("STATUS", "TARGET", "DETAIL"), rows))
    if failed:
        ctx.print(f"{args.config}: {failed} error(s).")
        return EXIT_FAILED
    ctx.print(f"{args.config}: {len(targets)} target(s), all resolve.")
    return EXIT_OK


# --- reading the file ---------------------------------------------------------------------


def _load(path: str) -> tuple[list[str], list[_Target]]:
    """File-level errors, and the targets found: the import hook's own parser decides."""
    from snapy_capture.hook._targets import load_targets  # noqa: PLC0415 - only `check` needs yaml

    if not os.path.exists(path):
        raise CliError(f"target file not found: {path}")
    try:
        spec = load_targets(path)
    except ConfigError as exc:
        return [str(exc)], []
    from snapy_capture.hook._targets import refusal  # noqa: PLC0415

    refused = [
        _Target(t.name, t.module, t.qualname, errors=[refusal(t.name)]) for t in spec.refused
    ]
    return [], [
        _Target(t.name, t.module, t.qualname, is_pattern=t.is_pattern, match=t.matches)
        for t in spec.targets
    ] + refused


# --- resolving targets ----------------------------------------------------------------------


def _resolve(target: _Target) -> None:
    try:
        names = _source_names(target.module)
    except (ImportError, ValueError, OSError, SyntaxError) as exc:
        detail = " ".join(str(exc).split())
        target.errors.append(f"module {target.module!r} not found or unreadable: {detail}")
        return
    if names is None:  # no Python source (an extension module): importing runs no user code
        _resolve_imported(target)
        return
    if target.is_pattern and target.match is not None:
        target.matches = [
            q for q, kind in names.items() if kind in ("function", "property") and target.match(q)
        ]
        if not target.matches:
            target.errors.append(f"pattern {target.qualname!r} matches nothing in {target.module}")
        return
    kind = names.get(target.qualname)
    if kind is None:
        target.errors.append(f"{target.qualname!r} not found in {target.module}")
    elif kind in ("class", "constant"):
        target.errors.append(f"{target.qualname} is not a function (it is a {kind})")
    else:
        target.matches = [target.qualname]


def _source_names(module: str) -> dict[str, str] | None:
    """Qualnames defined in ``module``'s source, with their kind; ``None`` without source."""
    if module == "__main__":
        raise ValueError("'__main__' has no source before it runs; name the script's module")
    spec = importlib.util.find_spec(module)
    if spec is None:
        raise ModuleNotFoundError(f"no module named {module!r}")
    if not spec.origin or not spec.origin.endswith(".py"):
        return None
    with open(spec.origin, "rb") as handle:
        tree = ast.parse(handle.read(), filename=spec.origin)
    names: dict[str, str] = {}
    _walk_source(tree.body, "", names)
    return names


def _walk_source(body: list[ast.stmt], prefix: str, names: dict[str, str]) -> None:
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            decorators = {ast.unparse(d) for d in node.decorator_list}
            kind = "property" if "property" in decorators else "function"
            names.setdefault(prefix + node.name, kind)
        elif isinstance(node, ast.ClassDef):
            names[prefix + node.name] = "class"
            _walk_source(node.body, f"{prefix}{node.name}.", names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            literal = isinstance(
                node.value, (ast.Constant, ast.List, ast.Tuple, ast.Dict, ast.Set, ast.JoinedStr)
            )
            for name in targets:
                if isinstance(name, ast.Name):
                    names.setdefault(prefix + name.id, "constant" if literal else "assigned")
        elif isinstance(node, (ast.Import, ast.ImportFrom)) and not prefix:
            for alias in node.names:
                names.setdefault(alias.asname or alias.name.split(".")[0], "imported")
        else:  # definitions under if/try/with/for at this level still define names here
            for field_name in ("body", "orelse", "finalbody", "handlers"):
                for child in getattr(node, field_name, None) or []:
                    inner = child.body if isinstance(child, ast.ExceptHandler) else [child]
                    _walk_source(inner, prefix, names)


def _resolve_imported(target: _Target) -> None:
    module = _import(target)
    if module is None:
        return
    if target.is_pattern and target.match is not None:
        target.matches = [name for name in _qualnames(module) if target.match(name)]
        if not target.matches:
            target.errors.append(f"pattern {target.qualname!r} matches nothing in {target.module}")
        return
    owner: Any = module
    for part in target.qualname.split("."):
        found, value = _lookup(owner, part)
        if not found:
            where = target.module if owner is module else getattr(owner, "__qualname__", owner)
            target.errors.append(f"{part!r} not found in {where}")
            return
        owner = value
    if not _capturable(owner):
        target.errors.append(
            f"{target.qualname} is not a function (it is a {type(owner).__name__})"
        )
        return
    target.matches = [target.qualname]


def _import(target: _Target) -> types.ModuleType | None:
    sink = io.StringIO()
    try:
        # A module that prints on import must not garble the report (or --json).
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            return importlib.import_module(target.module)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - SystemExit at import is a finding too
        detail = " ".join(str(exc).split())
        target.errors.append(
            f"module {target.module!r} does not import: "
            f"{type(exc).__name__}{': ' + detail if detail else ''}"
        )
        return None


def _lookup(owner: Any, name: str) -> tuple[bool, Any]:
    # Look in the class dictionaries along the MRO, as the hook wraps: getattr would bind
    # methods and run descriptors (a property's getter).
    if isinstance(owner, type):
        for klass in owner.__mro__:
            if name in vars(klass):
                return True, vars(klass)[name]
        return False, None
    try:
        return True, inspect.getattr_static(owner, name)
    except AttributeError:
        return False, None


def _capturable(obj: Any) -> bool:
    if isinstance(obj, (staticmethod, classmethod)):
        obj = obj.__func__
    return callable(obj) and not isinstance(obj, property)


def _qualnames(module: types.ModuleType) -> Iterator[str]:
    """Qualified names of the functions and methods defined in ``module``."""
    seen: set[int] = set()

    def walk(namespace: dict[str, Any], prefix: str) -> Iterator[str]:
        for name, value in list(namespace.items()):
            func = value.__func__ if isinstance(value, (staticmethod, classmethod)) else value
            if getattr(func, "__module__", None) != module.__name__ or id(func) in seen:
                continue
            seen.add(id(func))
            if isinstance(func, type):
                yield from walk(dict(vars(func)), f"{prefix}{name}.")
            elif inspect.isroutine(func):
                yield prefix + name

    yield from walk(dict(vars(module)), "")


# --- gen-tests, enable, disable: thin wrappers over _gentests and autoload ------------------


def cmd_gen_tests(args: argparse.Namespace, ctx: Context) -> int:
    """Write a pytest module that replays the captures of NAME."""
    try:
        # Imported on use: the generator pulls in what only test generation needs.
        generate_test_module = importlib.import_module(
            "snapy_capture.replay._gentests"
        ).generate_test_module
    except (ImportError, AttributeError) as exc:
        raise CliError(f"gen-tests is not available in this installation ({exc})") from None
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
    )
    if args.output is None or args.output == "-":
        ctx.out.write(source if source.endswith("\n") else source + "\n")
    else:
        ctx.print(f"Wrote {args.output}.")
    return EXIT_OK


def cmd_enable(args: argparse.Namespace, ctx: Context) -> int:
    """Install the switch that captures processes started with SNAP_CAPTURE_CONFIG set."""
    autoload = _autoload()
    where = autoload.enable(site_dir=args.site_dir)
    ctx.print(f"Enabled: wrote {where}.")
    ctx.print(
        "Python processes started with SNAP_CAPTURE_CONFIG=<capture.yaml> are now "
        "captured; 'snapy-capture disable' undoes this."
    )
    return EXIT_OK


def cmd_disable(args: argparse.Namespace, ctx: Context) -> int:
    """Remove the switch installed by ``enable``."""
    autoload = _autoload()
    if autoload.disable(site_dir=args.site_dir):
        ctx.print("Disabled: the capture switch was removed.")
    else:
        ctx.print("Nothing to disable: the capture switch was not installed.")
    return EXIT_OK


def _autoload() -> Any:
    try:
        from snapy_capture import autoload  # noqa: PLC0415 - optional part, imported on use
    except ImportError as exc:
        raise CliError(f"enable/disable are not available in this installation ({exc})") from None
    if not callable(getattr(autoload, "enable", None)) or not callable(
        getattr(autoload, "disable", None)
    ):
        raise CliError(
            "enable/disable are not available: snapy_capture.autoload has no enable()/disable()"
        )
    return autoload
