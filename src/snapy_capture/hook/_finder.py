"""The import hook: wrap the functions a target file names, with no edit to their source.

A finder first on ``sys.meta_path`` looks each imported module's name up in a dict (the only
cost for every module that is not a target), and for target modules hands the import system
the real spec with its loader wrapped. After the real loader has run the module's body, the
targets are looked up in the module's namespace (``vars()`` along the MRO for methods, so
classmethod/staticmethod descriptors are wrapped and not the bound attribute) and replaced by
the same :func:`snapy_capture.capture.wrap` proxy the decorator builds. The lookup
lives in :mod:`snapy_capture.hook._resolve` (shared with ``snapy-capture check``), the
replacement in :mod:`snapy_capture.hook._patch`; this module decides when, and warns.

Nothing here may break the user's program: an error while wrapping is a warning and the module
stays as its author wrote it; a target that does not exist is a warning naming it.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
import types
import warnings
from collections.abc import Iterable, Mapping, Sequence
from importlib.abc import Loader
from importlib.machinery import ModuleSpec
from typing import Any, Final, cast

from snapy_capture._forksafe import fork_safe
from snapy_capture.capture import wrap as capture_wrap
from snapy_capture.config import CONFIG_FILE_ENV
from snapy_capture.errors import SnapyCaptureWarning
from snapy_capture.hook._patch import (
    Replaced,
    Wrap,
    Wrapping,
    other_holders,
    rebind_copies,
)
from snapy_capture.hook._registries import Rebinding
from snapy_capture.hook._resolve import TargetNotFoundError, members, resolve, selected
from snapy_capture.hook._targets import Target, TargetSpec, load_targets

__all__ = [
    "ImportHook",
    "current",
    "default_config_path",
    "install",
    "install_import_hook",
    "script_defined",
    "uninstall_import_hook",
]

logger = logging.getLogger("snapy_capture")

_lock = fork_safe(threading.RLock())
_hook: ImportHook | None = None


def install_import_hook(
    config: str | os.PathLike[str] | Mapping[str, Any] | TargetSpec | None = None,
) -> None:
    """Capture the functions named by a target file, in modules imported now or later.

    Modules already imported are wrapped at once, and copies other modules took with
    ``from module import function`` are rebound to the wrapper (references held elsewhere are
    named in a warning). Installing again replaces the previous hook.

    Args:
        config: a YAML target file, or its content as a mapping; by default the file named by
            ``SNAP_CAPTURE_CONFIG``, else ``./capture.yaml``.

    Raises:
        ConfigError: one line naming the file (and line) and what is wrong in it.
    """
    spec = (
        config
        if isinstance(config, TargetSpec)
        else load_targets(config if config is not None else default_config_path())
    )
    install(spec)


def uninstall_import_hook() -> bool:
    """Remove the hook and put every original function back; ``False`` if none was installed."""
    global _hook
    with _lock:
        hook, _hook = _hook, None
        if hook is None:
            return False
        hook.remove()
        return True


def default_config_path() -> str:
    """``$SNAP_CAPTURE_CONFIG`` if set, else ``./capture.yaml``."""
    return os.environ.get(CONFIG_FILE_ENV) or "capture.yaml"


def install(spec: TargetSpec, *, wrap: Wrap = capture_wrap) -> ImportHook:
    """Install a hook for already validated targets (used by the runner and autoload).

    Targets the file named but :mod:`snapy_capture.hook._targets` refused (snapy_capture's own
    functions) are one warning each; the others are installed. ``wrap`` builds each target's
    wrapper (see :class:`ImportHook`).
    """
    global _hook  # noqa: PLW0603
    for message in spec.refusals():
        _warn(f"snapy_capture: {message}", strict=True)
    with _lock:
        if _hook is not None:
            _hook.remove()
        _hook = hook = ImportHook(spec, wrap=wrap)
        sys.meta_path.insert(0, hook)
        try:
            replaced: Replaced = {}
            for name in spec.by_module:
                module = sys.modules.get(name)
                if module is not None:
                    # __main__ is often still being defined when the hook is installed: its
                    # missing targets are not worth a warning.
                    # Under the name the file gives it: os.path is posixpath.
                    replaced |= hook.apply(
                        module, names=(name,), quiet=name == "__main__", strict=True
                    )
            if replaced:
                hook.rebind(replaced)
        except BaseException:
            # Warnings turned into errors by the caller: leave nothing half installed.
            _hook = None
            hook.remove()
            raise
        return hook


def current() -> ImportHook | None:
    """The installed hook, if any."""
    return _hook


def script_defined(name: str) -> None:
    """Called by the runner's script right after it defines ``name`` (see ``run.py``): wraps
    the script's targets before the script goes on to call them."""
    hook = _hook
    if hook is not None:
        hook.script_defined(name)


def _warn(message: str, *, strict: bool = False) -> None:
    level = _user_stacklevel()
    if strict:
        warnings.warn(message, SnapyCaptureWarning, stacklevel=level)
        return
    try:
        warnings.warn(message, SnapyCaptureWarning, stacklevel=level)
    except Exception:  # noqa: BLE001 - warnings turned into errors must not break an import
        logger.warning("%s", message)


_OWN_DIR: Final = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _user_stacklevel() -> int:
    """The ``stacklevel`` of the first frame outside snapy_capture (and outside importlib's
    bootstrap, which ``warnings`` skips): the user's ``import`` statement or call, which is
    where a warning shown in Python's own format (pytest's summary, ``install_import_hook``
    in a program) should point, not at a line of ours."""
    level = 2  # 1 is _warn itself
    frame: types.FrameType | None = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        if "importlib" in filename and "_bootstrap" in filename:
            frame = frame.f_back  # not counted by warnings either
            continue
        if not filename.startswith(_OWN_DIR):
            return level
        level += 1
        frame = frame.f_back
    return 1


def _silent(message: str) -> None:
    """Say nothing: a module still being defined (``__main__``) lacks targets it defines later."""


class ImportHook:
    """The ``sys.meta_path`` finder, and the record of every attribute it replaced.

    ``wrap`` builds a target's wrapper, with the arguments of :func:`snapy_capture.capture.wrap`
    (the default): tests give one that fails, to see a failure while wrapping stay a warning.
    """

    def __init__(self, spec: TargetSpec, *, wrap: Wrap = capture_wrap) -> None:
        self.spec = spec
        self.wrap = wrap
        self.modules: dict[str, tuple[Target, ...]] = dict(spec.by_module)
        #: Every attribute or container item replaced (a ``Patch`` or an ``ItemPatch``).
        self.patches: dict[tuple[int, str], Any] = {}
        self.seen: set[str] = set()
        self.matched: set[str] = set()
        #: Per target name: (qualname, wrapper) of each function it wrapped, for the report.
        self.sites: dict[str, list[tuple[str, Any]]] = {}
        #: Per target name: the registries rebound to its wrappers, and the references
        #: still holding the unwrapped function.
        self.rebound: dict[str, list[str]] = {}
        self.held: dict[str, list[str]] = {}
        self.script: types.ModuleType | None = None
        self.script_name = "__main__"

    # --- the finder -------------------------------------------------------------------

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: types.ModuleType | None = None,
    ) -> ModuleSpec | None:
        if fullname not in self.modules:
            return None
        try:
            return self._find(fullname, path, target)
        except Exception as exc:  # noqa: BLE001 - the user's import must go on regardless
            _warn(
                f"snapy_capture: could not hook the import of {fullname} ({exc!r}); its "
                f"targets are not captured"
            )
            return None

    def _find(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None
    ) -> ModuleSpec | None:
        # Ask the finders after us directly, as importlib's own _find_spec does: asking
        # importlib.util.find_spec would come back here, and would return a reloaded
        # module's old spec.
        for finder in list(sys.meta_path):
            if finder is self:
                continue
            find = getattr(finder, "find_spec", None)
            if find is None:
                continue
            spec: ModuleSpec | None = find(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        self.seen.add(fullname)
        if loader is None or not hasattr(loader, "exec_module"):
            # A namespace package has no body, so no functions of its own to wrap.
            for entry in self.modules[fullname]:
                _warn(
                    f"snapy_capture: target {entry.name} ({entry.where}) not found: "
                    f"{fullname} has no code of its own (a namespace package?)"
                )
            return spec
        spec.loader = cast("Loader", _WrappingLoader(loader, self))
        return spec

    def invalidate_caches(self) -> None:
        """Part of the finder protocol; this finder caches nothing."""

    # --- wrapping ---------------------------------------------------------------------

    def module_loaded(self, module: types.ModuleType) -> None:
        try:
            replaced = self.apply(module)
            if replaced:
                # Registries the module's body filled with its own functions.
                self.rebind(replaced, [module])
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - the import must go on (see _wrap)
            _warn(
                f"snapy_capture: could not wrap the targets of {module.__name__} "
                f"({exc!r}); it runs uncaptured"
            )

    def apply(
        self,
        module: types.ModuleType,
        *,
        names: Iterable[str] | None = None,
        record: str | None = None,
        first: str | None = None,
        quiet: bool = False,
        strict: bool = False,
    ) -> Replaced:
        """Wrap the targets of ``module`` (only those under ``first``, when given).

        Args:
            module: the loaded module.
            names: the names the target file may give it (default: its own).
            record: the module name its captures are recorded under (default: its own).
            first: only the module-level name the runner's script just defined.
            quiet: say nothing about targets not found.
            strict: let a warning made an error (``-W error``) propagate.

        Returns:
            The module-level functions replaced: id -> (original, wrapper, target name).
        """
        names = tuple(names) if names is not None else (module.__name__,)
        self.seen.update(names)
        targets = [t for name in names for t in self.modules.get(name, ())]
        report = _silent if quiet else functools.partial(_warn, strict=strict)
        run = Wrapping(self.patches, record or module.__name__, report, self.wrap)
        # Exact names first: their options win over a pattern that also matches.
        for entry in targets:
            if entry.is_pattern or (first is not None and entry.qualname.split(".")[0] != first):
                continue
            try:
                member = resolve(module, entry.qualname)
            except TargetNotFoundError as missing:
                run.report(
                    f"snapy_capture: target {entry.name} ({entry.where}) not found: {missing}"
                )
                continue
            self.matched.add(entry.name)
            run.wrap(entry, entry.qualname, member)
        patterns = [entry for entry in targets if entry.is_pattern]
        try:
            if patterns:
                self._apply_patterns(module, patterns, first, run)
        finally:
            for name, qualname, wrapper in run.wrapped:
                found = self.sites.setdefault(name, [])
                if all(held is not wrapper for _qualname, held in found):
                    found.append((qualname, wrapper))
        return run.replaced

    def _apply_patterns(
        self, module: types.ModuleType, patterns: list[Target], first: str | None, run: Wrapping
    ) -> None:
        found = members(module, first)
        kinds = {qualname: member.kind for qualname, member in found.items()}
        for entry in patterns:
            hits = selected(entry, kinds)
            if hits:
                self.matched.add(entry.name)
            elif first is None:
                run.report(
                    f"snapy_capture: target {entry.name} ({entry.where}) matches no "
                    f"function in {module.__name__}"
                )
            for qualname in hits:
                run.wrap(entry, qualname, found[qualname])

    def rebind(self, replaced: Replaced, modules: list[types.ModuleType] | None = None) -> None:
        """Point the references other code holds to the replaced functions at the wrappers.

        Without ``modules`` (the hook installed after the targets' modules were imported):
        ``from module import f`` copies in every loaded module, then the registries of the
        targets' modules and of the modules that imported from them; what still holds an
        original is found in one pass over the heap. With ``modules`` (a target module just
        loaded): the registries in those modules. One warning names what could not be
        rebound.
        """
        rebinding = Rebinding(replaced, self.patches)
        if modules is None:
            namespaces, importers = rebind_copies(replaced, self.patches)
            rebinding.modules(importers)
            held = rebinding.held
            for name, keys in other_holders(replaced, namespaces).items():
                places = held.setdefault(name, [])
                places.extend(f"a dict under {key}" for key in keys if key not in places)
        else:
            rebinding.modules(modules, namespaces=True)
            held = rebinding.held
        for source, into in ((rebinding.rebound, self.rebound), (held, self.held)):
            for name, places in source.items():
                into.setdefault(name, []).extend(places)
        if held:
            listed = "; ".join(f"{name} in {', '.join(places)}" for name, places in held.items())
            _warn(
                f"snapy_capture: references the hook cannot rebind still hold the unwrapped "
                f"function (calls through them are not captured): {listed}",
                strict=modules is None,
            )

    # --- the runner's script ------------------------------------------------------------

    def set_script(self, module: types.ModuleType, name: str) -> None:
        """Treat ``module`` (the runner's ``__main__``) as the module ``name`` too."""
        self.script = module
        self.script_name = name
        self.seen.update({"__main__", name})

    def script_defined(self, name: str) -> None:
        script = self.script
        if script is None:
            return
        try:
            self.apply(
                script,
                names=dict.fromkeys(("__main__", self.script_name)),
                record=self.script_name,
                first=name,
                quiet=True,
            )
        except Exception as exc:  # noqa: BLE001
            _warn(f"snapy_capture: could not wrap {self.script_name}:{name} ({exc!r})")

    def remove(self) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        for patch in reversed(list(self.patches.values())):
            try:
                patch.undo()
            except Exception as exc:  # noqa: BLE001
                _warn(f"snapy_capture: could not restore {patch.attr} ({exc!r})")
        self.patches.clear()


class _WrappingLoader:
    """Delegates to the real loader; wraps the targets once the module's body has run."""

    def __init__(self, loader: Any, hook: ImportHook) -> None:
        self._snapy_loader = loader
        self._snapy_hook = hook

    def __getattr__(self, name: str) -> Any:
        return getattr(self._snapy_loader, name)

    def exec_module(self, module: types.ModuleType) -> None:
        loader = self._snapy_loader
        # The body, and everything after it (pkgutil, importlib.resources, inspect), sees
        # the real loader, as if we had never been there.
        try:
            if module.__spec__ is not None and module.__spec__.loader is cast("Any", self):
                module.__spec__.loader = loader
            if getattr(module, "__loader__", None) is self:
                module.__loader__ = loader
        except Exception:  # noqa: BLE001, S110 - a read-only module: our loader still works
            pass
        loader.exec_module(module)
        self._snapy_hook.module_loaded(sys.modules.get(module.__name__, module))
