from django.contrib import admin, messages

from portal.actions import Principal
from portal.webhooks import services
from portal.webhooks.models import Attempt, Delivery, Event, Subscription


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ["url", "customer", "is_active", "created_at"]
    list_filter = ["is_active"]
    exclude = ["secret"]


class AttemptInline(admin.TabularInline):
    model = Attempt
    extra = 0
    can_delete = False
    readonly_fields = ["number", "at", "status_code", "error", "duration_ms", "response_excerpt"]


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["pk", "event", "subscription", "state", "attempts", "last_status", "created_at"]
    list_filter = ["state"]
    readonly_fields = [f.name for f in Delivery._meta.fields]
    inlines = [AttemptInline]
    actions = ["replay"]

    @admin.action(description="Send the selected deliveries again")
    def replay(self, request, queryset) -> None:
        for delivery in queryset:
            services.delivery_replay(delivery=delivery, acting_user=Principal.from_request(request))
        messages.success(request, f"{queryset.count()} deliveries will be sent again.")

    def has_add_permission(self, request) -> bool:
        return False  # deliveries are made by emitted events, never by hand


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["pk", "event_type", "customer", "created_at"]
    list_filter = ["event_type"]
    readonly_fields = ["event_type", "customer", "dedupe_key", "data", "created_at"]

    def has_add_permission(self, request) -> bool:
        # Events are emitted by the code; an "added" one had every field read-only and empty.
        return False
