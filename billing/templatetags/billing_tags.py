import logging
from decimal import Decimal

from django import template
from django.core.cache import cache
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from billing import rating

# A drawing is keyed by its data's digest, so it can never be stale; the time only bounds how
# long an unused one takes room in the cache.
CHART_CACHE_SECONDS = 24 * 3600

register = template.Library()
logger = logging.getLogger(__name__)


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


@register.simple_tag
def usage_chart_drawings(rows) -> list[tuple[object, SafeString]]:
    """Each usage row with its chart drawn as SVG (billing/_chart.html), drawn once per data.

    Drawing 25 charts was most of a usage page's time. A drawing is a pure function of the
    chart's data and the row's filespace id (the element ids), which make its cache key, so it
    can never be stale; the page's drawings are read from the cache in one round trip.
    """
    keys = [
        f"billing:chart:{row.filespace.pk}:{row.chart.digest()}" if row.chart else None
        for row in rows
    ]
    try:
        found = cache.get_many([key for key in keys if key])
    except Exception:  # the cache only saves drawing time: a page never fails for it
        logger.warning("The chart cache could not be read; drawing the page's charts.")
        found = {}
    drawn, missing = [], {}
    for row, key in zip(rows, keys, strict=True):
        html = "" if key is None else found.get(key)
        if html is None:
            context = {"chart": row.chart.chart(), "key": row.filespace.pk}
            html = missing[key] = render_to_string("billing/_chart.html", context)
        # The template escaped every value when the chart was drawn.
        drawn.append((row, mark_safe(html)))  # noqa: S308
    if missing:
        try:
            cache.set_many(missing, CHART_CACHE_SECONDS)
        except Exception:
            logger.warning("The chart cache could not be written.")
    return drawn
