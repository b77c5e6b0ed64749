"""Start-up of ``python -m snapy_capture.run``: what it adds to a whole process, paired.

Goals (issue 21): at most +20 ms over ``python noop.py`` when the target file's modules are
never imported, at most +60 ms when one is. Capturing needs wrapt's C extension, which the
import hook loads without the package (see ``snapy_capture._wrapt``): loading it alone is the
floor under the second goal, and the last row is the capture layer's share over it.
``import wrapt`` (the package: asyncio, importlib.metadata) is shown for scale.

Each round runs every variant once as a fresh process, in a new order each round, and the
figure kept per round is the variant's wall time minus the plain process's of the same round:
machine load drifts between rounds, far less within one. The table gives the median of those
paired differences. The runner's start-up cache (the parsed target file) and the bytecode caches
are warmed by one run first, as they are for every run after the first on a user's machine;
both live in a temporary directory here (``XDG_CACHE_HOME``, ``PYTHONPYCACHEPREFIX``).
"""

from __future__ import annotations

import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ._timing import report

ROUNDS = 25
#: Goals per variant, in ms over plain python (None: shown for scale only).
GOALS: dict[str, float | None] = {
    "runner, no target module imported": 20.0,
    "runner, target module imported": 60.0,
    "runner, target imported and called once": None,
    "plain python loading wrapt's C extension (the floor)": None,
    "plain python importing wrapt (the package, for scale)": None,
}
#: The capture layer's own share: a target module imported, less the floor (paired).
OURS = "ours beyond the floor (target module imported)"
FLOOR = "plain python loading wrapt's C extension (the floor)"
#: What the import hook loads of wrapt, as it loads it.
EXTENSION_ONLY = """\
from snapy_capture import _wrapt
_wrapt.prefer_extension()
_wrapt.wrapt_types()
"""
CONFIG = """\
version: 1
defaults:
  path: {captures}
targets:
  - startup_target:work
  - startup_target:Service.*
"""
TARGET = '''"""A module the target file names."""


def work(x, y=2):
    return x + y


class Service:
    def run(self, value):
        return value * 2
'''


def _scripts(root: Path) -> dict[str, list[str]]:
    (root / "noop.py").write_text("pass\n", encoding="utf-8")
    (root / "imports.py").write_text("import startup_target\n", encoding="utf-8")
    (root / "calls.py").write_text("import startup_target\nstartup_target.work(1)\n", "utf-8")
    (root / "startup_target.py").write_text(TARGET, encoding="utf-8")
    (root / "wrapt_only.py").write_text("import wrapt\n", encoding="utf-8")
    (root / "extension_only.py").write_text(EXTENSION_ONLY, encoding="utf-8")
    config = root / "capture.yaml"
    config.write_text(CONFIG.format(captures=root / "captures"), encoding="utf-8")
    runner = [sys.executable, "-m", "snapy_capture.run", "--config", str(config)]
    return {
        "plain python noop.py": [sys.executable, "noop.py"],
        "runner, no target module imported": [*runner, "noop.py"],
        "runner, target module imported": [*runner, "imports.py"],
        "runner, target imported and called once": [*runner, "calls.py"],
        FLOOR: [sys.executable, "extension_only.py"],
        "plain python importing wrapt (the package, for scale)": [sys.executable, "wrapt_only.py"],
    }


def _time(command: list[str], root: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU (user + system) ms of one run of ``command``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    # Our own interpreter and arguments: nothing untrusted.
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, check=False)  # noqa: S603
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.decode()[-500:]}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return elapsed * 1000, cpu * 1000


def run() -> list[str]:
    """Time the variants; return the printable table."""
    root = Path(tempfile.mkdtemp(prefix="snapy-bench-startup-"))
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("SNAP_CAPTURE_")
        and name not in ("PYTHONPATH", "PYTHONSTARTUP", "PYTHONDONTWRITEBYTECODE")
    }
    env["XDG_CACHE_HOME"] = str(root / "cache")
    # Bytecode written by the warm-up run and read by the others, as from an installed
    # package (compiling our modules at each start would be most of what is measured); in
    # the temporary directory, not next to the sources.
    env["PYTHONPYCACHEPREFIX"] = str(root / "pycache")
    try:
        variants = _scripts(root)
        for command in variants.values():  # warm up: bytecode written, start-up cache filled
            _time(command, root, env)
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
        order = list(variants)
        shuffle = random.Random(1234).shuffle
        for _ in range(ROUNDS):
            shuffle(order)
            for name in order:
                times[name].append(_time(variants[name], root, env))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return _table(times)


def _table(times: dict[str, list[tuple[float, float]]]) -> list[str]:
    plain = times["plain python noop.py"]
    rows: list[dict[str, object]] = [
        {
            "name": "plain python noop.py",
            "wall_ns": _ns(_median(plain, 0)),
            "cpu_ns": _ns(_median(plain, 1)),
        }
    ]
    lines = [
        f"{ROUNDS} rounds, each variant a fresh process per round; ms, median of the rounds;",
        "'+plain': median of the paired differences with plain python in the same round",
        f"{'variant':<42} {'wall':>7} {'+plain':>7} {'cpu':>7} {'+plain':>7} {'goal (wall)':>13}",
    ]
    for name, runs in times.items():
        row = f"{name:<42} {_median(runs, 0):>7.1f} "
        if runs is plain:
            lines.append(row + f"{'':>7} {_median(runs, 1):>7.1f}")
            continue
        wall, cpu = _paired(runs, plain)
        goal = GOALS[name]
        verdict = "" if goal is None else f"<= +{goal:.0f} " + ("ok" if wall <= goal else "MISS")
        lines.append(row + f"{wall:>+7.1f} {_median(runs, 1):>7.1f} {cpu:>+7.1f} {verdict:>13}")
        rows.append(
            {
                "name": name,
                "wall_ns": _ns(_median(runs, 0)),
                "cpu_ns": _ns(_median(runs, 1)),
                "over_plain_wall_ns": _ns(wall),
                "over_plain_cpu_ns": _ns(cpu),
                "goal_ns": None if goal is None else _ns(goal),
            }
        )
    wall, cpu = _paired(times["runner, target module imported"], times[FLOOR])
    lines.append(f"{OURS:<42} {'':>7} {wall:>+7.1f} {'':>7} {cpu:>+7.1f}  (over the floor)")
    rows.append({"name": OURS, "over_floor_wall_ns": _ns(wall), "over_floor_cpu_ns": _ns(cpu)})
    report("startup", rounds=ROUNDS, load=_load(), rows=rows)
    lines.append(
        "(on a loaded machine every figure grows: compare the cpu columns, and plain python's "
        "own time, with an idle machine's ~10 ms)"
    )
    return lines


def _median(runs: list[tuple[float, float]], index: int) -> float:
    return statistics.median(run[index] for run in runs)


def _paired(
    runs: list[tuple[float, float]], base: list[tuple[float, float]]
) -> tuple[float, float]:
    """Wall and CPU ms of ``runs`` over ``base``: medians of the same rounds' differences."""
    pairs = list(zip(runs, base, strict=True))
    return (
        statistics.median(mine[0] - other[0] for mine, other in pairs),
        statistics.median(mine[1] - other[1] for mine, other in pairs),
    )


def _ns(ms: float) -> float:
    return round(ms * 1e6)


def _load() -> str:
    try:
        one, five, _ = os.getloadavg()
    except (AttributeError, OSError):
        return "unknown"
    return f"{one:.2f} (1 min), {five:.2f} (5 min)"


if __name__ == "__main__":
    print("\n".join(run()))
