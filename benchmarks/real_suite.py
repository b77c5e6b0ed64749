"""A real package's own test suite run captured: suite sizes with and without deduplication.

``python -m benchmarks.real_suite [--package mistune] [--rounds 3]`` (needs the package
registry; not part of ``make bench`` nor of the test suite). It downloads the pinned sdist of
a pure-Python package with ``pip download`` into a temporary directory, unpacks it, and runs
the package's own pytest suite there three ways, alternating, ``--rounds`` times:

* **bare**: ``python -m pytest`` (the snapy_capture plugin loaded, capture off);
* **dedupe off**: ``python -m snapy_capture.run --config targets.yaml -m pytest`` with
  ``retention: null`` (keep every capture) and ``dedupe: false``: one capture per call;
* **dedupe on**: the same with the default ``dedupe: true``.

Per captured function it prints the captures stored with dedupe off and on, the calls the kept
captures stand for (``snapy-capture list --json``: the sum of ``calls``), and the disk used
(blocks of the function's directory, the ``.dedupe`` index included). The calls made are the
runner report's count of captured calls; the script checks that the dedupe-off run stored one
capture per call and that the dedupe-on captures' counts add up to the same number. Wall times
are medians over the rounds, with the medians of the per-round ratios to the bare run (the
machine's load drifts between rounds far more than within one).

Bytecode is cached in a private ``PYTHONPYCACHEPREFIX`` warmed by one bare run first, so no
figure includes compiling.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: How long one test run may take before the benchmark gives up on it.
RUN_TIMEOUT = 900


@dataclass(frozen=True)
class Package:
    """A pinned sdist whose own tests are run, and the hot helpers captured meanwhile."""

    name: str
    version: str
    targets: tuple[str, ...]
    pytest_args: tuple[str, ...] = ()


PACKAGES = {
    # Markdown parser: text helpers called thousands of times by 949 tests of fixtures.
    "mistune": Package(
        "mistune",
        "3.1.4",
        ("mistune.util:*", "mistune.helpers:*"),
    ),
    # SQL parser, module functions only. Slow: utils.imt (77,000 calls) is given a token,
    # whose ``parent`` links carry the whole statement's tree into every capture; each
    # captured run took 7-10 minutes on 2 shared cores (the figures in docs/storage.md).
    "sqlparse": Package(
        "sqlparse",
        "0.5.3",
        ("sqlparse.utils:*", "sqlparse.keywords:*", "sqlparse.formatter:*"),
    ),
}
CONFIG = """\
version: 1
defaults:
  path: {path}
  retention: null
  dedupe: {dedupe}
targets:
{targets}
"""
PYTEST = ("-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:xdist")


@dataclass
class Run:
    seconds: float
    summary: str
    report: dict[str, Any] | None = None
    listing: dict[str, Any] | None = None
    disk: dict[str, int] | None = None


def fetch(package: Package, into: Path) -> Path:
    """The unpacked sdist of ``package`` under ``into`` (downloaded with pip)."""
    subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--no-binary",
            ":all:",
            "--dest",
            str(into),
            f"{package.name}=={package.version}",
        ],
        check=True,
        timeout=300,
    )
    archive = next(into.glob(f"{package.name}-{package.version}.tar.gz"))
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into / f"{package.name}-{package.version}"


def _disk(directory: Path) -> int:
    return sum(entry.stat().st_blocks * 512 for entry in directory.iterdir() if entry.is_file())


def run_once(source: Path, env: dict[str, str], mode: str, package: Package, n: int) -> Run:
    """One test run of the sdist's suite in ``source``: bare, or captured with dedupe off/on."""
    command = [sys.executable]
    captures = source.parent / f"captures-{mode}-{n}"
    report = source.parent / f"report-{mode}-{n}.json"
    if mode != "bare":
        config = source.parent / f"targets-{mode}.yaml"
        config.write_text(
            CONFIG.format(
                path=captures,
                dedupe="false" if mode == "dedupe off" else "true",
                targets="".join(f"  - {target!r}\n" for target in package.targets),
            ),
            encoding="utf-8",
        )
        command += ["-m", "snapy_capture.run", "--config", str(config), "--report", str(report)]
    command += [*PYTEST, *package.pytest_args]
    start = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        command,
        cwd=source,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    seconds = time.perf_counter() - start
    lines = done.stdout.strip().splitlines()
    summary = lines[-1] if lines else ""
    if done.returncode != 0:
        raise SystemExit(f"{mode} run failed ({done.returncode}): {summary}\n{done.stderr[-2000:]}")
    result = Run(seconds, summary)
    if mode != "bare":
        result.report = json.loads(report.read_text(encoding="utf-8"))
        listed = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
            [sys.executable, "-m", "snapy_capture", "list", "--json", "--path", str(captures)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        result.listing = json.loads(listed.stdout)
        result.disk = {
            item["name"]: _disk(Path(item["directory"])) for item in result.listing["functions"]
        }
    return result


def _called(report: dict[str, Any]) -> dict[str, int]:
    """Calls captured per function, by the runner's report (none were dropped: checked)."""
    calls: dict[str, int] = {}
    for target in report["targets"]:
        for name, function in target.get("functions", {}).items():
            if function["dropped"]:
                raise SystemExit(f"{name}: {function['dropped']} captures dropped")
            calls[name] = calls.get(name, 0) + function["captured"]
    return calls


def _size(count: int) -> str:
    return f"{count / 1024:.0f} KiB" if count < 10 * 1024 * 1024 else f"{count / 2**20:.1f} MiB"


def table(package: Package, runs: dict[str, list[Run]]) -> list[str]:
    """The per-function table and the wall times."""
    off, on = runs["dedupe off"][-1], runs["dedupe on"][-1]
    assert off.report is not None
    assert on.report is not None
    assert off.listing is not None
    assert on.listing is not None
    assert off.disk is not None
    assert on.disk is not None
    made, made_on = _called(off.report), _called(on.report)
    rows_off = {item["name"]: item for item in off.listing["functions"]}
    rows_on = {item["name"]: item for item in on.listing["functions"]}
    header = (
        f"{'function':<34} {'calls':>7} {'captures off':>12} {'captures on':>11} "
        f"{'sum of calls':>12} {'disk off':>9} {'disk on':>9}"
    )
    lines = [
        f"{package.name} {package.version}: its own tests ({runs['bare'][-1].summary}), "
        f"targets {', '.join(package.targets)}, retention null",
        "",
        header,
        "-" * len(header),
    ]
    totals = [0, 0, 0, 0, 0, 0]
    problems = []
    for name in sorted(set(rows_off) | set(rows_on) | set(made)):
        calls = made.get(name, 0)
        count_off = rows_off.get(name, {}).get("count", 0)
        count_on = rows_on.get(name, {}).get("count", 0)
        summed = rows_on.get(name, {}).get("calls", 0)
        disk_off, disk_on = off.disk.get(name, 0), on.disk.get(name, 0)
        if not calls == made_on.get(name, 0) == count_off == summed:
            problems.append(
                f"{name}: calls made {calls} (dedupe on: {made_on.get(name, 0)}), "
                f"captures off {count_off}, sum of calls on {summed}"
            )
        for index, figure in enumerate((calls, count_off, count_on, summed, disk_off, disk_on)):
            totals[index] += figure
        short = name.split(":", 1)[1] if ":" in name else name
        module = name.split(":", 1)[0].rsplit(".", 1)[-1]
        lines.append(
            f"{module + ':' + short:<34} {calls:>7} {count_off:>12} {count_on:>11} "
            f"{summed:>12} {_size(disk_off):>9} {_size(disk_on):>9}"
        )
    lines.append("-" * len(header))
    lines.append(
        f"{'total':<34} {totals[0]:>7} {totals[1]:>12} {totals[2]:>11} {totals[3]:>12} "
        f"{_size(totals[4]):>9} {_size(totals[5]):>9}"
    )
    lines.append("")
    lines.append(
        "sum of calls = calls made (the runner's report) = captures with dedupe off: "
        + ("yes, for every function" if not problems else "NO")
    )
    lines.extend(f"  {problem}" for problem in problems)
    lines.append(
        "bytes in the capture files (disk counts whole blocks, and the .dedupe index): "
        f"{_size(sum(row['size_bytes'] for row in rows_off.values()))} off, "
        f"{_size(sum(row['size_bytes'] for row in rows_on.values()))} on"
    )
    lines.append("")
    bare = [run.seconds for run in runs["bare"]]
    lines.append(f"wall time of the test run, median of {len(bare)} alternating rounds:")
    for mode, measured in runs.items():
        seconds = [run.seconds for run in measured]
        ratio = (
            ""
            if mode == "bare"
            else (
                f"   x{statistics.median(s / b for s, b in zip(seconds, bare, strict=True)):.2f}"
                " of bare (median of paired ratios)"
            )
        )
        lines.append(f"  {mode:<11} {statistics.median(seconds):7.2f} s{ratio}")
    paired = zip(runs["dedupe on"], runs["dedupe off"], strict=True)
    on_off = statistics.median(with_.seconds / without.seconds for with_, without in paired)
    lines.append(f"  dedupe on / dedupe off: x{on_off:.2f} (median of paired ratios)")
    if problems:
        lines.append("FAILED: the counts do not add up")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.real_suite", description=__doc__)
    parser.add_argument("--package", choices=sorted(PACKAGES), default="mistune")
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args(argv)
    package = PACKAGES[options.package]
    with tempfile.TemporaryDirectory(prefix="snapy-real-suite-") as tmp:
        root = Path(tmp)
        source = fetch(package, root)
        env = dict(os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(root / "pycache")
        for name in [name for name in env if name.startswith("SNAP_CAPTURE_")]:
            del env[name]  # the target file says everything
        run_once(source, env, "bare", package, 0)  # warms the bytecode cache
        runs: dict[str, list[Run]] = {"bare": [], "dedupe off": [], "dedupe on": []}
        for n in range(options.rounds):
            order = list(runs) if n % 2 == 0 else list(reversed(runs))
            for mode in order:
                runs[mode].append(run_once(source, env, mode, package, n))
        lines = table(package, runs)
    print("\n".join(lines))
    return 1 if lines[-1].startswith("FAILED") else 0


if __name__ == "__main__":
    sys.exit(main())
