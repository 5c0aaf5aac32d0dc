from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from portal.fields import EncryptedTextField

# The app's other records live beside the code that owns them; Django finds a model only when
# the app's models module imports it (their app_label is provisioning).
from provisioning.managed.models import FilespaceInit, FilespaceUser, SnapshotSchedule
from provisioning.orphan_models import OrphanFilespace

__all__ = [
    "AppendOnlyError",
    "Filespace",
    "FilespaceInit",
    "FilespaceUser",
    "OrphanFilespace",
    "ProvisioningEvent",
    "SnapshotSchedule",
]


class Filespace(models.Model):
    """One LucidLink filespace the portal created (or is creating) for a customer.

    The row is the truth and the outbox: tasks claim it with a conditional UPDATE and a short
    lease, and the periodic sweeps find any row whose lease expired or whose poll is due.
    State machine: docs/provisioning.md.
    """

    class State(models.TextChoices):
        REQUESTED = "requested", "Requested"
        CREATING = "creating", "Creating"
        PROVISIONING = "provisioning", "Provisioning"
        PROVISIONED = "provisioned", "Ready to initialize"
        ACTIVE = "active", "Active"
        ERROR = "error", "Error"
        DELETING = "deleting", "Deleting"
        DELETED = "deleted", "Deleted"

    # Rows the poller watches; `provisioned` waits for the customer to initialize.
    POLLED_STATES = (State.PROVISIONING, State.PROVISIONED)
    FINAL_STATES = (State.ACTIVE, State.ERROR, State.DELETED)

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="filespaces"
    )
    order = models.OneToOneField("orders.Order", on_delete=models.PROTECT, related_name="filespace")
    plan = models.ForeignKey("plans.Plan", on_delete=models.PROTECT, related_name="filespaces")
    remote_name = models.CharField(max_length=63)
    remote_id = models.CharField(max_length=100, null=True, blank=True, unique=True)
    domain_id = models.CharField(max_length=100, blank=True)
    domain_name = models.CharField(max_length=60, blank=True)
    # Copied from the plan and the order at placement, so a later plan edit changes nothing here.
    storage_owner = models.CharField(max_length=20)
    subscription_type = models.CharField(max_length=20)
    provider = models.CharField(max_length=30)
    region = models.CharField(max_length=64)
    bucket = models.CharField(max_length=63, blank=True)
    endpoint = models.CharField(max_length=255, blank=True)
    # Chosen when initialization is requested (portal or customer); fixed from then on.
    # Empty: not chosen yet, or initialized before the portal recorded it.
    block_size_kib = models.PositiveIntegerField(
        null=True, blank=True, help_text="LucidLink block size in KiB, set at initialization."
    )
    state = models.CharField(max_length=20, choices=State.choices, default=State.REQUESTED)
    remote_status = models.CharField(max_length=20, blank=True)
    # Root password, kept for a later managed `lucid init-s3`; never displayed.
    root_password = EncryptedTextField()

    attempts = models.PositiveIntegerField(default=0, help_text="Create or delete attempts made.")
    polls = models.PositiveIntegerField(default=0, help_text="Status checks since the last change.")
    last_error = models.TextField(blank=True)
    next_poll_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    poll_deadline = models.DateTimeField(null=True, blank=True)

    requested_at = models.DateTimeField(default=timezone.now)
    # The create intent's time: set just before the row's first POST /filespaces, never reset.
    # A filespace holding the name is provably not this row's while this is empty.
    create_sent_at = models.DateTimeField(null=True, blank=True)
    created_remote_at = models.DateTimeField(null=True, blank=True)
    provisioned_at = models.DateTimeField(null=True, blank=True)
    active_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    deleting_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            # One live filespace per remote name in the MSP's single domain. A deleted row, or
            # one that failed before anything existed remotely, frees the name for a new order.
            models.UniqueConstraint(
                fields=["remote_name"],
                condition=~Q(state="deleted") & ~Q(state="error", remote_id__isnull=True),
                name="filespace_live_remote_name_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "next_poll_at"], name="filespace_sweep_idx"),
            models.Index(fields=["customer", "state"], name="filespace_customer_state_idx"),
        ]

    def __str__(self) -> str:
        return self.qualified_name

    def __repr__(self) -> str:
        return f"<Filespace id={self.pk} remote_name={self.remote_name!r} state={self.state!r}>"

    @property
    def qualified_name(self) -> str:
        """`name.domain`, as the CLI's --fs takes it; the bare name until the domain is known."""
        return f"{self.remote_name}.{self.domain_name}" if self.domain_name else self.remote_name

    @property
    def is_final(self) -> bool:
        return self.state in self.FINAL_STATES

    @property
    def init_failed(self) -> bool:
        """The portal's own `lucid init-s3` failed: the customer sees "Needs attention".

        Reads `managed_init`; list selectors select_related it so a page asks once.
        """
        init = getattr(self, "managed_init", None)
        return (
            self.state == self.State.PROVISIONED
            and init is not None
            and init.state == init.State.FAILED
        )

    @property
    def is_deletable(self) -> bool:
        return self.state in (
            self.State.REQUESTED,
            self.State.PROVISIONED,
            self.State.ACTIVE,
            self.State.ERROR,
        )


class AppendOnlyError(Exception):
    """Raised when code tries to change or remove a recorded provisioning event."""


class ProvisioningEvent(models.Model):
    """One line of a filespace's timeline. Written once, never changed."""

    class Kind(models.TextChoices):
        REQUESTED = "requested", "Requested"
        APPROVED = "approved", "Approved"
        CREATE_SENT = "create_sent", "Create sent"
        ADOPTED = "adopted", "Adopted existing filespace"
        CREATED = "created", "Created at LucidLink"
        RETRY = "retry", "Will retry"
        STATUS = "status", "Status changed"
        PROVISIONED = "provisioned", "Ready to initialize"
        ACTIVE = "active", "Initialized"
        FAILED = "failed", "Failed"
        STAFF_RETRY = "staff_retry", "Retried by staff"
        STAFF_FAIL = "staff_fail", "Failed by staff"
        DELETE_REQUESTED = "delete_requested", "Delete requested"
        DELETED = "deleted", "Deleted"
        EMAIL = "email", "Email sent"

    filespace = models.ForeignKey(Filespace, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    message = models.TextField(blank=True)
    api_status = models.PositiveSmallIntegerField(null=True, blank=True)
    api_answer = models.CharField(max_length=300, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["filespace", "at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.kind}: {self.message}"

    def save(self, *args, **kwargs):
        if self.pk is not None or not self._state.adding:
            raise AppendOnlyError("Provisioning events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Provisioning events are append-only.")
