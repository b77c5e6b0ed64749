"""``python -m benchmarks`` (or ``make bench``): every benchmark, side by side in one run.

``--json FILE`` also writes the figures (times in ns) as JSON: ``docs/performance/bench.json``
is such a file, and the documentation's Performance chart is drawn from it at build time.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import platform
import sys
import time
from collections.abc import Callable, Sequence

from ._timing import FIGURES, machine


def _section(title: str, run: Callable[[], list[str]]) -> None:
    print(f"\n## {title}")
    start = time.perf_counter()
    try:
        lines = run()
    except Exception as exc:  # noqa: BLE001 - one broken benchmark must not hide the others
        lines = [f"failed: {type(exc).__name__}: {exc}"]
    print("\n".join(lines))
    print(f"({time.perf_counter() - start:.1f} s)")


def _optional(module: str) -> Callable[[], list[str]] | None:
    try:
        bench = importlib.import_module(f"benchmarks.{module}")
    except ModuleNotFoundError as exc:
        if exc.name == f"benchmarks.{module}":
            return None
        raise
    run: Callable[[], list[str]] = bench.run
    return run


def main(argv: Sequence[str] | None = None) -> None:
    """Run every benchmark and print its table (``--json FILE``: also write the figures)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--json", metavar="FILE", help="also write the figures here as JSON")
    options = parser.parse_args(argv)
    from . import bench_calls, bench_storage

    print("# snapy_capture benchmarks")
    print("\n".join(machine()))
    _section("Per-call cost", bench_calls.run)
    _section("Retention and loading with 10 vs 10,000 captures", bench_storage.run)
    _section("An object store (S3 API, moto on 127.0.0.1)", bench_storage.run_object_store)
    for module, title in (
        ("bench_import", "Import cost with the hook installed"),
        ("bench_startup", "Start-up of the runner (paired process runs)"),
        ("bench_filters", "Filter cost"),
        ("bench_sizes", "Huge arguments (50 MB, paired with the bare call)"),
    ):
        run = _optional(module)
        if run is None:
            print(f"\n## {title}\n(skipped: benchmarks/{module}.py is not present)")
        else:
            _section(title, run)
    if options.json:
        _write_json(options.json)


def _write_json(path: str) -> None:
    document = {
        "generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        **FIGURES,
    }
    with open(path, "w", encoding="utf-8") as stream:
        json.dump(document, stream, indent=1)
        stream.write("\n")
    print(f"\nfigures written to {path}")


if __name__ == "__main__":
    main()
