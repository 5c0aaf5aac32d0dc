from decimal import Decimal

from django import template

from billing import rating

register = template.Library()


@register.filter
def money(value, currency: str) -> str:
    """``20.000`` with ``USD`` → ``20.00 USD``: the currency's minor unit, thousands grouped."""
    if value is None or value == "":
        return ""
    rounded = rating.round_money(Decimal(value), currency)
    return f"{rounded:,} {currency}"


@register.filter
def quantity(value) -> str:
    """A 6-place quantity without zeros past two places: ``1000.500000`` → ``1,000.50``."""
    if value is None or value == "":
        return ""
    number = Decimal(value)
    text = f"{number:,.6f}".rstrip("0")
    head, _, tail = text.partition(".")
    return f"{head}.{tail.ljust(2, '0')}"
