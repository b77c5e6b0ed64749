"""The public API: what the contract and the README name is importable from where they say."""

from __future__ import annotations

import importlib
import inspect
import pickle
import re
from pathlib import Path

import pytest

import snapy_capture
from snapy_capture import errors

ROOT = Path(__file__).resolve().parents[1]
CONTRACT_NAMES = [
    *("capture_args", "load_capture", "load_capture_dict", "has_capture", "CaptureLoader"),
    *("CaptureStorage", "CaptureConfig", "set_global_config", "get_global_config"),
    *("ArgumentFilter", "SENSITIVE_PATTERNS", "CaptureNotFoundError", "CaptureProfiler"),
    *("PickleSerializer", "JSONSerializer", "JSONPickleSerializer", "install_import_hook"),
    *("uninstall_import_hook", "flush"),
]
SEED_MODULES = ["capture", "storage", "config", "filters", "loader", "run", "autoload"]


def test_all_lists_the_contract_and_every_exception() -> None:
    """``snapy_capture.__all__`` holds the contract's names and every error and warning."""
    exported = set(snapy_capture.__all__)
    assert set(CONTRACT_NAMES) <= exported
    raised = {
        name
        for name, value in vars(errors).items()
        if inspect.isclass(value) and issubclass(value, (Exception, Warning))
    }
    assert raised <= exported
    for name in snapy_capture.__all__:
        assert getattr(snapy_capture, name) is not None


@pytest.mark.parametrize(
    "name", [n for n, v in vars(errors).items() if inspect.isclass(v) and n[0] != "_"]
)
def test_every_exception_claims_the_package_and_pickles(name: str) -> None:
    """Errors say ``snapy_capture.X``, are there, and survive a pickle round trip."""
    cls = getattr(errors, name)
    assert cls.__module__ == "snapy_capture"
    assert getattr(snapy_capture, name) is cls
    if issubclass(cls, Exception):
        args = ("m",) if name != "AmbiguousCaptureError" else ("m", ["a", "b"])
        copy = pickle.loads(pickle.dumps(cls(*args)))
        assert type(copy) is cls
        assert copy.args == cls(*args).args


@pytest.mark.parametrize("module", SEED_MODULES)
def test_the_seeds_module_paths_import(module: str) -> None:
    importlib.import_module(f"snapy_capture.{module}")


def _documented() -> list[tuple[str, str]]:
    """(module, attribute path) of every ``from snapy_capture... import X`` and every dotted
    ``snapy_capture.a.b.X`` in the README and the examples."""
    text = (ROOT / "README.md").read_text() + "".join(
        p.read_text() for p in sorted((ROOT / "examples").rglob("*.py"))
    )
    found = set()
    for module, names in re.findall(r"from (snapy_capture[\w.]*) import ([\w, ]+)", text):
        found.update((module, name.strip()) for name in names.split(",") if name.strip())
    found.update(_split(dotted) for dotted in re.findall(r"\bsnapy_capture(?:\.\w+)+", text))
    return sorted(found)


def _split(dotted: str) -> tuple[str, str]:
    """The longest importable module of ``dotted``, and the attribute path after it."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        module = ".".join(parts[:cut])
        try:
            importlib.import_module(module)
        except ImportError:
            continue
        return module, ".".join(parts[cut:])
    return dotted, ""


@pytest.mark.parametrize(("module", "name"), _documented())
def test_every_name_the_readme_shows_is_importable_from_there(module: str, name: str) -> None:
    value = importlib.import_module(module)
    for part in filter(None, name.split(".")):
        value = getattr(value, part)


@pytest.mark.parametrize(
    "module", ["snapy_capture.config", "snapy_capture.filters", "snapy_capture.storage"]
)
def test_dir_lists_every_public_name_even_those_made_where_first_asked_for(module: str) -> None:
    """``config.Serializer``/``Filter``, ``filters.CustomFilter`` and ``storage.StoredPath``
    became lazy (issue 21) and went missing from ``dir()`` (completion, ``inspect.getmembers``)."""
    imported = importlib.import_module(module)
    assert set(imported.__all__) <= set(dir(imported))
