"""The YAML target file: what is accepted, and the one-line errors for what is not."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from snapy_capture import ConfigError
from snapy_capture.hook._targets import MAX_FILE_BYTES, MAX_NODES, MAX_TARGETS, load_targets


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "capture.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_string_and_mapping_targets_with_defaults_below_per_target_options(
    tmp_path: Path,
) -> None:
    """Defaults apply to every target; a target's own keys win; ignore_args add up."""
    path = write(
        tmp_path,
        """
version: 1
defaults:
  retention: 5
  ignore_args: [token]
targets:
  - shop.pricing:apply_discount
  - target: shop.orders:OrderService.*
    retention: 2
    ignore_args: [customer]
""",
    )
    spec = load_targets(path)
    first, second = spec.targets
    assert (first.module, first.qualname, first.is_pattern) == (
        "shop.pricing",
        "apply_discount",
        False,
    )
    assert first.options == {"retention": 5, "ignore_args": ("token",)}
    assert second.is_pattern
    assert second.options == {"retention": 2, "ignore_args": ("token", "customer")}
    assert second.where == f"{path}:8"
    assert set(spec.by_module) == {"shop.pricing", "shop.orders"}


def test_patterns_match_qualnames() -> None:
    """Globs select on the qualified name; exact names only match themselves."""
    spec = load_targets({"targets": ["m:Service.*", "m:charge_?", "m:exact"]})
    service, charge, exact = spec.targets
    assert service.matches("Service.pay")
    assert not service.matches("Other.pay")
    assert charge.matches("charge_a")
    assert not charge.matches("charge_ab")
    assert exact.matches("exact")
    assert not exact.matches("exactly")


def test_relative_path_option_is_relative_to_the_target_file(tmp_path: Path) -> None:
    """Child processes started in another directory write to the same place."""
    path = write(tmp_path, "defaults: {path: caps}\ntargets: [m:f]\n")
    assert load_targets(path).targets[0].options["path"] == os.path.join(tmp_path, "caps")


def test_anchors_and_merge_keys_are_allowed(tmp_path: Path) -> None:
    """Sharing options with an anchor is normal YAML and works."""
    path = write(
        tmp_path,
        """
targets:
  - &common {target: "m:f", retention: 3}
  - {<<: *common, target: "m:g"}
""",
    )
    assert [t.options for t in load_targets(path).targets] == [{"retention": 3}] * 2


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            "targets:\n  - m:f\n  - target: m:g\n    retention: -1\n",
            4,
            "targets[1]: invalid value for option 'retention'",
        ),
        ("targets:\n  - target: m:g\n    colour: red\n", 3, "unknown capture option 'colour'"),
        ("targets:\n  - pkg.module.function\n", 2, "is not 'module:function'"),
        ("targets:\n  - 'pkg.*:function'\n", 2, "is not a module name"),
        ("version: 1\ntarget:\n  - m:f\n", 2, "unknown key 'target'"),
        ("version: 2\ntargets: []\n", 1, "unsupported version 2"),
        ("targets: m:f\n", 1, "'targets' must be a list"),
        ("targets:\n  - {retention: 3}\n", 2, "needs a 'target:' key"),
        ("targets:\n  - m:f\n  - m:f\n", 3, "duplicate target 'm:f' (first given at"),
        (
            "defaults:\n  sample_rate: 2\ntargets: []\n",
            2,
            "defaults: invalid value for option 'sample_rate'",
        ),
        ("targets:\n  - m:f\n  - [unclosed\n", 4, "invalid YAML"),
        ("targets:\n  - 42\n", 2, "expected 'module:function'"),
        ("defaults:\n  signing_key: ''\ntargets: []\n", 2, "defaults: signing_key is empty"),
        ("targets:\n  - target: m:f\n    signing_key: ' '\n", 3, "signing_key is empty"),
    ],
)
def test_mistakes_are_one_line_naming_file_line_and_problem(
    tmp_path: Path, text: str, line: int, message: str
) -> None:
    """Every mistake names the file, the line and what is wrong, on one line."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_targets(path)
    error = str(info.value)
    assert error.startswith(f"{path}:{line}: ")
    assert message in error
    assert "\n" not in error


def test_empty_and_missing_files_are_errors(tmp_path: Path) -> None:
    """An empty file or a wrong path says so, naming the file."""
    with pytest.raises(ConfigError, match="is empty"):
        load_targets(write(tmp_path, "# nothing yet\n"))
    with pytest.raises(ConfigError, match=r"nope\.yaml: target file not found"):
        load_targets(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="missing 'targets:'"):
        load_targets(write(tmp_path, "version: 1\n"))


def test_unsafe_yaml_tags_are_refused_not_executed(tmp_path: Path) -> None:
    """Only the safe loader is used: a python/object tag is an error, nothing runs."""
    marker = tmp_path / "ran"
    path = write(tmp_path, f"targets:\n  - !!python/object/apply:os.mkdir ['{marker}']\n")
    with pytest.raises(ConfigError, match=r"capture\.yaml:2: invalid YAML"):
        load_targets(path)
    assert not marker.exists()


def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    """A billion-laughs document is refused before anything expands it."""
    levels = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    path = write(
        tmp_path,
        "\n".join(["version: 1", "bomb:", *[f"  {level}" for level in levels], "targets: []", ""]),
    )
    start = time.perf_counter()
    with pytest.raises(ConfigError, match=f"more than {MAX_NODES} nodes|more than 100 YAML"):
        load_targets(path)
    assert time.perf_counter() - start < 30  # refused before expanding: only a hang exceeds this


def test_too_many_aliases_are_refused(tmp_path: Path) -> None:
    """Hundreds of aliases are refused even when each expands to little."""
    aliases = ", ".join(["*x"] * 150)
    path = write(tmp_path, f"defaults:\n  ignore_args: &x [a]\nextra: [{aliases}]\ntargets: []\n")
    with pytest.raises(ConfigError, match=r"capture\.yaml:3: more than 100 YAML aliases"):
        load_targets(path)


def test_a_mapping_is_validated_like_a_file() -> None:
    """Code may pass the same structure as a dict; errors name '<mapping>'."""
    spec = load_targets({"version": 1, "targets": [{"target": "m:f", "record_result": True}]})
    assert spec.targets[0].options == {"record_result": True}
    with pytest.raises(ConfigError, match=r"^<mapping>: targets\[0\]: "):
        load_targets({"targets": [{"target": "m:f", "enabled": "maybe"}]})


def test_the_shipped_example_is_valid_and_documents_every_option() -> None:
    """capture.yaml.example loads, and names every option users can set in YAML."""
    from snapy_capture.config import OPTIONS

    example = Path(__file__).resolve().parents[2] / "capture.yaml.example"
    spec = load_targets(example)
    assert spec.targets
    text = example.read_text(encoding="utf-8")
    for option in OPTIONS:
        documented = option.name if option.name == "arg_filter" else f"# {option.name}:"
        assert documented in text, option.name  # arg_filter: code only, said so


# --- hostile and self-referencing target files (issue 15, item 12) --------------------------


def test_a_file_over_the_size_limit_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    """Over MAX_FILE_BYTES: one line naming the limit, at once (not an 'aliases' error)."""
    lines = (f"  - m:f{i}\n" for i in range(MAX_FILE_BYTES // 8))
    path = write(tmp_path, "version: 1\ntargets:\n" + "".join(lines))
    assert path.stat().st_size > MAX_FILE_BYTES
    started = time.perf_counter()
    with pytest.raises(ConfigError, match=r"capture\.yaml: the target file is larger than 1 MiB"):
        load_targets(path)
    assert time.perf_counter() - started < 1


def test_more_targets_than_the_limit_are_refused_while_reading(tmp_path: Path) -> None:
    """MAX_TARGETS + 1 entries (small enough a file) are refused, naming the limit."""
    entries = "".join(f"  - m:f{i}\n" for i in range(MAX_TARGETS + 1))
    with pytest.raises(ConfigError, match=f"lists at most {MAX_TARGETS} targets"):
        load_targets(write(tmp_path, "version: 1\ntargets:\n" + entries))
    with pytest.raises(ConfigError, match=f"lists at most {MAX_TARGETS}"):
        load_targets({"targets": [f"m:f{i}" for i in range(MAX_TARGETS + 1)]})


def test_a_long_file_without_aliases_is_not_called_an_alias_bomb(tmp_path: Path) -> None:
    """4,000 mapping targets are over MAX_NODES nodes but expand nothing: they load."""
    entries = "".join(f"  - {{target: m:f{i}, record_result: true}}\n" for i in range(4_000))
    spec = load_targets(write(tmp_path, "version: 1\ntargets:\n" + entries))
    assert len(spec.targets) == 4_000


def test_targets_inside_snapy_capture_or_wrapt_are_set_apart_with_a_message(
    tmp_path: Path,
) -> None:
    """Refused targets are not installed, and each has one line naming file, line and target."""
    path = write(
        tmp_path,
        "version: 1\ntargets:\n  - m:f\n  - snapy_capture.capture._pipeline:*\n"
        "  - snapy_capture:capture_args\n  - wrapt.wrappers:FunctionWrapper.__init__\n"
        "  - snapy_capture_contrib:f\n",
    )
    spec = load_targets(path)
    assert [t.name for t in spec.targets] == ["m:f", "snapy_capture_contrib:f"]
    refusals = spec.refusals()
    assert [line.split(": ")[0] for line in refusals] == [f"{path}:{n}" for n in (4, 5, 6)]
    assert all("own capture machinery" in line and "refused" in line for line in refusals)


def test_a_bad_arg_filter_mapping_is_one_config_error_line_at_load(tmp_path: Path) -> None:
    """Filter options in YAML are checked as the file loads: one line, file and line named."""
    path = write(
        tmp_path,
        "version: 1\ntargets:\n  - target: m:f\n    arg_filter: {ignore_args: [iban], bogus: 1}\n",
    )
    with pytest.raises(ConfigError) as refused:
        load_targets(path)
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith(
        f"{path}:4: targets[0]: invalid value for option 'arg_filter': "
        "unknown arg_filter option(s) ['bogus']; known: "
    )
    good = write(tmp_path, "version: 1\ntargets:\n  - target: m:f\n    arg_filter: {max_size: 9}\n")
    (target,) = load_targets(good).targets
    assert target.options["arg_filter"].max_size == 9
