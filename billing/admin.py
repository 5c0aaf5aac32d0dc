from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from billing import services
from billing.models import (
    BillingFlag,
    DailyUsage,
    FilespacePlanPeriod,
    Invoice,
    InvoiceLine,
    InvoiceSequence,
    MonthUsage,
    PlanChange,
    RollupMark,
    UsageGap,
    UsageSample,
)
from portal.actions import Principal, Refused
from portal.admin_base import ReadOnlyAdmin


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    extra = 0
    can_delete = False
    fields = ["position", "kind", "description", "quantity", "unit", "unit_price", "amount", "note"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "customer", "period_start", "status", "kind", "total", "currency"]
    list_filter = ["status", "kind", "period_start", "currency"]
    search_fields = ["number", "customer__name"]
    list_select_related = ["customer"]
    inlines = [InvoiceLineInline]
    actions = ["finalize", "verify"]

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.is_staff

    @admin.action(description="Finalize selected drafts (assigns numbers)")
    def finalize(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
        done = 0
        drafts = queryset.filter(status=Invoice.Status.DRAFT).order_by("customer__name", "id")
        for invoice in drafts:
            try:
                # The service writes the audit entry in the finalization's own transaction.
                services.invoice_finalize(
                    invoice_id=invoice.pk, actor=Principal.from_request(request)
                )
                done += 1
            except services.BillingError as exc:
                self.message_user(request, f"{invoice}: {exc.message}", messages.ERROR)
            except Refused as exc:
                self.message_user(request, exc.message_text, messages.ERROR)
                return
        self.message_user(request, f"Finalized {done} invoice(s).", messages.SUCCESS)

    @admin.action(description="Recompute and compare with the stored lines")
    def verify(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
        for invoice in queryset.filter(kind=Invoice.Kind.INVOICE):
            problems = services.invoice_verify(invoice=invoice)
            if problems:
                self.message_user(request, f"{invoice}: {' '.join(problems)}", messages.WARNING)
            else:
                self.message_user(request, f"{invoice}: recompute matches.", messages.SUCCESS)


@admin.register(BillingFlag)
class BillingFlagAdmin(ReadOnlyAdmin):
    list_display = ["kind", "message", "period_start", "last_seen_at", "resolved_at"]
    list_filter = ["kind", "period_start"]
    actions = ["resolve"]

    @admin.action(description="Mark selected flags resolved")
    def resolve(self, request: HttpRequest, queryset: QuerySet[BillingFlag]) -> None:
        by = Principal.from_request(request)
        count = 0
        for flag in queryset.filter(resolved_at__isnull=True).select_related("customer"):
            try:
                count += services.billing_flag_resolve(flag=flag, by=by)
            except Refused as exc:
                self.message_user(request, exc.message_text, messages.ERROR)
                return
        self.message_user(request, f"Resolved {count} flag(s).", messages.SUCCESS)


@admin.register(UsageSample)
class UsageSampleAdmin(ReadOnlyAdmin):
    list_display = ["filespace", "slot", "used_storage", "users_count"]
    list_filter = ["slot"]
    raw_id_fields = ["filespace", "customer"]


@admin.register(UsageGap)
class UsageGapAdmin(ReadOnlyAdmin):
    list_display = ["filespace", "slot", "reason"]


@admin.register(DailyUsage)
class DailyUsageAdmin(ReadOnlyAdmin):
    list_display = ["filespace", "day", "sample_count", "gap_count", "used_storage_max"]
    list_filter = ["day"]


@admin.register(MonthUsage)
class MonthUsageAdmin(ReadOnlyAdmin):
    """Month-to-date summaries; rebuilt from raw samples by services.usage_summaries_rebuild."""

    list_display = ["filespace", "month", "sample_count", "slot_count", "peak", "updated_at"]
    list_filter = ["month"]


@admin.register(FilespacePlanPeriod)
class FilespacePlanPeriodAdmin(ReadOnlyAdmin):
    list_display = ["filespace", "plan", "starts_at", "created_by"]


@admin.register(PlanChange)
class PlanChangeAdmin(ReadOnlyAdmin):
    """Decided in the staff console (Plan changes), where the actions run."""

    list_display = ["filespace", "from_plan", "to_plan", "state", "requested_at", "effective_at"]
    list_filter = ["state"]


@admin.register(RollupMark)
class RollupMarkAdmin(ReadOnlyAdmin):
    """How far the incremental daily rollup has read; it moves only with the rollup task."""

    list_display = ["name", "sample_mark", "gap_mark", "updated_at"]


@admin.register(InvoiceSequence)
class InvoiceSequenceAdmin(ReadOnlyAdmin):
    """Gapless numbering state; changing it by hand would break the sequence."""

    list_display = ["name", "next_value"]


@admin.register(InvoiceLine)
class InvoiceLineAdmin(ReadOnlyAdmin):
    list_display = ["invoice", "position", "kind", "description", "amount"]
    list_filter = ["kind"]
    search_fields = ["description", "invoice__number", "invoice__customer__name"]
    list_select_related = ["invoice"]
