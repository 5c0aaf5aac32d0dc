"""How a principal is shown to a customer: the one place that decides it.

MSP staff and MSP API keys appear as "<MSP_NAME> staff", never by email or key name; the system
appears as "system"; the customer's own people and keys appear as recorded. Pages (the activity
log), the API (customer keys reading audit entries), CSV exports and emails all call this.
"""

from __future__ import annotations

from django.conf import settings

SYSTEM_LABEL = "system"


def msp_staff_label() -> str:
    return f"{settings.MSP_NAME} staff"


def principal_shown_to_customer(*, side: str, label: str) -> str:
    if side == "system":
        return SYSTEM_LABEL
    if side == "msp":
        return msp_staff_label()
    return label


def actor_side_of(entry) -> str:
    """The entry's actor side; entries written before the side was recorded fall back to the
    user's staff flag (a deleted staff user's old entries stay masked: no side, no user ->
    shown as MSP staff rather than risk an email)."""
    if entry.actor_side:
        return entry.actor_side
    if entry.actor_label == SYSTEM_LABEL and entry.actor_id is None:
        return "system"
    if entry.actor_id is None or entry.actor.is_staff:
        return "msp"
    return "customer"


def actor_shown_to_customer(entry) -> str:
    return principal_shown_to_customer(side=actor_side_of(entry), label=entry.actor_label)
