"""Customer usage and invoice pages, staff billing pages: scoping, content, constant queries."""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
import time_machine
from allauth.mfa.totp.internal.auth import TOTP
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing import services
from billing.models import Invoice
from tests.billing.conftest import write_samples

pytestmark = pytest.mark.django_db

TB = 10**12
NOW = "2026-06-16T12:00:00Z"


@pytest.fixture
def billing_member(member_factory):
    return member_factory(role="billing")


@pytest.fixture
def staff(user_factory):
    user = user_factory("staff@example.com", is_staff=True)
    TOTP.activate(user, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    return user


def give_filespaces(live_filespace, customer, count, *, month="2026-06", upto="2026-06-16T12:00"):
    from billing.models import DailyUsage

    filespaces = []
    for _ in range(count):
        fs = live_filespace(ready="2026-01-01T00:00", customer=customer)
        write_samples(fs, f"{month}-01T00:00", upto, TB)
        filespaces.append(fs)
    days = sorted({d for d in DailyUsage.objects.values_list("day", flat=True)})
    services.usage_rollup_days(days=days or [])
    return filespaces


def rollup_june():
    from datetime import date

    services.usage_rollup_days(days=[date(2026, 6, d) for d in range(1, 17)])


@time_machine.travel(NOW, tick=False)
def test_the_usage_page_shows_a_chart_cost_to_date_and_forecast(
    client, billing_member, live_filespace
):
    (fs,) = give_filespaces(live_filespace, billing_member.customer, 1)
    rollup_june()
    client.force_login(billing_member.user)

    response = client.get(reverse("billing:usage"))

    body = response.content.decode()
    assert response.status_code == 200
    assert fs.qualified_name in body
    assert "<svg" in body and "<polyline" in body
    # 15.5 days of 1 TB in a 30-day month at 0.02/GB-month: 516.666667 GB-month.
    assert "USD 10.33" in body
    assert "USD 20.00" in body  # forecast: 1 TB kept to the end of June
    assert "516.666667 GB-month" in body


@time_machine.travel(NOW, tick=False)
def test_the_usage_page_shows_only_the_customers_own_filespaces(
    client, billing_member, live_filespace, customer_factory
):
    give_filespaces(live_filespace, billing_member.customer, 1)
    (other,) = give_filespaces(live_filespace, customer_factory(), 1)
    client.force_login(billing_member.user)

    body = client.get(reverse("billing:usage")).content.decode()

    assert other.qualified_name not in body


@time_machine.travel(NOW, tick=False)
def test_a_past_month_can_be_chosen_and_a_bad_one_gets_a_message(
    client, billing_member, live_filespace
):
    give_filespaces(live_filespace, billing_member.customer, 1, month="2026-05", upto="2026-06-01")
    client.force_login(billing_member.user)

    may = client.get(reverse("billing:usage"), {"period": "2026-05"}).content.decode()
    bad = client.get(reverse("billing:usage"), {"period": "2026-13"})

    assert "Usage, May 2026" in may and "USD 20.00" in may
    assert bad.status_code == 200
    assert "is not a month" in bad.content.decode()


def test_a_plain_member_cannot_see_billing(client, member_factory):
    member = member_factory(role="member")
    client.force_login(member.user)

    response = client.get(reverse("billing:usage"))

    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")


def test_a_customer_with_no_filespaces_sees_an_empty_usage_page(client, billing_member):
    client.force_login(billing_member.user)

    response = client.get(reverse("billing:usage"))

    assert response.status_code == 200
    assert "No filespace was billable in this month." in response.content.decode()


def queries_for(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@time_machine.travel(NOW, tick=False)
def test_the_usage_page_costs_the_same_queries_for_1_and_50_filespaces(
    client, member_factory, live_filespace, django_assert_num_queries
):
    small, large = member_factory(role="owner"), member_factory(role="owner")
    give_filespaces(live_filespace, small.customer, 1, upto="2026-06-03T00:00")
    give_filespaces(live_filespace, large.customer, 50, upto="2026-06-03T00:00")
    rollup_june()
    client.force_login(small.user)
    baseline = queries_for(client, reverse("billing:usage"))
    client.force_login(large.user)

    with django_assert_num_queries(baseline):
        response = client.get(reverse("billing:usage"))
    last = client.get(reverse("billing:usage"), {"page": 2}).content.decode()

    # A page shows 25 filespaces with their charts; the totals still cover all 50.
    body = response.content.decode()
    assert body.count("<svg") == 25 and "Page 1 of 2" in body
    assert last.count("<svg") == 25 and "Page 2 of 2" in last


def finalized_invoice(customer, live_filespace, filespaces=1) -> Invoice:
    give_filespaces(live_filespace, customer, filespaces, month="2026-05", upto="2026-05-02")
    services.invoice_run(year=2026, month=5)
    draft = Invoice.objects.get(customer=customer)
    return services.invoice_finalize(invoice_id=draft.pk)


@time_machine.travel(NOW, tick=False)
def test_the_invoice_pages_cost_the_same_queries_for_1_and_50_lines(
    client, member_factory, live_filespace, django_assert_num_queries
):
    small, large = member_factory(), member_factory()
    one = finalized_invoice(small.customer, live_filespace, 1)
    fifty = finalized_invoice(large.customer, live_filespace, 50)
    client.force_login(small.user)
    detail = queries_for(client, reverse("billing:invoice_detail", args=[one.pk]))
    listing = queries_for(client, reverse("billing:invoices"))
    client.force_login(large.user)

    with django_assert_num_queries(detail):
        response = client.get(reverse("billing:invoice_detail", args=[fifty.pk]))
    with django_assert_num_queries(listing):
        client.get(reverse("billing:invoices"))

    assert response.content.decode().count("How this was calculated") == 50


@time_machine.travel(NOW, tick=False)
def test_customers_see_their_finalized_invoices_and_not_drafts_or_others(
    client, billing_member, live_filespace, customer_factory
):
    mine = finalized_invoice(billing_member.customer, live_filespace)
    other = finalized_invoice(customer_factory(), live_filespace)
    give_filespaces(live_filespace, billing_member.customer, 1, month="2026-04", upto="2026-04-02")
    services.invoice_run(year=2026, month=4)
    client.force_login(billing_member.user)

    listing = client.get(reverse("billing:invoices")).content.decode()
    detail = client.get(reverse("billing:invoice_detail", args=[mine.pk])).content.decode()

    assert mine.number in listing and "April 2026" not in listing
    assert "USD 20.00" in detail and "GB-month" in detail and "1,000,000,000 bytes" in detail
    assert client.get(reverse("billing:invoice_detail", args=[other.pk])).status_code == 404
    assert client.get(reverse("billing:invoice_csv", args=[other.pk])).status_code == 404


@time_machine.travel(NOW, tick=False)
def test_the_invoice_csv_has_a_row_per_line_and_the_total(client, billing_member, live_filespace):
    invoice = finalized_invoice(billing_member.customer, live_filespace, 2)
    client.force_login(billing_member.user)

    response = client.get(reverse("billing:invoice_csv", args=[invoice.pk]))

    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert response["Content-Type"].startswith("text/csv")
    assert [row["amount"] for row in rows] == ["20.00", "20.00", "40.00"]
    assert rows[0]["unit"] == "GB-month" and rows[0]["quantity"] == "1000.000000"


@time_machine.travel(NOW, tick=False)
def test_a_line_links_to_its_samples_and_formula(client, billing_member, live_filespace):
    invoice = finalized_invoice(billing_member.customer, live_filespace)
    line = invoice.lines.get()
    client.force_login(billing_member.user)

    body = client.get(reverse("billing:line_detail", args=[invoice.pk, line.pk])).content.decode()

    assert "2026-05-01 00:00" in body and "2026-05-01 23:00" in body
    assert "GB-month" in body and "half-up" in body
    assert "720 of 744 sampling slots had no measurement" in body


def test_staff_pages_refuse_customers_and_ask_staff_for_mfa(client, billing_member, user_factory):
    client.force_login(billing_member.user)
    assert client.get(reverse("billing:staff_overview")).status_code == 403
    client.force_login(user_factory("nomfa@example.com", is_staff=True))
    assert client.get(reverse("billing:staff_overview"))["Location"] == reverse("mfa_activate_totp")
    client.logout()
    assert client.get(reverse("billing:staff_overview")).status_code == 302


@time_machine.travel(NOW, tick=False)
def test_staff_see_every_customer_with_totals_and_can_export_csv(
    client, staff, live_filespace, customer_factory
):
    first = finalized_invoice(customer_factory(name="Acme"), live_filespace)
    give_filespaces(live_filespace, customer_factory(name="Bravo"), 1, month="2026-05",
                    upto="2026-05-02")  # fmt: skip
    services.invoice_run(year=2026, month=5)
    client.force_login(staff)

    page = client.get(reverse("billing:staff_overview"), {"period": "2026-05"}).content.decode()
    export = client.get(reverse("billing:staff_overview"), {"period": "2026-05", "format": "csv"})

    assert "Acme" in page and "Bravo" in page and first.number in page
    rows = list(csv.DictReader(io.StringIO(export.content.decode())))
    documents = [r for r in rows if r["kind"] != "metered_estimate"]
    assert [(r["customer"], r["status"], r["total"]) for r in documents] == [
        ("Acme", "finalized", "20.00"),
        ("Bravo", "draft", "20.00"),
    ]
    assert {r["customer"] for r in rows if r["kind"] == "metered_estimate"} == {"Acme", "Bravo"}


@time_machine.travel(NOW, tick=False)
def test_staff_drill_down_shows_drafts_usage_and_a_matching_recompute(
    client, staff, live_filespace, customer_factory
):
    customer = customer_factory(name="Acme")
    give_filespaces(live_filespace, customer, 1, month="2026-05", upto="2026-05-02")
    services.invoice_run(year=2026, month=5)
    draft = Invoice.objects.get(customer=customer)
    client.force_login(staff)

    drill = client.get(reverse("billing:staff_customer", args=[customer.pk]), {"period": "2026-05"})
    detail = client.get(reverse("billing:staff_invoice", args=[draft.pk])).content.decode()

    # The chart's points come from the month's summary, kept as samples arrive: no rollup needed.
    assert "draft" in drill.content.decode() and "<svg" in drill.content.decode()
    assert "same figures" in detail
    assert draft.total == Decimal("20.00")


@time_machine.travel(NOW, tick=False)
def test_staff_finalize_drafts_from_the_admin_in_number_order(
    client, user_factory, live_filespace, customer_factory
):
    admin_user = user_factory("admin@example.com", is_staff=True, is_superuser=True)
    TOTP.activate(admin_user, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    for name in ("Bravo", "Acme"):
        give_filespaces(live_filespace, customer_factory(name=name), 1, month="2026-05",
                        upto="2026-05-02")  # fmt: skip
    services.invoice_run(year=2026, month=5)
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:billing_invoice_changelist"),
        {
            "action": "finalize",
            "_selected_action": list(Invoice.objects.values_list("pk", flat=True)),
        },
    )

    assert response.status_code == 302
    numbers = dict(Invoice.objects.values_list("customer__name", "number"))
    assert numbers == {"Acme": "INV-000001", "Bravo": "INV-000002"}


@time_machine.travel(NOW, tick=False)
def test_staff_overview_estimates_every_customers_usage_in_constant_queries(
    client, staff, live_filespace, customer_factory, django_assert_num_queries
):
    give_filespaces(live_filespace, customer_factory(name="Acme"), 1)
    rollup_june()
    client.force_login(staff)
    baseline = queries_for(client, reverse("billing:staff_overview"))
    for index in range(20):
        give_filespaces(live_filespace, customer_factory(name=f"Zulu {index:02d}"), 2)
    rollup_june()

    with django_assert_num_queries(baseline):
        body = client.get(reverse("billing:staff_overview")).content.decode()

    # Acme: 1 TB for the 15.5 days sampled so far (up to the last sample, 16 June 11:00-12:00)
    # over the 30 days of June: 516.666667 GB-month, 10.33 USD before allowance or minimum,
    # the same quantity as the usage page's cost to date.
    assert "516.666667 GB-month" in body and "USD 10.33" in body
    assert body.count("Zulu ") == 20
    export = client.get(reverse("billing:staff_overview"), {"format": "csv"}).content.decode()
    rows = list(csv.DictReader(io.StringIO(export)))
    assert len(rows) == 21
    assert rows[0] == {"customer": "Acme", "document": "", "kind": "metered_estimate",
                       "status": "", "currency": "USD", "total": "10.33",
                       "metered": "516.666667", "unit": "GB-month"}  # fmt: skip


@time_machine.travel(NOW, tick=False)
def test_staff_finalize_adjust_and_credit_from_the_invoice_page(
    client, staff, live_filespace, customer_factory
):
    from portal.audit.models import AuditEntry

    customer = customer_factory()
    give_filespaces(live_filespace, customer, 1, month="2026-05", upto="2026-05-02")
    services.invoice_run(year=2026, month=5)
    draft = Invoice.objects.get(customer=customer)
    client.force_login(staff)
    # Credit notes ask for the password again (portal.security.staff).
    client.post(reverse("account_reauthenticate"), {"password": "correct-horse-battery-9"})

    def act(invoice, action, **data):
        url = reverse("billing:staff_invoice_action", args=[invoice.pk, action])
        return client.post(url, data, follow=True).content.decode()

    bad = act(draft, "adjust", description="Setup", amount="ten", reason="contract")
    act(draft, "adjust", description="Setup", amount="5.00", reason="contract")
    act(draft, "finalize")
    too_much = act(draft, "credit", amount="100.00", reason="outage")
    credited = act(draft, "credit", amount="2.50", reason="Outage on 3 May")

    assert "Nothing done" in bad and "Enter a number" in bad
    draft.refresh_from_db()
    assert (draft.number, draft.total) == ("INV-000001", Decimal("25.00"))
    assert "Credits would exceed the invoice" in too_much
    assert "Credit note CN-000001 issued." in credited and "Outage on 3 May" in credited
    assert list(AuditEntry.objects.order_by("id").values_list("action", "actor_label")) == [
        ("invoice.adjusted", staff.email),
        ("invoice.finalized", staff.email),
        ("invoice.credited", staff.email),
        ("invoice.finalized", staff.email),
    ]


def test_customers_cannot_use_staff_invoice_actions(client, billing_member, live_filespace):
    give_filespaces(live_filespace, billing_member.customer, 1, month="2026-05", upto="2026-05-02")
    services.invoice_run(year=2026, month=5)
    draft = Invoice.objects.get()
    client.force_login(billing_member.user)

    response = client.post(reverse("billing:staff_invoice_action", args=[draft.pk, "finalize"]))

    assert response.status_code == 403
    assert Invoice.objects.get().status == "draft"


@time_machine.travel(NOW, tick=False)
def test_the_staff_drill_down_costs_the_same_queries_for_1_and_50_filespaces(
    client, staff, live_filespace, customer_factory, django_assert_num_queries
):
    small, large = customer_factory(), customer_factory()
    give_filespaces(live_filespace, small, 1, upto="2026-06-03T00:00")
    give_filespaces(live_filespace, large, 50, upto="2026-06-03T00:00")
    rollup_june()
    client.force_login(staff)
    baseline = queries_for(client, reverse("billing:staff_customer", args=[small.pk]))

    with django_assert_num_queries(baseline):
        response = client.get(reverse("billing:staff_customer", args=[large.pk]))

    assert response.content.decode().count("<svg") == 25  # one page of filespaces


@time_machine.travel(NOW, tick=False)
def test_the_staff_overview_pages_its_documents_and_metered_customers_by_25(
    client, staff, customer_factory, filespace_factory, django_assert_num_queries
):
    from datetime import date

    from billing.models import MonthUsage

    summaries = []
    for index in range(55):
        customer = customer_factory(name=f"Customer {index:02d}")
        fs = filespace_factory(customer=customer)
        Invoice.objects.create(customer=customer, period_start=date(2026, 6, 1), currency="USD")
        summaries.append(
            MonthUsage(filespace=fs, customer=customer, month=date(2026, 6, 1), slot_seconds=3600,
                       first_slot=0, first_value=TB, last_slot=0, last_value=TB, slot_sum=TB,
                       slot_count=1, sample_count=1, peak=TB)
        )  # fmt: skip
    MonthUsage.objects.bulk_create(summaries)
    client.force_login(staff)
    queries = queries_for(client, reverse("billing:staff_overview"))

    with django_assert_num_queries(queries):
        last = client.get(reverse("billing:staff_overview"), {"page": 3, "metered_page": 3})
    first = client.get(reverse("billing:staff_overview")).content.decode()

    body = last.content.decode()
    assert "Customer 54" in body and "Customer 49" not in body and "Customer 00" not in body
    assert body.count("Page 3 of 3") == 2
    assert first.count("Customer 24") == 2 and "Customer 25" not in first
    assert "metered_page=2" in first


@time_machine.travel(NOW, tick=False)
def test_the_dashboard_rates_once_and_shows_the_usage_pages_figures_to_date(
    client, billing_member, live_filespace, plan_factory
):
    from billing import rating, selectors
    from billing.services.pricing import billable_filespaces

    plan = plan_factory(
        price_per_unit_month=Decimal("0.0213"), billing_unit="GiB",
        minimum_monthly_charge=Decimal("500.00"),
    )  # fmt: skip
    filespaces = give_filespaces(live_filespace, billing_member.customer, 2)
    for fs in filespaces:
        fs.plan = plan
        fs.save(update_fields=["plan"])
    customer = billing_member.customer
    now = rating.month_of(selectors.timezone.now())
    full = selectors.usage_page_for(
        customer=customer, month_start=now[0], month_end=now[1],
        now=selectors.timezone.now(), charts_wanted=False,
    )  # fmt: skip
    shown = selectors.usage_to_date_for(
        customer=customer,
        filespaces=list(billable_filespaces(month_start=now[0], month_end=now[1])),
    )
    assert {pk: (row.cost_to_date, row.quantity_to_date) for pk, row in shown.items()} == {
        row.filespace.pk: (row.cost_to_date, row.quantity_to_date) for row in full.rows
    }
    assert all(row.forecast is None for row in shown.values())
    client.force_login(billing_member.user)
    dashboard = client.get(reverse("dashboard")).content.decode()
    for row in full.rows:
        assert rating.format_money(row.cost_to_date, row.currency) in dashboard


@time_machine.travel(NOW, tick=False)
def test_a_chart_is_drawn_once_for_its_data_and_again_when_the_data_changes(
    client, billing_member, live_filespace, monkeypatch
):
    from django.core.cache import cache

    from billing import charts

    cache.clear()
    (fs,) = give_filespaces(live_filespace, billing_member.customer, 1)
    rollup_june()
    client.force_login(billing_member.user)
    drawn = []
    real = charts.usage_chart

    def counting(**kwargs):
        drawn.append(kwargs["title"])
        return real(**kwargs)

    monkeypatch.setattr(charts, "usage_chart", counting)
    first = client.get(reverse("billing:usage")).content.decode()
    again = client.get(reverse("billing:usage")).content.decode()
    assert len(drawn) == 1

    def figure(body: str) -> str:
        return body[body.index('<figure class="chart">') : body.index("</figure>")]

    assert figure(first) == figure(again) and "<polyline" in figure(first)
    with time_machine.travel("2026-06-17T12:00:00Z", tick=False):
        write_samples(fs, "2026-06-16T12:00", "2026-06-17T12:00", 3 * TB)
        services.usage_rollup_days(days=[date(2026, 6, 16), date(2026, 6, 17)])
        later = client.get(reverse("billing:usage")).content.decode()
    assert len(drawn) == 2
    points = 'class="chart-average" points="'
    assert later.split(points)[1].split('"')[0] != first.split(points)[1].split('"')[0]


@time_machine.travel(NOW, tick=False)
def test_the_usage_page_draws_its_charts_when_the_cache_cannot_answer(
    client, billing_member, live_filespace, monkeypatch
):
    from billing.templatetags import billing_tags

    class DownCache:
        def get_many(self, keys):
            raise ConnectionError("Redis is down")

        def set_many(self, values, timeout):
            raise ConnectionError("Redis is down")

    give_filespaces(live_filespace, billing_member.customer, 1)
    rollup_june()
    monkeypatch.setattr(billing_tags, "cache", DownCache())
    client.force_login(billing_member.user)

    response = client.get(reverse("billing:usage"))

    assert response.status_code == 200
    assert "<polyline" in response.content.decode()


@time_machine.travel(NOW, tick=False)
def test_the_usage_page_loads_one_plan_instance_per_plan_not_per_filespace(
    billing_member, live_filespace, plan_factory
):
    from billing import rating, selectors

    plan = plan_factory(price_per_unit_month=Decimal("0.02"))
    for fs in give_filespaces(live_filespace, billing_member.customer, 3):
        fs.plan = plan
        fs.save(update_fields=["plan"])
    month_start, month_end = rating.month_of(selectors.timezone.now())
    page = selectors.usage_page_for(
        customer=billing_member.customer, month_start=month_start, month_end=month_end,
        now=selectors.timezone.now(),
    )  # fmt: skip

    # Prefetched: the filespaces share their plan's one instance (its JSON decoded once).
    assert {row.filespace.plan.pk for row in page.rows} == {plan.pk}
    assert len({id(row.filespace.plan) for row in page.rows}) == 1 and len(page.rows) == 3
