"""A customer's termination: requested by one staff member, approved by a second (the rules
live in portal.customers.lifecycle)."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class CustomerTermination(models.Model):
    """A staff request to end a customer, which a second staff member must approve.

    Nothing is deleted at LucidLink until the request is approved by someone other than the
    requester and the grace period after approval has passed; the beat task
    `carry_out_terminations` then schedules the deletion of every filespace the customer has.
    """

    class State(models.TextChoices):
        AWAITING_APPROVAL = "awaiting_approval", "Awaiting a second approval"
        APPROVED = "approved", "Approved, waiting for the grace period"
        CARRIED_OUT = "carried_out", "Carried out"
        CANCELLED = "cancelled", "Cancelled"

    OPEN_STATES = (State.AWAITING_APPROVAL, State.APPROVED)

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="terminations"
    )
    state = models.CharField(max_length=20, choices=State.choices, default=State.AWAITING_APPROVAL)
    reason = models.TextField()
    # The status to go back to when the request is cancelled (requesting suspends the customer).
    previous_status = models.CharField(max_length=20)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    delete_after = models.DateTimeField(
        null=True, blank=True, help_text="Approval time plus TERMINATION_GRACE_DAYS."
    )
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    carried_out_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(state__in=["awaiting_approval", "approved"]),
                name="termination_one_open_per_customer",
            ),
            # The database itself refuses an approval by the requester.
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=models.F("requested_by")),
                name="termination_approver_is_not_requester",
            ),
        ]
        indexes = [models.Index(fields=["state", "delete_after"])]
        # Kept from when the model lived in the staff app; the table never moved.
        db_table = "staff_customertermination"

    def __str__(self) -> str:
        return f"Termination of {self.customer} ({self.get_state_display().lower()})"

    @property
    def is_open(self) -> bool:
        return self.state in self.OPEN_STATES
