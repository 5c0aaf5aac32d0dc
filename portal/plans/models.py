from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models


class StorageOwner(models.TextChoices):
    LUCIDLINK = "lucidlink", "LucidLink-owned storage"
    CUSTOMER = "customer", "Customer's own bucket"


class SubscriptionType(models.TextChoices):
    # Reference: docs/lucidlink-contract.md, "Validation", subscriptionType.
    BASIC = "basic", "Basic (Wasabi, LucidLink-owned)"
    TEAMS = "teams", "Teams (IBM, LucidLink-owned)"
    ENTERPRISE = "enterprise", "Enterprise (IBM, LucidLink-owned)"
    CUSTOM = "custom", "Custom (customer's own storage)"


class BillingUnit(models.TextChoices):
    GB = "GB", "GB (1,000,000,000 bytes)"
    GIB = "GiB", "GiB (1,073,741,824 bytes)"


class QuantityRule(models.TextChoices):
    TIME_WEIGHTED = "time_weighted", "Time-weighted average (GB-month)"
    PEAK = "peak", "Peak in period"
    AVERAGE_DAILY_PEAK = "average_daily_peak", "Average of daily peaks"
    LAST = "last", "Last value in period"


class Plan(models.Model):
    """What the MSP sells: a kind of storage at a price. Managed by MSP staff."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=50, unique=True)
    description = models.TextField(blank=True)
    storage_owner = models.CharField(max_length=20, choices=StorageOwner.choices)
    subscription_type = models.CharField(max_length=20, choices=SubscriptionType.choices)
    provider = models.CharField(
        max_length=30, help_text="LucidLink provider name, e.g. AWS, Wasabi, IBM"
    )
    allowed_regions = models.JSONField(
        default=list,
        blank=True,
        help_text="Region codes customers may pick; empty means any valid one.",
    )
    currency = models.CharField(max_length=3, default="USD")
    price_per_unit_month = models.DecimalField(
        max_digits=12,
        decimal_places=6,
        validators=[MinValueValidator(Decimal(0))],
        help_text="Price per billing unit per month.",
    )
    billing_unit = models.CharField(
        max_length=3, choices=BillingUnit.choices, default=BillingUnit.GB
    )
    quantity_rule = models.CharField(
        max_length=30, choices=QuantityRule.choices, default=QuantityRule.TIME_WEIGHTED
    )
    included_units = models.DecimalField(
        max_digits=14,
        decimal_places=6,
        default=Decimal(0),
        validators=[MinValueValidator(Decimal(0))],
    )
    minimum_monthly_charge = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        default=Decimal(0),
        validators=[MinValueValidator(Decimal(0))],
    )
    # Optional graduated price bands, owned by billing (docs/billing.md, rule 8), e.g.
    # [{"up_to": "1000", "price": "0.03"}, {"up_to": null, "price": "0.02"}].
    price_tiers = models.JSONField(
        default=list, blank=True, help_text="Graduated price bands; empty means one flat price."
    )
    # What LucidLink charges the MSP for this storage, in the plan's currency; only the price
    # back-test reads it, to show margins (docs/billing.md, section 11). Zero means not known.
    cost_per_gib_month = models.DecimalField(
        "LucidLink cost per GiB-month",
        max_digits=12,
        decimal_places=6,
        default=Decimal(0),
        validators=[MinValueValidator(Decimal(0))],
        help_text="What LucidLink charges you per GiB-month of this storage, in the plan's "
        "currency; the price back-test shows margins against it. 0 if not known.",
    )
    requires_approval = models.BooleanField(default=False)
    plan_change_needs_approval = models.BooleanField(
        default=False,
        help_text="A customer's move of a filespace onto this plan waits for staff approval.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["price_per_unit_month", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_own_storage(self) -> bool:
        return self.storage_owner == StorageOwner.CUSTOMER
