"""Records of the operations the portal runs on a customer's filespace through the `lucid` CLI.

Imported by provisioning/models.py, so Django loads them with the provisioning app (their
app_label is provisioning: the tables and migrations are that app's). A row is written
only after the CLI said the thing exists at LucidLink, and removed only after the CLI said it
is gone, so the portal never shows a user or schedule that LucidLink does not have.
Passwords are never kept here: a filespace user's password is shown once and forgotten.
"""

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


class FilespaceInit(models.Model):
    """The portal's managed `lucid init-s3` of one filespace: the row is the claim and the outbox.

    One per filespace. A worker claims it with a conditional UPDATE and a short lease, so two
    deliveries never run init-s3 at once; `done` rows are never run again. A `by_customer` row
    records that a manager chose to run init-s3 themselves (the root password was shown to them
    once); no worker ever claims it.
    """

    class State(models.TextChoices):
        REQUESTED = "requested", "Requested"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        # The customer runs init-s3 with the kit; no worker claims this row.
        BY_CUSTOMER = "by_customer", "Customer initializes"

    filespace = models.OneToOneField(
        "provisioning.Filespace", on_delete=models.PROTECT, related_name="managed_init"
    )
    state = models.CharField(max_length=20, choices=State.choices, default=State.REQUESTED)
    attempts = models.PositiveIntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    # A failed init, or one the customer meant to run, may be handed to the portal (again).
    RESTARTABLE_STATES = (State.FAILED, State.BY_CUSTOMER)

    class Meta:
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="filespace_init_due_idx")]

    def __str__(self) -> str:
        return f"init of filespace {self.filespace_id} ({self.state})"

    @property
    def is_pending(self) -> bool:
        return self.state in (self.State.REQUESTED, self.State.RUNNING)


class FilespaceUser(models.Model):
    """A LucidLink filespace user the portal created (names are case-insensitive there too)."""

    filespace = models.ForeignKey(
        "provisioning.Filespace", on_delete=models.PROTECT, related_name="managed_users"
    )
    name = models.CharField(max_length=128)
    email = models.EmailField(blank=True)
    # The portal member this filespace user belongs to (their own login to the filespace); empty
    # for users an owner or admin created for someone outside the portal.
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="filespace_users",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    password_set_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"), "filespace", name="filespace_user_name_unique_ci"
            ),
            models.UniqueConstraint(
                fields=["filespace", "member"],
                condition=models.Q(member__isnull=False),
                name="filespace_user_one_per_member",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} on {self.filespace_id}"

    @property
    def customer(self):
        return self.filespace.customer


class SnapshotSchedule(models.Model):
    """A `lucid snapshot-schedule` the portal created on a filespace."""

    filespace = models.ForeignKey(
        "provisioning.Filespace", on_delete=models.PROTECT, related_name="snapshot_schedules"
    )
    name = models.CharField(max_length=40)
    interval = models.CharField(max_length=8, help_text="n followed by m, h, d, w, mo or y")
    retention = models.PositiveIntegerField(help_text="How many snapshots this schedule keeps.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                Lower("name"), "filespace", name="snapshot_schedule_name_unique_ci"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.interval}, keep {self.retention})"

    @property
    def customer(self):
        return self.filespace.customer
