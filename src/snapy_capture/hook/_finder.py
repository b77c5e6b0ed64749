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

import _thread
import os
import sys
import time
import types
import warnings

from snapy_capture import _wrapt
from snapy_capture._forksafe import fork_safe
from snapy_capture.errors import SnapyCaptureWarning
from snapy_capture.hook._startup import (
    CONFIG_FILE_ENV,
    Deferred,
    cached,
    forget,
    holds_secret,
    may_hold_secret,
    plain_document,
    read_target_file,
    remember,
    sync_own_code,
)

# Start-up imports only the above (see _startup): the rest of the hook, the target file's
# parser and the capture layer are imported when the first target module is
# (``ImportHook._ready``). Not ``typing.TYPE_CHECKING``: typing itself costs a few ms.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from importlib.abc import Loader  # noqa: F401 - named in a cast below
    from importlib.machinery import ModuleSpec
    from typing import Any, Final, cast

    from snapy_capture.hook._patch import Replaced, Wrap, Wrapping
    from snapy_capture.hook._targets import Target, TargetSpec
else:

    def cast(_type: object, value: object) -> object:
        return value


__all__ = [
    "ImportHook",
    "current",
    "default_config_path",
    "install",
    "install_import_hook",
    "script_defined",
    "uninstall_import_hook",
]

_lock = fork_safe(_thread.RLock())
_hook: ImportHook | None = None
#: How long a thread importing a target module waits for another thread loading the capture
#: layer (which takes tens of ms; see ImportHook._ready). Also the one delay such a thread
#: sees if the load needs a module it is importing (a target in a module capture imports too).
_LOAD_WAIT: Final = 1.0


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
    if config is None or isinstance(config, (str, os.PathLike)):
        spec: TargetSpec | Deferred = read_targets(
            os.fspath(config) if config is not None else default_config_path()
        )
    else:
        from snapy_capture.hook._targets import TargetSpec, load_targets  # noqa: PLC0415

        spec = config if isinstance(config, TargetSpec) else load_targets(config)
    install(spec)


def read_targets(path: str) -> TargetSpec | Deferred:
    """The targets of the file at ``path``, parsed only if the start-up cache lacks them.

    When the cache holds this file's targets for its current text, the file is not parsed
    now (a :class:`Deferred`, parsed when the first target module is imported); otherwise it
    is parsed, and its targets cached for the next process.

    Raises:
        ConfigError: one line naming the file (and line) and what is wrong in it.
    """
    text = read_target_file(path)
    absolute = os.path.abspath(path)
    base_dir = os.path.dirname(absolute)
    found = None if may_hold_secret(text) else cached(absolute, text)
    if found is not None:
        return Deferred(path, text, base_dir, *found)
    # yaml, config and filters: what start-up spares when the cache has the file.
    from snapy_capture.hook._targets import MAX_TARGETS, parse_targets  # noqa: PLC0415
    from snapy_capture.hook._yaml import load_yaml  # noqa: PLC0415

    data, lines = load_yaml(text, path, max_items=MAX_TARGETS)
    spec = parse_targets(data, source=path, lines=lines, base_dir=base_dir)
    # Refusals are said by every process, and a secret is copied nowhere: such files are
    # never cached.
    if holds_secret(data):
        forget(absolute)  # an entry an earlier version wrote holds it
    elif not spec.refused:
        listed = tuple((t.module, t.qualname, t.where) for t in spec.targets)
        remember(absolute, text, listed, plain_document(data, lines.dump()))
    return spec


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


def install(spec: TargetSpec | Deferred, *, wrap: Wrap | None = None) -> ImportHook:
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
        from snapy_capture import _logger  # noqa: PLC0415 - not at start-up (see the imports above)

        _logger.warning("%s", message)


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

    Until the first target module is imported, the hook knows only the targets' names: the
    targets are parsed (from a :class:`Deferred` spec) and the capture layer imported by
    :meth:`_ready`, when a module is first to be wrapped. A program that imports no target
    module never loads them.
    """

    def __init__(self, spec: TargetSpec | Deferred, *, wrap: Wrap | None = None) -> None:
        self.spec = spec
        self.wrap = wrap
        #: When capture was set up: the exit's report compares capture's cost with the run.
        self.started = time.perf_counter()
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
        # The lazy load (``_ready``): done, failed, or in progress (the thread's id), and the
        # modules to wrap once it is done. The lock guards these alone: nothing is imported,
        # and no other lock taken, while it is held.
        self.loaded = False
        self._failed = False
        self._loading: int | None = None
        self._pending: list[tuple[types.ModuleType, dict[str, Any], bool]] = []
        self._state = fork_safe(_thread.allocate_lock())
        #: Held by the loading thread while it loads: what another thread waits on.
        self._load_done = fork_safe(_thread.allocate_lock())

    # --- the finder -------------------------------------------------------------------

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: types.ModuleType | None = None,
    ) -> ModuleSpec | None:
        if fullname not in self.modules:
            if fullname == "wrapt" and _wrapt.alone():
                return self._find_wrapt(path, target)
            return None
        try:
            return self._find(fullname, path, target)
        except Exception as exc:  # noqa: BLE001 - the user's import must go on regardless
            _warn(
                f"snapy_capture: could not hook the import of {fullname} ({exc!r}); its "
                f"targets are not captured"
            )
            return None

    def _elsewhere(
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
                return spec
        return None

    def _find_wrapt(
        self, path: Sequence[str] | None, target: types.ModuleType | None
    ) -> ModuleSpec | None:
        """The program imports wrapt after capture loaded its C extension alone: the package
        as usual, given the modules registered already as its attributes (see _wrapt)."""
        try:
            spec = self._elsewhere("wrapt", path, target)
            if spec is None:
                return None
            if not _wrapt.shares(spec.submodule_search_locations):
                # Another wrapt (a copy the program put first on sys.path): its own modules,
                # as without capture, not ours mixed in.
                _wrapt.forget()
            elif hasattr(spec.loader, "exec_module"):
                spec.loader = cast("Loader", _WrappingLoader(spec.loader, _wrapt.bind))
            return spec
        except Exception:  # noqa: BLE001 - the import goes on as if we were not there
            return None

    def _find(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None
    ) -> ModuleSpec | None:
        spec = self._elsewhere(fullname, path, target)
        if spec is None:
            return None
        loader = spec.loader
        self.seen.add(fullname)
        if loader is None or not hasattr(loader, "exec_module"):
            # A namespace package has no body, so no functions of its own to wrap.
            for entry in self._entries(fullname):
                _warn(
                    f"snapy_capture: target {entry.name} ({entry.where}) not found: "
                    f"{fullname} has no code of its own (a namespace package?)"
                )
            return spec
        spec.loader = cast("Loader", _WrappingLoader(loader, self.module_loaded))
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
        if not self._ready(
            module,
            {"names": names, "record": record, "first": first, "quiet": quiet, "strict": strict},
        ):
            return {}
        import functools  # noqa: PLC0415 - see the imports above

        from snapy_capture.hook._patch import Wrapping  # noqa: PLC0415
        from snapy_capture.hook._resolve import TargetNotFoundError, resolve  # noqa: PLC0415

        targets = [t for name in names for t in self.modules.get(name, ())]
        report = _silent if quiet else functools.partial(_warn, strict=strict)
        run = Wrapping(self.patches, record or module.__name__, report, cast("Wrap", self.wrap))
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
        from snapy_capture.hook._resolve import members, selected  # noqa: PLC0415

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
        from snapy_capture.hook._patch import other_holders, rebind_copies  # noqa: PLC0415
        from snapy_capture.hook._registries import Rebinding  # noqa: PLC0415

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

    # --- the lazy load ------------------------------------------------------------------

    def _ready(self, module: types.ModuleType, options: dict[str, Any]) -> bool:
        """Whether the targets are parsed and the capture layer imported, so that ``module``
        can be wrapped now; the first call loads them.

        Another thread importing a target module meanwhile waits for the load, at most
        :data:`_LOAD_WAIT` seconds, then wraps its module itself: a program whose threads
        import their modules and call them at once (workers started together) has those
        calls captured. Past that (the loading thread may need a module lock that thread
        holds: a wait without bound could be a deadlock), and for a module the loading itself
        imports, ``False``: ``module`` is wrapped by the loading thread once it is done (and,
        imported by the loading, the copies others took of its functions rebound, as for a
        module imported before the hook). ``False`` too after the load failed: the hook then
        stays idle, and has said why once.
        """
        me = _thread.get_ident()
        with self._state:
            if self.loaded:
                return True
            if self._failed:
                return False
            loading = self._loading
            if loading is None:
                self._loading = me
                self._load_done.acquire()  # free: taken only here, under _state
        if loading is not None:
            return self._wait_for_load(module, options, same_thread=loading == me)
        try:
            spec = self._parsed()
            if self.wrap is None:
                _wrapt.prefer_extension()  # wrapt's C types without its package, if the
                from snapy_capture.capture import wrap  # noqa: PLC0415 - program has none yet

                self.wrap = wrap
            # The rest of the hook, and the exit report's count of first captures.
            import snapy_capture.hook._registries  # noqa: F401, PLC0415
            from snapy_capture.hook._report import watch_first_captures  # noqa: PLC0415

            watch_first_captures()
        except BaseException as exc:
            if not isinstance(exc, Exception):  # Ctrl-C...: the next target import loads
                with self._state:
                    self._loading = None
                self._load_done.release()
                raise
            # The program runs on, uncaptured.
            with self._state:
                self._failed = True
                self._loading = None
                self._pending.clear()
            self._load_done.release()
            self.modules = {}
            _warn(
                f"snapy_capture: could not load the targets of {self.spec.source} ({exc!r}); "
                f"the program runs uncaptured"
            )
            return False
        self.spec = spec
        self.modules = dict(spec.by_module)
        with self._state:
            self.loaded = True
            self._loading = None
            pending, self._pending = self._pending, []
        self._load_done.release()
        sync_own_code()
        replaced: Replaced = {}
        for waiting, kwargs, rebind in pending:
            done = self.apply(waiting, **kwargs)
            if rebind:
                replaced |= done
            elif done:  # imported by another thread meanwhile: as module_loaded does
                self.rebind(done, [waiting])
        if replaced:
            self.rebind(replaced)
        return True

    def _wait_for_load(
        self, module: types.ModuleType, options: dict[str, Any], *, same_thread: bool
    ) -> bool:
        """``_ready`` while a load is under way: wait for it (see there), or leave ``module``
        to the loading thread."""
        if not same_thread and self._load_done.acquire(True, _LOAD_WAIT):
            self._load_done.release()
        with self._state:
            if self.loaded or self._failed:
                return self.loaded
            # Same thread: imported by the loading, maybe copied from by what imports it.
            self._pending.append((module, options, same_thread))
            return False

    def _parsed(self) -> TargetSpec:
        """The spec, parsed if it was deferred: from the cached document (no yaml to import)
        if there is one, else from the text read at start-up (not the file, which may have
        changed since)."""
        spec = self.spec
        if not isinstance(spec, Deferred):
            return spec
        from snapy_capture.hook._targets import parse_targets, parse_text  # noqa: PLC0415
        from snapy_capture.hook._yaml import Lines  # noqa: PLC0415

        if spec.document is not None:
            data, lines = spec.document
            try:
                return parse_targets(
                    data, source=spec.source, lines=Lines.restore(lines), base_dir=spec.base_dir
                )
            except ValueError:  # not what the cache should hold (ConfigError too): parse
                pass
        return parse_text(spec.text, spec.source, spec.base_dir)

    def _entries(self, module: str) -> tuple[Target, ...]:
        """The targets in ``module``, parsed for this if the hook has not loaded them."""
        entries = self.modules.get(module, ())
        if entries or self.loaded or not isinstance(self.spec, Deferred):
            return entries
        try:
            return self._parsed().by_module.get(module, ())
        except Exception:  # noqa: BLE001 - parsed fine before (it was cached): say nothing
            return ()

    def forget_program(self) -> None:
        """At exit, once the program's own ``atexit`` handlers have run: let go of its
        modules, classes and functions, and send every call of a wrapper straight to its
        function (wrapt's C code, no code of ours).

        Plain ``python`` frees a script's ``__main__``, and every module nothing else holds,
        in its last garbage collection, globals intact: that is when the program's objects
        are finalized (``__del__``, ``weakref.finalize``). Held here, those modules would
        outlive it and be torn down as leftovers are, their globals (and ours) set to
        ``None`` first: a finalizer would fail on its own globals, or on ours by calling a
        target. Nothing can be captured then anyway (pickle finds no module), nor the hook
        be uninstalled.
        """
        if self.loaded:
            from snapy_capture.capture._pipeline import site_of  # noqa: PLC0415

            # list(): a daemon thread may still be importing (and wrapping) meanwhile.
            for found in list(self.sites.values()):
                for _qualname, wrapper in list(found):
                    site = site_of(wrapper)
                    if site is not None:
                        site.switch.clear()
        self.script = None
        self.patches.clear()
        self.sites.clear()
        with self._state:
            self._pending.clear()

    def remove(self) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        _wrapt.forget()
        for patch in reversed(list(self.patches.values())):
            try:
                patch.undo()
            except Exception as exc:  # noqa: BLE001
                _warn(f"snapy_capture: could not restore {patch.attr} ({exc!r})")
        self.patches.clear()


class _WrappingLoader:
    """Delegates to the real loader; once the module's body has run, hands the module to
    ``loaded`` (the hook wraps its targets)."""

    def __init__(self, loader: Any, loaded: Callable[[types.ModuleType], None]) -> None:
        self._snapy_loader = loader
        self._snapy_loaded = loaded

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
        self._snapy_loaded(sys.modules.get(module.__name__, module))
