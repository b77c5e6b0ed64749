"""The import hook: a target file names functions, the hook wraps them as their modules load.

What the layers above need: the target file (:func:`load_targets`), the one resolver of
targets (:func:`resolve` in a live module, :func:`resolve_statically` from a module's source,
for ``check``), and the hook itself (:func:`install_import_hook`, :func:`install` for the
runner, :func:`script_defined` called by the runner's instrumented script), and the ``.pth``
switch that turns it on in every process that asks (:func:`enable_autoload`).
"""

from __future__ import annotations

from snapy_capture.hook._finder import (
    ImportHook,
    current,
    default_config_path,
    install,
    install_import_hook,
    script_defined,
    uninstall_import_hook,
)
from snapy_capture.hook._resolve import (
    Member,
    Resolution,
    TargetNotFoundError,
    project_on_path,
    resolve,
    resolve_statically,
)
from snapy_capture.hook._targets import Target, TargetSpec, load_targets, parse_targets, refusal
from snapy_capture.hook.switch import disable as disable_autoload
from snapy_capture.hook.switch import enable as enable_autoload

__all__ = [
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
    "install",
    "install_import_hook",
    "load_targets",
    "parse_targets",
    "project_on_path",
    "refusal",
    "resolve",
    "resolve_statically",
    "script_defined",
    "uninstall_import_hook",
]
