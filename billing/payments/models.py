"""What the portal keeps about payments: Stripe's ids and the card's brand, last four and expiry,
never a card number. Rules: docs/payments.md."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from billing.models import MONEY


class PaymentAccount(models.Model):
    """One customer's standing with the payment provider: its Stripe customer and saved card."""

    customer = models.OneToOneField(
        "customers.Customer", on_delete=models.PROTECT, related_name="payment_account"
    )
    stripe_customer_id = models.CharField(max_length=100, blank=True)
    payment_method_id = models.CharField(max_length=100, blank=True)
    card_brand = models.CharField(max_length=30, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    card_exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    card_exp_year = models.PositiveSmallIntegerField(null=True, blank=True)
    card_saved_at = models.DateTimeField(null=True, blank=True)
    invoice_terms = models.BooleanField(
        default=False, help_text="Pays by bank transfer; may order without a card on file."
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Payment account of customer {self.customer_id}"

    @property
    def has_card(self) -> bool:
        return bool(self.payment_method_id)

    @property
    def may_order(self) -> bool:
        return self.has_card or self.invoice_terms

    @property
    def card_label(self) -> str:
        if not self.has_card:
            return ""
        return (
            f"{self.card_brand.title()} ending {self.card_last4}, "
            f"expires {self.card_exp_month:02d}/{self.card_exp_year}"
        )


class PaymentQuerySet(models.QuerySet):
    def paying(self) -> PaymentQuerySet:
        """Succeeded charges and bank transfers: what pays an invoice (a refund pays nothing)."""
        return self.filter(state=Payment.State.SUCCEEDED).exclude(kind=Payment.Kind.REFUND)


class Payment(models.Model):
    """One attempt to collect (or give back) money for an invoice: a row per try."""

    class Kind(models.TextChoices):
        CHARGE = "charge", "Card charge"
        REFUND = "refund", "Refund"
        MANUAL = "manual", "Bank transfer"

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Paid"
        ACTION_NEEDED = "action_needed", "Action needed"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Replaced"

    OPEN_STATES = (State.PENDING, State.ACTION_NEEDED)

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="payments"
    )
    invoice = models.ForeignKey(
        "billing.Invoice", on_delete=models.PROTECT, related_name="payments"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    attempt = models.PositiveIntegerField(default=1)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3)
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    # Sent to Stripe with the request: the same key always gets Stripe's first answer back, so a
    # repeated task, a crash after the call or a second worker never charges twice.
    idempotency_key = models.CharField(max_length=100, unique=True)
    stripe_payment_intent_id = models.CharField(max_length=100, blank=True, db_index=True)
    stripe_refund_id = models.CharField(max_length=100, blank=True)
    client_secret = models.CharField(
        max_length=200, blank=True, help_text="Lets the customer's browser finish 3-D Secure."
    )
    failure_code = models.CharField(max_length=100, blank=True)
    failure_message = models.TextField(blank=True)
    reference = models.CharField(max_length=200, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    settled_at = models.DateTimeField(null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = PaymentQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice", "kind", "attempt"],
                condition=Q(kind__in=["charge", "refund"]),
                name="payment_one_per_invoice_kind_attempt",
            ),
            models.CheckConstraint(condition=Q(amount__gt=Decimal(0)), name="payment_positive"),
        ]
        indexes = [models.Index(fields=["state", "kind"], name="payment_state_kind")]

    def __str__(self) -> str:
        return (
            f"{self.get_kind_display()} {self.amount} {self.currency} ({self.get_state_display()})"
        )

    @property
    def is_open(self) -> bool:
        return self.state in self.OPEN_STATES


class StripeEvent(models.Model):
    """A Stripe webhook event already handled: its id is unique, so a redelivery does nothing."""

    event_id = models.CharField(max_length=100, unique=True)
    type = models.CharField(max_length=100)
    received_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class Dunning(models.Model):
    """Chasing one unpaid invoice after its card charge failed: reminders, retries, suspension."""

    invoice = models.OneToOneField(
        "billing.Invoice", on_delete=models.PROTECT, related_name="dunning"
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="dunnings"
    )
    started_at = models.DateTimeField(default=timezone.now, help_text="When the charge failed.")
    reminders_sent = models.PositiveSmallIntegerField(default=0)
    last_reminder_at = models.DateTimeField(null=True, blank=True)
    suspended_at = models.DateTimeField(
        null=True, blank=True, help_text="When dunning suspended the customer for non-payment."
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["started_at", "id"]
        indexes = [models.Index(fields=["closed_at", "started_at"], name="dunning_open")]

    def __str__(self) -> str:
        return f"Dunning of invoice {self.invoice_id}"

    @property
    def is_open(self) -> bool:
        return self.closed_at is None
