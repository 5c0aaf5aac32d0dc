"""`record`: the audit entry of an action, written in the action's transaction."""

from __future__ import annotations

from portal.actions.principal import Principal
from portal.actions.registry import running_action


def record(
    *,
    by: Principal,
    action: str,
    customer=None,
    target=None,
    before: dict | None = None,
    after: dict | None = None,
    note: str = "",
):
    """Write the audit entry of the running action; refuse to run outside one.

    Refusing here is what keeps every audited state change inside a registered action, so the
    registry (and the matrix test that walks it) cannot fall behind the code.
    """
    if running_action() is None:
        raise RuntimeError(f"audit entry {action!r} written outside a registered action")
    from portal.audit.services import audit_write

    return audit_write(
        by=by, action=action, customer=customer, target=target, before=before, after=after,
        note=note,
    )  # fmt: skip
