"""What filtering costs per call: nothing to filter, something to filter, and big values.

Every variant runs once per round, in turn (see ``_timing.interleaved``); the figures are the
min and the median over rounds, in time per call of ``ArgumentFilter.filter_call``.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from snapy_capture import ArgumentFilter

from ._timing import Variant, fmt_ns, interleaved, per_call, report

NAMES = ["order_id", "customer", "note", "quantity", "options"]
#: Five ordinary arguments: ints, short strings, a small dict. Nothing to filter.
CLEAN: tuple[Any, ...] = (42, "alice", "gift wrap please", 3, {"color": "red", "size": "M"})
#: The same shape with a card number in the note and a password in the options.
DIRTY: tuple[Any, ...] = (
    42,
    "alice",
    "card 4111 1111 1111 1111",
    3,
    {"color": "red", "password": "hunter2"},
)

#: The call the fast path was tuned on: two positional arguments, a list of tuples by keyword.
TYPICAL_NAMES = ["order_id", "reference"]
TYPICAL_ARGS: tuple[Any, ...] = (42, "order-1234")
TYPICAL_KWARGS: dict[str, Any] = {"items": [("sku-1", 2), ("sku-2", 1)], "discount": 0.1}


def target(order_id: int, customer: str, note: str, quantity: int, options: dict[str, Any]) -> int:
    """The baseline: a bare call with the same arguments."""
    return order_id


def _fresh_strings(flt: ArgumentFilter, calls: int) -> Variant:
    # Strings never seen before (ids, timestamps) miss the filter's cache of clean strings.
    counter = itertools.count()

    def variant(_round: int) -> float:
        batch = [
            (n, f"customer-{n}", f"note {n} at 2024-01-{n % 28 + 1:02d}", 3, {"k": n})
            for n in itertools.islice(counter, calls)
        ]
        start = time.perf_counter_ns()
        for args in batch:
            flt.filter_call(NAMES, args, {})
        return (time.perf_counter_ns() - start) / calls

    return variant


def run(rounds: int = 7, calls: int = 2000) -> list[str]:
    """Time each variant; return printable lines (a markdown table and a summary)."""
    flt = ArgumentFilter()
    big = "lorem ipsum dolor sit amet " * 4000  # about 108 KB of text with nothing to mask
    cards = "4111 1111 1111 1111 " * 5120
    variants: dict[str, Variant] = {
        "bare call (5 args)": per_call(lambda: target(*CLEAN), calls),
        "filter_call, nothing to filter": per_call(
            lambda: flt.filter_call(NAMES, CLEAN, {}), calls
        ),
        "filter_call, nothing to filter, new strings": _fresh_strings(flt, calls),
        "filter_call, 4 args with a list of tuples": per_call(
            lambda: flt.filter_call(TYPICAL_NAMES, TYPICAL_ARGS, TYPICAL_KWARGS), calls
        ),
        "filter_call, card + password to filter": per_call(
            lambda: flt.filter_call(NAMES, DIRTY, {}), calls
        ),
        "filter_call, one 108 KB string": per_call(
            lambda: flt.filter_call(["text"], (big + str(id(object())),), {}), 20
        ),
        # The worst text found for the default patterns: 100 KB of valid card numbers in
        # groups, each a candidate to Luhn-check and to mask.
        "filter_call, one 100 KB string of card numbers": per_call(
            lambda: flt.filter_call(["text"], (cards + str(id(object())),), {}), 5
        ),
    }
    results = interleaved(variants, rounds)
    lines = ["| variant | min | median |", "|---|---|---|"]
    for name, timing in results.items():
        lines.append(f"| {name} | {fmt_ns(timing.min)} | {fmt_ns(timing.median)} |")
    report(
        "filters",
        rows=[{"name": t.name, "min_ns": t.min, "median_ns": t.median} for t in results.values()],
    )
    bare = results["bare call (5 args)"].min
    clean = results["filter_call, nothing to filter"].min
    lines.append("")
    lines.append(
        f"filtering 5 clean arguments adds {fmt_ns(clean - bare)} per call "
        f"(min over {rounds} rounds of {calls} calls)"
    )
    return lines


if __name__ == "__main__":
    print("\n".join(run()))
