"""Plan actions: create or edit a plan, withdraw it from sale or offer it again (MSP only)."""

from decimal import Decimal

from django.db import transaction

from portal.actions import Code, Principal, Refused, action, guards, record
from portal.plans.models import Plan

# Plan fields an audit entry records (everything staff can edit).
PLAN_FIELDS = (
    "name", "slug", "description", "storage_owner", "subscription_type", "provider",
    "allowed_regions", "currency", "price_per_unit_month", "billing_unit", "quantity_rule",
    "included_units", "minimum_monthly_charge", "cost_per_gib_month", "requires_approval",
    "plan_change_needs_approval",
    "is_active",
)  # fmt: skip


def plan_values(plan: Plan) -> dict:
    """The audit snapshot of a plan, taken before a form changes it."""
    values = {}
    for field in PLAN_FIELDS:
        value = getattr(plan, field)
        values[field] = str(value) if isinstance(value, Decimal) else value
    return values


@action("plan.save", audit_refusals=True)
def plan_save(*, plan: Plan, by: Principal, before: dict | None = None) -> Plan:
    """MSP: save a validated plan (new or edited) and record what changed."""
    by = Principal.of(by)
    guards.require_msp(by, what="change plans")
    created = plan.pk is None
    with transaction.atomic():
        if not created and before is None:
            before = plan_values(Plan.objects.select_for_update().get(pk=plan.pk))
        plan.full_clean()
        plan.save()
        # Read back so the record shows the stored values (decimal places as the column keeps).
        plan.refresh_from_db()
        after = plan_values(plan)
        if created:
            record(by=by, action="plan.created", target=plan, after=after)
        else:
            changed = [key for key in after if (before or {}).get(key) != after[key]]
            record(
                by=by,
                action="plan.updated",
                target=plan,
                before={key: (before or {}).get(key) for key in changed},
                after={key: after[key] for key in changed},
            )
    return plan


@action("plan.set_active", audit_refusals=True)
def plan_set_active(*, plan: Plan, by: Principal, active: bool) -> Plan:
    """MSP: withdraw a plan from sale (existing filespaces keep it) or offer it again."""
    by = Principal.of(by)
    guards.require_msp(by, what="change plans")
    with transaction.atomic():
        moved = Plan.objects.filter(pk=plan.pk, is_active=not active).update(is_active=active)
        if moved != 1:
            raise Refused(
                f"This plan is already {'offered' if active else 'withdrawn'}; reload the page.",
                code=Code.INVALID_STATE,
            )
        plan.is_active = active
        record(
            by=by,
            action="plan.activated" if active else "plan.deactivated",
            target=plan,
            before={"is_active": not active},
            after={"is_active": active},
        )
    return plan
