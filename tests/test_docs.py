"""The documentation: a README a newcomer reads in minutes, and reference parts that are made
from the code (docs/hooks/generate.py) so that they cannot drift from it."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import types
from pathlib import Path

import pytest
import yaml

from snapy_capture.cli import build_parser
from snapy_capture.config import OPTIONS, Option

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _hooks() -> types.ModuleType:
    pytest.importorskip("mkdocs", reason="the docs extra is not installed")
    spec = importlib.util.spec_from_file_location("docs_hooks", DOCS / "hooks" / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_is_short_and_its_links_lead_somewhere() -> None:
    """At most ~200 lines, and every relative link names a file of the repository."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 200
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text)
    local = [link for link in links if "://" not in link]
    assert local, "the README links to the documentation pages"
    assert [link for link in local if not (ROOT / link).exists()] == []
    assert "the seed" not in text
    assert "issue notes" not in text


def test_every_page_in_the_nav_exists_and_every_page_is_in_the_nav() -> None:
    """mkdocs.yml's nav and docs/ agree (a page out of the nav is unreachable)."""

    def pages(node: object) -> list[str]:
        if isinstance(node, str):
            return [node]
        if isinstance(node, list):
            return [page for item in node for page in pages(item)]
        if isinstance(node, dict):
            return [page for value in node.values() for page in pages(value)]
        return []

    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    listed = set(pages(config["nav"]))
    present = {str(path.relative_to(DOCS)) for path in DOCS.glob("*.md")}
    assert listed == present


def test_the_build_fetches_nothing() -> None:
    """No web fonts, no plugin that downloads at build time (social cards, privacy)."""
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    assert config["theme"]["font"] is False
    plugins = [p if isinstance(p, str) else next(iter(p)) for p in config["plugins"]]
    assert not {"social", "privacy", "material/social", "material/privacy"} & set(plugins)
    handler = config["plugins"][plugins.index("mkdocstrings")]["mkdocstrings"]
    assert "import" not in handler["handlers"]["python"], "inventories are fetched"


def test_configuration_reference_has_every_option_of_the_table() -> None:
    """One row per option with its default, production value and variable, read from the
    option table (this replaces a README table that was kept in step by hand)."""
    table = _hooks().options_table(DOCS)
    rows = {}
    for line in table.splitlines():
        cells = [cell.strip().strip("`") for cell in line.strip().strip("|").split("|")]
        rows[cells[0]] = cells[1:4]
    unset = Option._field_defaults["production"]
    for option in OPTIONS:
        production = "" if option.production is unset else repr(option.production)
        assert rows.get(option.name) == [repr(option.default), production, option.env or "—"]


def test_cli_reference_has_every_command_and_option_of_the_parser() -> None:
    """Each sub-command's section shows its own help, so a new flag appears by itself."""
    import argparse
    import io

    text = _hooks().cli_reference(DOCS)
    parser = build_parser(io.StringIO())
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for name, command in sub.choices.items():
        assert f"### {name} {{#{name}}}" in text
        for action in command._actions:
            for flag in action.option_strings:
                assert flag in text


def test_the_chart_is_drawn_from_the_committed_figures(tmp_path: Path) -> None:
    """Change a figure in the JSON and the chart and the tables change with it."""
    hooks = _hooks()
    (tmp_path / "performance").mkdir()
    shutil.copy(DOCS / "performance" / "bench.json", tmp_path / "performance" / "bench.json")
    before = hooks.bench_chart(tmp_path), hooks.bench_tables(tmp_path)
    path = tmp_path / "performance" / "bench.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    for row in data["per_call"]["rows"]:
        if row["name"] == "synchronous capture":
            row["median_ns"] = 987_654.0
    path.write_text(json.dumps(data), encoding="utf-8")
    after = hooks.bench_chart(tmp_path), hooks.bench_tables(tmp_path)
    assert "987.7 µs" not in before[0] + before[1]
    assert "987.7 µs" in after[0]
    assert "987.7 µs" in after[1]
    assert after[0].count("<rect") == before[0].count("<rect") > 3


def test_the_start_up_rows_are_shown_from_the_committed_figures() -> None:
    """``make bench`` writes bench_startup's rows to the JSON; the tables show each of them
    (ms over plain python, the capture layer's share over the floor's row)."""
    hooks = _hooks()
    data = json.loads((DOCS / "performance" / "bench.json").read_text(encoding="utf-8"))
    rows = data["startup"]["rows"]
    tables = hooks.bench_tables(DOCS)
    names = [row["name"] for row in rows]
    assert "runner, target module imported" in names
    assert "plain python loading wrapt's C extension (the floor)" in names
    for row in rows[1:]:
        wall = row.get("over_plain_wall_ns", row.get("over_floor_wall_ns"))
        assert f"| {row['name']} | {wall / 1e6:+.1f} |" in tables
