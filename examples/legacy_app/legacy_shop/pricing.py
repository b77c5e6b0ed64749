"""Pricing rules."""

VAT = 0.2


def apply_discount(amount, percent):
    """The amount after a percentage discount."""
    return amount * (1 - percent / 100)


def add_vat(amount, rate=VAT):
    """Not a capture target: must never show up in the captures."""
    return amount * (1 + rate)
