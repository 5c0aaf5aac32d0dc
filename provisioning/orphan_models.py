"""Filespaces at LucidLink that the portal does not track (docs/provisioning.md, "Orphans")."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class OrphanFilespace(models.Model):
    """A staff flag: a filespace in the MSP's domain with no live row in the portal.

    Raised by the orphan sweep (provisioning.services.orphans) for a filespace the portal does
    not track at all, or tracks as deleted or failed. It runs up LucidLink's bill until staff
    adopt it onto a customer's order or delete it.
    """

    class Reason(models.TextChoices):
        UNTRACKED = "untracked", "Not tracked by the portal"
        TRACKED_DELETED = "tracked_deleted", "Deleted in the portal, still at LucidLink"
        TRACKED_FAILED = "tracked_failed", "Failed in the portal, still at LucidLink"

    class State(models.TextChoices):
        OPEN = "open", "Open"
        DELETING = "deleting", "Being deleted"
        ADOPTED = "adopted", "Adopted onto an order"
        DELETED = "deleted", "Deleted at LucidLink"
        GONE = "gone", "No longer at LucidLink"

    OPEN_STATES = (State.OPEN, State.DELETING)

    remote_id = models.CharField(max_length=100)
    remote_name = models.CharField(max_length=63)
    domain_name = models.CharField(max_length=60, blank=True)
    remote_status = models.CharField(max_length=20, blank=True)
    provider = models.CharField(max_length=30)
    region = models.CharField(max_length=64, blank=True, help_text="Blank: LucidLink did not say.")
    reason = models.CharField(max_length=20, choices=Reason.choices)
    tracked_as = models.ForeignKey(
        "provisioning.Filespace",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="orphan_flags",
        help_text="The deleted or failed row that names this filespace, if any.",
    )
    # LucidLink's charge for it so far this period (its line in the billing breakdown), in the
    # period's currency; None when the breakdown does not list it or could not be read.
    cost_so_far = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    cost_currency = models.CharField(max_length=3, blank=True)
    used_storage = models.PositiveBigIntegerField(null=True, blank=True)
    state = models.CharField(max_length=20, choices=State.choices, default=State.OPEN)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-first_seen_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["remote_id"],
                condition=Q(state__in=["open", "deleting"]),
                name="orphan_one_open_flag_per_remote",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.remote_name} ({self.get_reason_display()})"

    @property
    def is_open(self) -> bool:
        return self.state in self.OPEN_STATES
