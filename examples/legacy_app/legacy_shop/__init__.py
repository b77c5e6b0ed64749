"""A small legacy package: pricing rules, an order service, notifications and a ledger."""
