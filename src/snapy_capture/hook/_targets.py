"""The YAML target file: which functions the import hook wraps, and with which options.

A target file looks like::

    version: 1
    defaults: {retention: 20}
    targets:
      - legacy_app.pricing:apply_discount
      - target: legacy_app.orders:OrderService.*
        record_result: true

Every mistake is reported as one :class:`ConfigError` line naming the file, the line and what
is wrong. YAML is read with PyYAML's *safe* loader only; a document using more aliases than a
hand-written target file ever needs is refused, so an "alias bomb" cannot exhaust memory. A
file over :data:`MAX_FILE_BYTES` is refused before it is read, one with more than
:data:`MAX_TARGETS` targets before its entries are built.

Targets inside snapy_capture itself (or wrapt, whose proxies every capture goes through) are
refused, but not as an error of the whole file: they are listed in ``TargetSpec.refused`` and
each caller says so its own way (the runner and ``check`` stop with an error line; the import
hook in a host program warns and installs the other targets). Capturing the capture machinery
would recurse through every capture, or deadlock on its own locks.
"""

from __future__ import annotations

import os
import re
import reprlib
from collections.abc import Mapping
from fnmatch import fnmatchcase
from types import MappingProxyType

from snapy_capture._records import Record
from snapy_capture.config import OPTIONS, is_url, parse_option
from snapy_capture.errors import ConfigError
from snapy_capture.filters import check_filter_spec
from snapy_capture.hook._startup import MAX_FILE_BYTES, read_target_file
from snapy_capture.hook._yaml import MAX_ALIASES, MAX_NODES, Lines, load_yaml

TYPE_CHECKING = False  # not typing's: see snapy_capture._stdtypes
if TYPE_CHECKING:
    from typing import Any, Final
else:  # for typing.get_type_hints of the public names (see there)
    from snapy_capture._stdtypes import for_readers

    for_readers(globals(), {"Any": "typing:Any"})

__all__ = [
    "MAX_ALIASES",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "MAX_TARGETS",
    "Target",
    "TargetSpec",
    "load_targets",
    "parse_targets",
    "parse_text",
]

#: The most targets one file (or mapping) may list.
MAX_TARGETS: Final = 10_000
#: Modules whose functions are never wrapped (a name here covers its submodules too): the
#: capture machinery itself, and the library its wrappers are made of.
REFUSED_MODULES: Final = ("snapy_capture", "wrapt")
_VERSION: Final = 1
_TOP_KEYS: Final = ("version", "defaults", "targets")
_GLOB_CHARS: Final = frozenset("*?[")
_MODULE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_QUALNAME = re.compile(r"^[\w*?\[\]!\-]+(\.[\w*?\[\]!\-]+)*$")
_ADDITIVE: Final = frozenset(option.name for option in OPTIONS if option.additive)


# Target and TargetSpec are not dataclasses: creating one costs every process that imports a
# target module ~0.5 ms at start-up (its methods are compiled from source then).
class Target(Record):
    """One entry of ``targets:``: a module, a qualified name (maybe a glob) and its options."""

    module: str
    qualname: str
    options: Mapping[str, Any] = MappingProxyType({})
    where: str = ""

    @property
    def name(self) -> str:
        """``module:qualname``, as written in the file."""
        return f"{self.module}:{self.qualname}"

    @property
    def is_pattern(self) -> bool:
        """Whether the qualname is a glob (``Service.*``, ``charge_*``)."""
        return not _GLOB_CHARS.isdisjoint(self.qualname)

    def matches(self, qualname: str) -> bool:
        """Whether this target selects the function called ``qualname`` in its module."""
        if not self.is_pattern:
            return qualname == self.qualname
        return fnmatchcase(qualname, self.qualname)


class TargetSpec:
    """A parsed target file: the targets grouped by module name, for one dict lookup per import."""

    __slots__ = ("by_module", "refused", "source", "targets")

    def __init__(
        self,
        targets: tuple[Target, ...],
        source: str = "<mapping>",
        refused: tuple[Target, ...] = (),
    ) -> None:
        self.targets = targets
        self.source = source
        #: Targets refused (inside :data:`REFUSED_MODULES`); not in ``targets``.
        self.refused = refused
        grouped: dict[str, list[Target]] = {}
        for target in targets:
            grouped.setdefault(target.module, []).append(target)
        self.by_module: Mapping[str, tuple[Target, ...]] = {k: tuple(v) for k, v in grouped.items()}

    def __repr__(self) -> str:
        return f"TargetSpec({self.targets!r}, source={self.source!r}, refused={self.refused!r})"

    def refusals(self) -> list[str]:
        """One line per refused target, naming the file and line."""
        return [f"{target.where}: {refusal(target.name)}" for target in self.refused]


def load_targets(config: str | os.PathLike[str] | Mapping[str, Any]) -> TargetSpec:
    """Read a target file, or validate a mapping of the same shape.

    Args:
        config: the path of a YAML target file, or its content as a mapping.

    Returns:
        The validated targets, each carrying its resolved options (defaults merged in).

    Raises:
        ConfigError: one line naming the file (and line) and what is wrong.
    """
    if isinstance(config, Mapping):
        return parse_targets(config, source="<mapping>")
    if not isinstance(config, (str, os.PathLike)):
        raise ConfigError(f"expected a target file path or a mapping, got {config!r}")
    path = os.fspath(config)
    return parse_text(read_target_file(path), path, os.path.dirname(os.path.abspath(path)))


def parse_text(text: str, source: str, base_dir: str) -> TargetSpec:
    """Validate the YAML ``text`` of a target file (see :func:`load_targets`).

    Args:
        text: the file's content.
        source: how messages name the file (its path).
        base_dir: relative ``path`` options are resolved against this directory.

    Raises:
        ConfigError: one line naming the file (and line) and what is wrong.
    """
    data, lines = load_yaml(text, source, max_items=MAX_TARGETS)
    return parse_targets(data, source=source, lines=lines, base_dir=base_dir)


def parse_targets(
    data: object,
    *,
    source: str = "<mapping>",
    lines: Lines | None = None,
    base_dir: str | None = None,
) -> TargetSpec:
    """Validate the content of a target file (see :func:`load_targets`).

    Args:
        data: the loaded document.
        source: how messages name the file.
        lines: line numbers of the document's parts, when it came from YAML.
        base_dir: relative ``path`` options are resolved against this directory.

    Raises:
        ConfigError: naming ``source``, the line when known, and what is wrong.
    """
    lines = lines or Lines()
    defaults, entries = _document(data, source, lines, base_dir)
    targets: list[Target] = []
    refused: list[Target] = []
    seen: dict[str, str] = {}
    entry_lines_of = lines.sub("targets")
    for index, entry in enumerate(entries):
        entry_lines = entry_lines_of.item(index)
        where = _at(source, entry_lines.top)
        label = f"targets[{index}]"
        name, options = _entry(
            entry, label, where=where, source=source, lines=entry_lines, base_dir=base_dir
        )
        module, qualname = _split(name, f"{where}: {label}")
        if f"{module}:{qualname}" in seen:
            raise ConfigError(
                f"{where}: {label}: duplicate target {name!r} "
                f"(first given at {seen[f'{module}:{qualname}']})"
            )
        seen[f"{module}:{qualname}"] = where
        target = Target(module, qualname, _merge(defaults, options), where)
        (refused if refused_module(module) else targets).append(target)
    return TargetSpec(tuple(targets), source, tuple(refused))


def _document(
    data: object, source: str, lines: Lines, base_dir: str | None
) -> tuple[dict[str, Any], list[object]]:
    """The document's ``defaults`` and its ``targets`` entries, its top level checked."""
    if data is None:
        raise ConfigError(
            f"{source}: the target file is empty; expected 'version: 1' and a 'targets:' list"
        )
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{_at(source, lines.top)}: expected a mapping with keys "
            f"{', '.join(_TOP_KEYS)}, got {_kind(data)}"
        )
    for key in data:
        if key not in _TOP_KEYS:
            raise ConfigError(
                f"{_at(source, lines.key(key))}: unknown key {key!r} "
                f"(expected {', '.join(_TOP_KEYS)})"
            )
    version = data.get("version", _VERSION)
    if version != _VERSION or isinstance(version, bool):
        raise ConfigError(
            f"{_at(source, lines.key('version'))}: unsupported version "
            f"{version!r} (this snapy_capture reads version: {_VERSION})"
        )
    defaults = _options(data.get("defaults") or {}, source, lines.defaults, "defaults", base_dir)
    if "targets" not in data:
        raise ConfigError(f"{source}: missing 'targets:' (a list of 'module:function' entries)")
    entries = data["targets"]
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise ConfigError(
            f"{_at(source, lines.key('targets'))}: 'targets' must be a list, got {_kind(entries)}"
        )
    if len(entries) > MAX_TARGETS:
        raise ConfigError(_too_many(source, lines.key("targets"), len(entries)))
    return defaults, entries


def _entry(
    entry: object, label: str, *, where: str, source: str, lines: Lines, base_dir: str | None
) -> tuple[object, dict[str, Any]]:
    """The target name an entry gives (not checked yet), and its own options."""
    if isinstance(entry, str):
        return entry, {}
    if not isinstance(entry, Mapping):
        raise ConfigError(
            f"{where}: {label}: expected 'module:function' or a mapping "
            f"with 'target:', got {_kind(entry)}"
        )
    if "target" not in entry:
        raise ConfigError(
            f"{where}: {label}: a mapping entry needs a 'target:' key ('module:function')"
        )
    raw = {key: value for key, value in entry.items() if key != "target"}
    return entry["target"], _options(raw, source, lines, label, base_dir)


def refused_module(module: str) -> bool:
    """Whether ``module`` is (in) one of :data:`REFUSED_MODULES`."""
    return any(module == name or module.startswith(f"{name}.") for name in REFUSED_MODULES)


def refusal(name: str, defined_in: str | None = None) -> str:
    """Why the target ``name`` is not captured (one message for every way it is refused)."""
    where = f" (defined in {defined_in})" if defined_in is not None else ""
    return (
        f"target {name!r}{where} is part of snapy_capture's own capture machinery "
        f"({', '.join(REFUSED_MODULES)}), which cannot capture itself; refused"
    )


def _too_many(source: str, line: int | None, count: int) -> str:
    return (
        f"{_at(source, line)}: {count} targets; a target file lists at most {MAX_TARGETS} "
        f"(use patterns such as 'pkg.module:Class.*')"
    )


def _split(name: object, where: str) -> tuple[str, str]:
    if not isinstance(name, str):
        raise ConfigError(
            f"{where}: the target must be a string 'module:function', got {_kind(name)}"
        )
    module, colon, qualname = name.strip().partition(":")
    if not colon or not module or not qualname:
        raise ConfigError(
            f"{where}: {name!r} is not 'module:function' (for example 'pkg.module:Class.method')"
        )
    if not _MODULE.match(module):
        raise ConfigError(
            f"{where}: {module!r} is not a module name (no patterns allowed in the module part)"
        )
    if not _QUALNAME.match(qualname):
        raise ConfigError(f"{where}: {qualname!r} is not a qualified name or pattern")
    return module, qualname


def _options(
    raw: object, source: str, lines: Lines, label: str, base_dir: str | None
) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"{_at(source, lines.top)}: {label}: expected a mapping of options, got {_kind(raw)}"
        )
    options = {}
    for key, value in raw.items():
        where = _at(source, lines.key(key))
        if not isinstance(key, str):
            raise ConfigError(f"{where}: {label}: option names are strings, got {key!r}")
        if key == "target":
            raise ConfigError(f"{where}: {label}: 'target' is not an option")
        try:
            # A mapping of filter options is built here, so a bad one fails at load time.
            parsed: Any = (
                check_filter_spec(value) if key == "arg_filter" else parse_option(key, value)
            )
        except ConfigError as exc:
            raise ConfigError(f"{where}: {label}: {exc}") from None
        if key == "signing_key" and parsed == b"":
            # From the environment, blank means a CI secret missing (kept: it refuses every
            # capture); written in the file, it is a mistake to stop at, like any other here.
            raise ConfigError(
                f"{where}: {label}: signing_key is empty (set a key, or remove the option to "
                "work without signatures)"
            )
        if key == "path" and base_dir is not None and not is_url(parsed):
            # Relative to the target file, so child processes in other directories agree.
            parsed = os.path.join(base_dir, parsed)
        options[key] = parsed
    return options


def _merge(defaults: Mapping[str, Any], options: Mapping[str, Any]) -> dict[str, Any]:
    merged = {**defaults, **options}
    for name in _ADDITIVE & defaults.keys() & options.keys():
        # ignore_args/allow_args add up, as they do across every other configuration level.
        merged[name] = tuple(dict.fromkeys((*defaults[name], *options[name])))
    return merged


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    names: dict[type, str] = {dict: "a mapping", list: "a list", str: "a string"}
    return names.get(type(value), f"{type(value).__name__} {reprlib.repr(value)}")


def _at(source: str, line: int | None) -> str:
    return source if line is None else f"{source}:{line}"
