"""Managed filespace operations through the `lucid` CLI: init-s3, users, snapshots, schedules.

Reference: ../shared/lucidlink/README.md section 3; guarantees in docs/managed-operations.md.
Every change runs the CLI first, outside any transaction, and writes the portal's record only
after the CLI said it happened, so a failure leaves nothing half-saved. Every change is written
to the audit log. Passwords (the filespace root password, a new user's password) are generated
here, never logged, and the user password is returned once to the caller and then forgotten.
"""

from __future__ import annotations

import logging
import re
import secrets
import string
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from portal.audit.services import audit_record
from portal.filespaces.kit import _ENDPOINTS as PUBLIC_ENDPOINTS
from portal.plans.models import StorageOwner
from provisioning import cli, lucidlink, services
from provisioning.managed_models import FilespaceInit, FilespaceUser, SnapshotSchedule
from provisioning.models import Filespace, ProvisioningEvent

logger = logging.getLogger(__name__)

State = Filespace.State
Kind = ProvisioningEvent.Kind

# Name rules. Reference: section 3 "Names" (users `a-z A-Z 0-9 - _ . @` up to 128,
# case-insensitive; snapshots `a-z A-Z 0-9 - _ space ( )`; schedules the same, up to 40).
USER_NAME_RE = re.compile(r"^[A-Za-z0-9._@-]{1,128}$")
SNAPSHOT_NAME_RE = re.compile(r"^[A-Za-z0-9 _()-]{1,128}$")
SCHEDULE_NAME_RE = re.compile(r"^[A-Za-z0-9 _()-]{1,40}$")
INTERVAL_RE = re.compile(r"^[1-9][0-9]{0,3}(mo|m|h|d|w|y)$")
MAX_RETENTION = 10000  # [D] no published bound; a sane cap keeps typos out.
INIT_MAX_ATTEMPTS = 6
INIT_LEASE_SECONDS = 300
# [D] For LucidLink-owned storage LucidLink holds the bucket credentials; the contract still
# lists --access-key and --secret-key as required, so the portal passes this marker.
LUCIDLINK_OWNED_KEY = "lucidlink-managed"


class OperationRefused(Exception):
    """The operation is not allowed now (suspended customer, filespace not ready); `message`."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- Rules -----------------------------------------------------------------------------------


def generate_password(length: int = 24) -> str:
    """A random password of letters and digits that starts with a letter (never an option)."""
    alphabet = string.ascii_letters + string.digits
    first = secrets.choice(string.ascii_letters)
    return first + "".join(secrets.choice(alphabet) for _ in range(length - 1))


def validate_user_name(name: str) -> str:
    name = (name or "").strip()
    if not USER_NAME_RE.match(name):
        raise ValidationError(
            "Use 1 to 128 letters, digits, '-', '_', '.' or '@' (no spaces).", code="invalid"
        )
    if name.lower() == "root":
        raise ValidationError("'root' is the filespace's own administrator; choose another name.")
    return name


def validate_snapshot_name(name: str) -> str:
    name = (name or "").strip()
    if name and not SNAPSHOT_NAME_RE.match(name):
        raise ValidationError(
            "Use up to 128 letters, digits, spaces, '-', '_', '(' or ')'.", code="invalid"
        )
    return name


def validate_schedule_name(name: str) -> str:
    name = (name or "").strip()
    if not SCHEDULE_NAME_RE.match(name):
        raise ValidationError(
            "Use 1 to 40 letters, digits, spaces, '-', '_', '(' or ')'.", code="invalid"
        )
    return name


def validate_interval(interval: str) -> str:
    interval = (interval or "").strip()
    if not INTERVAL_RE.match(interval):
        raise ValidationError(
            "Write a number from 1 to 9999 followed by m (minutes), h, d, w, mo (months) or y, "
            "for example 6h or 1w.",
            code="invalid",
        )
    return interval


def validate_retention(retention) -> int:
    if isinstance(retention, bool) or not isinstance(retention, int):
        raise ValidationError("Retention is a whole number of snapshots to keep.")
    if not 1 <= retention <= MAX_RETENTION:
        raise ValidationError(f"Keep between 1 and {MAX_RETENTION} snapshots.")
    return retention


def why_not_changeable(*, filespace: Filespace) -> str:
    """Why users, snapshots and schedules cannot be changed now, or "" when they can."""
    if filespace.customer.status != filespace.customer.Status.ACTIVE:
        return (
            "Your organisation's account is "
            f"{filespace.customer.get_status_display().lower()}, so filespace changes are "
            "paused. Contact your provider."
        )
    if filespace.state != State.ACTIVE:
        return "The filespace must be initialized and active before it can be managed here."
    if not filespace.root_password:
        return (
            "This filespace was initialized outside the portal, so the portal does not hold "
            "its root password and cannot manage its users and snapshots."
        )
    return ""


def _require_changeable(filespace: Filespace) -> None:
    reason = why_not_changeable(filespace=filespace)
    if reason:
        raise OperationRefused(reason)


def _runner(filespace: Filespace) -> cli.LucidCli:
    return cli.for_filespace(filespace.qualified_name)


def _audit_failure(*, actor, action: str, filespace: Filespace, error: cli.CliError, **after):
    audit_record(
        actor=actor,
        action=action,
        target=filespace,
        after={**after, "error": type(error).__name__},
        note=error.message,
    )


# --- Initialization --------------------------------------------------------------------------


def why_not_initializable(*, filespace: Filespace) -> str:
    if filespace.customer.status != filespace.customer.Status.ACTIVE:
        return "Your organisation's account is not active, so the filespace cannot be set up."
    if filespace.state != State.PROVISIONED or not filespace.remote_id:
        return "Only a filespace that is ready to initialize can be initialized."
    init = FilespaceInit.objects.filter(filespace=filespace).first()
    if init is not None and init.state != FilespaceInit.State.FAILED:
        return "The filespace is already being initialized."
    return ""


@transaction.atomic
def filespace_initialize_request(*, filespace: Filespace, actor) -> FilespaceInit:
    """Ask a worker to run `lucid init-s3` for a provisioned filespace, once.

    The root password is generated and stored (encrypted) here, before the CLI ever runs, so an
    init that succeeds but crashes before recording it still left a password the portal holds.
    A failed init may be requested again; it reuses the same password.
    """
    from provisioning import managed_tasks

    filespace = (
        Filespace.objects.select_for_update().select_related("customer").get(pk=filespace.pk)
    )
    reason = why_not_initializable(filespace=filespace)
    if reason:
        raise OperationRefused(reason)
    now = timezone.now()
    init, created = FilespaceInit.objects.get_or_create(
        filespace=filespace, defaults={"requested_by": actor, "requested_at": now}
    )
    if not created:
        FilespaceInit.objects.filter(pk=init.pk, state=FilespaceInit.State.FAILED).update(
            state=FilespaceInit.State.REQUESTED,
            attempts=0,
            lease_until=None,
            next_attempt_at=now,
            last_error="",
            requested_by=actor,
            requested_at=now,
            finished_at=None,
        )
        init.refresh_from_db()
    if not filespace.root_password:
        filespace.root_password = generate_password()
        filespace.save(update_fields=["root_password", "updated_at"])
    services.event_record(
        filespace=filespace,
        kind=Kind.STATUS,
        message="Initialization requested: the portal will run lucid init-s3.",
        actor=actor,
    )
    audit_record(actor=actor, action="filespace.init_requested", target=filespace)
    managed_tasks.initialize_filespace.delay_on_commit(init.pk)
    return init


def filespace_init_claim(*, init_id: int) -> FilespaceInit | None:
    """Lease an init row for one attempt; None when it is done, failed, held or not yet due.

    The conditional UPDATE is the lock: of two deliveries only one moves the row to running.
    """
    now = timezone.now()
    claimable = Q(state=FilespaceInit.State.REQUESTED, next_attempt_at__lte=now) | Q(
        state=FilespaceInit.State.RUNNING, lease_until__lt=now
    )
    claimed = FilespaceInit.objects.filter(claimable, pk=init_id).update(
        state=FilespaceInit.State.RUNNING,
        lease_until=now + timedelta(seconds=INIT_LEASE_SECONDS),
        attempts=F("attempts") + 1,
    )
    if claimed != 1:
        return None
    return FilespaceInit.objects.select_related("filespace__customer", "filespace__order").get(
        pk=init_id
    )


def _init_arguments(filespace: Filespace) -> dict:
    """The storage options of init-s3 for this filespace (reference: section 3, init-s3)."""
    order = filespace.order
    if filespace.endpoint:
        parts = re.match(r"^(?:(https?)://)?([^/]+)", filespace.endpoint)
        endpoint, https = parts.group(2), parts.group(1) != "http"
    else:
        template = PUBLIC_ENDPOINTS.get(filespace.provider)
        if template is None:
            raise OperationRefused(
                f"The portal does not know the storage endpoint for {filespace.provider}; "
                "contact support to initialize this filespace."
            )
        endpoint, https = template.format(region=filespace.region), True
    if filespace.storage_owner == StorageOwner.CUSTOMER:
        access_key, secret_key = order.access_key, order.secret_key
        if not access_key or not secret_key:
            raise OperationRefused(
                "The order holds no bucket access key and secret key, so the portal cannot "
                "initialize this filespace. Run the init step of the connection kit yourself."
            )
    else:
        access_key = secret_key = LUCIDLINK_OWNED_KEY
    return {
        "endpoint": endpoint,
        "https": https,
        "access_key": access_key,
        "secret_key": secret_key,
        "region": filespace.region,
        "provider": filespace.provider,
        "bucket": filespace.bucket,
    }


def _init_finish(
    init: FilespaceInit, *, state: str, error: str = "", retry_in: float | None = None
) -> bool:
    now = timezone.now()
    fields = {"state": state, "lease_until": None, "last_error": error[:2000]}
    if retry_in is not None:
        fields["next_attempt_at"] = now + timedelta(seconds=retry_in)
    else:
        fields["finished_at"] = now
    return (
        FilespaceInit.objects.filter(pk=init.pk, state=FilespaceInit.State.RUNNING).update(**fields)
        == 1
    )


def filespace_init_run(*, init: FilespaceInit) -> float | None:
    """Run init-s3 for a claimed row and record the outcome; seconds to wait before a retry.

    Idempotent: init-s3 of a filespace that is already initialized answers "already
    initialized", and then a `lucid link` as root with the stored password proves whether it was
    this portal (an earlier attempt that crashed after init-s3) or someone else.
    """
    filespace = init.filespace
    if filespace.state == State.ACTIVE:
        _init_finish(init, state=FilespaceInit.State.DONE, error="Already active.")
        return None
    if filespace.state != State.PROVISIONED or filespace.customer.status != "active":
        _init_fail(init, "The filespace is no longer waiting to be initialized.")
        return None
    runner = _runner(filespace)
    try:
        arguments = _init_arguments(filespace)
        try:
            runner.init_s3(root_password=filespace.root_password, **arguments)
        except cli.AlreadyInitialized:
            runner.link_root(root_password=filespace.root_password)
            logger.info("Filespace %s was already initialized by this portal.", filespace.pk)
    except OperationRefused as exc:
        _init_fail(init, exc.message)
        return None
    except cli.WrongPassword:
        _init_fail(
            init,
            "The filespace was initialized outside the portal, so the portal does not hold its "
            "root password.",
        )
        return None
    except (cli.CliUnavailable, cli.CliOutputError) as exc:
        # Unknown outcome or transient failure: try again; a repeat is safe (see above).
        if init.attempts >= INIT_MAX_ATTEMPTS:
            _init_fail(init, f"{exc.message} (after {init.attempts} attempts)")
            return None
        delay = services.retry_delay(init.attempts)
        _init_finish(init, state=FilespaceInit.State.REQUESTED, error=exc.message, retry_in=delay)
        return delay
    except cli.CliRejected as exc:
        _init_fail(init, exc.message)
        return None

    with transaction.atomic():
        if _init_finish(init, state=FilespaceInit.State.DONE):
            services.event_record(
                filespace=filespace,
                kind=Kind.STATUS,
                message="The portal initialized the filespace with lucid init-s3.",
            )
            audit_record(
                actor=None,
                action="filespace.initialized",
                target=filespace,
                after={"provider": filespace.provider, "region": filespace.region},
            )
    _activate(filespace)
    return None


def _init_fail(init: FilespaceInit, reason: str) -> None:
    with transaction.atomic():
        if _init_finish(init, state=FilespaceInit.State.FAILED, error=reason):
            services.event_record(
                filespace=init.filespace,
                kind=Kind.STATUS,
                message=f"Initialization failed: {reason}",
            )
            audit_record(
                actor=None, action="filespace.init_failed", target=init.filespace, note=reason
            )


def _activate(filespace: Filespace) -> None:
    """Move the filespace to active now, from LucidLink's own answer; else let the poller."""
    try:
        remote = lucidlink.get_client().get_filespace(filespace.remote_id)
    except lucidlink.LucidLinkError as exc:
        logger.warning("Status check after init of %s failed: %s", filespace.pk, exc.message)
        Filespace.objects.filter(pk=filespace.pk, state=State.PROVISIONED).update(
            next_poll_at=timezone.now()
        )
        return
    filespace.refresh_from_db()
    if filespace.state == State.PROVISIONED:
        services.filespace_apply_remote_status(filespace=filespace, remote=remote)


def filespace_inits_needing_a_push(*, limit: int = 200) -> list[int]:
    """Init rows whose task message may have been lost: due long ago, or leased by a dead worker."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.PROVISIONING_RECONCILE_GRACE)
    return list(
        FilespaceInit.objects.filter(
            Q(state=FilespaceInit.State.REQUESTED, next_attempt_at__lte=stale)
            | Q(state=FilespaceInit.State.RUNNING, lease_until__lt=now)
        ).values_list("pk", flat=True)[:limit]
    )


# --- Filespace users -------------------------------------------------------------------------


def filespace_user_create(
    *, filespace: Filespace, actor, name: str, email: str = ""
) -> tuple[FilespaceUser, str]:
    """Create a filespace user at LucidLink, then record it; returns the row and its password.

    The password is returned once for the page that shows it and is never stored or logged.
    """
    _require_changeable(filespace)
    name = validate_user_name(name)
    if FilespaceUser.objects.filter(filespace=filespace, name__iexact=name).exists():
        raise ValidationError({"name": "This filespace already has a user with that name."})
    password = generate_password()
    runner = _runner(filespace)
    try:
        runner.user_create(
            root_password=filespace.root_password, name=name, user_password=password, email=email
        )
    except cli.CliError as exc:
        _audit_failure(
            actor=actor, action="filespace.user_create_failed", filespace=filespace, error=exc,
            name=name,
        )  # fmt: skip
        raise
    try:
        with transaction.atomic():
            user = FilespaceUser.objects.create(
                filespace=filespace, name=name, email=email, created_by=actor
            )
            audit_record(
                actor=actor,
                action="filespace.user_created",
                target=filespace,
                after={"name": name, "email": email},
            )
    except IntegrityError:
        # The CLI made it but the portal cannot record it: undo at LucidLink, say so.
        _undo(lambda: runner.user_delete(root_password=filespace.root_password, name=name))
        raise ValidationError(
            {"name": "This filespace already has a user with that name."}
        ) from None
    return user, password


def _undo(action) -> None:
    try:
        action()
    except cli.CliError as exc:
        logger.error("Could not undo a CLI change the portal failed to record: %s", exc.message)


def filespace_user_delete(*, filespace_user: FilespaceUser, actor) -> None:
    """Delete the user at LucidLink, then the row; a user LucidLink no longer has is removed too."""
    filespace = filespace_user.filespace
    _require_changeable(filespace)
    try:
        _runner(filespace).user_delete(
            root_password=filespace.root_password, name=filespace_user.name
        )
    except cli.NotFound:
        logger.info("User %s was already gone at LucidLink.", filespace_user.pk)
    except cli.CliError as exc:
        _audit_failure(
            actor=actor, action="filespace.user_delete_failed", filespace=filespace, error=exc,
            name=filespace_user.name,
        )  # fmt: skip
        raise
    with transaction.atomic():
        FilespaceUser.objects.filter(pk=filespace_user.pk).delete()
        audit_record(
            actor=actor,
            action="filespace.user_deleted",
            target=filespace,
            before={"name": filespace_user.name, "email": filespace_user.email},
        )


# --- Snapshots -------------------------------------------------------------------------------


def filespace_snapshots(*, filespace: Filespace) -> list[cli.SnapshotInfo]:
    """The filespace's snapshots as LucidLink lists them (raises cli.CliError)."""
    if not filespace.root_password or filespace.state != State.ACTIVE:
        return []
    return _runner(filespace).snapshot_list(root_password=filespace.root_password)


def filespace_snapshot_create(*, filespace: Filespace, actor, name: str = "") -> int:
    """Take a snapshot now; returns LucidLink's snapshot id."""
    _require_changeable(filespace)
    name = validate_snapshot_name(name)
    try:
        snapshot_id = _runner(filespace).snapshot_create(
            root_password=filespace.root_password, name=name
        )
    except cli.CliError as exc:
        _audit_failure(
            actor=actor, action="filespace.snapshot_create_failed", filespace=filespace,
            error=exc, name=name,
        )  # fmt: skip
        raise
    audit_record(
        actor=actor,
        action="filespace.snapshot_created",
        target=filespace,
        after={"snapshot_id": snapshot_id, "name": name},
    )
    return snapshot_id


def filespace_snapshot_delete(*, filespace: Filespace, actor, snapshot_id: int) -> None:
    _require_changeable(filespace)
    try:
        _runner(filespace).snapshot_delete(
            root_password=filespace.root_password, snapshot_id=snapshot_id
        )
    except cli.CliError as exc:
        _audit_failure(
            actor=actor, action="filespace.snapshot_delete_failed", filespace=filespace,
            error=exc, snapshot_id=snapshot_id,
        )  # fmt: skip
        raise
    audit_record(
        actor=actor,
        action="filespace.snapshot_deleted",
        target=filespace,
        before={"snapshot_id": snapshot_id},
    )


# --- Snapshot schedules ----------------------------------------------------------------------


def snapshot_schedule_create(
    *, filespace: Filespace, actor, name: str, interval: str, retention: int
) -> SnapshotSchedule:
    """Create a snapshot schedule at LucidLink, then record it."""
    _require_changeable(filespace)
    errors = {}
    for field, check, value in (
        ("name", validate_schedule_name, name),
        ("interval", validate_interval, interval),
        ("retention", validate_retention, retention),
    ):
        try:
            check(value)
        except ValidationError as exc:
            errors[field] = exc.messages
    if errors:
        raise ValidationError(errors)
    name, interval = name.strip(), interval.strip()
    if SnapshotSchedule.objects.filter(filespace=filespace, name__iexact=name).exists():
        raise ValidationError({"name": "This filespace already has a schedule with that name."})
    runner = _runner(filespace)
    try:
        runner.schedule_create(
            root_password=filespace.root_password,
            name=name,
            interval=interval,
            retention=retention,
        )
    except cli.CliError as exc:
        _audit_failure(
            actor=actor, action="filespace.snapshot_schedule_create_failed",
            filespace=filespace, error=exc, name=name,
        )  # fmt: skip
        raise
    details = {"name": name, "interval": interval, "retention": retention}
    try:
        with transaction.atomic():
            schedule = SnapshotSchedule.objects.create(
                filespace=filespace, created_by=actor, **details
            )
            audit_record(
                actor=actor,
                action="filespace.snapshot_schedule_created",
                target=filespace,
                after=details,
            )
    except IntegrityError:
        _undo(lambda: runner.schedule_delete(root_password=filespace.root_password, name=name))
        raise ValidationError(
            {"name": "This filespace already has a schedule with that name."}
        ) from None
    return schedule


def snapshot_schedule_delete(*, schedule: SnapshotSchedule, actor) -> None:
    filespace = schedule.filespace
    _require_changeable(filespace)
    try:
        _runner(filespace).schedule_delete(
            root_password=filespace.root_password, name=schedule.name
        )
    except cli.NotFound:
        logger.info("Snapshot schedule %s was already gone at LucidLink.", schedule.pk)
    except cli.CliError as exc:
        _audit_failure(
            actor=actor, action="filespace.snapshot_schedule_delete_failed",
            filespace=filespace, error=exc, name=schedule.name,
        )  # fmt: skip
        raise
    with transaction.atomic():
        SnapshotSchedule.objects.filter(pk=schedule.pk).delete()
        audit_record(
            actor=actor,
            action="filespace.snapshot_schedule_deleted",
            target=filespace,
            before={"name": schedule.name, "interval": schedule.interval,
                    "retention": schedule.retention},
        )  # fmt: skip


# --- Selectors (always scoped to the customer first) -----------------------------------------


def filespace_user_get_for(*, customer, pk: int) -> FilespaceUser | None:
    return (
        FilespaceUser.objects.filter(filespace__customer=customer, pk=pk)
        .exclude(filespace__state=State.DELETED)
        .select_related("filespace__customer")
        .first()
    )


def snapshot_schedule_get_for(*, customer, pk: int) -> SnapshotSchedule | None:
    return (
        SnapshotSchedule.objects.filter(filespace__customer=customer, pk=pk)
        .exclude(filespace__state=State.DELETED)
        .select_related("filespace__customer")
        .first()
    )
