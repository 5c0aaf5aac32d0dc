from django.conf import settings
from django.db import models
from django.db.models import Q

from portal.fields import EncryptedTextField


class Order(models.Model):
    """A customer's request for one filespace on one plan.

    States (see docs/provisioning.md):
      awaiting_approval -> provisioning (approved) | rejected | cancelled
      provisioning -> fulfilled (the filespace is ready to initialize) | failed
    An order that needs no approval starts in `provisioning`; `placed` and `approved` are
    moments recorded by `placed_at` and `decided_at`, not states a row rests in.
    """

    class State(models.TextChoices):
        AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
        REJECTED = "rejected", "Rejected"
        CANCELLED = "cancelled", "Cancelled"
        PROVISIONING = "provisioning", "Provisioning"
        FULFILLED = "fulfilled", "Fulfilled"
        FAILED = "failed", "Failed"

    # States that still hold the filespace name, so no other order can take it.
    LIVE_STATES = (State.AWAITING_APPROVAL, State.PROVISIONING, State.FULFILLED)

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="orders"
    )
    plan = models.ForeignKey("plans.Plan", on_delete=models.PROTECT, related_name="orders")
    name = models.CharField(max_length=63, help_text="The customer's part of the filespace name.")
    remote_name = models.CharField(max_length=63, help_text="Prefix + name, as sent to LucidLink.")
    provider = models.CharField(max_length=30)
    region = models.CharField(max_length=64)
    bucket = models.CharField(max_length=63, blank=True)
    endpoint = models.CharField(max_length=255, blank=True)
    # Bucket credentials for customer-owned storage: written once, never shown again.
    access_key = EncryptedTextField()
    secret_key = EncryptedTextField()
    state = models.CharField(max_length=20, choices=State.choices)
    idempotency_key = models.CharField(max_length=64)
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    placed_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_reason = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-placed_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "idempotency_key"], name="order_idempotency_key_per_customer"
            ),
            models.UniqueConstraint(
                fields=["remote_name"],
                condition=Q(state__in=["awaiting_approval", "provisioning", "fulfilled"]),
                name="order_live_remote_name_unique",
            ),
        ]
        indexes = [models.Index(fields=["state", "placed_at"])]

    def __str__(self) -> str:
        return f"Order {self.pk} {self.remote_name} ({self.state})"

    def __repr__(self) -> str:
        # Spelled out so the encrypted keys can never reach a log through a repr.
        return f"<Order id={self.pk} remote_name={self.remote_name!r} state={self.state!r}>"

    @property
    def is_decidable(self) -> bool:
        return self.state == self.State.AWAITING_APPROVAL
