"""Row URLs and state badges of long tables (portal.templatetags.rows) equal what the slower
``reverse()`` and partial gave."""

import pytest
from django.template import Context, Template
from django.urls import reverse, set_script_prefix

from portal.templatetags.rows import row_url, state_badge, status_badge

NAMES = [
    "filespaces:detail",
    "staff:filespace",
    "staff:filespace_retry",
    "staff:filespace_fail",
    "staff:filespace_change_plan",
    "staff:filespace_delete",
    "staff:order_approve",
    "staff:order_reject",
    "orders:detail",
    "staff:customer",
    "billing:staff_customer",
    "billing:staff_invoice",
]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("pk", [1, 7, 123456])
def test_row_url_is_the_reversed_url(name, pk):
    assert row_url(name, pk) == reverse(name, args=[pk])


def test_row_url_follows_the_script_prefix():
    set_script_prefix("/portal/")
    try:
        assert row_url("filespaces:detail", 5) == reverse("filespaces:detail", args=[5])
        assert row_url("filespaces:detail", 5).startswith("/portal/")
    finally:
        set_script_prefix("/")
    assert not row_url("filespaces:detail", 5).startswith("/portal/")


def test_row_url_refuses_a_url_without_one_key():
    # NoReverseMatch (no such route with a key) or ValueError: both refusals.
    with pytest.raises(Exception):
        row_url("dashboard", 1)


@pytest.mark.parametrize(
    ("state", "attention", "expected"),
    [
        ("active", False, '<span class="badge badge-ok">Label</span>'),
        ("provisioned", False, '<span class="badge badge-ok">Label</span>'),
        ("error", False, '<span class="badge badge-bad">Label</span>'),
        ("deleting", False, '<span class="badge badge-warn">Label</span>'),
        ("deleted", False, '<span class="badge badge-warn">Label</span>'),
        ("requested", False, '<span class="badge badge-info">Label</span>'),
        ("active", True, '<span class="badge badge-bad">Needs attention</span>'),
    ],
)
def test_state_badge(state, attention, expected):
    assert state_badge(state, "Label", attention) == expected
    partial = Template(
        '{% include "filespaces/_state_badge.html" with state=s label="Label" needs_attention=a %}'
    )
    assert partial.render(Context({"s": state, "a": attention})).strip() == expected


def test_state_badge_escapes_the_label():
    assert state_badge("active", "<b>") == '<span class="badge badge-ok">&lt;b&gt;</span>'


@pytest.mark.parametrize(
    ("status", "css"),
    [("active", "badge-ok"), ("suspended", "badge-warn"), ("terminated", "badge-bad")],
)
def test_status_badge(status, css):
    expected = f'<span class="badge {css}">Label</span>'
    assert status_badge(status, "Label") == expected
    partial = Template('{% include "staff/_status_badge.html" with status=s label="Label" %}')
    assert partial.render(Context({"s": status})).strip() == expected
