"""An order service with every kind of method a legacy class tends to have."""

from legacy_shop.pricing import VAT, add_vat


class OrderService:
    class Line:
        def __init__(self, sku, qty, price):
            self.sku, self.qty, self.price = sku, qty, price

        def subtotal(self):
            return round(self.qty * self.price, 2)

    def __init__(self, customer, currency="EUR", vat=VAT):
        self.customer = customer
        self.currency = currency
        self.vat = vat
        self.lines = []

    @classmethod
    def from_config(cls, config):
        return cls(config["customer"], config.get("currency", "EUR"), config.get("vat", VAT))

    @staticmethod
    def round_cents(amount):
        return round(amount, 2)

    def add(self, sku, qty, price):
        """Adds a line at ``price`` plus this service's VAT, and returns it."""
        if qty <= 0:
            raise ValueError(f"bad quantity {qty} for {sku}")
        line = self.Line(sku, qty, add_vat(price, self.vat))
        self.lines.append(line)
        return line

    @property
    def total(self):
        return sum(line.subtotal() for line in self.lines)

    def summary(self, total):
        return f"{len(self.lines)} lines for {self.customer}, total {total:.2f} {self.currency}"
