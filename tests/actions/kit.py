"""What every matrix scenario is made of: the states, the roles, the entry points' shapes.

tests/actions/scenarios.py (core, filespaces, team, keys) and scenarios_billing.py (invoices,
plan changes, payments, tax rates) both build their scenarios from these.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

# Customer states and the roles a principal can hold. Actions on rows that belong to no
# customer (plans, orphans, MSP keys) run in the single pseudo-state NO_CUSTOMER.
STATES = ("active", "suspended", "terminating", "terminated")
NO_CUSTOMER = ("none",)
CUSTOMER_USERS = ("owner", "admin", "member")
MSP_USERS = ("staff", "staff_nomfa")
KEYS = ("customer_key", "msp_key")
USERS = (*CUSTOMER_USERS, *MSP_USERS)
ROLES = (*USERS, *KEYS, "system")
MSP = {"staff", "msp_key"}  # staff_nomfa is MSP-side but refused: no second factor
MANAGERS = {"owner", "admin", "customer_key"}
MEMBERS = {"owner", "admin", "member"}
# The billing role sees usage and invoices and pays them; only billing scenarios add it, so the
# other scenarios keep their size.
BILLING_USERS = (*CUSTOMER_USERS, "billing")
BILLING_ROLES = (*ROLES, "billing")
PAYERS = {"owner", "admin", "billing", "customer_key"}

ROOT_PASSWORD = "Root-password-for-tests-1"


@dataclass(frozen=True)
class EntryPoint:
    """How one entry point offers an action: who can reach it, and how to call it."""

    kind: str  # service | web | staff | api | admin
    name: str  # the URL name, the admin action ("<app>.<model>:<action>"), or "service"
    roles: tuple[str, ...]


@dataclass
class Scenario:
    action: str
    # The audit action written on success; a tuple when the action runs another action as its
    # last step (a credit note is finalized by invoice.finalize, which writes its own entry).
    audit: str | tuple[str, ...]
    event: str | Callable[[str], str | None] | None  # the webhook event due, or (state) -> it
    make: Callable  # (world) -> obj
    snapshot: Callable  # (obj, world) -> comparable state of what the action changes
    allowed: Callable[[str, str], bool]  # (role, state) -> allowed?
    call: Callable | None = None  # (world, obj, principal) -> None; default: <target>=obj, by=
    service_kwargs: dict = field(default_factory=dict)
    body: Callable = lambda obj: {}  # (obj) -> form or JSON body for web, staff and API calls
    url_args: Callable = lambda obj: [obj.pk]  # (obj) -> the URL's arguments
    entry_points: tuple[EntryPoint, ...] = ()
    states: tuple[str, ...] = STATES

    @property
    def audits(self) -> list[str]:
        return [self.audit] if isinstance(self.audit, str) else list(self.audit)


def service(roles=ROLES) -> EntryPoint:
    return EntryPoint("service", "service", tuple(roles))


def web(name: str, roles=CUSTOMER_USERS) -> EntryPoint:
    return EntryPoint("web", name, tuple(roles))


def staff(name: str) -> EntryPoint:
    # A customer owner is included: the console must refuse them at its door.
    return EntryPoint("staff", name, (*MSP_USERS, "owner"))


def api(name: str) -> EntryPoint:
    return EntryPoint("api", name, KEYS)


def admin(name: str) -> EntryPoint:
    return EntryPoint("admin", name, MSP_USERS)


def no_args(obj) -> list:
    return []


def fn(name: str):
    from portal.actions import ACTIONS

    return ACTIONS[name].function
