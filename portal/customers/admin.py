from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from portal.actions import Principal
from portal.customers import lifecycle
from portal.customers.models import Customer, Invitation, Membership


class MembershipInline(admin.TabularInline):
    model = Membership
    fields = ["user", "role", "created_at"]
    readonly_fields = ["user", "role", "created_at"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    """Status changes go through portal.customers.lifecycle (audited); the field is read-only."""

    list_display = ["name", "name_prefix", "status", "billing_email", "country", "members",
                    "created_at"]  # fmt: skip
    list_filter = ["status", "country"]
    search_fields = ["name", "name_prefix", "billing_email", "memberships__user__email"]
    date_hierarchy = "created_at"
    readonly_fields = ["name_prefix", "status", "created_at", "created_by"]
    fields = ["name", "name_prefix", "billing_email", "country", "status", "created_at",
              "created_by"]  # fmt: skip
    inlines = [MembershipInline]
    actions = ["suspend", "resume"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Customer]:
        return super().get_queryset(request).annotate(member_count=Count("memberships"))

    @admin.display(ordering="member_count", description="Members")
    def members(self, obj: Customer) -> int:
        return obj.member_count

    def has_add_permission(self, request) -> bool:
        return False  # Customers sign up and onboard themselves.

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # Terminate from the staff console instead; history must stay.

    def _each(self, request, queryset, change, verb: str) -> None:
        done = 0
        for customer in queryset:
            try:
                change(customer)
                done += 1
            except ValidationError as exc:
                self.message_user(request, f"{customer}: {' '.join(exc.messages)}", messages.ERROR)
        if done:
            self.message_user(request, f"{verb} {done} customer(s).", messages.SUCCESS)

    @admin.action(description="Suspend selected customers")
    def suspend(self, request: HttpRequest, queryset: QuerySet[Customer]) -> None:
        self._each(
            request,
            queryset,
            lambda c: lifecycle.customer_suspend(
                customer=c,
                by=Principal.from_request(request),
                reason="Suspended from the Django admin.",
            ),
            "Suspended",
        )

    @admin.action(description="Resume selected customers")
    def resume(self, request: HttpRequest, queryset: QuerySet[Customer]) -> None:
        self._each(
            request,
            queryset,
            lambda c: lifecycle.customer_resume(
                customer=c,
                by=Principal.from_request(request),
                reason="Resumed from the Django admin.",
            ),
            "Resumed",
        )


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "customer", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "customer__name"]
    list_select_related = ["user", "customer"]
    readonly_fields = ["customer", "user", "role", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """Read-only; the token hash is never shown."""

    list_display = ["email", "customer", "role", "created_at", "expires_at", "accepted_at",
                    "revoked_at"]  # fmt: skip
    list_filter = ["role", "accepted_at", "revoked_at"]
    search_fields = ["email", "customer__name"]
    list_select_related = ["customer"]
    exclude = ["token_hash"]
    readonly_fields = ["customer", "email", "role", "invited_by", "created_at", "expires_at",
                       "accepted_at", "accepted_by", "revoked_at"]  # fmt: skip

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
