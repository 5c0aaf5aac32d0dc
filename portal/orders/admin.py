from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from portal.actions import Principal
from portal.orders.models import Order
from provisioning.services.ordering import order_approve


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
    list_select_related = ["customer", "plan", "decided_by"]
    actions = ["approve"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Approve selected orders (starts provisioning)")
    def approve(self, request, queryset) -> None:
        by = Principal.from_request(request)
        done = 0
        for order in queryset.filter(state=Order.State.AWAITING_APPROVAL).select_related(
            "customer"
        ):
            try:
                order_approve(order=order, by=by)
                done += 1
            except ValidationError as exc:
                self.message_user(request, f"{order}: {' '.join(exc.messages)}", messages.ERROR)
        self.message_user(request, f"Approved {done} order(s).", messages.SUCCESS)
