from decimal import Decimal

from django import template

from billing import rating

register = template.Library()


@register.filter
def money(value, currency: str) -> str:
    """``20.000`` with ``USD`` → ``USD 20.00``: the currency's minor unit, thousands grouped.

    The one way the portal writes an amount of money, on every page: the ISO code first, then
    the amount (``USD 1,234.50``), so no page says "0.00 USD" beside "USD 9.00".
    """
    if value is None or value == "":
        return ""
    return rating.format_money(Decimal(value), currency)


@register.filter
def unit_price(value, currency: str) -> str:
    """A price per unit, which may go below the minor unit: ``0.015000`` → ``USD 0.015``."""
    if value is None or value == "":
        return ""
    return f"{currency} {quantity(value)}"


@register.filter
def quantity(value) -> str:
    """A 6-place quantity without zeros past two places: ``1000.500000`` → ``1,000.50``."""
    if value is None or value == "":
        return ""
    number = Decimal(value)
    text = f"{number:,.6f}".rstrip("0")
    head, _, tail = text.partition(".")
    return f"{head}.{tail.ljust(2, '0')}"


@register.filter
def subtract(value, other) -> Decimal:
    """``total|subtract:top_up``: Decimal arithmetic for a figure a page explains."""
    return Decimal(value) - Decimal(other)
