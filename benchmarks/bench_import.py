"""What the import hook adds to importing modules that are not targets (goal: within noise).

A few hundred generated modules are imported from scratch in each round: without a hook, with
the hook installed (targets elsewhere, so every module is a miss: one dict lookup each), and,
for scale, with every module a target (the hook wraps two functions in each). The variants run
in turn in every round (``_timing.interleaved``); figures are min and median over rounds.
"""

from __future__ import annotations

import importlib
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from snapy_capture.hook import ImportHook, TargetSpec, install, load_targets, uninstall_import_hook

from ._timing import Timing, Variant, fmt_ns, interleaved, report

MODULES = 300
ROUNDS = 15
PREFIX = "bench_import_mod_"
SOURCE = '''"""A generated module, like the small modules of a real code base."""
import os

CONSTANT = {index}


class Service{index}:
    def __init__(self, value):
        self.value = value

    def run(self, x):
        return self.value + x

    @classmethod
    def make(cls):
        return cls(CONSTANT)


def helper(a, b=2):
    return os.path.join(str(a), str(b))


def other(*args, **kwargs):
    return len(args) + len(kwargs)
'''


def _import_all(
    names: list[str],
    setup: Callable[[], object],
    teardown: Callable[[], object],
) -> Variant:
    def variant(_round: int) -> float:
        for name in names:
            sys.modules.pop(name, None)
        importlib.invalidate_caches()
        setup()
        try:
            start = time.perf_counter_ns()
            for name in names:
                importlib.import_module(name)
            elapsed = time.perf_counter_ns() - start
        finally:
            teardown()
        return elapsed / len(names)

    return variant


def run() -> list[str]:
    """Time the variants; return the printable table."""
    root = Path(tempfile.mkdtemp(prefix="snapy-bench-import-"))
    names = [f"{PREFIX}{index}" for index in range(MODULES)]
    for index, name in enumerate(names):
        (root / f"{name}.py").write_text(SOURCE.format(index=index), encoding="utf-8")
    misses = load_targets({"targets": [f"elsewhere.module_{i}:function" for i in range(50)]})
    hits = load_targets(
        {"targets": [t for name in names for t in (f"{name}:helper", f"{name}:Service*.run")]}
    )
    sys.path.insert(0, str(root))
    try:
        variants = {
            "no hook": _import_all(names, lambda: None, lambda: None),
            "hook, no module a target": _import_all(
                names, lambda: install(misses), uninstall_import_hook
            ),
            "hook, every module a target": _import_all(
                names, lambda: install(hits), uninstall_import_hook
            ),
        }
        for variant in variants.values():  # warm up: bytecode caches written, code paths hot
            variant(-1)
        results = interleaved(variants, ROUNDS)
    finally:
        sys.path.remove(str(root))
        for name in names:
            sys.modules.pop(name, None)
        shutil.rmtree(root, ignore_errors=True)
    return [*_table(results), _miss_cost(misses, results["no hook"].median)]


def _miss_cost(misses: TargetSpec, import_ns: float) -> str:
    """The finder's own cost for a module that is not a target, timed directly."""
    hook = ImportHook(misses)
    calls = 200_000
    start = time.perf_counter_ns()
    for _ in range(calls):
        hook.find_spec("json.decoder", None, None)
    per_call = (time.perf_counter_ns() - start) / calls
    report("import_hook", finder_ns_per_non_target_import=per_call, module_import_ns=import_ns)
    return (
        f"the finder's own cost per non-target import: {fmt_ns(per_call)} "
        f"({per_call / import_ns * 100:.3f}% of one module import)"
    )


def _table(results: dict[str, Timing]) -> list[str]:
    base = results["no hook"]
    lines = [
        f"{MODULES} modules imported per round, {ROUNDS} rounds; time per module import",
        f"{'variant':<30} {'min':>10} {'median':>10} {'vs no hook: min':>16} {'median':>8}",
    ]
    for name, timing in results.items():
        by_min = (timing.min / base.min - 1) * 100
        by_median = (timing.median / base.median - 1) * 100
        lines.append(
            f"{name:<30} {fmt_ns(timing.min):>10} {fmt_ns(timing.median):>10} "
            f"{by_min:>+15.1f}% {by_median:>+7.1f}%"
        )
    spread = (max(base.rounds) / base.min - 1) * 100
    lines.append(f"(round-to-round spread of 'no hook' itself: {spread:.0f}%)")
    return lines


if __name__ == "__main__":
    print("\n".join(run()))
