"""Permission and state checks shared by actions. Each raises Refused with a stable code."""

from __future__ import annotations

from django.conf import settings

from portal.actions.errors import Code, Refused
from portal.actions.principal import Principal, Side


def require_msp(by: Principal, *, what: str) -> None:
    """MSP staff (with a second factor) or an MSP API key."""
    if by.side != Side.MSP:
        raise Refused(f"Only {settings.MSP_NAME} staff can {what}.", code=Code.FORBIDDEN)
    if by.user is not None and not by.mfa:
        raise Refused(
            f"Set up two-factor authentication before you {what}.", code=Code.MFA_REQUIRED
        )


def require_msp_or_system(by: Principal, *, what: str) -> None:
    if not by.is_system:
        require_msp(by, what=what)


def require_role(by: Principal, customer, roles, *, what: str) -> None:
    """A member of `customer` whose role is in `roles`, or MSP staff, or the system."""
    if by.is_system:
        return
    if by.side == Side.MSP:
        require_msp(by, what=what)
        return
    if by.role_in(customer) not in set(roles):
        raise Refused(f"Your role does not allow you to {what}.", code=Code.FORBIDDEN)


def lock_customer(customer):
    """Lock the customer row for the rest of the transaction and return its fresh status.

    Suspension and termination change the status with an UPDATE of this row, so holding the lock
    until the action commits means a suspension either happened before (and is seen) or waits.
    """
    from portal.customers.models import Customer

    return Customer.objects.select_for_update().values_list("status", flat=True).get(pk=customer.pk)


def require_active_customer(by: Principal, customer, *, what: str) -> None:
    """Lock the customer and refuse unless it is active.

    A customer-side principal gets `customer_locked` (its organisation is suspended or
    terminated); MSP staff get `customer_inactive` (resume the customer first).
    """
    from portal.customers.models import Customer

    status = lock_customer(customer)
    if status == Customer.Status.ACTIVE:
        return
    if by.side == Side.CUSTOMER:
        word = "terminated" if status == Customer.Status.TERMINATED else "suspended"
        raise Refused(
            f"Your organisation's account is {word}, so it cannot {what}. "
            f"Contact {settings.SUPPORT_EMAIL} for help.",
            code=Code.CUSTOMER_LOCKED,
        )
    label = Customer.Status(status).label.lower()
    raise Refused(
        f"{customer} is {label}; resume the customer before you {what}.",
        code=Code.CUSTOMER_INACTIVE,
    )
