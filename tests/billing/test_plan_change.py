"""Plan changes: who may, which plans fit, approval, the price preview, and billing's split."""

from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from billing import rating, services
from billing.models import FilespacePlanPeriod, PlanChange
from portal.actions import Principal, Refused
from portal.actions.models import OutboxEvent
from portal.audit.models import AuditEntry
from portal.webhooks.services import payload_for
from tests.billing.conftest import at, write_samples

pytestmark = pytest.mark.django_db

TB = 10**12


@pytest.fixture
def world(live_filespace, plan_factory, member_factory, user_factory):
    cheap = plan_factory(name="Teams", price_per_unit_month=Decimal("0.02"))
    dear = plan_factory(name="Teams Plus", price_per_unit_month=Decimal("0.03"))
    fs = live_filespace(ready="2026-01-01T00:00", plan=cheap, region="us-east")
    owner = member_factory(role="owner", customer=fs.customer)
    staff = user_factory("staff@msp.example", is_staff=True, mfa=True)
    return fs, cheap, dear, owner.user, staff


def by(user) -> Principal:
    return Principal.for_user(user)


@time_machine.travel("2026-04-11T00:00:00Z", tick=False)
def test_an_owner_moves_a_filespace_and_the_month_splits_there(world):
    fs, cheap, dear, owner, _ = world
    write_samples(fs, "2026-04-01T00:00", "2026-05-01T00:00", TB)

    change = services.filespace_plan_change(filespace=fs, plan=dear, by=by(owner))

    assert change.state == PlanChange.State.APPLIED
    assert change.effective_at == at("2026-04-11T00:00")
    fs.refresh_from_db()
    assert fs.plan_id == dear.pk
    assert list(FilespacePlanPeriod.objects.values_list("plan_id", flat=True)) == [
        cheap.pk,
        dear.pk,
    ]
    assert AuditEntry.objects.filter(action="filespace.plan_changed").count() == 1
    (event,) = OutboxEvent.objects.filter(event_type="filespace.plan_changed")
    _customer, data = payload_for(event)
    assert data["plan_change"]["to_plan"] == dear.slug
    assert data["filespace"]["plan"] == dear.pk
    services.invoice_run(year=2026, month=4)
    lines = fs.customer.invoices.get().lines.values_list("plan_id", "amount")
    assert list(lines) == [(cheap.pk, Decimal("6.67")), (dear.pk, Decimal("20.00"))]


@pytest.mark.parametrize("role,allowed", [("admin", True), ("billing", True), ("member", False)])
def test_billing_capable_roles_may_change_the_plan(world, member_factory, role, allowed):
    fs, _cheap, dear, _owner, _ = world
    person = member_factory(role=role, customer=fs.customer).user

    if allowed:
        services.filespace_plan_change(filespace=fs, plan=dear, by=by(person))
    else:
        with pytest.raises(Refused) as refused:
            services.filespace_plan_change(filespace=fs, plan=dear, by=by(person))
        assert refused.value.code == "forbidden"
        assert AuditEntry.objects.filter(action="filespace.change_plan_refused").exists()
    fs.refresh_from_db()
    assert (fs.plan_id == dear.pk) is allowed


def test_another_customers_member_cannot_change_the_plan(world, member_factory):
    fs, _cheap, dear, _owner, _ = world
    stranger = member_factory(role="owner").user

    with pytest.raises(Refused):
        services.filespace_plan_change(filespace=fs, plan=dear, by=by(stranger))
    fs.refresh_from_db()
    assert fs.plan_id != dear.pk


@pytest.mark.parametrize(
    "overrides,words",
    [
        ({"provider": "AWS", "storage_owner": "customer"}, "same storage owner and provider"),
        ({"allowed_regions": ["eu-de"]}, "does not offer the region us-east"),
        ({"is_active": False}, "no longer offered"),
    ],
)
def test_a_plan_that_does_not_fit_is_refused_and_nothing_changes(
    world, plan_factory, overrides, words
):
    fs, cheap, _dear, owner, _ = world
    other = plan_factory(**overrides)

    with pytest.raises(Refused, match=words) as refused:
        services.filespace_plan_change(filespace=fs, plan=other, by=by(owner))
    assert refused.value.code == "invalid"
    fs.refresh_from_db()
    assert fs.plan_id == cheap.pk
    assert not PlanChange.objects.exists() and not FilespacePlanPeriod.objects.exists()


def test_the_same_plan_is_refused(world):
    fs, cheap, _dear, owner, _ = world

    with pytest.raises(Refused, match="already on this plan"):
        services.filespace_plan_change(filespace=fs, plan=cheap, by=by(owner))


def test_a_suspended_customer_cannot_change_plan_but_staff_can(world):
    fs, _cheap, dear, owner, staff = world
    fs.customer.status = "suspended"
    fs.customer.save()

    with pytest.raises(Refused) as refused:
        services.filespace_plan_change(filespace=fs, plan=dear, by=by(owner))
    assert refused.value.code == "customer_locked"
    services.filespace_plan_change(filespace=fs, plan=dear, by=by(staff))
    fs.refresh_from_db()
    assert fs.plan_id == dear.pk


def test_only_the_system_can_back_date_a_change(world):
    fs, _cheap, dear, _owner, staff = world

    with pytest.raises(Refused, match="back-date"):
        services.filespace_plan_change(
            filespace=fs, plan=dear, by=by(staff), at=at("2026-01-05T00:00")
        )


@time_machine.travel("2026-04-11T00:00:00Z", tick=False)
def test_a_change_onto_an_approval_plan_waits_for_staff_then_applies_at_approval(world):
    fs, cheap, dear, owner, staff = world
    dear.plan_change_needs_approval = True
    dear.save()

    change = services.filespace_plan_change(filespace=fs, plan=dear, by=by(owner))

    assert change.state == PlanChange.State.PENDING
    fs.refresh_from_db()
    assert fs.plan_id == cheap.pk and not FilespacePlanPeriod.objects.exists()
    assert OutboxEvent.objects.filter(event_type="filespace.plan_change_requested").count() == 1
    with pytest.raises(Refused, match="already waiting"):
        services.filespace_plan_change(filespace=fs, plan=dear, by=by(owner))
    with pytest.raises(Refused) as refused:
        services.plan_change_approve(plan_change=change, by=by(owner))
    assert refused.value.code == "forbidden"

    with time_machine.travel("2026-04-15T12:00:00Z", tick=False):
        services.plan_change_approve(plan_change=change, by=by(staff))

    change.refresh_from_db()
    assert change.state == PlanChange.State.APPLIED and change.decided_by == staff
    assert change.effective_at == at("2026-04-15T12:00")
    fs.refresh_from_db()
    assert fs.plan_id == dear.pk
    with pytest.raises(Refused, match="already decided"):
        services.plan_change_reject(plan_change=change, by=by(staff))


def test_staff_reject_a_pending_change_and_the_plan_stays(world):
    fs, cheap, dear, owner, staff = world
    dear.plan_change_needs_approval = True
    dear.save()
    change = services.filespace_plan_change(filespace=fs, plan=dear, by=by(owner))

    services.plan_change_reject(plan_change=change, by=by(staff), reason="Not in your contract")

    change.refresh_from_db()
    assert (change.state, change.reason) == (PlanChange.State.REJECTED, "Not in your contract")
    fs.refresh_from_db()
    assert fs.plan_id == cheap.pk
    entry = AuditEntry.objects.get(action="filespace.plan_change_rejected")
    assert entry.note == "Not in your contract"
    assert OutboxEvent.objects.filter(event_type="filespace.plan_change_rejected").count() == 1


def test_staff_changes_apply_at_once_even_onto_an_approval_plan(world):
    fs, _cheap, dear, _owner, staff = world
    dear.plan_change_needs_approval = True
    dear.save()

    change = services.filespace_plan_change(filespace=fs, plan=dear, by=by(staff))

    assert change.state == PlanChange.State.APPLIED


def test_the_monthly_estimate_is_exact_and_rounded_once():
    terms = rating.PlanTerms(
        currency="USD", unit="GB", price_per_unit_month=Decimal("0.0235"),
        included_units=Decimal(100),
    )  # fmt: skip

    # 1,000 GB stored, 100 included: 900 x 0.0235 = 21.15
    assert rating.monthly_estimate(terms, 1000 * 10**9) == Decimal("21.15")
    # 100.2 GB: 0.2 x 0.0235 = 0.0047 → 0.00; half a cent rounds up
    assert rating.monthly_estimate(terms, 100_200_000_000) == Decimal("0.00")
    half = rating.PlanTerms(currency="USD", unit="GB", price_per_unit_month=Decimal("0.005"))
    assert rating.monthly_estimate(half, 10**9) == Decimal("0.01")
    assert rating.remaining_share(at("2026-04-11T00:00")) == Decimal(2) / Decimal(3)


def test_the_monthly_estimate_of_a_tiered_plan_fills_each_band_of_a_whole_month():
    tiered = rating.PlanTerms(
        currency="USD", unit="GB", price_per_unit_month=Decimal("0.01"),
        included_units=Decimal(100),
        tiers=(
            rating.Tier(Decimal(1000), Decimal("0.03")),
            rating.Tier(Decimal(2000), Decimal("0.02")),
        ),
    )  # fmt: skip
    # 3,600 GB less 100 included: the first 1,000 at 0.03, up to 2,000 at 0.02, the other
    # 1,500 at the plan's price past the bands: 30 + 20 + 15.
    assert rating.monthly_estimate(tiered, 3600 * 10**9) == Decimal("65.00")
    with pytest.raises(rating.RatingError, match=r"^unknown billing unit 'TB'$"):
        rating.monthly_estimate(rating.PlanTerms("USD", "TB", Decimal(1)), 10**12)


@time_machine.travel("2026-04-11T00:00:00Z", tick=False)
def test_the_preview_shows_both_prices_and_the_rest_of_the_month(world):
    fs, _cheap, dear, _owner, _ = world
    write_samples(fs, "2026-04-10T00:00", "2026-04-11T00:00", 2 * TB)

    preview = services.plan_change_preview(filespace=fs, plan=dear, now=at("2026-04-11T00:00"))

    assert (preview.current_month, preview.new_month) == (Decimal("40.00"), Decimal("60.00"))
    assert preview.difference == Decimal("20.00")
    assert (preview.stored_units, preview.unit) == (Decimal("2000.00"), "GB")
    assert preview.rest_of_month == Decimal("13.33")  # 20.00 x 20/30 days


@time_machine.travel("2026-04-20T00:00:00Z", tick=False)
def test_the_usage_page_and_the_invoice_show_both_periods(world, client):
    fs, _cheap, dear, owner, _ = world
    write_samples(fs, "2026-04-01T00:00", "2026-04-20T00:00", TB)
    services.filespace_plan_change(filespace=fs, plan=dear, by=Principal.system(),
                                   at=at("2026-04-11T00:00"))  # fmt: skip
    client.force_login(owner)

    usage = client.get(reverse("billing:usage")).content.decode()

    assert "Plan periods" in usage
    assert "Teams: 1 Apr 00:00 to 11 Apr 00:00 UTC" in usage
    assert "Teams Plus: 11 Apr 00:00 to" in usage
    with time_machine.travel("2026-05-01T03:00:00Z", tick=False):
        services.invoice_run(year=2026, month=4)
        invoice = services.invoice_finalize(invoice_id=fs.customer.invoices.get().pk)
    page = client.get(reverse("billing:invoice_detail", args=[invoice.pk])).content.decode()
    assert f"{fs.qualified_name}: Teams, 1 Apr 00:00 to 11 Apr 2026 00:00 UTC" in page
    assert f"{fs.qualified_name}: Teams Plus, 11 Apr 00:00 to" in page
