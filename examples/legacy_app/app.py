"""A legacy order script, as found in the wild: no tests, no decorators, globals, exit codes.

Usage: ``python app.py [--discount PERCENT] [ORDER_LINE...]`` where an order line is
``SKU:QTY:PRICE`` (``orders.txt`` has a few); with no order lines they are read from stdin,
one per line. The clerk signs in with ``SHOP_PASSWORD`` (the test account's by default).
Exit code 0 when every line was valid, 3 when some were skipped.

This file and the ``legacy_shop`` package are never edited by snapy_capture's tests or demo:
``capture.yaml`` next to it names the functions to capture.
"""

import asyncio
import os
import sys

from legacy_shop import workers
from legacy_shop.auth import login
from legacy_shop.notify import send_receipt
from legacy_shop.orders import OrderService
from legacy_shop.pricing import apply_discount

EXIT_SKIPPED = 3
CONFIG = {"customer": "ACME Corp", "currency": "EUR", "vat": 0.2, "clerk": "ada"}


def parse_line(line):
    """``"SKU:QTY:PRICE"`` -> (sku, qty, price); ValueError when malformed."""
    sku, qty, price = line.strip().split(":")
    return sku, int(qty), float(price)


def main(argv):
    discount = 0.0
    if argv[:1] == ["--discount"]:
        discount, argv = float(argv[1]), argv[2:]
    lines = argv or [line for line in sys.stdin.read().splitlines() if line.strip()]
    session = login(CONFIG["clerk"], os.environ.get("SHOP_PASSWORD", "correct horse"))
    print(f"signed in as {session['user']} ({session['role']})")
    service = OrderService.from_config(CONFIG)
    skipped = 0
    for line in lines:
        try:
            service.add(*parse_line(line))
        except ValueError:
            print(f"skipping malformed line {line!r}")
            skipped += 1
    total = OrderService.round_cents(apply_discount(service.total, discount))
    print(service.summary(total))
    print(asyncio.run(send_receipt(service.customer, total, card_number="4111111111111111")))
    print(workers.audit_in_child([line.subtotal() for line in service.lines]))
    return EXIT_SKIPPED if skipped else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
