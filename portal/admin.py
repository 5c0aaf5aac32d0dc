from allauth.mfa.models import Authenticator
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


# allauth's own admin shows an authenticator's data (the TOTP secret) in an editable form.
# Staff see which factors a person has and when they were used; nothing secret, no edits. Only
# a superuser may remove someone's factors (a lost phone), which forces a fresh set-up.
admin.site.unregister(Authenticator)


@admin.register(Authenticator)
class AuthenticatorAdmin(admin.ModelAdmin):
    list_display = ["user", "type", "created_at", "last_used_at"]
    list_filter = ["type"]
    search_fields = ["user__email"]
    fields = ["user", "type", "created_at", "last_used_at"]
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser
