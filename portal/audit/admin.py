from django.contrib import admin

from portal.admin_base import ReadOnlyAdmin
from portal.audit.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    """The log is append-only: staff read it here; nothing can be added, changed or deleted."""

    list_display = ["created_at", "actor_label", "action", "customer_label", "target_label"]
    list_filter = ["action", "created_at"]
    search_fields = ["actor_label", "action", "customer_label", "target_label", "note"]
    date_hierarchy = "created_at"
    list_select_related = ["target_type"]
    readonly_fields = [
        "created_at", "actor", "actor_label", "action", "customer", "customer_label",
        "target_type", "target_id", "target_label", "before", "after", "note",
    ]  # fmt: skip
    fields = readonly_fields
    raw_id_fields = ["actor", "customer"]
