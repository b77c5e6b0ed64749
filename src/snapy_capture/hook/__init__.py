"""The import hook: a target file names functions, the hook wraps them as their modules load.

What the layers above need: the target file (:func:`load_targets`; :func:`read_targets` for
a process starting with capture on), the one resolver of targets (:func:`resolve` in a live
module, :func:`resolve_statically` from a module's source, for ``check``), and the hook itself
(:func:`install_import_hook`, :func:`install` for the runner, :func:`script_defined` called
by the runner's instrumented script), the ``.pth`` switch that turns it on in every process
that asks (:func:`enable_autoload`), and the runner's calls into the capture layer
(:func:`own_code`, :func:`flush`).

Importing this package imports only the finder and what start-up needs
(:mod:`snapy_capture.hook._startup`); every other name is loaded on first use (PEP 562), so
a process whose program never imports a target module never loads yaml, wrapt or the
capture layer.
"""

from __future__ import annotations

import importlib

from snapy_capture.hook._finder import (
    ImportHook,
    current,
    default_config_path,
    install,
    install_import_hook,
    read_targets,
    script_defined,
    uninstall_import_hook,
)
from snapy_capture.hook._startup import CONFIG_FILE_ENV, flush, own_code

TYPE_CHECKING = False  # not typing's: see _startup
if TYPE_CHECKING:
    from typing import Any

    from snapy_capture.hook._resolve import (
        Member,
        Resolution,
        TargetNotFoundError,
        project_on_path,
        resolve,
        resolve_statically,
    )
    from snapy_capture.hook._targets import (
        Target,
        TargetSpec,
        load_targets,
        parse_targets,
        refusal,
    )
    from snapy_capture.hook.switch import disable as disable_autoload
    from snapy_capture.hook.switch import enable as enable_autoload

#: Names loaded on first use: name -> (module, its name there).
_LAZY: dict[str, tuple[str, str]] = {
    **{
        name: ("._resolve", name)
        for name in (
            "Member",
            "Resolution",
            "TargetNotFoundError",
            "project_on_path",
            "resolve",
            "resolve_statically",
        )
    },
    **{
        name: ("._targets", name)
        for name in ("Target", "TargetSpec", "load_targets", "parse_targets", "refusal")
    },
    "disable_autoload": (".switch", "disable"),
    "enable_autoload": (".switch", "enable"),
}

__all__ = [
    "CONFIG_FILE_ENV",
    "ImportHook",
    "Member",
    "Resolution",
    "Target",
    "TargetNotFoundError",
    "TargetSpec",
    "current",
    "default_config_path",
    "disable_autoload",
    "enable_autoload",
    "flush",
    "install",
    "install_import_hook",
    "load_targets",
    "own_code",
    "parse_targets",
    "project_on_path",
    "read_targets",
    "refusal",
    "resolve",
    "resolve_statically",
    "script_defined",
    "uninstall_import_hook",
]


def __getattr__(name: str) -> Any:  # PEP 562: load the heavier names on first use
    found = _LAZY.get(name)
    if found is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(found[0], __name__), found[1])
    globals()[name] = value  # later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
