from django.contrib import admin

from portal.models import WorkerHeartbeat


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    """Written by the heartbeat task; shown so staff can see which workers are alive."""

    list_display = ["hostname", "last_seen"]
    search_fields = ["hostname"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
