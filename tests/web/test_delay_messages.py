"""While LucidLink is slow or down, pages say so: no placeholder domain, no silent waiting."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from portal.filespaces.progress import progress_for

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)


@pytest.fixture
def lucidlink_down(monkeypatch):
    monkeypatch.setattr("portal.orders.views.domain_name", lambda: None)


def test_the_name_preview_says_the_domain_cannot_be_confirmed(owner_client, lucidlink_down):
    html = owner_client.get(
        reverse("orders:check_name"), {"name": "edit-suite"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "your-msp-domain" not in html
    assert "The domain part cannot be confirmed right now" in html
    assert "-edit-suite</code>" in html


def test_the_order_form_states_the_name_without_a_placeholder_domain(
    owner_client, plan_factory, lucidlink_down
):
    plan = plan_factory()
    html = owner_client.get(reverse("orders:new", args=[plan.slug])).content.decode()
    assert "your-msp-domain" not in html
    assert "cannot be confirmed right now" in html


def test_the_preview_shows_the_domain_when_lucidlink_answers(owner_client):
    html = owner_client.get(
        reverse("orders:check_name"), {"name": "edit-suite"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "-edit-suite.msp-demo</code>" in html
    assert "cannot be confirmed" not in html


def test_a_retried_create_says_there_is_a_delay_and_when_the_next_try_is(filespace_factory):
    filespace = filespace_factory(
        state="requested",
        attempts=3,
        last_error="LucidLink is unavailable (HTTP 503); retrying.",
        requested_at=NOW - timedelta(minutes=4),
        next_poll_at=NOW + timedelta(seconds=90),
    )
    delay = progress_for(filespace, now=NOW).delay
    assert "There is a delay: LucidLink is not answering" in delay
    assert "tried 3 times" in delay
    assert "next try is at 14:01 UTC" in delay


def test_a_fresh_order_shows_no_delay(filespace_factory):
    filespace = filespace_factory(state="creating", attempts=1, requested_at=NOW)
    assert progress_for(filespace, now=NOW + timedelta(seconds=20)).delay == ""


def test_a_request_that_has_not_left_after_a_minute_says_so(filespace_factory):
    filespace = filespace_factory(state="requested", requested_at=NOW)
    assert "longer than usual" in progress_for(filespace, now=NOW + timedelta(minutes=3)).delay


def test_a_slow_storage_set_up_says_so(filespace_factory):
    filespace = filespace_factory(
        state="provisioning", requested_at=NOW, created_remote_at=NOW + timedelta(seconds=5)
    )
    assert progress_for(filespace, now=NOW + timedelta(minutes=2)).delay == ""
    slow = progress_for(filespace, now=NOW + timedelta(minutes=9)).delay
    assert "Setting up storage is taking longer than usual" in slow


def test_the_filespace_page_shows_the_delay(owner_client, owner, filespace_factory):
    filespace = filespace_factory(
        customer=owner.customer,
        state="requested",
        attempts=2,
        last_error="LucidLink is unavailable (timeout); retrying.",
        requested_at=NOW - timedelta(minutes=3),
        next_poll_at=NOW + timedelta(minutes=1),
    )
    with time_machine.travel(NOW, tick=False):
        html = owner_client.get(reverse("filespaces:detail", args=[filespace.pk])).content.decode()
    assert 'id="progress-delay"' in html
    assert "tried 2 times" in html
