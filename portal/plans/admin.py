from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from portal.actions import Principal
from portal.plans.models import Plan
from portal.plans.services import plan_save, plan_set_active, plan_values


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    """Saves and (de)activations call the plan actions, so each checks and writes an audit entry.
    The staff console's plan form (/staff/plans/) validates storage terms more strictly."""

    list_display = ["name", "slug", "subscription_type", "provider", "price_per_unit_month",
                    "currency", "billing_unit", "requires_approval", "is_active"]  # fmt: skip
    list_filter = ["is_active", "subscription_type", "provider", "currency", "requires_approval"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    actions = ["deactivate", "activate"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # Orders and filespaces keep their plan; deactivate instead.

    def save_model(self, request, obj: Plan, form, change: bool) -> None:
        before = plan_values(Plan.objects.get(pk=obj.pk)) if change else None
        plan_save(plan=obj, by=Principal.from_request(request), before=before)

    def _set_active(self, request, queryset: QuerySet[Plan], active: bool) -> None:
        by = Principal.from_request(request)
        done = 0
        for plan in queryset.filter(is_active=not active):
            try:
                plan_set_active(plan=plan, by=by, active=active)
                done += 1
            except ValidationError as exc:
                self.message_user(request, f"{plan}: {' '.join(exc.messages)}", messages.ERROR)
        self.message_user(request, f"Changed {done} plan(s).", messages.SUCCESS)

    @admin.action(description="Withdraw selected plans from sale")
    def deactivate(self, request: HttpRequest, queryset: QuerySet[Plan]) -> None:
        self._set_active(request, queryset, False)

    @admin.action(description="Offer selected plans again")
    def activate(self, request: HttpRequest, queryset: QuerySet[Plan]) -> None:
        self._set_active(request, queryset, True)
