"""Configuration: priority per option, environment parsing, validation of values in code."""

from __future__ import annotations

import dataclasses
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from snapy_capture import (
    ArgumentFilter,
    CaptureConfig,
    ConfigError,
    capture_args,
    flush,
    get_global_config,
    load_capture,
    set_global_config,
)
from snapy_capture.config import (
    DEFAULT_RETENTION,
    OPTIONS,
    SERIALIZER_NAMES,
    reload_environment,
    resolve_config,
)
from snapy_capture.filters import resolve_filter_spec
from snapy_capture.storage.serializers import get_serializer


def test_builtin_defaults_are_documented_values() -> None:
    """With nothing set, retention is the documented finite default and capture is on."""
    resolved = resolve_config()
    assert resolved.enabled is True
    assert resolved.retention == DEFAULT_RETENTION == 10
    assert resolved.sample_rate == 1.0
    assert resolved.async_storage is False


@pytest.mark.parametrize(
    ("option", "env_name", "env_value", "global_value", "decorator_value", "parsed_env"),
    [
        ("enabled", "SNAP_CAPTURE_ENABLED", "0", True, True, False),
        ("retention", "SNAP_CAPTURE_DEFAULT_RETENTION", "7", 3, 2, 7),
        ("sample_rate", "SNAP_CAPTURE_SAMPLE_RATE", "0.5", 0.25, 0.75, 0.5),
        ("async_storage", "SNAP_CAPTURE_ASYNC_STORAGE", "yes", False, False, True),
        ("max_capture_size", "SNAP_CAPTURE_MAX_CAPTURE_SIZE", "2048", 1024, 4096, 2048),
    ],
)
def test_priority_decorator_over_env_over_global_over_default(
    monkeypatch: pytest.MonkeyPatch,
    option: str,
    env_name: str,
    env_value: str,
    global_value: object,
    decorator_value: object,
    parsed_env: object,
) -> None:
    """Each option resolves decorator > environment > global config > built-in default."""
    default = CaptureConfig.__dataclass_fields__[option].default
    assert getattr(resolve_config(), option) == default
    set_global_config(CaptureConfig(**{option: global_value}))
    assert getattr(resolve_config(), option) == global_value
    monkeypatch.setenv(env_name, env_value)
    reload_environment()
    assert getattr(resolve_config(), option) == parsed_env
    assert getattr(resolve_config({option: decorator_value}), option) == decorator_value


def test_env_path_and_retention_none(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """SNAP_CAPTURE_DEFAULT_PATH sets the path; retention 'none' means no count limit."""
    monkeypatch.setenv("SNAP_CAPTURE_DEFAULT_PATH", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("SNAP_CAPTURE_DEFAULT_RETENTION", "none")
    reload_environment()
    resolved = resolve_config()
    assert resolved.path == str(tmp_path / "elsewhere")
    assert resolved.retention is None


def test_ignore_args_add_up_across_levels(monkeypatch: pytest.MonkeyPatch) -> None:
    """ignore_args from env, global config and decorator are all applied, none replaces another."""
    monkeypatch.setenv("SNAP_CAPTURE_IGNORE_ARGS", "ssn_last4, pin")
    reload_environment()
    set_global_config(CaptureConfig(ignore_args=["mothers_maiden_name"]))
    resolved = resolve_config({"ignore_args": ("card_data",)})
    assert set(resolved.ignore_args) == {"ssn_last4", "pin", "mothers_maiden_name", "card_data"}


@pytest.mark.parametrize(
    ("env_name", "bad_value"),
    [
        ("SNAP_CAPTURE_ENABLED", "maybe"),
        ("SNAP_CAPTURE_DEFAULT_RETENTION", "-3"),
        ("SNAP_CAPTURE_DEFAULT_RETENTION", "ten"),
        ("SNAP_CAPTURE_SAMPLE_RATE", "2.5"),
        ("SNAP_CAPTURE_PRODUCTION_MODE", "sometimes"),
    ],
)
def test_bad_env_value_warns_once_naming_variable_and_falls_back(
    monkeypatch: pytest.MonkeyPatch, env_name: str, bad_value: str
) -> None:
    """A bad environment value never raises: one warning naming the variable, next source used."""
    monkeypatch.setenv(env_name, bad_value)
    reload_environment()
    with pytest.warns(UserWarning, match=env_name) as record:
        resolved = resolve_config()
        resolve_config()
    assert len(record) == 1
    assert resolved == resolve_config()


def test_bad_env_value_falls_back_to_global(monkeypatch: pytest.MonkeyPatch) -> None:
    """After a bad env value, the global config (the next source) is used."""
    set_global_config(CaptureConfig(retention=4))
    monkeypatch.setenv("SNAP_CAPTURE_DEFAULT_RETENTION", "lots")
    reload_environment()
    with pytest.warns(UserWarning, match="SNAP_CAPTURE_DEFAULT_RETENTION"):
        assert resolve_config().retention == 4


@pytest.mark.parametrize(
    ("kwargs", "option"),
    [
        ({"retention": 0}, "retention"),
        ({"retention": "many"}, "retention"),
        ({"sample_rate": 1.5}, "sample_rate"),
        ({"max_age": "forever"}, "max_age"),
        ({"max_capture_size": -1}, "max_capture_size"),
        ({"serializer": "yaml"}, "serializer"),
        ({"enabled": "perhaps"}, "enabled"),
    ],
)
def test_bad_value_in_code_raises_value_error_naming_option(
    kwargs: dict[str, object], option: str
) -> None:
    """Bad values given in code raise ValueError at once, naming the option."""
    with pytest.raises(ValueError, match=option):
        CaptureConfig(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=option):
        capture_args(**kwargs)  # type: ignore[arg-type]


def test_production_mode_fills_only_unset_options() -> None:
    """production_mode switches unset options to the production profile; set ones stay."""
    set_global_config(CaptureConfig(production_mode=True, async_storage=False))
    resolved = resolve_config()
    assert resolved.async_storage is False
    assert resolved.minimal_capture is True
    assert resolved.ignore_large_objects is True
    assert resolved.max_capture_size == 65536


def test_production_mode_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """SNAP_CAPTURE_PRODUCTION_MODE=1 turns the production profile on."""
    monkeypatch.setenv("SNAP_CAPTURE_PRODUCTION_MODE", "1")
    reload_environment()
    assert resolve_config().async_storage is True


def test_seed_production_configuration() -> None:
    """The seed's 'Safe Production Configuration' example works as written."""
    config = CaptureConfig(
        production_mode=True,
        minimal_capture=True,
        ignore_large_objects=True,
        max_capture_size=1024,  # 1KB limit
        retention=1,  # Keep only latest
    )
    set_global_config(config)
    assert get_global_config() is config
    resolved = resolve_config()
    assert (resolved.retention, resolved.max_capture_size) == (1, 1024)


def test_max_age_accepts_durations() -> None:
    """max_age takes seconds, timedeltas or strings such as '7d'."""
    from datetime import timedelta

    assert CaptureConfig(max_age="7d").max_age == 7 * 86400
    assert CaptureConfig(max_age=timedelta(hours=2)).max_age == 7200
    assert CaptureConfig(max_age=90).max_age == 90


def test_config_error_is_a_value_error_and_pickles() -> None:
    """ConfigError subclasses ValueError and survives pickling."""
    import pickle

    with pytest.raises(ConfigError) as info:
        CaptureConfig(retention=-1)
    again = pickle.loads(pickle.dumps(info.value))
    assert isinstance(again, ValueError)
    assert str(again) == str(info.value)


def test_bad_env_value_under_warnings_as_errors_still_captures(tmp_path) -> None:
    """With python -W error, a bad variable is reported on stderr and capture goes on."""
    import os
    import subprocess
    import sys

    code = (
        "from snapy_capture import capture_args, load_capture\n"
        "@capture_args(path='caps')\n"
        "def f(x):\n    return x\n"
        "f(1)\nprint(load_capture('f', path='caps'))\n"
    )
    env = {**os.environ, "SNAP_CAPTURE_DEFAULT_RETENTION": "abc"}
    out = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "((1,), {})"
    assert "SNAP_CAPTURE_DEFAULT_RETENTION" in out.stderr
    assert "Traceback" not in out.stderr


# --- arg_filter named by a dotted path (issue 15, item 12) ----------------------------------

FILTERS = """
from __future__ import annotations

import pathlib

from snapy_capture import ArgumentFilter

MARKER = pathlib.Path({marker!r})

class Strict(ArgumentFilter):
    pass

INSTANCE = ArgumentFilter(ignore_args=["age"])

def annotated() -> ArgumentFilter:
    return ArgumentFilter(ignore_args=["zip"])

def unmarked():
    MARKER.write_text("called")
    return ArgumentFilter()

def lies() -> ArgumentFilter:
    return "not a filter"

class NotAFilter:
    def __init__(self):
        MARKER.write_text("instantiated")
"""


@pytest.fixture
def filter_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    marker = tmp_path / "marker"
    (tmp_path / "tgt_argfilters.py").write_text(FILTERS.format(marker=str(marker)))
    monkeypatch.syspath_prepend(str(tmp_path))
    return marker


def test_arg_filter_accepts_instances_subclasses_and_annotated_factories(
    filter_module: Path,
) -> None:
    """The documented forms keep working (annotations as strings, too)."""
    assert isinstance(resolve_filter_spec("tgt_argfilters:Strict"), ArgumentFilter)
    assert resolve_filter_spec("tgt_argfilters:INSTANCE").is_sensitive_name("age")
    assert resolve_filter_spec("tgt_argfilters:annotated").is_sensitive_name("zip")


@pytest.mark.parametrize(
    "spec",
    [
        "sys:exit",
        "builtins:exit",
        "os:getcwd",
        "tgt_argfilters:unmarked",
        "tgt_argfilters:NotAFilter",
        "tgt_argfilters:MARKER",
    ],
)
def test_arg_filter_refuses_anything_else_without_calling_it(
    filter_module: Path, spec: str
) -> None:
    """`sys:exit` does not exit, a plain function is not called (os:abort: test_runner)."""
    with pytest.raises(ConfigError, match="not an ArgumentFilter") as refused:
        resolve_filter_spec(spec)
    assert f"arg_filter {spec!r}" in str(refused.value)
    assert "'-> ArgumentFilter'" in str(refused.value)
    assert not filter_module.exists()


def test_arg_filter_factory_must_return_a_filter(filter_module: Path) -> None:
    with pytest.raises(ConfigError, match="gave str, not an ArgumentFilter"):
        resolve_filter_spec("tgt_argfilters:lies")


# --- one owner per fact: the option table, the serializer names, the layers (issue 16) -------


def test_config_imports_neither_filters_nor_storage() -> None:
    """The configuration is the bottom layer: importing it loads no filter or storage code."""
    code = (
        "import sys, snapy_capture.config\n"
        "print(sorted(m for m in sys.modules if m.startswith('snapy_capture.')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = done.stdout
    assert "snapy_capture.config" in loaded
    assert "snapy_capture.filters" not in loaded
    assert "snapy_capture.storage" not in loaded


def test_the_option_table_is_the_config_dataclass() -> None:
    """One row per CaptureConfig field, same names, same order, same defaults."""
    fields = [f for f in dataclasses.fields(CaptureConfig) if f.init]
    assert [option.name for option in OPTIONS] == [f.name for f in fields]
    assert [option.default for option in OPTIONS] == [f.default for f in fields]


def test_every_option_capture_args_takes_reaches_its_parser() -> None:
    """capture_args spells its options out for IDEs: each is an option, checked by its row."""
    parameters = inspect.signature(capture_args).parameters
    options = [name for name in parameters if name != "storage"]
    assert set(options) <= {option.name for option in OPTIONS}
    for name in options:
        with pytest.raises(ConfigError, match=f"invalid value for option '{name}'"):
            capture_args(**{name: object()})


def test_the_serializer_names_the_option_accepts_are_the_storage_serializers() -> None:
    """One list of names: every one the option accepts is a built-in serializer of that name."""
    assert SERIALIZER_NAMES == ("pickle", "json", "jsonpickle")
    for name in SERIALIZER_NAMES:
        assert CaptureConfig(serializer=name.upper()).serializer == name
        assert get_serializer(name).name == name
    with pytest.raises(ConfigError, match="expected one of pickle, json, jsonpickle"):
        CaptureConfig(serializer="yaml")


def test_a_bad_arg_filter_mapping_given_to_capture_args_fails_at_decoration() -> None:
    """A mistake in a mapping of filter options is one ConfigError, before any call."""
    with pytest.raises(ConfigError) as refused:
        capture_args(arg_filter={"ignore_args": ["iban"], "bogus": 1})
    assert str(refused.value).startswith(
        "invalid value for option 'arg_filter': unknown arg_filter option(s) ['bogus']; known: "
    )
    with pytest.raises(ConfigError, match="invalid value for option 'arg_filter': invalid"):
        capture_args(arg_filter={"max_size": -1})


@pytest.mark.parametrize("spec", ["x", "filters", "a..b", "pkg.mod:", ".mod:f", "pkg.mod."])
def test_an_arg_filter_string_naming_no_module_fails_at_decoration(spec: str) -> None:
    """A string that cannot name ``package.module:name`` is refused where it is given (it was
    accepted, and every call warned "Empty module name" instead)."""
    with pytest.raises(ConfigError) as refused:
        capture_args(arg_filter=spec)
    assert str(refused.value) == (
        "invalid value for option 'arg_filter': expected 'package.module:name' for arg_filter, "
        f"got {spec!r}"
    )


@pytest.mark.parametrize("spec", ["pkg.mod:name", "pkg.mod.name", "mod:Cls.attr", "a:b"])
def test_an_arg_filter_string_naming_a_module_is_kept_for_first_use(spec: str) -> None:
    assert CaptureConfig(arg_filter=spec).arg_filter == spec


def test_a_mapping_arg_filter_in_the_global_config_filters_what_it_names(
    capture_dir: Path,
) -> None:
    """CaptureConfig(arg_filter={...}) is built into a filter when a function resolves."""
    set_global_config(CaptureConfig(arg_filter={"ignore_args": ["iban"]}))

    @capture_args()
    def pay(iban: str, amount: int) -> None:
        pass

    pay("NO9386011117947", 5)
    flush()
    stored = b"".join(path.read_bytes() for path in capture_dir.rglob("*") if path.is_file())
    assert stored
    assert b"NO9386011117947" not in stored
    assert list(load_capture("pay")[0]) == ["[FILTERED: name:iban]", 5]


def test_a_bad_arg_filter_mapping_in_the_global_config_warns_and_the_host_runs(
    capture_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Checked where the filter is built: one warning naming the key, the call unharmed."""
    set_global_config(CaptureConfig(arg_filter={"bogus": 1}))

    @capture_args()
    def pay(iban: str) -> str:
        return iban

    assert pay("x") == "x"
    assert "unknown arg_filter option(s) ['bogus']" in caplog.text
    assert not [path for path in capture_dir.rglob("*") if path.is_file()]


def test_an_empty_file_url_is_refused_by_every_entry_point(tmp_path) -> None:
    """``path="file://"`` names no directory: the decorator took it (its captures then went
    to the current directory) while load_capture refused it. Now both refuse it, in one line;
    ``file:///dir`` is still the local directory ``/dir``."""
    for refuse in (
        lambda: capture_args(path="file://"),
        lambda: load_capture("m:f", path="file://"),
        lambda: CaptureConfig(path="file://  "),
    ):
        with pytest.raises(ConfigError, match=r"expected a URL with a directory, got 'file://"):
            refuse()
    assert CaptureConfig(path=f"file://{tmp_path}").path == str(tmp_path)
