from decimal import Decimal

from django import template
from django.core.cache import cache
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from billing import charts, rating

# A drawing is keyed by its data's digest, so it can never be stale; the time only bounds how
# long an unused one takes room in the cache.
CHART_CACHE_SECONDS = 24 * 3600

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


@register.simple_tag
def usage_chart_svg(data: charts.UsageChartData | None, key) -> SafeString:
    """The usage chart drawn as SVG (billing/_chart.html), drawn once per filespace and data.

    Drawing 25 charts was most of a usage page's time; the drawing is a pure function of the
    data and ``key`` (the element ids), which make the cache key.
    """
    if data is None:
        return mark_safe("")
    cache_key = f"billing:chart:{key}:{data.digest()}"
    html = cache.get(cache_key)
    if html is None:
        html = render_to_string("billing/_chart.html", {"chart": data.chart(), "key": key})
        cache.set(cache_key, html, CHART_CACHE_SECONDS)
    # The template escaped every value when it was drawn.
    return mark_safe(html)  # noqa: S308
