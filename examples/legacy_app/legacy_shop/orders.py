"""An order service with every kind of method a legacy class tends to have."""

from legacy_shop.pricing import add_vat


class OrderService:
    class Line:
        def __init__(self, sku, qty, price):
            self.sku, self.qty, self.price = sku, qty, price

        def subtotal(self):
            return round(self.qty * self.price, 2)

    def __init__(self, customer, currency="EUR"):
        self.customer = customer
        self.currency = currency
        self.lines = []

    @classmethod
    def from_config(cls, config):
        return cls(config["customer"], config.get("currency", "EUR"))

    @staticmethod
    def round_cents(amount):
        return round(amount, 2)

    def add(self, sku, qty, price):
        if qty <= 0:
            raise ValueError(f"bad quantity {qty}")
        self.lines.append(self.Line(sku, qty, add_vat(price)))

    @property
    def total(self):
        return sum(line.subtotal() for line in self.lines)
