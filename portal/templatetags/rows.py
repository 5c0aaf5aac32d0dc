"""Cheap per-row fragments for long tables: a row's URL and its state badge.

A page of 50 rows paid a ``reverse()`` per link and an ``{% include %}`` per badge; these
tags give the same output for a fraction of the cost, so a page's time stays small per row.
"""

from __future__ import annotations

from functools import lru_cache

from django import template
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

register = template.Library()

# A primary key no row will have, reversed once per URL name; each row's URL is the pattern with
# its own key put in.
_SENTINEL = 987654321987654321


@lru_cache(maxsize=256)
def _pattern(name: str, urlconf: str | None, prefix: str) -> tuple[str, str]:
    url = reverse(name, args=[_SENTINEL], urlconf=urlconf)
    head, found, tail = url.partition(str(_SENTINEL))
    if not found or str(_SENTINEL) in tail:
        raise ValueError(f"URL {name!r} does not take one primary key.")
    return head, tail


def row_url(name: str, pk: int) -> str:
    """``reverse(name, args=[pk])`` for a URL with one integer key, from a cached pattern."""
    head, tail = _pattern(name, get_urlconf(), get_script_prefix())
    return f"{head}{int(pk)}{tail}"


@register.simple_tag(name="row_url")
def row_url_tag(name: str, pk) -> str:
    return row_url(name, pk)


BADGES = {
    "active": "badge-ok",
    "provisioned": "badge-ok",
    "error": "badge-bad",
    "deleting": "badge-warn",
    "deleted": "badge-warn",
}


@register.simple_tag
def state_badge(state: str, label: str, needs_attention: bool = False) -> str:
    """A filespace state as a badge; "Needs attention" wins over the state."""
    if needs_attention:
        return mark_safe('<span class="badge badge-bad">Needs attention</span>')
    return format_html('<span class="badge {}">{}</span>', BADGES.get(state, "badge-info"), label)


STATUS_BADGES = {"active": "badge-ok", "suspended": "badge-warn"}


@register.simple_tag
def status_badge(status: str, label: str) -> str:
    """A customer's status as a badge (staff pages)."""
    return format_html(
        '<span class="badge {}">{}</span>', STATUS_BADGES.get(status, "badge-bad"), label
    )
