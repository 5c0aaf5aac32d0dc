"""Moving a filespace to another plan: the fit rules, the price preview and the actions.

A customer's owner, admin or billing member, MSP staff, or the system may move a filespace to an
active plan that fits it (same storage owner and provider, its region allowed). When the target
plan asks for it (`Plan.plan_change_needs_approval`), a customer's change waits for staff, who
approve or reject it. An applied change starts a new plan period at that moment, so the month's
invoice and usage page split there (docs/billing.md, "Plan changes").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from billing import rating
from billing.models import FilespacePlanPeriod, PlanChange, UsageSample
from billing.services.pricing import plan_terms, ready_at
from portal.actions import Code, Principal, Refused, action, guards, record
from portal.actions.outbox import outbox_add
from portal.actions.principal import Side
from portal.customers.models import BILLING_ROLES

# Filespaces that are billed and can still change (not being deleted, not gone).
CHANGEABLE_STATES = ("provisioned", "active")


def why_plan_does_not_fit(*, filespace, plan) -> str:
    """Why ``plan`` cannot take ``filespace``, in words for the page; "" when it can."""
    if plan.pk == filespace.plan_id:
        return "The filespace is already on this plan."
    if not plan.is_active:
        return "This plan is no longer offered."
    if plan.storage_owner != filespace.storage_owner or plan.provider != filespace.provider:
        return (
            "This plan uses other storage; a filespace can only move to a plan with the same "
            "storage owner and provider."
        )
    if plan.allowed_regions and filespace.region not in plan.allowed_regions:
        return f"This plan does not offer the region {filespace.region}."
    return ""


def plans_fitting(*, filespace, plans) -> list:
    """The plans of ``plans`` a filespace may move to, in their own order."""
    return [plan for plan in plans if not why_plan_does_not_fit(filespace=filespace, plan=plan)]


@dataclass(frozen=True)
class PlanChangePreview:
    """The price difference shown before a change is confirmed (estimates, not an invoice)."""

    currency: str
    stored_bytes: int
    current_month: Decimal  # a whole month at today's stored data on the current plan
    new_month: Decimal  # the same on the new plan
    rest_of_month: Decimal  # the difference for what is left of this month
    remaining_share: Decimal
    same_currency: bool
    unit: str = "GB"

    @property
    def difference(self) -> Decimal:
        return self.new_month - self.current_month

    @property
    def stored_units(self) -> Decimal:
        """The stored data in the plan's billing unit (GB are 10^9 bytes), two places."""
        unit_bytes = Decimal(rating.UNIT_BYTES.get(self.unit, 10**9))
        return (Decimal(self.stored_bytes) / unit_bytes).quantize(Decimal("0.01"))


def plan_change_preview(*, filespace, plan, now: datetime) -> PlanChangePreview:
    """Both plans' price for a month at the filespace's latest measured size, and the
    difference for the rest of this month. Rounded once per figure (billing.rating)."""
    latest = (
        UsageSample.objects.filter(filespace=filespace)
        .order_by("-slot")
        .values_list("used_storage", flat=True)
        .first()
    )
    stored = latest or 0
    current = rating.monthly_estimate(plan_terms(filespace.plan), stored)
    new = rating.monthly_estimate(plan_terms(plan), stored)
    share = rating.remaining_share(now)
    return PlanChangePreview(
        currency=plan.currency,
        stored_bytes=stored,
        current_month=current,
        new_month=new,
        rest_of_month=rating.round_money((new - current) * share, plan.currency),
        remaining_share=share,
        same_currency=plan.currency == filespace.plan.currency,
        unit=filespace.plan.billing_unit,
    )


def _require_may_change(by: Principal, filespace, *, what: str) -> None:
    guards.require_role(by, filespace.customer, BILLING_ROLES, what=what)
    if by.side == Side.CUSTOMER:
        guards.require_active_customer(by, filespace.customer, what=what)


def _locked_fitting(filespace, plan):
    """Lock the filespace row and check the plan fits it now; returns the fresh row."""
    from provisioning.models import Filespace

    filespace = (
        Filespace.objects.select_for_update()
        .select_related("plan", "customer")
        .get(pk=filespace.pk)
    )
    if filespace.state not in CHANGEABLE_STATES:
        raise Refused("Only a ready or active filespace can change plan.", code=Code.INVALID_STATE)
    reason = why_plan_does_not_fit(filespace=filespace, plan=plan)
    if reason:
        raise Refused(reason, code=Code.INVALID)
    return filespace


def _apply(*, by: Principal, filespace, plan, at: datetime, change: PlanChange) -> PlanChange:
    """Start the new plan period at ``at``, move the filespace, audit and announce it."""
    from provisioning.models import Filespace

    actor = by.audit_user
    if not FilespacePlanPeriod.objects.filter(filespace=filespace).exists():
        # The first change also records the plan the filespace had until then.
        since = ready_at(filespace) or filespace.requested_at
        if since >= at:
            since = at - timedelta(microseconds=1)
        FilespacePlanPeriod.objects.create(
            filespace=filespace, plan_id=filespace.plan_id, starts_at=since, created_by=actor
        )
    FilespacePlanPeriod.objects.update_or_create(
        filespace=filespace, starts_at=at, defaults={"plan": plan, "created_by": actor}
    )
    previous = filespace.plan
    Filespace.objects.filter(pk=filespace.pk).update(plan=plan)
    filespace.plan = plan
    change.state = PlanChange.State.APPLIED
    change.effective_at = at
    change.save()
    facts = {"from_plan": previous.slug, "to_plan": plan.slug, "effective_at": at.isoformat()}
    record(
        by=by,
        action="filespace.plan_changed",
        target=filespace,
        before={"plan": previous.pk},
        after={"plan": plan.pk, "from": at.isoformat()},
    )
    outbox_add(
        event_type="filespace.plan_changed",
        customer=filespace.customer,
        subject_type="filespace",
        subject_id=filespace.pk,
        dedupe_key=f"filespace.plan_changed:{change.pk}",
        facts={"plan_change": {**facts, "id": change.pk, "state": change.state}},
    )
    return change


@action("filespace.change_plan", audit_refusals=True)
@transaction.atomic
def filespace_plan_change(
    *, filespace, plan, by=None, at: datetime | None = None, actor=None
) -> PlanChange:
    """Move a filespace to ``plan`` from ``at`` (default now); billing splits the month there.

    A customer-side change onto a plan that needs approval is recorded as pending instead, for
    staff to approve or reject. Only the system (billing corrections, tests) may choose ``at``.
    """
    by = Principal.of(by if by is not None else actor)
    _require_may_change(by, filespace, what="change a filespace's plan")
    filespace = _locked_fitting(filespace, plan)
    now = timezone.now()
    if at is not None and not by.is_system:
        raise Refused("Only the system can back-date a plan change.", code=Code.FORBIDDEN)
    at = at or now
    if PlanChange.objects.filter(filespace=filespace, state=PlanChange.State.PENDING).exists():
        raise Refused(
            "A plan change for this filespace is already waiting for approval.",
            code=Code.INVALID_STATE,
        )
    change = PlanChange.objects.create(
        filespace=filespace, from_plan=filespace.plan, to_plan=plan,
        state=PlanChange.State.PENDING, requested_at=now, requested_by=by.audit_user,
        requested_by_label=by.label,
    )  # fmt: skip
    if by.side == Side.CUSTOMER and plan.plan_change_needs_approval:
        record(
            by=by,
            action="filespace.plan_change_requested",
            target=filespace,
            before={"plan": filespace.plan_id},
            after={"plan": plan.pk, "change": change.pk},
        )
        outbox_add(
            event_type="filespace.plan_change_requested",
            customer=filespace.customer,
            subject_type="filespace",
            subject_id=filespace.pk,
            dedupe_key=f"filespace.plan_change_requested:{change.pk}",
            facts={"plan_change": _facts(change)},
        )
        return change
    return _apply(by=by, filespace=filespace, plan=plan, at=at, change=change)


def _facts(change: PlanChange) -> dict:
    return {
        "id": change.pk,
        "state": change.state,
        "from_plan": change.from_plan.slug,
        "to_plan": change.to_plan.slug,
    }


def _locked_pending(change: PlanChange) -> PlanChange:
    change = (
        PlanChange.objects.select_for_update()
        .select_related("from_plan", "to_plan")
        .get(pk=change.pk)
    )
    if change.state != PlanChange.State.PENDING:
        raise Refused("This plan change was already decided.", code=Code.INVALID_STATE)
    return change


@action("filespace.plan_change_approve", audit_refusals=True)
@transaction.atomic
def plan_change_approve(*, plan_change: PlanChange, by) -> PlanChange:
    """MSP staff: apply a pending plan change now (the plan must still fit the filespace)."""
    by = Principal.of(by)
    guards.require_msp_or_system(by, what="approve a plan change")
    change = _locked_pending(plan_change)
    filespace = change.filespace
    guards.require_active_customer(by, filespace.customer, what="approve a plan change")
    filespace = _locked_fitting(filespace, change.to_plan)
    now = timezone.now()
    change.decided_at, change.decided_by = now, by.audit_user
    return _apply(by=by, filespace=filespace, plan=change.to_plan, at=now, change=change)


@action("filespace.plan_change_reject", audit_refusals=True)
@transaction.atomic
def plan_change_reject(*, plan_change: PlanChange, by, reason: str = "") -> PlanChange:
    """MSP staff: refuse a pending plan change; the filespace stays on its plan."""
    by = Principal.of(by)
    guards.require_msp_or_system(by, what="reject a plan change")
    change = _locked_pending(plan_change)
    reason = (reason or "").strip()[:1000]
    change.state = PlanChange.State.REJECTED
    change.decided_at, change.decided_by, change.reason = timezone.now(), by.audit_user, reason
    change.save()
    record(
        by=by,
        action="filespace.plan_change_rejected",
        target=change.filespace,
        after={"plan": change.to_plan_id, "change": change.pk},
        note=reason,
    )
    outbox_add(
        event_type="filespace.plan_change_rejected",
        customer=change.filespace.customer,
        subject_type="filespace",
        subject_id=change.filespace_id,
        dedupe_key=f"filespace.plan_change_rejected:{change.pk}",
        facts={"plan_change": {**_facts(change), "reason": reason}},
    )
    return change
