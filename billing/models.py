"""Usage samples, daily rollups, invoices and upstream flags. Rules: docs/billing.md."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from billing import rating

BYTES = {"max_digits": 30, "decimal_places": 0}
QUANTITY = {"max_digits": 24, "decimal_places": 6}
MONEY = {"max_digits": 16, "decimal_places": 3}


class AppendOnlyError(Exception):
    """Raised when code tries to change a row that is written once."""


class InvoiceLockedError(Exception):
    """Raised when code tries to change a finalized invoice or one of its lines."""


class UsageSample(models.Model):
    """One measurement of one filespace in one sampling slot. Written once, never changed."""

    filespace = models.ForeignKey(
        "provisioning.Filespace", on_delete=models.PROTECT, related_name="usage_samples"
    )
    # Copied from the filespace so per-customer reads need no join.
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="+")
    slot = models.DateTimeField(help_text="Start of the sampling slot this measurement belongs to.")
    sampled_at = models.DateTimeField()
    used_storage = models.PositiveBigIntegerField(help_text="Bytes in the bucket (billed).")
    filespace_size = models.PositiveBigIntegerField()
    # None: LucidLink's answer left usersCount out (optional in the Swagger), so it is unknown.
    users_count = models.PositiveIntegerField(null=True, blank=True)
    get_request_count = models.PositiveBigIntegerField()
    get_data_size = models.PositiveBigIntegerField()
    put_request_count = models.PositiveBigIntegerField()
    put_data_size = models.PositiveBigIntegerField()
    list_request_count = models.PositiveBigIntegerField()
    delete_request_count = models.PositiveBigIntegerField()

    class Meta:
        ordering = ["filespace_id", "slot"]
        constraints = [
            models.UniqueConstraint(fields=["filespace", "slot"], name="usage_sample_one_per_slot"),
        ]
        indexes = [
            models.Index(fields=["customer", "slot"], name="usage_sample_customer_slot"),
            models.Index(fields=["slot"], name="usage_sample_slot"),
        ]

    def __str__(self) -> str:
        return f"filespace {self.filespace_id} at {self.slot:%Y-%m-%d %H:%M}: {self.used_storage} B"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("Usage samples are append-only.")
        super().save(*args, **kwargs)


class UsageGap(models.Model):
    """A slot in which LucidLink could not tell the usage of a filespace, and why."""

    filespace = models.ForeignKey(
        "provisioning.Filespace", on_delete=models.PROTECT, related_name="usage_gaps"
    )
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="+")
    slot = models.DateTimeField()
    reason = models.CharField(max_length=300)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["filespace_id", "slot"]
        constraints = [
            models.UniqueConstraint(fields=["filespace", "slot"], name="usage_gap_one_per_slot"),
        ]
        indexes = [models.Index(fields=["customer", "slot"], name="usage_gap_customer_slot")]

    def __str__(self) -> str:
        return f"filespace {self.filespace_id} at {self.slot:%Y-%m-%d %H:%M}: {self.reason}"


class DailyUsage(models.Model):
    """One filespace's usage for one UTC day, recomputed from the raw samples (idempotent)."""

    filespace = models.ForeignKey(
        "provisioning.Filespace", on_delete=models.PROTECT, related_name="daily_usage"
    )
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="+")
    day = models.DateField()
    sample_count = models.PositiveIntegerField()
    gap_count = models.PositiveIntegerField()
    used_storage_sum = models.DecimalField(**BYTES)
    used_storage_min = models.PositiveBigIntegerField()
    used_storage_max = models.PositiveBigIntegerField()
    used_storage_last = models.PositiveBigIntegerField()
    users_peak = models.PositiveIntegerField(null=True, blank=True, help_text="None: unknown.")
    get_data_growth = models.PositiveBigIntegerField(help_text="Bytes read during the day.")
    put_data_growth = models.PositiveBigIntegerField(help_text="Bytes written during the day.")

    class Meta:
        ordering = ["filespace_id", "day"]
        constraints = [
            models.UniqueConstraint(fields=["filespace", "day"], name="daily_usage_one_per_day"),
        ]
        indexes = [models.Index(fields=["customer", "day"], name="daily_usage_customer_day")]

    def __str__(self) -> str:
        return f"filespace {self.filespace_id} on {self.day}"

    @property
    def used_storage_average(self) -> Decimal:
        if not self.sample_count:
            return Decimal(0)
        return self.used_storage_sum / self.sample_count


class RollupMark(models.Model):
    """How far the incremental daily rollup has read: the highest sample and gap ids rolled up.

    One row (``name="daily"``). Ids only grow, so the rows above the marks are exactly the
    samples and gaps written since, and their days are the only ones to recompute.
    """

    name = models.CharField(max_length=20, unique=True)
    sample_mark = models.BigIntegerField(default=0)
    gap_mark = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.name}: samples to {self.sample_mark}, gaps to {self.gap_mark}"


class MonthUsage(models.Model):
    """One filespace's samples in one month, summarized as they arrive (billing.summary).

    Pages rate the month to date from this row instead of the month's raw samples; the invoice
    run still rates from the raw samples. Rebuilt from the raw samples whenever a sample does not
    extend it in order, so it is always what ``summary.summarize`` gives for the stored samples.
    """

    filespace = models.ForeignKey(
        "provisioning.Filespace", on_delete=models.PROTECT, related_name="month_usage"
    )
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="+")
    month = models.DateField(help_text="First day of the month.")
    slot_seconds = models.PositiveIntegerField()
    first_slot = models.BigIntegerField(help_text="Epoch seconds of the first sampled slot.")
    first_value = models.PositiveBigIntegerField()
    last_slot = models.BigIntegerField(help_text="Epoch seconds of the last sampled slot.")
    last_value = models.PositiveBigIntegerField()
    slot_sum = models.DecimalField(**BYTES, help_text="Σ bytes of every slot, gaps filled.")
    slot_count = models.PositiveIntegerField()
    sample_count = models.PositiveIntegerField()
    peak = models.PositiveBigIntegerField()
    # {"<day number>": [filled peak, Σ sampled bytes, samples, largest sample]}
    days = models.JSONField(default=dict)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["filespace_id", "month"]
        constraints = [
            models.UniqueConstraint(
                fields=["filespace", "month"], name="month_usage_one_per_month"
            ),
        ]
        indexes = [models.Index(fields=["customer", "month"], name="month_usage_customer_month")]

    def __str__(self) -> str:
        return f"filespace {self.filespace_id} in {self.month:%Y-%m}"


class FilespacePlanPeriod(models.Model):
    """The plan a filespace is billed on from ``starts_at`` until the next row (plan history)."""

    filespace = models.ForeignKey(
        "provisioning.Filespace", on_delete=models.PROTECT, related_name="plan_periods"
    )
    plan = models.ForeignKey("plans.Plan", on_delete=models.PROTECT, related_name="+")
    starts_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["filespace_id", "starts_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["filespace", "starts_at"], name="plan_period_one_per_moment"
            ),
        ]

    def __str__(self) -> str:
        return f"filespace {self.filespace_id} on plan {self.plan_id} from {self.starts_at}"


class PlanChange(models.Model):
    """One move of a filespace from one plan to another: applied at once, or waiting for staff.

    Applied changes are also in the plan history (FilespacePlanPeriod), which billing reads;
    this row is what the customer and staff see: who asked, who decided, and when it counts.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for approval"
        APPLIED = "applied", "Applied"
        REJECTED = "rejected", "Rejected"

    filespace = models.ForeignKey(
        "provisioning.Filespace", on_delete=models.PROTECT, related_name="plan_changes"
    )
    from_plan = models.ForeignKey("plans.Plan", on_delete=models.PROTECT, related_name="+")
    to_plan = models.ForeignKey("plans.Plan", on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=10, choices=State.choices)
    requested_at = models.DateTimeField(default=timezone.now)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by_label = models.CharField(max_length=200, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The moment billing splits the month; set when the change is applied.
    effective_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            # One change waits for staff at a time per filespace.
            models.UniqueConstraint(
                fields=["filespace"],
                condition=models.Q(state="pending"),
                name="plan_change_one_pending_per_filespace",
            ),
        ]

    def __str__(self) -> str:
        return f"filespace {self.filespace_id}: plan {self.from_plan_id} to {self.to_plan_id}"


class InvoiceSequence(models.Model):
    """A gapless counter per document series, locked and advanced inside finalization."""

    name = models.CharField(max_length=10, unique=True)
    next_value = models.PositiveIntegerField(default=1)

    def __str__(self) -> str:
        return f"{self.name} next {self.next_value}"


class Invoice(models.Model):
    """A customer's invoice (or credit note) for one month in one currency."""

    class Kind(models.TextChoices):
        INVOICE = "invoice", "Invoice"
        CREDIT_NOTE = "credit_note", "Credit note"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        FINALIZED = "finalized", "Finalized"

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="invoices"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.INVOICE)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    number = models.CharField(max_length=20, null=True, blank=True, unique=True)
    period_start = models.DateField(help_text="First day of the billed month.")
    currency = models.CharField(max_length=3)
    total = models.DecimalField(**MONEY, default=Decimal(0))
    credits = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="credit_notes"
    )
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    computed_at = models.DateTimeField(null=True, blank=True)
    # What the computed lines of a draft were rated from, so a rerun can skip a customer whose
    # inputs did not change: a digest of its filespaces, plans and plan history, and the highest
    # UsageSample id that existed (committed) when the run read the samples.
    inputs_digest = models.CharField(max_length=64, blank=True)
    samples_mark = models.BigIntegerField(null=True, blank=True)
    finalized_at = models.DateTimeField(null=True, blank=True)
    finalized_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-period_start", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "period_start", "currency"],
                condition=Q(kind="invoice"),
                name="invoice_one_per_customer_month_currency",
            ),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(number__isnull=False),
                name="invoice_finalized_has_number",
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "period_start"], name="invoice_customer_period"),
            models.Index(fields=["period_start", "status"], name="invoice_period_status"),
        ]

    def __str__(self) -> str:
        label = self.number or f"draft {self.pk}"
        return f"{self.get_kind_display()} {label} ({self.customer_id}, {self.period_start:%Y-%m})"

    def save(self, *args, **kwargs):
        if not self._state.adding and self.pk is not None:
            stored = Invoice.objects.filter(pk=self.pk).values_list("status", flat=True).first()
            if stored == self.Status.FINALIZED:
                raise InvoiceLockedError("A finalized invoice never changes; issue a credit note.")
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("billing:invoice_detail", args=[self.pk])

    def delete(self, *args, **kwargs):
        if self.status == self.Status.FINALIZED:
            raise InvoiceLockedError("A finalized invoice cannot be deleted.")
        return super().delete(*args, **kwargs)

    @property
    def is_editable(self) -> bool:
        return self.status == self.Status.DRAFT

    @property
    def period_end(self) -> date:
        """The last day of the billed month (inclusive)."""
        days = calendar.monthrange(self.period_start.year, self.period_start.month)[1]
        return self.period_start + timedelta(days=days - 1)

    @property
    def display_total(self) -> Decimal:
        return rating.round_money(self.total, self.currency)


class InvoiceLine(models.Model):
    """One line: a filespace's usage under one plan, a minimum true-up, or an adjustment."""

    class Kind(models.TextChoices):
        USAGE = "usage", "Storage usage"
        MINIMUM = "minimum_true_up", "Minimum charge true-up"
        ADJUSTMENT = "adjustment", "Adjustment"
        CREDIT = "credit", "Credit"
        TAX = "tax", "Tax"

    COMPUTED_KINDS = (Kind.USAGE, Kind.MINIMUM)

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=20, choices=Kind.choices)
    description = models.CharField(max_length=300)
    filespace = models.ForeignKey(
        "provisioning.Filespace",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="invoice_lines",
    )
    plan = models.ForeignKey(
        "plans.Plan", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    slot_seconds = models.PositiveIntegerField(null=True, blank=True)
    unit = models.CharField(max_length=3, blank=True)
    quantity_rule = models.CharField(max_length=30, blank=True)
    quantity = models.DecimalField(**QUANTITY, default=Decimal(0))
    included = models.DecimalField(**QUANTITY, default=Decimal(0))
    billable = models.DecimalField(**QUANTITY, default=Decimal(0))
    unit_price = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal(0))
    amount = models.DecimalField(**MONEY)
    minimum_prorated = models.DecimalField(**MONEY, default=Decimal(0))
    slot_count = models.PositiveIntegerField(default=0)
    gap_slots = models.PositiveIntegerField(default=0)
    # Tax lines only (billing.tax): the rate and the sum it was applied to, frozen with the line.
    tax_percent = models.DecimalField(max_digits=6, decimal_places=3, null=True, blank=True)
    tax_base = models.DecimalField(**MONEY, null=True, blank=True)
    note = models.TextField(blank=True, help_text="Gap filling or the reason of an adjustment.")
    formula = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["invoice_id", "position", "id"]
        indexes = [models.Index(fields=["filespace", "window_start"], name="invoice_line_fs")]

    def __str__(self) -> str:
        return f"{self.description}: {self.amount}"

    def save(self, *args, **kwargs):
        self._refuse_if_locked()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        self._refuse_if_locked()
        return super().delete(*args, **kwargs)

    def _refuse_if_locked(self) -> None:
        status = Invoice.objects.filter(pk=self.invoice_id).values_list("status", flat=True).first()
        if status == Invoice.Status.FINALIZED:
            raise InvoiceLockedError("Lines of a finalized invoice never change.")

    @property
    def display_amount(self) -> Decimal:
        return rating.round_money(self.amount, self.invoice.currency)

    @property
    def unit_month(self) -> str:
        return f"{self.unit}-month" if self.unit else ""


class BillingFlag(models.Model):
    """Something the nightly upstream check wants staff to look at."""

    class Kind(models.TextChoices):
        DRIFT = "drift", "Metered quantity differs from LucidLink"
        BELOW_COST = "below_cost", "Resale price below LucidLink cost"
        UNKNOWN_FILESPACE = "unknown_filespace", "LucidLink bills a filespace the portal lacks"

    kind = models.CharField(max_length=30, choices=Kind.choices)
    # "filespace:<id>", "customer:<id>" or "remote:<id>": one flag per subject, kind and period.
    subject = models.CharField(max_length=120)
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    filespace = models.ForeignKey(
        "provisioning.Filespace", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    period_start = models.DateField()
    ours = models.DecimalField(**QUANTITY, null=True, blank=True)
    theirs = models.DecimalField(**QUANTITY, null=True, blank=True)
    drift_percent = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    message = models.TextField()
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "subject", "period_start"], name="billing_flag_one_per_subject"
            ),
        ]
        indexes = [models.Index(fields=["resolved_at", "kind"], name="billing_flag_open")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.message}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None
