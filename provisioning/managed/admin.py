"""Read-only admin for managed operation records; changes go through the CLI, never the admin."""

from django.contrib import admin

from provisioning.managed.models import FilespaceInit, FilespaceUser, SnapshotSchedule


class _ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(FilespaceInit)
class FilespaceInitAdmin(_ReadOnly):
    list_display = ["filespace", "state", "attempts", "requested_at", "finished_at", "last_error"]
    list_filter = ["state"]
    search_fields = ["filespace__remote_name"]
    raw_id_fields = ["filespace", "requested_by"]


@admin.register(FilespaceUser)
class FilespaceUserAdmin(_ReadOnly):
    list_display = ["name", "filespace", "email", "created_at", "created_by"]
    search_fields = ["name", "email", "filespace__remote_name"]
    raw_id_fields = ["filespace", "created_by"]


@admin.register(SnapshotSchedule)
class SnapshotScheduleAdmin(_ReadOnly):
    list_display = ["name", "filespace", "interval", "retention", "created_at"]
    search_fields = ["name", "filespace__remote_name"]
    raw_id_fields = ["filespace", "created_by"]
