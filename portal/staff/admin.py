from django.contrib import admin

from portal.admin_base import ReadOnlyAdmin
from portal.customers.models import CustomerTermination


@admin.register(CustomerTermination)
class CustomerTerminationAdmin(ReadOnlyAdmin):
    """Read-only: requests, approvals and cancellations happen in the staff console, where the
    two-person rule and the audit log apply."""

    list_display = ["customer", "state", "requested_by", "requested_at", "approved_by",
                    "delete_after", "carried_out_at"]  # fmt: skip
    list_filter = ["state"]
    search_fields = ["customer__name", "reason"]
    list_select_related = ["customer", "requested_by", "approved_by"]
