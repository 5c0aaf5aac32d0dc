from django.contrib import admin

from portal.apikeys.models import ApiKey


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "customer", "created_by", "created_at", "last_used_at"]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix", "customer__name"]
    # Keys are created in the portal or with `manage.py createapikey`, where the key is shown once.
    readonly_fields = [
        "name",
        "customer",
        "prefix",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
        "revoked_by",
    ]
    exclude = ["key_hash"]

    def has_add_permission(self, request) -> bool:
        return False
