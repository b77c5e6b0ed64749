"""Substitutes: test values for what the filters removed from a capture.

A capture whose arguments (or instance) had a value filtered out holds a placeholder
(``[FILTERED: name:password]``) where the value was; replaying it would pass that text to
the function. Such a case is skipped, naming the paths, unless the user supplies a value for
each: ``substitutes={"password": "test-pw", "self.api_key": "k", "opts['token']": "t"}``.
Keys are the paths of the capture's redaction report (``metadata["redactions"]``, also
shown by ``snapy-capture show``); a key also covers every path under it (``"opts"``
replaces the whole argument).

Suite-wide substitutes come from a file named by ``--snapy-capture-substitutes`` / ini
``snapy_capture_substitutes``: a ``.py`` file defining ``SUBSTITUTES = {...}``, or a JSON or
YAML mapping. Values given to a helper win over the file's.
"""

from __future__ import annotations

import ast
import copy
import json
import os
import re
import runpy
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

from snapy_capture.errors import SnapyCaptureError
from snapy_capture.filters._redacted import UNSTORED_REASONS, Redacted

__all__ = [
    "clear_default_substitutes",
    "covered",
    "input_filtered",
    "input_redactions",
    "is_unstored",
    "load_substitutes",
    "merged",
    "place",
    "set_default_substitutes",
    "split_filtered",
]

Step = tuple[str, Any]  # (".", name) | ("[]", key or index)
_ROOT: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_defaults: dict[str, Any] = {}


def set_default_substitutes(values: Mapping[str, Any]) -> None:
    """Substitutes every replay helper uses (the pytest plugin's file); replaces earlier ones."""
    _defaults.clear()
    _defaults.update(values)


def clear_default_substitutes() -> None:
    """Forget the suite-wide substitutes (the plugin does this at the end of the session)."""
    _defaults.clear()


def merged(given: Mapping[str, Any] | None, record: Mapping[str, Any]) -> dict[str, Any]:
    """The substitutes in force for ``record``: suite-wide, then the record's, then ``given``."""
    values = dict(_defaults)
    attached = record.get("substitutes")
    if isinstance(attached, Mapping):
        values.update(attached)
    if given:
        values.update(given)
    return values


def load_substitutes(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The mapping in a substitutes file (``.py`` with ``SUBSTITUTES``, ``.json``, ``.yaml``).

    Raises:
        SnapyCaptureError: one line naming the file and what is wrong with it.
    """
    where = Path(path)
    try:
        if where.suffix == ".py":
            values: Any = runpy.run_path(str(where)).get("SUBSTITUTES")
        elif where.suffix == ".json":
            values = json.loads(where.read_text(encoding="utf-8"))
        elif where.suffix in (".yaml", ".yml"):
            import yaml  # noqa: PLC0415 - only this file format needs it

            values = yaml.safe_load(where.read_text(encoding="utf-8"))
        else:
            raise SnapyCaptureError(
                f"substitutes file {where}: expected a .py, .json, .yaml or .yml file"
            )
    except SnapyCaptureError:
        raise
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - the user's file: which and why
        # One line: a YAML error spans several (the pytest plugin shows it as it is).
        detail = " ".join(str(exc).split())
        raise SnapyCaptureError(
            f"substitutes file {where}: {type(exc).__name__}: {detail}"
        ) from None
    if not isinstance(values, dict) or not all(isinstance(key, str) for key in values):
        raise SnapyCaptureError(
            f"substitutes file {where}: expected a mapping of redaction paths to values"
            + (" (a SUBSTITUTES dict)" if where.suffix == ".py" else "")
        )
    return values


def input_redactions(record: Mapping[str, Any]) -> list[str]:
    """Paths of what the filters took out of the call's inputs (arguments and instance).

    Read from the redaction report (never from values); the result and the instance's
    state after the call are left out, as they are outputs.
    """
    return sorted(input_filtered(record))


def input_filtered(record: Mapping[str, Any]) -> dict[str, str]:
    """:func:`input_redactions` with each path's reason (the first one reported for it)."""
    metadata = record.get("metadata")
    report = metadata.get("redactions") if isinstance(metadata, Mapping) else None
    found: dict[str, str] = {}
    for entry in report or []:
        if not isinstance(entry, Mapping):
            continue
        path = str(entry.get("path", ""))
        if not _under(path, "result") and not _under(path, "self_after"):
            found.setdefault(path, str(entry.get("reason", "")))
    instance = record.get("self")
    if _is_placeholder(instance):
        found.setdefault("self", str(instance)[len("[FILTERED: ") : -1])
    return found


def is_unstored(path: str, reason: str) -> bool:
    """Whether what was filtered at ``path`` is a part pickle could not store (a lock, a
    local function in a method table), not a secret: such a case runs without it.

    The whole instance is never one: a method cannot run on a placeholder.
    """
    return path != "self" and reason.startswith(UNSTORED_REASONS)


def split_filtered(
    record: Mapping[str, Any], values: Iterable[str] = ()
) -> tuple[list[str], dict[str, str]]:
    """The input paths filtered in ``record`` that no key of ``values`` covers: those that
    block a replay (secrets and cut values), and the parts that could not be stored (path ->
    reason), which do not by themselves."""
    keys = list(values)
    blocking: list[str] = []
    unstored: dict[str, str] = {}
    for path, reason in sorted(input_filtered(record).items()):
        if covered(path, keys):
            continue
        if is_unstored(path, reason):
            unstored[path] = reason
        else:
            blocking.append(path)
    return blocking, unstored


def covered(path: str, substitutes: Iterable[str]) -> bool:
    """Whether one of the substitutes' keys is ``path`` or a path above it."""
    return any(_under(path, key) for key in substitutes)


def _under(path: str, root: str) -> bool:
    return path == root or (path.startswith(root) and path[len(root)] in ".[")


def place(target: Any, path: str, value: Any) -> Any:
    """``target`` with ``value`` put at ``path`` (relative to it); ``target`` itself is
    changed where it can be (dicts, lists, attributes), rebuilt where not (tuples).

    Raises:
        SnapyCaptureError: the path cannot be followed in ``target``.
    """
    return _place(target, parse_steps(path), copy.deepcopy(value), path)


def parse_path(path: str) -> tuple[str, list[Step]]:
    """``(root name, steps)`` of a redaction path: ``"opts['a'][0].b"`` ->
    ``("opts", [("[]", "a"), ("[]", 0), (".", "b")])``; ``args[2]`` is the root ``args[2]``."""
    match = re.match(r"(args|kwargs)\[[^\]]*\]|" + _ROOT.pattern, path)
    if match is None:
        raise SnapyCaptureError(f"substitute {path!r}: not a redaction path")
    return match.group(0), parse_steps(path[match.end() :], full=path)


def parse_steps(text: str, *, full: str | None = None) -> list[Step]:
    """The steps of a path's tail (``.name``, ``[0]``, ``['key']``)."""
    shown = full if full is not None else text
    steps: list[Step] = []
    position = 0
    while position < len(text):
        if text[position] == ".":
            match = _ROOT.match(text, position + 1)
            if match is None:
                raise SnapyCaptureError(f"substitute {shown!r}: bad attribute at {position}")
            steps.append((".", match.group(0)))
            position = match.end()
        elif text[position] == "[":
            end = _closing(text, position)
            inner = text[position + 1 : end]
            if inner.startswith("#"):
                raise SnapyCaptureError(
                    f"substitute {shown!r}: a set element or unnamed key cannot be replaced; "
                    "substitute the container above it"
                )
            try:
                key = ast.literal_eval(inner)
            except (ValueError, SyntaxError):
                raise SnapyCaptureError(f"substitute {shown!r}: bad key {inner!r}") from None
            steps.append(("[]", key))
            position = end + 1
        else:
            raise SnapyCaptureError(f"substitute {shown!r}: unexpected {text[position]!r}")
    return steps


def _closing(text: str, start: int) -> int:
    quote = None
    for index in range(start + 1, len(text)):
        char = text[index]
        if quote is not None:
            if char == "\\":
                continue
            if char == quote and text[index - 1] != "\\":
                quote = None
        elif char in "'\"":
            quote = char
        elif char == "]":
            return index
    raise SnapyCaptureError(f"substitute path {text!r}: unclosed '['")


def _place(target: Any, steps: list[Step], value: Any, shown: str) -> Any:
    if not steps:
        return value
    if isinstance(target, Redacted) and target.reason.startswith(UNSTORED_REASONS):
        # The value holding that part was not stored at all (a serializer could not encode
        # it, after the filters had redacted the part): nothing to put the test value into.
        # The case runs with the placeholder and is skipped, naming it, if the call fails.
        return target
    (how, key), rest = steps[0], steps[1:]
    try:
        if how == ".":
            new = _place(getattr(target, key), rest, value, shown)
            object.__setattr__(target, key, new)  # frozen dataclasses too
            return target
        if isinstance(target, tuple):
            items = list(target)
            items[key] = _place(items[key], rest, value, shown)
            maker = getattr(type(target), "_make", None)
            return maker(items) if maker is not None else type(target)(items)
        target[key] = _place(target[key], rest, value, shown)
    except (LookupError, AttributeError, TypeError) as exc:
        raise SnapyCaptureError(
            f"substitute {shown!r}: cannot follow it in the capture ({type(exc).__name__}: {exc})"
        ) from None
    return target


def _is_placeholder(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("[FILTERED: ") and value.endswith("]")
