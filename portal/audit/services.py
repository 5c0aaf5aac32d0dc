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


def _actor_label(actor) -> str:
    if actor is None:
        return SYSTEM
    return (getattr(actor, "email", "") or actor.get_username() or f"user {actor.pk}")[:254]


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
    if not _ACTION.match(action or ""):
        raise ValueError(f"Audit action must be a dotted lowercase verb, got {action!r}.")
    if customer is None and target is not None:
        customer = getattr(target, "customer", None)
    from portal.customers.models import Customer

    if customer is None and isinstance(target, Customer):
        customer = target
    entry = AuditEntry(
        actor=actor,
        actor_label=_actor_label(actor),
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
