"""The import hook, in process: what gets wrapped, when, and what uninstall puts back."""

from __future__ import annotations

import asyncio
import importlib
import importlib.machinery
import pickle
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from snapy_capture import (
    ConfigError,
    SnapyCaptureWarning,
    install_import_hook,
    load_capture_dict,
    uninstall_import_hook,
)
from snapy_capture.capture import site_of, wrap
from snapy_capture.hook import ImportHook, current, install, parse_targets


def is_captured(func: object) -> bool:
    """Whether ``func`` is a capture proxy (the decorator's or the import hook's)."""
    return site_of(func) is not None


SHOP = """
import asyncio

RATE = 0.2

def charge_card(amount, card_number):
    return amount * 2

def charge_cash(amount):
    return amount

def refund(amount):
    return -amount

async def notify(customer):
    await asyncio.sleep(0)
    return f"sent to {customer}"

def numbers(limit):
    yield from range(limit)

class Base:
    def inherited(self, x):
        return x + 1

class Service(Base):
    class Audit:
        def log(self, entry):
            return entry.upper()

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"Service({self.name!r})"

    def pay(self, amount):
        return f"{self.name} paid {amount}"

    @classmethod
    def create(cls, name):
        return cls(name)

    @staticmethod
    def fee(amount):
        return amount / 100

    @property
    def label(self):
        return self.name.title()
"""


@pytest.fixture
def modules(tmp_path: Path) -> Iterator[Path]:
    """A directory on sys.path for test modules; the hook is removed afterwards."""
    root = tmp_path / "mods"
    root.mkdir()
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    yield root
    uninstall_import_hook()


def make(root: Path, name: str, source: str = SHOP) -> Path:
    path = root.joinpath(*name.split(".")).with_suffix(".py")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def latest(name: str) -> dict[str, Any]:
    return load_capture_dict(name)


def test_module_imported_after_install_is_wrapped_and_keeps_its_loader(modules: Path) -> None:
    """Targets are wrapped after the body runs; the module's loader and spec are the real ones."""
    make(modules, "hooktest_a")
    install_import_hook({"targets": ["hooktest_a:charge_card"]})
    import hooktest_a  # type: ignore[import-not-found]

    assert is_captured(hooktest_a.charge_card)
    assert not is_captured(hooktest_a.charge_cash)
    assert isinstance(hooktest_a.__loader__, importlib.machinery.SourceFileLoader)
    assert hooktest_a.__spec__.loader is hooktest_a.__loader__
    assert hooktest_a.charge_card(5, card_number="4111111111111111") == 10
    record = latest("hooktest_a:charge_card")
    assert record["args"] == [5]
    assert record["kwargs"]["card_number"] != "4111111111111111"  # filtered as decorated


def test_methods_classmethod_staticmethod_nested_property_async_generator(
    modules: Path,
) -> None:
    """Every kind of callable is wrapped where it is stored, so it still binds correctly."""
    make(modules, "hooktest_b")
    install_import_hook(
        {
            "targets": [
                "hooktest_b:Service.pay",
                "hooktest_b:Service.create",
                "hooktest_b:Service.fee",
                "hooktest_b:Service.Audit.log",
                "hooktest_b:Service.label",
                "hooktest_b:notify",
                "hooktest_b:numbers",
                "hooktest_b:Service.inherited",
            ]
        }
    )
    import hooktest_b  # type: ignore[import-not-found]

    service = hooktest_b.Service.create("ann")
    assert isinstance(service, hooktest_b.Service)
    assert service.pay(3) == "ann paid 3"
    assert hooktest_b.Service.fee(250) == 2.5
    assert service.fee(100) == 1
    assert hooktest_b.Service.Audit().log("x") == "X"
    assert service.label == "Ann"
    assert isinstance(vars(hooktest_b.Service)["label"], property)
    assert asyncio.run(hooktest_b.notify("bob")) == "sent to bob"
    assert list(hooktest_b.numbers(3)) == [0, 1, 2]
    assert service.inherited(1) == 2
    assert hooktest_b.Base().inherited(1) == 2  # only the named class is affected
    assert is_captured(vars(hooktest_b.Service)["create"])

    assert latest("hooktest_b:Service.pay")["args"] == [3]
    assert latest("hooktest_b:Service.create")["args"] == ["ann"]
    assert latest("hooktest_b:Service.fee")["args"] == [100]
    assert latest("hooktest_b:Service.Audit.log")["args"] == ["x"]
    assert latest("hooktest_b:Service.label")["args"][0].name == "ann"  # a getter's self
    assert latest("hooktest_b:notify")["args"] == ["bob"]
    assert latest("hooktest_b:numbers")["args"] == [3]
    assert latest("hooktest_b:Service.inherited")["args"] == [1]
    assert not is_captured(vars(hooktest_b.Base)["inherited"])


def test_patterns_select_by_qualname_and_skip_dunders_but_init(modules: Path) -> None:
    """'Service.*' takes methods (and __init__), not __repr__; 'charge_*' takes functions."""
    make(modules, "hooktest_c")
    install_import_hook({"targets": ["hooktest_c:Service.*", "hooktest_c:charge_*"]})
    import hooktest_c  # type: ignore[import-not-found]

    service_dict = vars(hooktest_c.Service)
    for name in ("__init__", "pay", "create", "fee"):
        assert is_captured(service_dict[name]), name
    assert is_captured(service_dict["label"].fget)
    assert is_captured(vars(hooktest_c.Service.Audit)["log"])
    assert not is_captured(service_dict["__repr__"])
    assert is_captured(hooktest_c.charge_card)
    assert is_captured(hooktest_c.charge_cash)
    assert not is_captured(hooktest_c.refund)
    assert not is_captured(hooktest_c.asyncio.sleep)  # imported names are never selected


def test_already_imported_module_and_from_import_copies_are_wrapped_and_restored(
    modules: Path,
) -> None:
    """Install after import wraps at once and rebinds `from m import f` copies; uninstall
    puts every original back."""
    make(modules, "hooktest_d")
    make(modules, "hooktest_d_user", "from hooktest_d import charge_cash\n")
    import hooktest_d  # type: ignore[import-not-found]
    import hooktest_d_user  # type: ignore[import-not-found]

    original = hooktest_d.charge_cash
    install_import_hook({"targets": ["hooktest_d:charge_cash"]})
    assert is_captured(hooktest_d.charge_cash)
    assert hooktest_d_user.charge_cash is hooktest_d.charge_cash
    hooktest_d_user.charge_cash(7)
    assert latest("hooktest_d:charge_cash")["args"] == [7]

    assert uninstall_import_hook()
    assert hooktest_d.charge_cash is original
    assert hooktest_d_user.charge_cash is original
    assert current() is None
    assert not any(isinstance(f, ImportHook) for f in sys.meta_path)


def test_registries_of_importers_are_rebound_and_the_rest_named_in_a_warning(
    modules: Path,
) -> None:
    """Install after import: a dict, a list of lists and a set of the importing module are
    rebound (and put back on uninstall); a tuple and a dict held by an object are named."""
    make(modules, "hooktest_e")
    make(
        modules,
        "hooktest_e_registry",
        "from hooktest_e import refund\n"
        "HANDLERS = {'refund_handler': refund}\n"
        "CHAIN = [[refund]]\n"
        "ONCE = {refund}\n"
        "PAIR = ('x', refund)\n"
        "class Box:\n"
        "    def __init__(self):\n"
        "        self.table = {'kept': refund}\n"
        "BOX = Box()\n",
    )
    import hooktest_e_registry as registry  # type: ignore[import-not-found]

    original = registry.refund
    with pytest.warns(SnapyCaptureWarning) as caught:
        install_import_hook({"targets": ["hooktest_e:refund"]})
    assert [str(w.message) for w in caught] == [
        "snapy_capture: references the hook cannot rebind still hold the unwrapped function "
        "(calls through them are not captured): hooktest_e:refund in "
        "hooktest_e_registry.PAIR[1], a dict under 'kept'"
    ]
    assert caught[0].filename == __file__  # the caller's line, not one of ours
    assert is_captured(registry.HANDLERS["refund_handler"])
    assert is_captured(registry.CHAIN[0][0])
    assert [is_captured(f) for f in registry.ONCE] == [True]
    registry.HANDLERS["refund_handler"](5)
    assert latest("hooktest_e:refund")["args"] == [5]

    assert uninstall_import_hook()
    assert registry.HANDLERS["refund_handler"] is original
    assert registry.CHAIN[0][0] is original
    assert [f is original for f in registry.ONCE] == [True]


REGISTRIES = """
import collections

def shout(text):
    return text.upper()

FILTERS = {"shout": shout}
ORDERED = collections.OrderedDict(s=shout)
ROUTES = {"/": [shout]}
ONCE = {shout}
alias = shout

class Representer:
    handlers = {}

    @classmethod
    def add(cls, kind, handler):
        cls.handlers = {**cls.handlers, kind: handler}

    def represent(self, data):
        return f"<{data}>"

    same = represent

class Child(Representer):
    pass

Representer.add(dict, Representer.represent)
"""


def test_registries_a_module_fills_as_it_loads_are_rebound_and_put_back(
    modules: Path,
) -> None:
    """Functions filed in dicts, nested lists, sets, an alias and a class registry while
    their module loads are captured through them; uninstall puts the originals back. An
    inherited method is not rebound in the base class's registry."""
    make(modules, "hooktest_reg", REGISTRIES)
    make(modules, "hooktest_reg_child", REGISTRIES)
    install_import_hook(
        {
            "targets": [
                "hooktest_reg:shout",
                "hooktest_reg:Representer.represent",
                "hooktest_reg_child:Child.represent",
            ]
        }
    )
    import hooktest_reg as reg  # type: ignore[import-not-found]
    import hooktest_reg_child as child  # type: ignore[import-not-found]

    original = reg.FILTERS["shout"].__wrapped__
    held = [reg.FILTERS["shout"], reg.ORDERED["s"], reg.ROUTES["/"][0], *reg.ONCE, reg.alias]
    assert all(is_captured(f) for f in held)
    assert is_captured(vars(reg.Representer)["same"])
    handler = reg.Representer.handlers[dict]
    assert is_captured(handler)
    assert handler(reg.Representer(), "x") == "<x>"
    assert latest("hooktest_reg:Representer.represent")["args"][-1] == "x"
    # Wrapped on Child itself: the base class, and its registry, keep their own function.
    assert is_captured(vars(child.Child)["represent"])
    assert not is_captured(child.Representer.handlers[dict])
    assert child.Representer.handlers[dict] is vars(child.Representer)["represent"]

    plain_method = vars(reg.Representer)["represent"].__wrapped__
    assert uninstall_import_hook()
    assert reg.FILTERS["shout"] is original
    assert reg.ORDERED["s"] is original
    assert reg.ROUTES["/"][0] is original
    assert [f is original for f in reg.ONCE] == [True]
    assert reg.alias is original
    assert reg.Representer.handlers[dict] is plain_method
    assert vars(reg.Representer)["same"] is plain_method


def test_reload_rewraps_without_double_wrapping(modules: Path) -> None:
    """After importlib.reload the new function is wrapped once."""
    make(modules, "hooktest_f")
    install_import_hook({"targets": ["hooktest_f:refund"]})
    import hooktest_f  # type: ignore[import-not-found]

    first = hooktest_f.refund
    importlib.reload(hooktest_f)
    assert hooktest_f.refund is not first
    assert is_captured(hooktest_f.refund)
    assert not is_captured(hooktest_f.refund.__wrapped__)
    assert hooktest_f.refund(2) == -2
    assert isinstance(hooktest_f.__loader__, importlib.machinery.SourceFileLoader)


def test_packages_namespace_packages_and_import_module(modules: Path) -> None:
    """Package __init__ targets, submodules of a namespace package, importlib.import_module."""
    make(modules, "hooktest_pkg.__init__", "def setup(level):\n    return level * 2\n")
    make(modules, "hooktest_pkg.inner", "def work(x):\n    return x\n")
    make(modules, "hooktest_ns.sub", "def work(x):\n    return -x\n")  # no __init__.py
    install_import_hook(
        {"targets": ["hooktest_pkg:setup", "hooktest_pkg.inner:work", "hooktest_ns.sub:work"]}
    )
    package = importlib.import_module("hooktest_pkg")
    inner = importlib.import_module("hooktest_pkg.inner")
    namespaced = importlib.import_module("hooktest_ns.sub")

    assert package.setup(2) == 4
    assert inner.work(1) == 1
    assert namespaced.work(1) == -1
    for name in ("hooktest_pkg:setup", "hooktest_pkg.inner:work", "hooktest_ns.sub:work"):
        assert latest(name)["args"] in ([2], [1])
    assert package.__path__  # still a package


def test_missing_targets_warn_naming_them_and_the_import_succeeds(modules: Path) -> None:
    """A missing function, class or pattern match is a warning naming the target."""
    make(modules, "hooktest_g")
    install_import_hook(
        {
            "targets": [
                "hooktest_g:no_such",
                "hooktest_g:Nope.method",
                "hooktest_g:zzz_*",
                "hooktest_g:RATE",
                "hooktest_g:Service",
            ]
        }
    )
    with pytest.warns(SnapyCaptureWarning) as caught:
        import hooktest_g  # type: ignore[import-not-found]
    messages = "\n".join(str(w.message) for w in caught)
    assert "hooktest_g:no_such" in messages
    assert "has no attribute 'no_such'" in messages
    assert "hooktest_g:Nope.method" in messages
    assert "hooktest_g:zzz_* (<mapping>) matches no function" in messages
    assert "RATE is a float, not a function" in messages
    assert "names the class Service" in messages
    assert hooktest_g.refund(1) == -1


@pytest.mark.parametrize(
    ("failure", "said"),
    [
        # One target's failure is that target's warning.
        (RuntimeError("hook bug"), r"could not wrap refund \(RuntimeError: hook bug\)"),
        # What the per-target net lets through (a Warning: -W error made one of ours an error)
        # is caught around the whole module.
        (UserWarning("hook bug"), r"could not wrap the targets of hooktest_h \(UserWarning"),
    ],
)
def test_an_error_inside_the_hook_never_breaks_the_import(
    modules: Path, failure: BaseException, said: str
) -> None:
    """Whatever goes wrong while wrapping, the user's module imports and works."""
    make(modules, "hooktest_h")

    def broken(*args: object, **kwargs: object) -> object:
        raise failure

    install(parse_targets({"targets": ["hooktest_h:refund"]}), wrap=broken)
    with pytest.warns(SnapyCaptureWarning, match=said):
        import hooktest_h  # type: ignore[import-not-found]
    assert hooktest_h.refund(3) == -3
    assert not is_captured(hooktest_h.refund)


def test_an_error_in_the_module_itself_still_raises(modules: Path) -> None:
    """The hook does not swallow the module's own exceptions."""
    make(modules, "hooktest_i", "raise KeyError('from the module')\n")
    install_import_hook({"targets": ["hooktest_i:f"]})
    with pytest.raises(KeyError, match="from the module"):
        import hooktest_i  # type: ignore[import-not-found]  # noqa: F401


def test_wrapped_targets_pickle_by_reference(modules: Path) -> None:
    """multiprocessing can still send a targeted function: it pickles as a reference."""
    make(modules, "hooktest_j")
    install_import_hook({"targets": ["hooktest_j:refund"]})
    import hooktest_j  # type: ignore[import-not-found]

    assert pickle.loads(pickle.dumps(hooktest_j.refund)) is hooktest_j.refund


def test_per_target_options_are_used(modules: Path, tmp_path: Path) -> None:
    """Options given to a target (here path and record_result) apply to its captures."""
    make(modules, "hooktest_k")
    elsewhere = tmp_path / "elsewhere"
    install_import_hook(
        {
            "defaults": {"record_result": True},
            "targets": [
                {"target": "hooktest_k:refund", "path": str(elsewhere)},
                "hooktest_k:charge_cash",
            ],
        }
    )
    import hooktest_k  # type: ignore[import-not-found]

    hooktest_k.refund(4)
    hooktest_k.charge_cash(1)
    assert load_capture_dict("hooktest_k:refund", path=elsewhere)["result"] == {"value": -4}
    assert latest("hooktest_k:charge_cash")["result"] == {"value": 1}


def test_per_target_arg_filter_from_yaml(modules: Path, tmp_path: Path) -> None:
    """A target's arg_filter (a mapping of filter options in YAML) filters its arguments."""
    make(modules, "hooktest_f")
    config = tmp_path / "targets.yaml"
    config.write_text(
        "version: 1\ntargets:\n  - target: hooktest_f:refund\n"
        "    arg_filter: {ignore_args: [amount]}\n",
        encoding="utf-8",
    )
    install_import_hook(config=config)
    import hooktest_f  # type: ignore[import-not-found]

    assert hooktest_f.refund(7) == -7
    assert latest("hooktest_f:refund")["args"] == ["[FILTERED: name:amount]"]


def test_config_comes_from_a_file_or_the_environment(
    modules: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A YAML path works, SNAP_CAPTURE_CONFIG is the default, broken files raise."""
    make(modules, "hooktest_l")
    config = tmp_path / "targets.yaml"
    config.write_text("version: 1\ntargets:\n  - hooktest_l:refund\n", encoding="utf-8")
    monkeypatch.setenv("SNAP_CAPTURE_CONFIG", str(config))
    install_import_hook()
    import hooktest_l  # type: ignore[import-not-found]

    assert is_captured(hooktest_l.refund)
    config.write_text("targets: [", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"targets\.yaml:1: invalid YAML"):
        install_import_hook(config)


def test_installing_twice_replaces_the_first_hook(modules: Path) -> None:
    """A second install does not stack hooks or wrap twice."""
    make(modules, "hooktest_m")
    import hooktest_m  # type: ignore[import-not-found]

    original = hooktest_m.refund
    install_import_hook({"targets": ["hooktest_m:refund"]})
    install_import_hook({"targets": ["hooktest_m:refund"]})
    assert sum(isinstance(f, ImportHook) for f in sys.meta_path) == 1
    assert hooktest_m.refund.__wrapped__ is original
    uninstall_import_hook()
    assert hooktest_m.refund is original
    assert not uninstall_import_hook()


# --- hostile and self-referencing targets (issue 15, item 12) -------------------------------


def test_targets_inside_snapy_capture_are_refused_and_the_rest_installed(modules: Path) -> None:
    """A warning per refused target; install_import_hook itself raises nothing."""
    make(modules, "hooktest_self")
    asked: list[tuple[str | None, str | None]] = []

    def recording(
        func: Any, overrides: Any = None, *, module: Any = None, qualname: Any = None
    ) -> Any:
        asked.append((module, qualname))
        return wrap(func, overrides, module=module, qualname=qualname)

    spec = parse_targets(
        {
            "targets": [
                "snapy_capture.capture._pipeline:*",
                "snapy_capture.storage:CaptureStorage.*",
                "hooktest_self:refund",
            ]
        }
    )
    with pytest.warns(SnapyCaptureWarning) as caught:
        install(spec, wrap=recording)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 2, messages
    assert all("snapy_capture's own capture machinery" in m for m in messages)
    import hooktest_self  # type: ignore[import-not-found]

    assert is_captured(hooktest_self.refund)
    assert asked == [("hooktest_self", "refund")]  # nothing of ours was even offered to wrap
    from snapy_capture import storage

    assert not is_captured(wrap)
    assert not is_captured(storage.CaptureStorage.save)


def test_snapy_capture_functions_reached_through_a_user_module_are_refused(
    modules: Path,
) -> None:
    """A re-export, or a method inherited from one of our classes, is ours all the same."""
    make(
        modules,
        "hooktest_reexport",
        "from snapy_capture import CaptureStorage, capture_args\n"
        "class Store(CaptureStorage):\n    pass\n",
    )
    import hooktest_reexport  # type: ignore[import-not-found]

    with pytest.warns(SnapyCaptureWarning, match="defined in snapy_capture") as caught:
        install_import_hook(
            {"targets": ["hooktest_reexport:capture_args", "hooktest_reexport:Store.save"]}
        )
    assert len(caught) == 2
    assert not is_captured(hooktest_reexport.capture_args)
    assert "save" not in vars(hooktest_reexport.Store)


@pytest.mark.parametrize("failure", [RecursionError, SystemExit, GeneratorExit, ValueError])
def test_one_targets_failure_of_any_class_is_a_warning(
    modules: Path, failure: type[BaseException]
) -> None:
    """Whatever wrapping one target raises, installing the hook warns and wraps the others."""
    make(modules, "hooktest_fail")
    import hooktest_fail  # type: ignore[import-not-found]

    def fail_on_refund(func: Any, overrides: Any = None, **names: Any) -> Any:
        if names["qualname"] == "refund":
            raise failure("wrapping went wrong")
        return wrap(func, overrides, **names)

    spec = parse_targets({"targets": ["hooktest_fail:refund", "hooktest_fail:charge_cash"]})
    with pytest.warns(SnapyCaptureWarning, match=rf"could not wrap refund \({failure.__name__}"):
        install(spec, wrap=fail_on_refund)
    assert is_captured(hooktest_fail.charge_cash)
    assert not is_captured(hooktest_fail.refund)
