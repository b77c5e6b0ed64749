"""MkDocs hook: the generated parts of the documentation, made from the code at build time.

A page asks for a part with a marker line, ``<!-- snapy:NAME -->``:

- ``cli``: every ``snapy-capture`` command's help, from the argparse parser itself;
- ``runner``: ``python -m snapy_capture.run --help``;
- ``options``: the configuration table, from ``snapy_capture.config.OPTIONS``;
- ``bench-chart`` / ``bench-tables``: the Performance chart (an inline SVG) and tables, drawn
  from the committed ``docs/performance/bench.json`` that ``python -m benchmarks --json`` wrote.

So a reference page cannot drift from the code, nor the chart from its figures. An unknown
marker fails the build. Nothing here touches the network.
"""

from __future__ import annotations

import argparse
import html
import io
import json
import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

from snapy_capture.cli import PROG, build_parser
from snapy_capture.config import OPTIONS

# The option table's own module: its "no production value" marker is not re-exported.
from snapy_capture.config._options import NO_PROFILE
from snapy_capture.run import HELP

MARKER = re.compile(r"^<!-- snapy:([a-z-]+) -->$", re.MULTILINE)
BENCH_JSON = Path("performance") / "bench.json"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any, **_: Any) -> str:
    docs_dir = Path(config["docs_dir"])

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        make = GENERATORS.get(name)
        if make is None:
            raise PluginError(f"{page.file.src_path}: unknown generated part {name!r}")
        return make(docs_dir)

    return MARKER.sub(replace, markdown)


# --- the command line -----------------------------------------------------------------------


def _help_width() -> None:
    # argparse wraps help to the terminal's width; a fixed width gives the same page anywhere.
    os.environ["COLUMNS"] = "96"


def cli_reference(_docs: Path) -> str:
    _help_width()
    parser = build_parser(io.StringIO())
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    helps = {a.dest: a.help for a in sub._choices_actions}
    parts = [
        "| Command | What it does |",
        "|---|---|",
        *(f"| [`{PROG} {name}`](#{name}) | {helps.get(name, '')} |" for name in sub.choices),
        "",
        f"### {PROG}",
        "",
        "```text",
        parser.format_help().rstrip(),
        "```",
    ]
    for name, command in sub.choices.items():
        parts += [
            "",
            f"### {name} {{#{name}}}",
            "",
            "```text",
            command.format_help().rstrip(),
            "```",
        ]
    return "\n".join(parts)


def runner_reference(_docs: Path) -> str:
    return "```text\n" + HELP.rstrip() + "\n```"


# --- the configuration table ----------------------------------------------------------------


def _value(value: Any) -> str:
    return f"`{value!r}`"


def options_table(_docs: Path) -> str:
    rows = [
        "| option | default | production | environment variable | meaning |",
        "|---|---|---|---|---|",
    ]
    for option in OPTIONS:
        production = "" if option.production is NO_PROFILE else _value(option.production)
        env = f"`{option.env}`" if option.env else "—"
        doc = html.escape(option.doc) + (" (added up across levels)" if option.additive else "")
        rows.append(
            f"| `{option.name}` | {_value(option.default)} | {production} | {env} | {doc} |"
        )
    return "\n".join(rows)


# --- the benchmark's figures ----------------------------------------------------------------


def _bench(docs: Path) -> dict[str, Any]:
    path = docs / BENCH_JSON
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PluginError(f"{path}: cannot read the benchmark figures: {exc}") from None
    return data


def _fmt_ns(ns: float) -> str:
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.1f} µs"
    return f"{ns:.0f} ns"


#: Rows of the chart: what a user weighs when choosing how to capture a hot function.
CHART_ROWS = (
    "bare call",
    "wrapt pass-through",
    "capture disabled",
    "sampled out",
    "async+lazy (caller)",
    "async capture (caller)",
    "tmpfs: synchronous capture",
    "raw pickle + atomic write",
    "synchronous capture",
)


def _svg_bars(rows: list[tuple[str, float]], title: str) -> str:
    """A horizontal bar chart on a log scale (the figures span five orders of magnitude)."""
    label_w, bar_w, value_w, row_h, top = 230, 380, 80, 24, 34
    width = label_w + bar_w + value_w
    height = top + row_h * len(rows) + 28
    low = 10 ** math.floor(math.log10(min(v for _, v in rows)))
    high = 10 ** math.ceil(math.log10(max(v for _, v in rows)))
    span = math.log10(high) - math.log10(low)

    def x(value: float) -> float:
        return label_w + bar_w * (math.log10(value) - math.log10(low)) / span

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{html.escape(title)}" '
        'style="max-width:100%;height:auto;font-family:sans-serif;font-size:12px">',
        f'<text x="0" y="16" font-weight="bold" fill="currentColor">{html.escape(title)}</text>',
    ]
    decade = low
    while decade <= high:
        gx = x(decade)
        out.append(
            f'<line x1="{gx:.1f}" y1="{top - 6}" x2="{gx:.1f}" y2="{height - 22}" '
            'stroke="#999" stroke-opacity="0.35"/>'
        )
        out.append(
            f'<text x="{gx:.1f}" y="{height - 8}" text-anchor="middle" fill="currentColor">'
            f"{_fmt_ns(decade)}</text>"
        )
        decade *= 10
    for i, (name, value) in enumerate(rows):
        y = top + i * row_h
        out.append(
            f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end" fill="currentColor">'
            f"{html.escape(name)}</text>"
        )
        out.append(
            f'<rect x="{label_w}" y="{y + 4}" width="{max(x(value) - label_w, 1):.1f}" '
            f'height="{row_h - 8}" fill="#3f51b5"/>'
        )
        out.append(
            f'<text x="{x(value) + 6:.1f}" y="{y + 15}" fill="currentColor">{_fmt_ns(value)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def bench_chart(docs: Path) -> str:
    data = _bench(docs)
    medians = {row["name"]: row["median_ns"] for row in data["per_call"]["rows"]}
    rows = [(name, medians[name]) for name in CHART_ROWS if name in medians]
    if not rows:
        raise PluginError(f"{docs / BENCH_JSON}: no per-call rows to chart")
    svg = _svg_bars(rows, "Median time per call (log scale)")
    return f'<div class="snapy-chart">\n{svg}\n</div>'


def bench_tables(docs: Path) -> str:
    data = _bench(docs)
    parts = [
        f"Measured {data['generated']} · Python {data['python']} · {data['platform']}",
        "",
        "| per call | min | median |",
        "|---|---|---|",
        *(
            f"| {row['name']} | {_fmt_ns(row['min_ns'])} | {_fmt_ns(row['median_ns'])} |"
            for row in data["per_call"]["rows"]
        ),
        "",
        "| ratio (judged on the paired median) | paired | goal | |",
        "|---|---|---|---|",
    ]
    for ratio in data["per_call"]["ratios"]:
        goal = ratio["goal"]
        verdict = "" if goal is None else ("ok" if ratio["paired"] <= goal else "**missed**")
        goal_text = "" if goal is None else f"≤ {goal}"
        parts.append(f"| {ratio['label']} | {ratio['paired']:.3f} | {goal_text} | {verdict} |")
    storage = data.get("storage_10_vs_10000", {}).get("rows", [])
    if storage:
        parts += [
            "",
            "| 10,000 vs 10 captures kept | paired ratio | pairs of directories | goal |",
            "|---|---|---|---|",
            *(
                f"| {row['name']} | {row['paired']:.2f} | "
                f"{min(row['spread']):.2f} to {max(row['spread']):.2f} | ≤ {row['goal']} |"
                for row in storage
            ),
        ]
    hook = data.get("import_hook", {})
    if hook:
        finder = hook["finder_ns_per_non_target_import"]
        parts += [
            "",
            f"The import hook's own cost per import of a module that is not a target: "
            f"{_fmt_ns(finder)} ({finder / hook['module_import_ns'] * 100:.3f}% of one module "
            f"import, {_fmt_ns(hook['module_import_ns'])} here).",
        ]
    filters = data.get("filters", {}).get("rows", [])
    if filters:
        parts += [
            "",
            "| filtering (`ArgumentFilter.filter_call`) | min | median |",
            "|---|---|---|",
            *(
                f"| {row['name']} | {_fmt_ns(row['min_ns'])} | {_fmt_ns(row['median_ns'])} |"
                for row in filters
            ),
        ]
    huge = data.get("huge_arguments", {})
    if huge.get("rows"):
        parts += [
            "",
            f"| a 50 MB argument (measured {huge.get('generated', data['generated'])}) | bare "
            "call | + synchronous | + async_storage | allocated | capture file |",
            "|---|---|---|---|---|---|",
            *(
                f"| {row['name']} | {_fmt_ns(row['bare_ns'])} | {_fmt_ns(row['sync_extra_ns'])} "
                f"| {_fmt_ns(row['async_extra_ns'])} | {row['peak_bytes'] / 1024:.0f} KiB "
                f"| {row['capture_bytes']} B |"
                for row in huge["rows"]
            ),
        ]
    parts += _startup_table(data.get("startup", {}))
    return "\n".join(parts)


def _startup_table(startup: dict[str, Any]) -> list[str]:
    """``benchmarks/bench_startup.py``'s rows: whole processes, in ms over plain python."""
    rows = startup.get("rows", [])
    if not rows:
        return []

    def ms(ns: float) -> str:
        return f"{ns / 1e6:+.1f}"

    plain = rows[0]
    parts = [
        "",
        f"Start-up (`benchmarks/bench_startup.py`, {startup['rounds']} rounds of fresh "
        f"processes, load average {startup['load']}): ms over plain `python` (itself "
        f"{plain['wall_ns'] / 1e6:.1f} ms wall, {plain['cpu_ns'] / 1e6:.1f} ms CPU), medians of "
        "the paired differences; the last row is the capture layer's share, over the floor's row.",
        "",
        "| start-up | wall | CPU | goal (wall) |",
        "|---|---|---|---|",
    ]
    for row in rows[1:]:
        if "over_floor_wall_ns" in row:  # the capture layer's share: over the floor's row
            wall, cpu, goal = row["over_floor_wall_ns"], row["over_floor_cpu_ns"], None
        else:
            wall, cpu, goal = row["over_plain_wall_ns"], row["over_plain_cpu_ns"], row["goal_ns"]
        verdict = (
            "" if goal is None else f"≤ {ms(goal)} " + ("ok" if wall <= goal else "**missed**")
        )
        parts.append(f"| {row['name']} | {ms(wall)} | {ms(cpu)} | {verdict} |")
    return parts


GENERATORS: dict[str, Callable[[Path], str]] = {
    "cli": cli_reference,
    "runner": runner_reference,
    "options": options_table,
    "bench-chart": bench_chart,
    "bench-tables": bench_tables,
}
