from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from portal.actions import Principal
from portal.admin_base import ReadOnlyAdmin

# Registers the read-only admin of the managed operations' records (provisioning/managed).
from provisioning.managed import admin as managed_admin  # noqa: F401
from provisioning.models import Filespace, OrphanFilespace, ProvisioningEvent
from provisioning.services import filespace_retry


class ProvisioningEventInline(admin.TabularInline):
    model = ProvisioningEvent
    fields = ["at", "kind", "message", "api_status", "api_answer", "actor"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["at", "id"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Filespace)
class FilespaceAdmin(admin.ModelAdmin):
    list_display = [
        "id", "remote_name", "customer", "state", "provider", "region", "attempts",
        "next_poll_at", "requested_at", "provisioned_at",
    ]  # fmt: skip
    list_filter = ["state", "provider"]
    search_fields = ["remote_name", "remote_id", "customer__name"]
    date_hierarchy = "requested_at"
    # State changes go through the filespace actions (retry, force-fail, delete) so each writes
    # an event; the admin shows the row and its timeline only. root_password is never listed.
    readonly_fields = [
        "customer", "order", "plan", "remote_name", "remote_id", "domain_id", "domain_name",
        "storage_owner", "subscription_type", "provider", "region", "bucket", "endpoint",
        "state", "remote_status", "attempts", "polls", "last_error", "next_poll_at",
        "lease_until", "poll_deadline", "requested_at", "created_remote_at", "provisioned_at",
        "active_at", "failed_at", "deleting_at", "deleted_at", "updated_at", "create_sent_at",
    ]  # fmt: skip
    fields = readonly_fields
    inlines = [ProvisioningEventInline]
    list_select_related = ["customer"]
    actions = ["retry"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Retry selected failed filespaces")
    def retry(self, request, queryset) -> None:
        by = Principal.from_request(request)
        done = 0
        for filespace in queryset.filter(state=Filespace.State.ERROR).select_related("customer"):
            try:
                filespace_retry(filespace=filespace, by=by)
                done += 1
            except ValidationError as exc:
                self.message_user(request, f"{filespace}: {' '.join(exc.messages)}", messages.ERROR)
        self.message_user(request, f"Retried {done} filespace(s).", messages.SUCCESS)


@admin.register(ProvisioningEvent)
class ProvisioningEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "filespace", "kind", "api_status", "message"]
    list_filter = ["kind"]
    search_fields = ["filespace__remote_name", "message"]


@admin.register(OrphanFilespace)
class OrphanFilespaceAdmin(ReadOnlyAdmin):
    """Read-only: staff adopt or delete orphans on the console's Orphans page (audited)."""

    list_display = ["remote_name", "reason", "state", "provider", "cost_so_far", "first_seen_at"]
    list_filter = ["state", "reason"]
    search_fields = ["remote_name", "remote_id"]
