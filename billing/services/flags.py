"""Billing flags: staff mark a flag resolved once they have looked into it."""

from django.db import transaction
from django.utils import timezone

from billing.models import BillingFlag
from portal.actions import Principal, action, guards, record


@action("billing_flag.resolve", audit_refusals=True)
def billing_flag_resolve(*, flag: BillingFlag, by: Principal) -> bool:
    """MSP: mark an open flag resolved; False when it was already resolved (nothing written)."""
    by = Principal.of(by)
    guards.require_msp(by, what="resolve billing flags")
    with transaction.atomic():
        moved = BillingFlag.objects.filter(pk=flag.pk, resolved_at__isnull=True).update(
            resolved_at=timezone.now()
        )
        if moved:
            record(
                by=by,
                action="billing_flag.resolved",
                customer=flag.customer,
                target=flag,
                before={"resolved": False},
                after={"resolved": True},
            )
    return bool(moved)
