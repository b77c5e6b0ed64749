"""The ledger, written to by a separate audit process."""


def record_entry(kind, amount):
    return f"{kind}:{amount:.2f}"
