"""Real packages from PyPI, captured and replayed the way a user would (issue 17's proof).

Per package (pinned in the ``realpkgs`` extra): a legacy-style driver script that uses the
package normally, never edited for capture, runs under ``python -m snapy_capture.run`` with a
target file of method globs; ``snapy-capture gen-tests`` writes one module per captured
function in each mode; then pytest runs in a real subprocess: ``--snapshot-update``, twice
without it, and once more after a realistic behaviour change is patched into a copy of the
package. The counts (cases generated, passed, skipped with reasons, failures) are printed and,
with ``SNAPY_REALPKG_REPORT=<dir>``, written there as JSON for the release note.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent / "realpkgs"
TIMEOUT = 120
MODES = ("snapshot", "result")
# A project's own pytest.ini, as a user would have it; the cache would only add noise.
PYTEST_INI = "[pytest]\naddopts = -p no:cacheprovider\n"
# Runs each gen-tests command line of the list in one interpreter: the very argv a user types
# (`snapy-capture gen-tests --path captures --mode M -o FILE NAME`), through the CLI's own
# main(), without paying an interpreter start per captured function.
GEN_TESTS = """
import io, json, sys
from snapy_capture.cli import main
results = []
for argv in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdout=out, stderr=err)
    results.append({"argv": argv, "code": code, "stdout": out.getvalue(), "stderr": err.getvalue()})
print(json.dumps(results))
"""


@dataclass(frozen=True)
class Regression:
    """A deliberate behaviour change, patched into a copy of the package put first on the path."""

    file: str  # inside the package
    old: str
    new: str
    shows: tuple[str, ...]  # what the failing run's output must contain: the readable diff
    why: str


@dataclass(frozen=True)
class RealPackage:
    name: str
    expected: frozenset[str]  # captured functions the driver must have produced, at least
    regression: Regression
    # Functions whose snapshot suite must be written (not refused) and pass: the ones whose
    # captures once could not be loaded or replayed stably.
    replayed: frozenset[str] = frozenset()


PACKAGES = (
    RealPackage(
        # attrs' code is in the ``attr`` package (``attrs`` re-exports it).
        "attr",
        frozenset(
            {
                "attr._make:evolve",
                "attr._next_gen:asdict",
                "attr.validators:_InValidator.__call__",
            }
        ),
        Regression(
            "validators.py",
            "msg = f\"'{attr.name}' must be in {self._original_options!r} (got {value!r})\"",
            "msg = f\"'{attr.name}' must be one of {self._original_options!r} (got {value!r})\"",
            ("must be in", "must be one of"),
            "the in_ validator words its refusal differently",
        ),
        # evolve's instance is a slotted @define class holding a lock: pickled through the
        # __getstate__ attrs writes, it was once replaced whole (an unstorable "Ledger"), so
        # evolve ran on a placeholder; the validator's Attribute, which pickles (its
        # __getstate__ stores its mappingproxy as a dict), was once called unstorable.
        frozenset({"attr._make:evolve", "attr.validators:_InValidator.__call__"}),
    ),
    RealPackage(
        "jinja2",
        frozenset(
            {
                "jinja2.filters:do_title",
                "jinja2.filters:do_wordwrap",
                "jinja2.environment:Environment.from_string",
                "jinja2.environment:Template.render",
            }
        ),
        Regression(
            "filters.py",
            "item[0].upper() + item[1:].lower()",
            "item[0].upper() + item[1:]",
            ("'Gadget'", "'GADGET'"),
            "the title filter no longer lowers the rest of each word",
        ),
        # do_wordwrap's environment holds its filters, captured ones among them (once stored
        # as getattr(None, name): unreadable); from_string returns a Template (once stored
        # whole: unreadable), whose globals are a ChainMap of functions (once snapshotted
        # with their addresses: red on the second run).
        frozenset({"jinja2.filters:do_wordwrap", "jinja2.environment:Environment.from_string"}),
    ),
    RealPackage(
        "mistune",
        frozenset(
            {
                "mistune.markdown:Markdown.__call__",
                "mistune.renderers.html:HTMLRenderer.inline_html",
                "mistune.renderers.html:HTMLRenderer.heading",
                "mistune.renderers.html:HTMLRenderer.render_token",
            }
        ),
        Regression(
            "renderers/html.py",
            "        if self._escape:\n            return escape_text(html)\n        return html\n",
            "        return escape_text(html)\n",
            ("<b>inline html</b>", "&lt;b&gt;inline html&lt;/b&gt;"),
            "inline HTML is escaped although the converter was built with escape=False "
            "(only visible on the configured instance: a blank HTMLRenderer() escapes anyway)",
        ),
    ),
    RealPackage(
        "networkx",
        frozenset(
            {
                "networkx.algorithms.shortest_paths.generic:shortest_path",
                "networkx.algorithms.centrality.degree_alg:degree_centrality",
                "networkx.classes.function:density",
                "networkx.classes.graph:Graph.add_edge",
            }
        ),
        Regression(
            "algorithms/centrality/degree_alg.py",
            "centrality = {n: d * s for n, d in G.degree()}",
            "centrality = {n: float(d) for n, d in G.degree()}",
            ("0.75", "3.0"),
            "degree centrality is no longer divided by n - 1",
        ),
        # networkx's algorithms are functions carrying their dispatcher as ``__self__``: once
        # taken for a receiver that could not be stored, which refused every capture of them.
        frozenset(
            {
                "networkx.algorithms.shortest_paths.generic:shortest_path",
                "networkx.algorithms.centrality.degree_alg:degree_centrality",
            }
        ),
    ),
    RealPackage(
        "pygments",
        frozenset(
            {
                "pygments.lexer:Lexer.get_tokens",
                "pygments.formatters.html:HtmlFormatter.get_style_defs",
                "pygments.formatters.html:HtmlFormatter.get_token_style_defs",
            }
        ),
        Regression(
            "formatters/html.py",
            "f'{prefix(cls)} {{ {style} }} /* {repr(ttype)[6:]} */'",
            "f'{prefix(cls)} {{ {style} }}'",
            ("/* Keyword */",),
            "the CSS lines lose their token-name comments",
        ),
    ),
    RealPackage(
        "sqlparse",
        frozenset(
            {
                "sqlparse:format",
                "sqlparse.lexer:Lexer.get_tokens",
                "sqlparse.sql:Statement.get_type",
                "sqlparse.sql:NameAliasMixin.get_alias",
            }
        ),
        Regression(
            "sql.py",
            "        if len(self.tokens) > 2 and ws is not None:\n"
            "            return self._get_first_name(reverse=True)\n",
            "",
            ("'u'",),
            'an alias without AS ("users u") is no longer recognised',
        ),
    ),
)


@dataclass
class Project:
    """One package's project directory, after the captured run and gen-tests."""

    package: RealPackage
    root: Path
    plain: subprocess.CompletedProcess[str]
    captured: subprocess.CompletedProcess[str]
    functions: dict[str, int]  # captured function -> captures
    corrupt: dict[str, int]
    generated: dict[str, list[str]] = field(default_factory=dict)  # mode -> test files
    refused: dict[str, str] = field(default_factory=dict)  # "mode name" -> the error line
    gen_errors: list[dict[str, Any]] = field(default_factory=list)


def _env(root: Path) -> dict[str, str]:
    """The user's environment: no pytest or snapy_capture settings of ours leak in."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST_", "SNAP_CAPTURE_"))
    }
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # First on the path from interpreter start on, so a patched copy of the package wins even
    # where pytest itself imports it (pygments) before any pytest.ini pythonpath applies.
    env["PYTHONPATH"] = str(root)
    return env


def _run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=root,
        env=_env(root),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name.lower()).strip("_")


@pytest.fixture(scope="module", params=PACKAGES, ids=lambda package: package.name)
def project(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The package's driver run without and with capture, then gen-tests for every function."""
    package: RealPackage = request.param
    root = tmp_path_factory.mktemp(package.name)
    for source in (DATA / package.name).iterdir():
        shutil.copy(source, root / source.name)
    (root / "pytest.ini").write_text(PYTEST_INI)
    plain = _run(root, "driver.py")
    captured = _run(root, "-m", "snapy_capture.run", "--config", "targets.yaml", "driver.py")
    listed = _run(root, "-m", "snapy_capture", "list", "--path", "captures", "--json")
    assert listed.returncode == 0, listed.stderr
    entries = json.loads(listed.stdout)["functions"]
    result = Project(
        package,
        root,
        plain,
        captured,
        {entry["name"]: entry["count"] for entry in entries},
        {entry["name"]: entry["corrupt"] for entry in entries if entry["corrupt"]},
    )
    commands = [
        [
            "gen-tests",
            "--path",
            "captures",
            "--mode",
            mode,
            "-o",
            f"tests/test_{mode}_{_slug(name)}.py",
            name,
        ]
        for mode in MODES
        for name in sorted(result.functions)
    ]
    generated = _run(root, "-c", GEN_TESTS, json.dumps(commands))
    assert generated.returncode == 0, generated.stderr
    for outcome in json.loads(generated.stdout):
        mode, name = outcome["argv"][4], outcome["argv"][-1]
        if outcome["code"] == 0:
            result.generated.setdefault(mode, []).append(outcome["argv"][6])
        elif any(
            refusal in outcome["stderr"]
            for refusal in (
                "is a generator: results are not recorded for generators",
                # gen-tests refuses a suite that could only skip (no recorded results in
                # result mode; every capture filtered or unloadable)
                "with a recorded result",
                "would be skipped",
                "would run:",
            )
        ):
            result.refused[f"{mode} {name}"] = outcome["stderr"].strip()
        else:
            result.gen_errors.append(outcome)
    return result


def _pytest(project: Project, junit: str, *args: str) -> subprocess.CompletedProcess[str]:
    # The generated suites only: a package copied in for the regression may ship its own
    # tests inside it (networkx: thousands), which a bare ``pytest`` would collect too.
    return _run(project.root, "-m", "pytest", "-rfEs", f"--junitxml={junit}", *args, "tests")


def _cases(project: Project, junit: str) -> list[dict[str, str]]:
    """Each test case of a run: its mode, function module, outcome and message."""
    cases = []
    # The file pytest just wrote in our own temporary directory, not untrusted input.
    for case in ET.parse(project.root / junit).iter("testcase"):  # noqa: S314
        module = case.get("classname", "").rpartition(".")[2]
        mode = "snapshot" if module.startswith("test_snapshot_") else "result"
        outcome, message = "passed", ""
        for kind in ("failure", "error", "skipped"):
            element = case.find(kind)
            if element is not None:
                outcome = "failed" if kind != "skipped" else "skipped"
                lines = (element.get("message") or "").splitlines()
                message = lines[0][:200] if lines else ""
                break
        cases.append(
            {
                "id": f"{module}::{case.get('name', '')}",
                "mode": mode,
                "module": module,
                "outcome": outcome,
                "message": message,
            }
        )
    return cases


def _summary(cases: list[dict[str, str]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for mode in MODES:
        mine = [case for case in cases if case["mode"] == mode]
        summary[mode] = {
            "generated": len(mine),
            "passed": sum(case["outcome"] == "passed" for case in mine),
            "failed": sum(case["outcome"] == "failed" for case in mine),
            "skipped": sum(case["outcome"] == "skipped" for case in mine),
            "skip_reasons": dict(
                Counter(_generic(case["message"]) for case in mine if case["outcome"] == "skipped")
            ),
            "failures": dict(
                Counter(
                    f"{case['module']}: {_generic(case['message'])}"
                    for case in mine
                    if case["outcome"] == "failed"
                )
            ),
        }
    return summary


def _generic(message: str) -> str:
    """A message without its per-case parts (capture numbers, timestamps), to count by kind."""
    words = []
    for word in message.split():
        per_case = word.startswith("capture-") or (
            len(word) > 19 and word[:4].isdigit() and "T" in word
        )
        words.append("<case>" if per_case else word)
    return " ".join(words)


def _report(name: str, data: dict[str, Any]) -> None:
    print(f"\n[realpkgs] {name}: {json.dumps(data, indent=2, sort_keys=True)}")
    target = os.environ.get("SNAPY_REALPKG_REPORT")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        (Path(target) / f"{name}.json").write_text(json.dumps(data, indent=2, sort_keys=True))


def test_capture_leaves_the_program_alone_and_every_function_gets_a_suite(
    project: Project,
) -> None:
    """Same output with capture on; readable captures; gen-tests writes modules that collect."""
    assert project.plain.returncode == 0, project.plain.stderr
    assert project.captured.returncode == 0, project.captured.stderr
    assert project.captured.stdout == project.plain.stdout
    # No warning from capture either; only, when capturing took a good share of the run, the
    # line at exit naming the costliest targets (tests/integration/test_report_cost.py).
    cost_line = "snapy_capture: capturing took "
    captured_stderr = [
        line for line in project.captured.stderr.splitlines() if not line.startswith(cost_line)
    ]
    assert captured_stderr == project.plain.stderr.splitlines()
    missing = project.package.expected - set(project.functions)
    assert not missing, f"not captured: {sorted(missing)}; captured: {sorted(project.functions)}"
    assert not project.corrupt
    assert not project.gen_errors, project.gen_errors
    # Every function gets a snapshot module, or a one-line refusal saying why it could only
    # skip (an instance that could not be stored, secrets filtered, in every capture).
    refused = {key.partition(" ")[2] for key in project.refused if key.startswith("snapshot ")}
    assert not project.package.replayed & refused, project.refused
    assert len(project.generated.get("snapshot", [])) + len(refused) == len(project.functions)
    collected = _run(project.root, "-m", "pytest", "--collect-only", "-q")
    assert collected.returncode == 0, collected.stdout + collected.stderr
    # One case per capture: nothing stored is lost between the runner and the replay.
    counts = Counter(
        Path(line.partition("::")[0]).stem
        for line in collected.stdout.splitlines()
        if "[capture-" in line  # not the "[no-captures]" case of a function none is readable of
    )
    for name, count in project.functions.items():
        if name not in refused:
            assert counts[f"test_snapshot_{_slug(name)}"] == count, name


def test_generated_suites_green_twice_then_red_after_a_behaviour_change(
    project: Project,
) -> None:
    """Green with no edits, green again, then red with a readable diff after a real change."""
    update = _pytest(project, "update.xml", "--snapshot-update")
    first = _pytest(project, "first.xml")
    second = _pytest(project, "second.xml")
    regression = project.package.regression
    spec = importlib.util.find_spec(project.package.name)
    assert spec is not None
    assert spec.submodule_search_locations
    copy = project.root / project.package.name
    shutil.copytree(
        spec.submodule_search_locations[0], copy, ignore=shutil.ignore_patterns("__pycache__")
    )
    patched = copy / regression.file
    text = patched.read_text(encoding="utf-8")
    assert text.count(regression.old) == 1, f"{patched}: the line to change is not there once"
    patched.write_text(text.replace(regression.old, regression.new), encoding="utf-8")
    changed = _pytest(project, "changed.xml")
    baseline = _cases(project, "first.xml")
    after = _cases(project, "changed.xml")
    before = {case["id"]: case["outcome"] for case in baseline}
    newly_failed = [
        f"{case['module']}: {_generic(case['message'])}"
        for case in after
        if case["outcome"] == "failed" and before.get(case["id"]) != "failed"
    ]
    _report(
        project.package.name,
        {
            "captured_functions": project.functions,
            "result_mode_refused": sorted(project.refused),
            "first_run": _summary(baseline),
            "second_run": _summary(_cases(project, "second.xml")),
            "regression": regression.why,
            "regression_caught_by": dict(Counter(newly_failed)),
        },
    )
    assert update.returncode == 0, update.stdout[-4000:]
    assert first.returncode == 0, first.stdout[-4000:]
    assert second.returncode == 0, second.stdout[-4000:]
    assert any(case["outcome"] == "passed" for case in baseline)
    for name in project.package.replayed:
        module = f"test_snapshot_{_slug(name)}"
        mine = [case["outcome"] for case in baseline if case["module"] == module]
        assert mine, f"no snapshot case of {name}"
        assert set(mine) == {"passed"}, (name, mine)
    assert changed.returncode == 1, changed.stdout[-4000:]
    assert newly_failed, "the behaviour change failed no case"
    for shown in regression.shows:
        assert shown in changed.stdout, f"{shown!r} not in the failure output"
