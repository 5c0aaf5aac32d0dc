from django.conf import settings
from django.db import models
from django.utils import timezone

from portal.fields import EncryptedTextField


class EventType(models.TextChoices):
    ORDER_PLACED = "order.placed", "Order placed"
    ORDER_APPROVED = "order.approved", "Order approved"
    FILESPACE_PROVISIONED = "filespace.provisioned", "Filespace ready to initialize"
    FILESPACE_ACTIVE = "filespace.active", "Filespace active"
    FILESPACE_ERROR = "filespace.error", "Filespace failed"
    FILESPACE_DELETED = "filespace.deleted", "Filespace deleted"
    FILESPACE_PLAN_CHANGED = "filespace.plan_changed", "Filespace moved to another plan"
    FILESPACE_PLAN_CHANGE_REQUESTED = (
        "filespace.plan_change_requested",
        "Filespace plan change waiting for approval",
    )
    FILESPACE_PLAN_CHANGE_REJECTED = "filespace.plan_change_rejected", "Plan change rejected"
    INVOICE_FINALIZED = "invoice.finalized", "Invoice finalized"
    INVOICE_PAID = "invoice.paid", "Invoice paid"
    INVOICE_PAYMENT_FAILED = "invoice.payment_failed", "Invoice payment failed"
    CUSTOMER_SUSPENDED = "customer.suspended", "Customer suspended"


class Subscription(models.Model):
    """An endpoint that receives signed event notifications.

    An MSP subscription (no customer) hears every customer's events; a customer subscription
    hears only its own organisation's.
    """

    customer = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="webhook_subscriptions",
    )
    url = models.URLField(max_length=500)
    event_types = models.JSONField(default=list)
    # The signing secret; shown once at creation, kept encrypted to sign each delivery.
    secret = EncryptedTextField()
    description = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.url

    def __repr__(self) -> str:
        return f"<Subscription id={self.pk} customer_id={self.customer_id} url={self.url!r}>"

    def wants(self, event_type: str) -> bool:
        return self.is_active and event_type in self.event_types


class Event(models.Model):
    """Something that happened, once. The dedupe key makes a repeated emit a no-op."""

    event_type = models.CharField(max_length=40, choices=EventType.choices)
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    dedupe_key = models.CharField(max_length=200, unique=True)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.event_type} #{self.pk}"

    @property
    def public_id(self) -> str:
        return f"evt_{self.pk}"


class Delivery(models.Model):
    """One event on its way to one subscription; the row is the outbox and the lease."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Delivered"
        FAILED = "failed", "Failed"

    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "deliveries"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "event"], name="webhook_delivery_once_per_subscription"
            )
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="webhook_due_idx")]

    def __str__(self) -> str:
        return f"Delivery {self.pk} of {self.event_id} to {self.subscription_id} ({self.state})"


class Attempt(models.Model):
    """One HTTP try of a delivery, kept for the delivery log."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts_log")
    number = models.PositiveIntegerField()
    at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    response_excerpt = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"Attempt {self.number} of delivery {self.delivery_id}: {self.status_code}"

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
