"""Console pages: counts, search, filters, CSV, plan management, and constant query counts."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from portal.audit.models import AuditEntry
from portal.audit.services import audit_record
from portal.plans.models import Plan
from provisioning.models import Filespace, ProvisioningEvent

pytestmark = pytest.mark.django_db


def test_the_dashboard_counts_what_needs_attention(
    staff_client, filespace_factory, plan_factory, customer_factory, settings
):
    from billing.models import BillingFlag, Invoice
    from portal.orders.models import Order

    customer = customer_factory()
    filespace_factory(state="error", customer=customer)
    stuck = filespace_factory(state="creating", customer=customer)
    Filespace.objects.filter(pk=stuck.pk).update(
        updated_at=timezone.now() - timedelta(seconds=settings.PROVISIONING_DEADLINE + 60)
    )
    filespace_factory(state="creating", customer=customer)  # busy, not stuck yet
    filespace_factory(state="active", remote_id="fs-a", customer=customer)
    Order.objects.create(
        customer=customer,
        plan=plan_factory(),
        name="wait",
        remote_name=f"{customer.name_prefix}-wait",
        provider="IBM",
        region="us-east",
        state=Order.State.AWAITING_APPROVAL,
        idempotency_key="w",
    )
    period = timezone.now().date().replace(day=1)
    for kind, subject in [("drift", "filespace:1"), ("below_cost", "customer:1")]:
        BillingFlag.objects.create(kind=kind, subject=subject, period_start=period, message=kind)
    BillingFlag.objects.create(
        kind="drift", subject="filespace:2", period_start=period, message="old",
        resolved_at=timezone.now(),
    )  # fmt: skip
    Invoice.objects.create(customer=customer, period_start=period, currency="USD")

    body = staff_client.get(reverse("staff:dashboard")).content.decode()
    for element, count in [
        ("count-orders", 1), ("count-failed", 1), ("count-stuck", 1), ("count-drift", 1),
        ("count-below-cost", 1), ("count-drafts", 1), ("count-terminations", 0),
    ]:  # fmt: skip
        assert f'id="{element}">{count}<' in body, element


def test_customers_can_be_searched_by_name_prefix_or_member_email_and_filtered(
    staff_client, customer_factory, member_factory, user_factory, staff_user
):
    from portal.customers.lifecycle import customer_suspend

    acme = customer_factory(name="Acme Films", name_prefix="acme")
    globex = customer_factory(name="Globex", name_prefix="globex")
    member_factory(customer=globex, user=user_factory("boss@globex.example"))
    customer_suspend(customer=globex, acting_user=staff_user, reason="Unpaid")
    url = reverse("staff:customers")

    def names(**params) -> list[str]:
        page = staff_client.get(url, params).context["page"]
        return [c.name for c in page.object_list]

    assert names(q="acme") == ["Acme Films"]
    assert names(q="boss@globex") == ["Globex"]
    assert names(status="suspended") == ["Globex"]
    assert names(status="active") == ["Acme Films"]
    assert names(q="nothing-matches") == []
    assert acme.name in names()


def test_a_bad_status_filter_shows_an_error_and_every_customer(staff_client, customer_factory):
    customer_factory(name="Acme")
    response = staff_client.get(reverse("staff:customers"), {"status": "bogus"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()


def test_the_csv_export_has_a_row_per_matching_customer_and_defuses_formulas(
    staff_client, customer_factory, member_factory
):
    evil = customer_factory(name="=HYPERLINK(1)", name_prefix="evil")
    member_factory(customer=evil)
    customer_factory(name="Other", name_prefix="other")
    response = staff_client.get(reverse("staff:customers_csv"), {"q": "evil"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:4] == ["id", "name", "prefix", "status"]
    assert len(rows) == 2
    assert rows[1][1] == "'=HYPERLINK(1)"
    assert rows[1][6] == "1"


def test_the_customer_page_shows_members_orders_filespaces_invoices_and_timeline(
    staff_client, filespace_factory, member_factory, staff_user
):
    from billing.models import Invoice
    from portal.audit.services import audit_record

    filespace = filespace_factory(state="error", last_error="Region unavailable")
    customer = filespace.customer
    member = member_factory(customer=customer)
    Invoice.objects.create(customer=customer, period_start="2026-06-01", currency="USD")
    audit_record(actor=staff_user, action="customer.noted", customer=customer, note="Called them")
    body = staff_client.get(reverse("staff:customer", args=[customer.pk])).content.decode()
    assert member.user.email in body
    assert filespace.remote_name in body
    assert "Region unavailable" in body
    assert "June 2026" in body
    assert "customer.noted" in body and "Called them" in body


def _populate(count, customer_factory, member_factory, filespace_factory, staff_user):
    """Per customer: a member, a failed filespace, an order awaiting approval, a draft invoice,
    an open billing flag and an audit entry, so every list page has one row per customer."""
    from billing.models import BillingFlag, Invoice
    from portal.audit.services import audit_record
    from portal.orders.models import Order

    customers = []
    for _ in range(count):
        customer = customer_factory()
        member_factory(customer=customer)
        filespace = filespace_factory(customer=customer, state="error")
        Order.objects.create(
            customer=customer,
            plan=filespace.plan,
            name="wait",
            remote_name=f"{customer.name_prefix}-wait",
            provider="IBM",
            region="us-east",
            state=Order.State.AWAITING_APPROVAL,
            idempotency_key="wait",
        )
        Invoice.objects.create(customer=customer, period_start="2026-06-01", currency="USD")
        BillingFlag.objects.create(
            kind="below_cost", subject=f"customer:{customer.pk}", customer=customer,
            period_start="2026-06-01", message="Below cost",
        )  # fmt: skip
        audit_record(actor=staff_user, action="customer.noted", customer=customer)
        customers.append((customer, filespace))
    return customers


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


@pytest.mark.parametrize(
    "url_name", ["staff:dashboard", "staff:customers", "staff:customers_csv", "staff:orders",
                 "staff:filespaces", "staff:plans", "staff:audit"]
)  # fmt: skip
def test_list_pages_cost_the_same_queries_for_1_and_50_customers(
    staff_client,
    staff_user,
    customer_factory,
    member_factory,
    filespace_factory,
    django_assert_num_queries,
    url_name,
):
    url = reverse(url_name)
    _populate(1, customer_factory, member_factory, filespace_factory, staff_user)
    one = _queries(staff_client, url)
    _populate(49, customer_factory, member_factory, filespace_factory, staff_user)
    with django_assert_num_queries(one):
        staff_client.get(url)


def test_the_customer_page_costs_the_same_queries_for_1_and_50_filespaces(
    staff_client, staff_user, customer_factory, member_factory, filespace_factory,
    django_assert_num_queries,
):  # fmt: skip
    customer = customer_factory()
    member_factory(customer=customer)
    filespace_factory(customer=customer, state="active", remote_id="fs-0")
    url = reverse("staff:customer", args=[customer.pk])
    one = _queries(staff_client, url)
    for number in range(1, 50):
        member_factory(customer=customer)
        filespace = filespace_factory(customer=customer, state="active", remote_id=f"fs-{number}")
        ProvisioningEvent.objects.create(
            filespace=filespace, kind="staff_retry", message="Retried", actor=staff_user
        )
        audit_record(actor=staff_user, action="filespace.retry", target=filespace)
    with django_assert_num_queries(one):
        staff_client.get(url)


def test_the_customer_page_shows_25_filespaces_a_page_and_counts_them_by_state(
    staff_client, customer_factory, filespace_factory
):
    customer = customer_factory()
    for number in range(55):
        filespace_factory(customer=customer, name=f"fs{number:02d}", state="active")
    filespace_factory(customer=customer, name="broken", state="error")
    url = reverse("staff:customer", args=[customer.pk])

    bodies = [staff_client.get(url, {"page": n}).content.decode() for n in (1, 2, 3)]

    assert ["Page 1 of 3" in bodies[0], "Page 2 of 3" in bodies[1], "Page 3 of 3" in bodies[2]] == [
        True, True, True
    ]  # fmt: skip
    rows = [body.split('id="fs-heading"')[1].split("</table>")[0] for body in bodies]
    assert [body.count("<tr>") - 1 for body in rows] == [25, 25, 6]
    assert '<dd id="filespace-states">55 active · 1 error</dd>' in bodies[0]


def test_the_customer_page_shows_only_the_latest_orders_invoices_and_activity(
    staff_client, staff_user, customer_factory, filespace_factory
):
    from billing.models import Invoice

    customer = customer_factory()
    for number in range(12):
        filespace_factory(customer=customer, name=f"fs{number:02d}")
    for month in range(1, 13):
        Invoice.objects.create(
            customer=customer, period_start=f"2025-{month:02d}-01", currency="USD"
        )
    Invoice.objects.create(customer=customer, period_start="2026-01-01", currency="USD")
    for number in range(30):
        audit_record(actor=staff_user, action=f"customer.note{number:02d}", customer=customer)

    body = staff_client.get(reverse("staff:customer", args=[customer.pk])).content.decode()

    orders = body.split('id="orders-heading"')[1].split("</table>")[0]
    assert orders.count("<tr>") - 1 == 10
    invoices = body.split('id="invoices-heading"')[1].split("</section>")[0]
    assert "January 2026" in invoices and "February 2025" in invoices
    assert "January 2025" not in invoices
    assert reverse("billing:staff_customer", args=[customer.pk]) in invoices
    assert "customer.note29" in body and "customer.note05" in body
    assert "customer.note04" not in body


def test_staff_create_a_plan_and_it_is_audited(staff_client, staff_user):
    response = staff_client.post(
        reverse("staff:plan_new"),
        {
            "name": "Media Pro", "slug": "media-pro", "description": "",
            "storage_owner": "lucidlink",
            "subscription_type": "teams", "provider": "IBM", "allowed_regions": "us-east, eu-de",
            "currency": "eur", "price_per_unit_month": "0.025", "billing_unit": "GB",
            "quantity_rule": "time_weighted", "included_units": "0", "minimum_monthly_charge": "10",
            "requires_approval": "on", "is_active": "on",
        },
    )  # fmt: skip
    assert response.status_code == 302
    plan = Plan.objects.get(slug="media-pro")
    assert plan.allowed_regions == ["us-east", "eu-de"]
    assert plan.currency == "EUR"
    assert plan.price_per_unit_month == Decimal("0.025")
    entry = AuditEntry.objects.get(action="plan.created")
    assert entry.actor == staff_user
    assert entry.after["price_per_unit_month"] == "0.025000"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"provider": "AWS"}, "provider", "stores data with IBM"),
        ({"allowed_regions": "mars-1"}, "allowed_regions", "IBM has no region mars-1"),
        ({"currency": "us$"}, "currency", "three-letter"),
        ({"price_per_unit_month": "-1"}, "price_per_unit_month", "greater than or equal to 0"),
        ({"storage_owner": "customer"}, "subscription_type", "custom subscription"),
        ({"price_per_unit_month": "abc"}, "price_per_unit_month", "Enter a number"),
        ({"name": "   "}, "name", "required"),
    ],
)
def test_a_bad_plan_is_refused_with_a_message_and_nothing_saved(
    staff_client, overrides, field, message
):
    data = {
        "name": "P", "slug": "p", "storage_owner": "lucidlink", "subscription_type": "teams",
        "provider": "IBM", "allowed_regions": "", "currency": "USD",
        "price_per_unit_month": "0.02", "billing_unit": "GB", "quantity_rule": "time_weighted",
        "included_units": "0", "minimum_monthly_charge": "0",
    }  # fmt: skip
    data.update(overrides)
    response = staff_client.post(reverse("staff:plan_new"), data)
    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors.get(field, []))
    assert message in errors
    assert not Plan.objects.filter(slug="p").exists()
    assert AuditEntry.objects.count() == 0


def test_editing_a_plan_records_only_what_changed(staff_client, plan_factory):
    plan = plan_factory(name="Teams", slug="teams")
    url = reverse("staff:plan_edit", args=[plan.pk])
    form = staff_client.get(url).context["form"]
    data = {name: form[name].value() for name in form.fields}
    data = {k: v for k, v in data.items() if v is not None and v is not False}
    data["price_per_unit_month"] = "0.030000"
    response = staff_client.post(url, data)
    assert response.status_code == 302, response.context["form"].errors
    plan.refresh_from_db()
    assert plan.price_per_unit_month == Decimal("0.03")
    entry = AuditEntry.objects.get(action="plan.updated")
    assert entry.before == {"price_per_unit_month": "0.020000"}
    assert entry.after == {"price_per_unit_month": "0.030000"}


def test_storage_terms_of_a_plan_with_orders_cannot_change(
    staff_client, filespace_factory, plan_factory
):
    plan = plan_factory(provider="IBM")
    filespace_factory(plan=plan)
    url = reverse("staff:plan_edit", args=[plan.pk])
    form = staff_client.get(url).context["form"]
    data = {name: form[name].value() for name in form.fields}
    data = {k: v for k, v in data.items() if v is not None and v is not False}
    data["provider"] = "AWS"
    staff_client.post(url, data)
    plan.refresh_from_db()
    assert plan.provider == "IBM"


def test_deactivating_a_plan_withdraws_it_from_the_catalogue(
    staff_client, plan_factory, client, member_factory
):
    plan = plan_factory(name="Old plan", slug="old")
    staff_client.post(reverse("staff:plan_set_active", args=[plan.pk]), {"active": "false"})
    plan.refresh_from_db()
    assert plan.is_active is False
    assert AuditEntry.objects.get(action="plan.deactivated").after == {"is_active": False}
    response = staff_client.post(
        reverse("staff:plan_set_active", args=[plan.pk]), {"active": "false"}, follow=True
    )
    assert "already withdrawn" in response.content.decode()
    assert AuditEntry.objects.filter(action="plan.deactivated").count() == 1


def test_the_csv_export_refuses_a_bad_filter_instead_of_exporting_everyone(
    staff_client, customer_factory
):
    customer_factory(name="Acme")
    response = staff_client.get(reverse("staff:customers_csv"), {"status": "bogus"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert "Acme" not in response.content.decode()


def test_a_junk_page_number_shows_the_first_page(staff_client, customer_factory):
    customer_factory(name="Acme")
    response = staff_client.get(reverse("staff:customers"), {"page": "abc"})
    assert response.status_code == 200
    assert "Acme" in response.content.decode()
