"""A legacy stock ledger kept in attrs classes: amounts, postings under a lock, copies.

It uses attrs as its documentation says (``@define`` classes are slotted and pickle through
the ``__getstate__`` attrs writes) and knows nothing about capturing.
"""

import threading

import attrs
from attrs import define, field, frozen, validators


@frozen
class Money:
    cents: int
    currency: str = field(validator=validators.in_(["EUR", "USD"]))


@define
class Ledger:
    owner: str
    lock: threading.Lock = field(factory=threading.Lock, repr=False, eq=False)
    entries: list = field(factory=list)

    def post(self, money: Money) -> int:
        with self.lock:
            self.entries.append(money)
        return len(self.entries)


def main() -> None:
    ledger = Ledger("acme")
    for cents, currency in [(1250, "EUR"), (990, "USD"), (300, "EUR")]:
        print("posted", ledger.post(Money(cents, currency)))
    try:
        Money(5, "GBP")
    except ValueError as exc:
        print("refused:", exc.args[0])
    branch = attrs.evolve(ledger, owner="acme-north")
    print(branch.owner, len(branch.entries), branch.entries[0])
    print(attrs.asdict(branch.entries[1]))


if __name__ == "__main__":
    main()
