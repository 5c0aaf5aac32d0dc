from django.contrib import admin, messages
from django.http import HttpRequest

from billing.tax.models import BillingProfile, TaxRate
from billing.tax.services import tax_rate_save
from portal.actions import Principal, Refused
from portal.admin_base import ReadOnlyAdmin


@admin.register(TaxRate)
class TaxRateAdmin(admin.ModelAdmin):
    """Saving goes through the action `tax_rate.save` (audited), like the staff console page."""

    list_display = ["country", "name", "percent", "valid_from", "updated_at", "updated_by"]
    list_filter = ["country"]
    fields = ["country", "name", "percent", "valid_from", "note"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # A rate ends where the next one of its country starts.

    def get_readonly_fields(self, request, obj=None):
        return ["country", "valid_from"] if obj else []

    def save_model(self, request: HttpRequest, obj: TaxRate, form, change: bool) -> None:
        try:
            saved = tax_rate_save(
                by=Principal.from_request(request),
                country=str(obj.country),
                name=obj.name,
                percent=obj.percent,
                valid_from=obj.valid_from,
                note=obj.note,
            )
        except Refused as refusal:
            self.message_user(request, f"Not saved: {refusal.message_text}", messages.ERROR)
            return
        obj.pk = saved.pk


@admin.register(BillingProfile)
class BillingProfileAdmin(ReadOnlyAdmin):
    """Read-only: customers edit their details on /billing/details/ (billing_profile.update)."""

    list_display = ["customer", "legal_name", "country", "tax_number", "updated_at"]
    search_fields = ["customer__name", "legal_name", "tax_number"]
