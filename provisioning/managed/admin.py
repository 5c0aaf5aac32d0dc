"""Read-only admin for managed operation records; changes go through the CLI, never the admin."""

from django.contrib import admin

from portal.admin_base import ReadOnlyAdmin
from provisioning.managed.models import FilespaceInit, FilespaceUser, SnapshotSchedule


@admin.register(FilespaceInit)
class FilespaceInitAdmin(ReadOnlyAdmin):
    list_display = ["filespace", "state", "attempts", "requested_at", "finished_at", "last_error"]
    list_filter = ["state"]
    search_fields = ["filespace__remote_name"]
    raw_id_fields = ["filespace", "requested_by"]


@admin.register(FilespaceUser)
class FilespaceUserAdmin(ReadOnlyAdmin):
    list_display = ["name", "filespace", "email", "created_at", "created_by"]
    search_fields = ["name", "email", "filespace__remote_name"]
    raw_id_fields = ["filespace", "created_by"]


@admin.register(SnapshotSchedule)
class SnapshotScheduleAdmin(ReadOnlyAdmin):
    list_display = ["name", "filespace", "interval", "retention", "created_at"]
    search_fields = ["name", "filespace__remote_name"]
    raw_id_fields = ["filespace", "created_by"]
