"""The order form keeps what was typed, says each thing once, and states its rules up front."""

import re

import pytest
from django.urls import reverse

from portal.orders.models import Order

pytestmark = pytest.mark.django_db

OWN = {
    "storage_owner": "customer",
    "subscription_type": "custom",
    "provider": "AWS",
    "allowed_regions": ["us-east-1", "eu-west-1"],
}


@pytest.fixture
def ibm_plan(plan_factory):
    return plan_factory(
        slug="teams", name="Teams", provider="IBM", allowed_regions=["us-east", "eu-de"]
    )


def _to_review(client, plan, **data) -> str:
    response = client.post(reverse("orders:new", args=[plan.slug]), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    return response["Location"]


def _change_link(review_html: str) -> str:
    match = re.search(r'href="([^"]+)">Change</a>', review_html)
    assert match, "no Change link on the review"
    return match.group(1).replace("&amp;", "&")


def test_change_on_the_review_brings_back_what_was_typed(owner_client, ibm_plan):
    review = _to_review(
        owner_client, ibm_plan, name="media", provider="IBM", region="eu-de", expected_units="750"
    )
    form = owner_client.get(_change_link(owner_client.get(review).content.decode()))
    html = form.content.decode()
    assert 'name="name" id="id_name" value="media"' in html
    assert re.search(r'<option value="eu-de" selected>', html)
    assert 'value="750"' in html


def test_own_storage_keys_are_kept_across_change_without_being_shown(owner_client, plan_factory):
    plan = plan_factory(slug="byo", **OWN)
    data = {
        "name": "bucketed", "provider": "AWS", "region": "eu-west-1", "bucket": "acme-bucket",
        "access_key": "AKIAEXAMPLE", "secret_key": "s3cr3t-Value/With+Chars",
    }  # fmt: skip
    review = _to_review(owner_client, plan, **data)
    change = _change_link(owner_client.get(review).content.decode())
    html = owner_client.get(change).content.decode()
    assert 'value="acme-bucket"' in html
    assert "AKIAEXAMPLE" not in html and "s3cr3t" not in html
    assert "Leave empty to keep the key you typed before" in html
    # The customer changes only the region and leaves the key fields empty.
    draft = change.split("draft=", 1)[1]
    changed = {**data, "region": "us-east-1", "access_key": "", "secret_key": "", "draft": draft}
    second_review = _to_review(owner_client, plan, **changed)
    key = second_review.rstrip("/").rsplit("/", 1)[1]
    owner_client.post(reverse("orders:place"), {"idempotency_key": key})
    order = Order.objects.get()
    assert (order.region, order.access_key, order.secret_key) == (
        "us-east-1", "AKIAEXAMPLE", "s3cr3t-Value/With+Chars",
    )  # fmt: skip


def test_a_draft_of_another_plan_fills_nothing(owner_client, ibm_plan, plan_factory):
    review = _to_review(owner_client, ibm_plan, name="media", provider="IBM", region="eu-de")
    draft = _change_link(owner_client.get(review).content.decode()).split("draft=", 1)[1]
    other = plan_factory(slug="other", provider="IBM", allowed_regions=["us-east"])
    html = owner_client.get(reverse("orders:new", args=[other.slug]), {"draft": draft}).content
    assert b'value="media"' not in html


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Bad_Name", "Use only lowercase letters, digits and hyphens"),
        ("-media", "cannot start or end with a hyphen"),
        ("", "Enter a name for the filespace."),
    ],
)
def test_a_name_error_is_said_once(owner_client, ibm_plan, name, message):
    response = owner_client.post(
        reverse("orders:new", args=[ibm_plan.slug]),
        {"name": name, "provider": "IBM", "region": "eu-de"},
    )
    html = response.content.decode()
    assert html.count(message) == 1, html.count(message)
    # Nothing else on the page repeats the problem in other words.
    assert len(re.findall(r'class="(?:check-bad|errorlist)', html)) == 1
    # The live check does not fetch its own second verdict on load.
    assert "delay:300ms, load" not in html


def test_a_missing_region_is_said_once(owner_client, ibm_plan):
    html = owner_client.post(
        reverse("orders:new", args=[ibm_plan.slug]), {"name": "media", "provider": "IBM"}
    ).content.decode()
    assert len(re.findall(r'class="(?:check-bad|errorlist)', html)) == 1


def test_a_plan_with_one_provider_shows_no_dropdown(owner_client, ibm_plan):
    html = owner_client.get(reverse("orders:new", args=[ibm_plan.slug])).content.decode()
    assert '<select name="provider"' not in html
    assert '<input type="hidden" name="provider" value="IBM">' in html


def test_regions_read_as_places_with_their_codes_as_values(owner_client, ibm_plan):
    html = owner_client.get(reverse("orders:new", args=[ibm_plan.slug])).content.decode()
    assert '<option value="eu-de">Frankfurt (eu-de)</option>' in html
    assert '<option value="us-east">Washington DC (us-east)</option>' in html


def test_the_review_names_the_region(owner_client, ibm_plan):
    review = _to_review(owner_client, ibm_plan, name="media", provider="IBM", region="eu-de")
    assert "Frankfurt (eu-de)" in owner_client.get(review).content.decode()


def test_the_naming_rules_are_stated_before_anything_is_typed(owner_client, owner, ibm_plan):
    html = owner_client.get(reverse("orders:new", args=[ibm_plan.slug])).content.decode()
    rules = re.search(r'<small class="helptext" id="name-rules">([^<]+)</small>', html)
    assert rules, "no naming rules next to the name field"
    assert "lowercase letters, digits and hyphens" in rules.group(1)
    assert "not starting or ending with a hyphen" in rules.group(1)
    assert re.search(r"2 to \d+ characters", rules.group(1))


def test_the_estimate_says_when_it_is_the_minimum_charge(owner_client, plan_factory):
    from decimal import Decimal

    plan = plan_factory(
        slug="small", provider="IBM", allowed_regions=["eu-de"], currency="USD",
        price_per_unit_month=Decimal("0.02"), minimum_monthly_charge=Decimal("9.00"),
    )  # fmt: skip
    review = _to_review(
        owner_client, plan, name="tiny", provider="IBM", region="eu-de", expected_units="10"
    )
    html = owner_client.get(review).content.decode()
    assert "About <strong>USD 9.00</strong> per month" in html
    assert "this is the plan's minimum monthly charge" in html
    assert "would cost USD 0.20" in html

    big = _to_review(
        owner_client, plan, name="large", provider="IBM", region="eu-de", expected_units="5000"
    )
    html = owner_client.get(big).content.decode()
    assert "About <strong>USD 100.00</strong> per month" in html
    assert "minimum monthly charge" not in html.split("<dt>Estimate</dt>", 1)[1].split("</dd>")[0]
