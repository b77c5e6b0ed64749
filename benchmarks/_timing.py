"""Timing helpers shared by the benchmarks: interleaved rounds, min and median per variant."""

from __future__ import annotations

import gc
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: Figures the benchmarks report besides their printed tables, by section, for
#: ``python -m benchmarks --json FILE`` (the documentation's chart is drawn from that file).
FIGURES: dict[str, dict[str, Any]] = {}


def report(section: str, **figures: Any) -> None:
    """Keep ``figures`` (plain JSON values, times in ns) under ``section`` for ``--json``."""
    FIGURES.setdefault(section, {}).update(figures)


@dataclass
class Timing:
    """ns per operation over several rounds."""

    name: str
    rounds: list[float]

    @property
    def min(self) -> float:
        return min(self.rounds)

    @property
    def median(self) -> float:
        return statistics.median(self.rounds)


Variant = Callable[[int], float]


def interleaved(
    variants: dict[str, Variant], rounds: int, *, gc_off: bool = True
) -> dict[str, Timing]:
    """Run every variant once per round, in turn, so drift hits them all alike.

    Each variant is called with the round number and returns the ns per operation it measured
    (it does its own setup and cleanup outside the timed part).
    """
    results = {name: Timing(name, []) for name in variants}
    enabled = gc.isenabled()
    if gc_off:
        gc.disable()
    try:
        order = list(variants)
        shuffle = random.Random(1234).shuffle
        for number in range(rounds):
            # A new order each round: what ran just before matters (a burst of file writes
            # leaves the disk busy for whatever comes next).
            shuffle(order)
            for name in order:
                results[name].rounds.append(variants[name](number))
    finally:
        if enabled:
            gc.enable()
    return results


def per_call(func: Callable[[], object], calls: int) -> Variant:
    """A variant timing ``calls`` calls of ``func`` in one loop (ns per call)."""

    def variant(_round: int) -> float:
        start = time.perf_counter_ns()
        for _ in range(calls):
            func()
        return (time.perf_counter_ns() - start) / calls

    return variant


def fmt_ns(ns: float) -> str:
    """ns with a readable unit."""
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.1f} us"
    return f"{ns:.0f} ns"


def machine() -> list[str]:
    """Lines describing where the figures come from."""
    return [
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, "
        f"{platform.processor() or platform.machine()}",
        f"python:  {sys.version.split()[0]} ({platform.python_implementation()})",
        f"load:    {_load()} (other work on the machine inflates every figure)",
    ]


def _load() -> str:
    try:
        one, five, _ = os.getloadavg()
    except (AttributeError, OSError):
        return "unknown"
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min)"
