"""Writing the audit log. Every staff and system action on customer data calls `audit_record`."""

import re
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models

from portal.audit.models import AuditEntry

SYSTEM = "system"
REDACTED = "[redacted]"
# Keys whose values must never reach the log, even if a caller passes them by mistake.
_SECRET_KEY = re.compile(r"secret|password|passwd|token|api_?key|access_?key|credential", re.I)
_ACTION = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            str(key): (REDACTED if _SECRET_KEY.search(str(key)) else _scrub(item))
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(item) for item in value]
    return value


def audit_write(
    *,
    by,
    action: str,
    customer=None,
    target: models.Model | None = None,
    before: dict | None = None,
    after: dict | None = None,
    note: str = "",
) -> AuditEntry:
    """Append one entry whose actor is a Principal (user, API key or system); see audit_record.

    Actions call it through `portal.actions.record`, inside their transaction.
    """
    from portal.actions import Principal

    by = Principal.of(by)
    return _append(
        actor=by.audit_user,
        actor_label=by.label,
        actor_side=by.side,
        action=action,
        customer=customer,
        target=target,
        before=before,
        after=after,
        note=note,
    )


def audit_record(
    *,
    actor,
    action: str,
    customer=None,
    target: models.Model | None = None,
    before: dict | None = None,
    after: dict | None = None,
    note: str = "",
) -> AuditEntry:
    """Append one entry to the audit log and return it.

    `actor` is a User or None for the system; `action` a dotted verb ("order.approved");
    `target` any saved model instance; `before`/`after` JSON-safe dicts. Keys that look like
    secrets are redacted here, so a careless caller cannot leak one into the log. When
    `customer` is omitted and the target has a `customer`, that customer is used.
    """
    from portal.actions import Principal

    return audit_write(
        by=Principal.of(actor), action=action, customer=customer, target=target, before=before,
        after=after, note=note,
    )  # fmt: skip


def _append(
    *, actor, actor_label: str, actor_side: str, action: str, customer, target, before, after, note
) -> AuditEntry:
    if not _ACTION.match(action or ""):
        raise ValueError(f"Audit action must be a dotted lowercase verb, got {action!r}.")
    if customer is None and target is not None:
        customer = getattr(target, "customer", None)
    from portal.customers.models import Customer

    if customer is None and isinstance(target, Customer):
        customer = target
    entry = AuditEntry(
        actor=actor,
        actor_label=actor_label,
        actor_side=actor_side,
        action=action,
        customer=customer,
        customer_label=str(customer)[:200] if customer is not None else "",
        before=_scrub(before) if before is not None else None,
        after=_scrub(after) if after is not None else None,
        note=note or "",
    )
    if target is not None:
        entry.target_type = ContentType.objects.get_for_model(target, for_concrete_model=False)
        entry.target_id = str(target.pk)
        entry.target_label = str(target)[:255]
    entry.save()
    return entry
