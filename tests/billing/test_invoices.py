"""The monthly invoice run, finalization, credit notes and adjustments, with frozen time."""

from decimal import Decimal

import pytest
import time_machine

from billing import services, tasks
from billing.models import Invoice, InvoiceLine, InvoiceLockedError, InvoiceSequence
from portal.actions.errors import Code, Refused
from tests.billing.conftest import at, write_samples

pytestmark = pytest.mark.django_db

TB = 10**12


def lines_of(invoice):
    return list(invoice.lines.order_by("position").values_list("kind", "quantity", "amount"))


def the_invoice(customer) -> Invoice:
    return Invoice.objects.get(customer=customer, kind=Invoice.Kind.INVOICE)


@pytest.mark.parametrize(
    ("year", "month", "end"),
    [(2026, 2, "2026-03-01"), (2026, 4, "2026-05-01"), (2026, 3, "2026-04-01")],
    ids=["28-days", "30-days", "31-days"],
)
def test_a_full_month_of_one_terabyte_is_one_thousand_gb_months_in_any_month(
    live_filespace, year, month, end
):
    fs = live_filespace(ready="2025-12-01T00:00")
    write_samples(fs, f"{year}-{month:02d}-01T00:00", f"{end}T00:00", TB)

    services.invoice_run(year=year, month=month, now=at(f"{end}T03:00"))

    assert lines_of(the_invoice(fs.customer)) == [("usage", Decimal("1000"), Decimal("20.00"))]


def test_a_filespace_ready_mid_month_is_billed_from_that_moment(live_filespace):
    fs = live_filespace(ready="2026-04-16T00:00")
    write_samples(fs, "2026-04-16T00:00", "2026-05-01T00:00", TB)

    services.invoice_run(year=2026, month=4)

    line = the_invoice(fs.customer).lines.get()
    assert (line.quantity, line.amount) == (Decimal("500"), Decimal("10.00"))
    assert line.window_start == at("2026-04-16T00:00")


def test_a_filespace_deleted_mid_month_is_billed_until_it_was_deleted(live_filespace):
    fs = live_filespace(ready="2026-01-10T00:00", deleted="2026-03-11T12:00")
    # Samples after deletion must not count (the filespace no longer exists for the customer).
    write_samples(fs, "2026-03-01T00:00", "2026-03-20T00:00", TB)

    services.invoice_run(year=2026, month=3)

    line = the_invoice(fs.customer).lines.get()
    assert (line.quantity, line.amount) == (Decimal("338.709677"), Decimal("6.77"))
    assert line.window_end == at("2026-03-11T12:00")


def test_a_filespace_deleted_before_the_month_gets_no_invoice(live_filespace):
    live_filespace(ready="2026-01-10T00:00", deleted="2026-02-28T00:00")

    services.invoice_run(year=2026, month=3)

    assert not Invoice.objects.exists()


def test_gaps_are_filled_in_the_customers_favour_and_the_line_says_so(live_filespace):
    fs = live_filespace(ready="2026-01-01T00:00")
    write_samples(fs, "2026-06-01T00:00", "2026-06-11T00:00", 2 * TB)
    write_samples(fs, "2026-06-13T00:00", "2026-07-01T00:00", TB)

    services.invoice_run(year=2026, month=6)

    line = the_invoice(fs.customer).lines.get()
    assert (line.quantity, line.amount) == (Decimal("1333.333333"), Decimal("26.67"))
    assert line.gap_slots == 48
    assert "48 of 720 sampling slots had no measurement" in line.note
    assert "in your favour" in line.note


def test_a_plan_change_splits_the_month_into_two_lines(live_filespace, plan_factory):
    cheap = plan_factory(price_per_unit_month=Decimal("0.02"))
    dear = plan_factory(price_per_unit_month=Decimal("0.03"))
    fs = live_filespace(ready="2026-01-01T00:00", plan=cheap)
    write_samples(fs, "2026-04-01T00:00", "2026-05-01T00:00", TB)

    services.filespace_plan_change(filespace=fs, plan=dear, at=at("2026-04-11T00:00"))
    services.invoice_run(year=2026, month=4)

    invoice = the_invoice(fs.customer)
    assert list(invoice.lines.values_list("plan_id", "quantity", "amount")) == [
        (cheap.pk, Decimal("333.333333"), Decimal("6.67")),
        (dear.pk, Decimal("666.666667"), Decimal("20.00")),
    ]
    assert invoice.total == Decimal("26.67")
    fs.refresh_from_db()
    assert fs.plan_id == dear.pk


def test_half_a_cent_is_rounded_up_once_per_line(live_filespace, plan_factory):
    plan = plan_factory(price_per_unit_month=Decimal("0.005"))
    fs = live_filespace(ready="2026-01-01T00:00", plan=plan)
    write_samples(fs, "2026-06-01T00:00", "2026-07-01T00:00", 10**9)

    services.invoice_run(year=2026, month=6)

    assert the_invoice(fs.customer).lines.get().amount == Decimal("0.01")


def test_the_minimum_charge_tops_up_small_usage(live_filespace, plan_factory, customer_factory):
    plan = plan_factory(included_units=Decimal(100), minimum_monthly_charge=Decimal("15.00"))
    customer = customer_factory()
    small = live_filespace(ready="2026-01-01T00:00", plan=plan, customer=customer)
    half = live_filespace(ready="2026-06-16T00:00", plan=plan, customer=customer)
    write_samples(small, "2026-06-01T00:00", "2026-07-01T00:00", 10 * 10**9)
    write_samples(half, "2026-06-16T00:00", "2026-07-01T00:00", 50 * 10**9)

    services.invoice_run(year=2026, month=6)

    invoice = the_invoice(customer)
    # Both lines are within their allowance; the prorated minimums are 15.00 and 7.50.
    assert [line[2] for line in lines_of(invoice)] == [Decimal(0), Decimal(0), Decimal("22.50")]
    assert invoice.lines.last().kind == InvoiceLine.Kind.MINIMUM
    assert invoice.total == Decimal("22.50")


def test_each_customer_gets_its_own_draft(live_filespace, customer_factory):
    first, second = customer_factory(), customer_factory()
    for customer in (first, second, second):
        fs = live_filespace(ready="2026-01-01T00:00", customer=customer)
        write_samples(fs, "2026-06-01T00:00", "2026-07-01T00:00", TB)

    result = services.invoice_run(year=2026, month=6)

    assert result.created == 2
    assert the_invoice(first).total == Decimal("20.00")
    assert the_invoice(second).total == Decimal("40.00")
    assert the_invoice(second).lines.count() == 2


def test_a_rerun_of_the_invoice_run_changes_nothing(live_filespace):
    fs = live_filespace(ready="2026-06-10T00:00")
    write_samples(fs, "2026-06-10T00:00", "2026-07-01T00:00", TB)
    services.invoice_run(year=2026, month=6, now=at("2026-07-01T03:00"))
    invoice = the_invoice(fs.customer)
    before = list(InvoiceLine.objects.values_list())

    result = services.invoice_run(year=2026, month=6, now=at("2026-07-02T03:00"))

    assert (result.created, result.updated, result.unchanged) == (0, 0, 1)
    assert list(InvoiceLine.objects.values_list()) == before
    invoice.refresh_from_db()
    assert invoice.computed_at == at("2026-07-01T03:00")


def test_a_rerun_refreshes_a_draft_when_late_samples_arrived(live_filespace):
    fs = live_filespace(ready="2026-06-01T00:00")
    write_samples(fs, "2026-06-01T00:00", "2026-06-30T23:00", TB)
    services.invoice_run(year=2026, month=6)
    write_samples(fs, "2026-06-30T23:00", "2026-07-01T00:00", 25 * TB)

    result = services.invoice_run(year=2026, month=6)

    assert result.updated == 1
    assert the_invoice(fs.customer).lines.get().quantity == Decimal("1033.333333")


@time_machine.travel("2026-07-01T03:00:00Z", tick=False)
def test_the_task_bills_the_previous_month_by_default(live_filespace):
    fs = live_filespace(ready="2026-06-01T00:00")
    write_samples(fs, "2026-06-01T00:00", "2026-07-01T00:00", TB)

    tasks.run_invoices.run()
    tasks.run_invoices.run()

    invoice = the_invoice(fs.customer)
    assert str(invoice.period_start) == "2026-06-01"
    assert Invoice.objects.count() == 1


def make_drafts(live_filespace, count, month=6):
    drafts = []
    for _ in range(count):
        fs = live_filespace(ready="2026-01-01T00:00")
        write_samples(fs, f"2026-{month:02d}-01T00:00", f"2026-{month:02d}-02T00:00", TB)
        services.invoice_run(year=2026, month=month)
        drafts.append(the_invoice(fs.customer))
    return drafts


def test_finalization_numbers_invoices_in_sequence(live_filespace, user_factory):
    staff = user_factory("staff@msp.example", is_staff=True, mfa=True)
    drafts = make_drafts(live_filespace, 3)

    numbers = [services.invoice_finalize(invoice_id=d.pk, actor=staff).number for d in drafts]

    assert numbers == ["INV-000001", "INV-000002", "INV-000003"]
    assert Invoice.objects.get(pk=drafts[0].pk).finalized_by == staff


def test_a_failed_finalization_leaves_no_gap_in_the_numbers(live_filespace):
    first, second = make_drafts(live_filespace, 2)
    empty = Invoice.objects.create(customer=first.customer, period_start=at("2026-05-01").date(),
                                   currency="USD")  # fmt: skip

    services.invoice_finalize(invoice_id=first.pk)
    with pytest.raises(services.BillingError, match="without lines"):
        services.invoice_finalize(invoice_id=empty.pk)
    services.invoice_finalize(invoice_id=second.pk)

    assert Invoice.objects.get(pk=second.pk).number == "INV-000002"
    assert InvoiceSequence.objects.get(name="INV").next_value == 3


def test_a_finalized_invoice_never_changes(live_filespace):
    (draft,) = make_drafts(live_filespace, 1)
    invoice = services.invoice_finalize(invoice_id=draft.pk)

    invoice.total = Decimal("1.00")
    with pytest.raises(InvoiceLockedError):
        invoice.save()
    with pytest.raises(InvoiceLockedError):
        invoice.lines.first().save()
    with pytest.raises(InvoiceLockedError):
        invoice.delete()
    with pytest.raises(services.BillingError, match="already finalized"):
        services.invoice_finalize(invoice_id=invoice.pk)
    with pytest.raises(services.BillingError, match="credit note"):
        services.invoice_add_adjustment(
            invoice_id=invoice.pk, description="Goodwill", amount="-1.00", reason="outage"
        )


def test_the_invoice_run_leaves_a_finalized_invoice_alone(live_filespace):
    (draft,) = make_drafts(live_filespace, 1)
    services.invoice_finalize(invoice_id=draft.pk)
    fs = draft.lines.get().filespace
    write_samples(fs, "2026-06-02T00:00", "2026-06-03T00:00", 40 * TB)

    result = services.invoice_run(year=2026, month=6)

    assert result.finalized_skipped == 1
    # One day measured, the rest of June filled from the last measurement: 1 TB all month.
    assert Invoice.objects.get(pk=draft.pk).total == Decimal("20.00")


def test_a_recompute_of_a_finalized_invoice_gives_the_same_figures(live_filespace, plan_factory):
    dear = plan_factory(price_per_unit_month=Decimal("0.031"))
    fs = live_filespace(ready="2026-06-03T07:00")
    write_samples(fs, "2026-06-03T07:00", "2026-06-20T00:00", 3 * TB)
    write_samples(fs, "2026-06-21T00:00", "2026-07-01T00:00", TB)
    services.filespace_plan_change(filespace=fs, plan=dear, at=at("2026-06-15T12:00"))
    services.invoice_run(year=2026, month=6)
    invoice = services.invoice_finalize(invoice_id=the_invoice(fs.customer).pk)

    assert services.invoice_verify(invoice=invoice) == []


def test_verify_reports_a_line_that_no_longer_matches(live_filespace):
    (draft,) = make_drafts(live_filespace, 1)
    InvoiceLine.objects.filter(invoice=draft).update(amount=Decimal("9.99"))

    problems = services.invoice_verify(invoice=draft)

    assert problems == ["Line 1 amount: stored Decimal('9.990'), now Decimal('20.00')."]


def test_a_credit_note_corrects_a_finalized_invoice_with_a_reason(live_filespace):
    (draft,) = make_drafts(live_filespace, 1)
    invoice = services.invoice_finalize(invoice_id=draft.pk)

    note = services.invoice_credit(invoice_id=invoice.pk, amount="0.50", reason="Outage on 1 June")

    assert (note.kind, note.number, note.total) == ("credit_note", "CN-000001", Decimal("-0.50"))
    assert note.credits == invoice
    with pytest.raises(services.BillingError, match="exceed"):
        services.invoice_credit(invoice_id=invoice.pk, amount="19.51", reason="again")
    with pytest.raises(services.BillingError, match="reason"):
        services.invoice_credit(invoice_id=invoice.pk, amount="0.10", reason=" ")
    with pytest.raises(services.BillingError, match="decimals"):
        services.invoice_credit(invoice_id=invoice.pk, amount="0.001", reason="x")
    assert Invoice.objects.get(pk=invoice.pk).total == Decimal("20.00")


def test_an_adjustment_on_a_draft_survives_a_rerun(live_filespace):
    (draft,) = make_drafts(live_filespace, 1)

    services.invoice_add_adjustment(
        invoice_id=draft.pk, description="Setup fee", amount="5.00", reason="Agreed in contract"
    )
    services.invoice_run(year=2026, month=6)

    draft.refresh_from_db()
    assert draft.total == Decimal("25.00")
    assert draft.lines.filter(kind="adjustment").get().note == "Agreed in contract"
    with pytest.raises(services.BillingError, match="number"):
        services.invoice_add_adjustment(
            invoice_id=draft.pk, description="x", amount="abc", reason="y"
        )


def test_a_plan_with_broken_tiers_stops_only_its_own_customer(live_filespace, plan_factory):
    broken = plan_factory(price_tiers=[{"up_to": "1000"}])
    bad = live_filespace(ready="2026-01-01T00:00", plan=broken)
    good = live_filespace(ready="2026-01-01T00:00")
    for fs in (bad, good):
        write_samples(fs, "2026-06-01T00:00", "2026-07-01T00:00", TB)

    result = services.invoice_run(year=2026, month=6)

    assert result.created == 1
    assert result.failed == [(bad.customer_id, f"Plan {broken.name!r} has a malformed price tier: "
                                                "{'up_to': '1000'}.")]  # fmt: skip
    assert the_invoice(good.customer).total == Decimal("20.00")


@pytest.mark.parametrize("chunk", [1, 2, 500])
def test_loading_samples_in_chunks_of_customers_gives_the_same_invoices(
    live_filespace, customer_factory, monkeypatch, chunk
):
    monkeypatch.setattr("billing.services.invoices.INPUT_CHUNK_FILESPACES", chunk)
    customers = [customer_factory() for _ in range(3)]
    for index, customer in enumerate(customers):
        for _ in range(index + 1):
            fs = live_filespace(ready="2026-01-01T00:00", customer=customer)
            write_samples(fs, "2026-06-01T00:00", "2026-07-01T00:00", (index + 1) * TB)

    services.invoice_run(year=2026, month=6)

    assert [the_invoice(c).total for c in customers] == [
        Decimal("20.00"), Decimal("80.00"), Decimal("180.00"),
    ]  # fmt: skip


def test_a_rerun_rates_again_a_customer_whose_plan_price_changed(live_filespace, plan_factory):
    plan = plan_factory(price_per_unit_month=Decimal("0.02"))
    fs = live_filespace(ready="2026-01-01T00:00", plan=plan)
    write_samples(fs, "2026-06-01T00:00", "2026-07-01T00:00", TB)
    services.invoice_run(year=2026, month=6)
    plan.price_per_unit_month = Decimal("0.03")
    plan.save()

    result = services.invoice_run(year=2026, month=6)

    assert (result.updated, result.unchanged) == (1, 0)
    assert the_invoice(fs.customer).total == Decimal("30.00")


def test_a_rerun_rates_again_a_customer_whose_filespace_was_deleted(live_filespace):
    fs = live_filespace(ready="2026-01-01T00:00")
    write_samples(fs, "2026-06-01T00:00", "2026-07-01T00:00", TB)
    services.invoice_run(year=2026, month=6)
    fs.deleted_at = at("2026-06-16T00:00")
    fs.save(update_fields=["deleted_at"])

    result = services.invoice_run(year=2026, month=6)

    assert result.updated == 1
    assert the_invoice(fs.customer).total == Decimal("10.00")


def test_a_rerun_recreates_a_draft_that_was_deleted(live_filespace):
    fs = live_filespace(ready="2026-01-01T00:00")
    write_samples(fs, "2026-06-01T00:00", "2026-07-01T00:00", TB)
    services.invoice_run(year=2026, month=6)
    the_invoice(fs.customer).delete()

    result = services.invoice_run(year=2026, month=6)

    assert result.created == 1
    assert the_invoice(fs.customer).total == Decimal("20.00")


def test_a_forced_rerun_rates_everyone_again_and_writes_nothing_new(live_filespace):
    fs = live_filespace(ready="2026-01-01T00:00")
    write_samples(fs, "2026-06-01T00:00", "2026-07-01T00:00", TB)
    services.invoice_run(year=2026, month=6, now=at("2026-07-01T03:00"))
    before = list(InvoiceLine.objects.values_list())

    result = services.invoice_run(year=2026, month=6, now=at("2026-07-02T03:00"), force=True)

    assert (result.created, result.updated, result.unchanged) == (0, 0, 1)
    assert list(InvoiceLine.objects.values_list()) == before
    assert the_invoice(fs.customer).computed_at == at("2026-07-01T03:00")


def test_a_rerun_with_nothing_changed_costs_the_same_queries_for_any_number_of_customers(
    live_filespace, customer_factory, django_assert_num_queries, django_assert_max_num_queries
):
    def drafts_for(customers: int) -> None:
        for _ in range(customers):
            fs = live_filespace(ready="2026-01-01T00:00", customer=customer_factory())
            write_samples(fs, "2026-06-01T00:00", "2026-06-03T00:00", TB)
        services.invoice_run(year=2026, month=6)

    drafts_for(1)
    # The lock and mark, filespaces, plan history, drafts and the samples newer than the mark.
    with django_assert_max_num_queries(8) as one:
        services.invoice_run(year=2026, month=6)
    drafts_for(3)
    services.invoice_run(year=2026, month=6)
    with django_assert_num_queries(len(one.captured_queries)):
        result = services.invoice_run(year=2026, month=6)
    assert result.unchanged == 4


def test_invoice_refusals_are_action_refusals_with_a_stable_code(live_filespace):
    (draft,) = make_drafts(live_filespace, 1)

    with pytest.raises(Refused) as bad_amount:
        services.invoice_add_adjustment(
            invoice_id=draft.pk, description="x", amount="abc", reason="y"
        )
    invoice = services.invoice_finalize(invoice_id=draft.pk)
    with pytest.raises(Refused) as finalized_twice:
        services.invoice_finalize(invoice_id=invoice.pk)
    with pytest.raises(Refused) as too_much_credit:
        services.invoice_credit(invoice_id=invoice.pk, amount="20.01", reason="again")

    assert (bad_amount.value.code, bad_amount.value.http_status) == (Code.INVALID, 400)
    assert (finalized_twice.value.code, finalized_twice.value.http_status) == ("conflict", 409)
    assert too_much_credit.value.code == Code.INVALID


def test_a_first_run_costs_the_same_queries_for_any_number_of_customers(
    live_filespace, customer_factory, django_assert_num_queries, django_assert_max_num_queries
):
    """Drafts, their lines, tax lines and documents are written per chunk, not per customer."""

    def customers_with_samples(count: int) -> None:
        for _ in range(count):
            fs = live_filespace(ready="2026-01-01T00:00", customer=customer_factory())
            write_samples(fs, "2026-06-01T00:00", "2026-06-03T00:00", TB)

    customers_with_samples(1)
    services.invoice_run(year=2026, month=6)
    Invoice.objects.all().delete()
    with django_assert_max_num_queries(40) as one:
        services.invoice_run(year=2026, month=6)
    Invoice.objects.all().delete()
    customers_with_samples(4)
    with django_assert_num_queries(len(one.captured_queries)):
        result = services.invoice_run(year=2026, month=6)
    assert result.created == 5
