from django.contrib import admin

from portal.orders.models import Order


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = [
        "id", "customer", "remote_name", "plan", "provider", "region", "state", "placed_at",
        "decided_by",
    ]  # fmt: skip
    list_filter = ["state", "provider", "plan"]
    search_fields = ["remote_name", "customer__name", "idempotency_key"]
    date_hierarchy = "placed_at"
    # Decisions go through order_approve/order_reject. The bucket keys are encrypted
    # (editable=False) and listed nowhere here.
    readonly_fields = [
        "customer", "plan", "name", "remote_name", "provider", "region", "bucket", "endpoint",
        "idempotency_key", "placed_by", "placed_at", "decided_by", "decided_at", "updated_at",
        "state", "decision_reason",
    ]  # fmt: skip
    fields = readonly_fields

    def has_add_permission(self, request) -> bool:
        return False
