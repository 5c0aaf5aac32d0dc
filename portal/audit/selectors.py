"""Reads of the audit log, scoped to the customer first."""

from django.db.models import QuerySet

from portal.audit.models import AuditEntry


def audit_entries_for(*, customer) -> QuerySet[AuditEntry]:
    """Entries about this customer's organisation, newest first."""
    return (
        AuditEntry.objects.filter(customer=customer)
        .select_related("target_type", "actor")
        .order_by("-created_at", "-id")
    )


def audit_entries_recent(*, action_prefix: str = "") -> QuerySet[AuditEntry]:
    """Every entry (for staff), newest first, optionally only actions starting with a prefix."""
    entries = AuditEntry.objects.select_related("target_type").order_by("-created_at", "-id")
    if action_prefix:
        entries = entries.filter(action__startswith=action_prefix)
    return entries
