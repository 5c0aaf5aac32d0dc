"""Managed `lucid init-s3`: requested by a customer manager, run once by a worker task."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from portal.actions import Code, Principal, action, record
from portal.plans.models import StorageOwner
from provisioning import cli, emails, lucidlink, services
from provisioning.managed.models import FilespaceInit
from provisioning.managed.rules import (
    OperationRefused,
    generate_password,
    require_may_manage,
    runner_for,
)
from provisioning.models import Filespace, ProvisioningEvent
from provisioning.rules import DEFAULT_BLOCK_SIZE_KIB, PUBLIC_S3_ENDPOINTS, validate_block_size

logger = logging.getLogger(__name__)

State = Filespace.State
Kind = ProvisioningEvent.Kind

INIT_MAX_ATTEMPTS = 6
INIT_LEASE_SECONDS = 300
# [D] For LucidLink-owned storage LucidLink holds the bucket credentials; the contract still
# lists --access-key and --secret-key as required, so the portal passes this marker.
LUCIDLINK_OWNED_KEY = "lucidlink-managed"


# --- Initialization --------------------------------------------------------------------------


def why_not_initializable(*, filespace: Filespace) -> str:
    if filespace.customer.status != filespace.customer.Status.ACTIVE:
        return "Your organisation's account is not active, so the filespace cannot be set up."
    if filespace.state != State.PROVISIONED or not filespace.remote_id:
        return "Only a filespace that is ready to initialize can be initialized."
    init = FilespaceInit.objects.filter(filespace=filespace).first()
    if init is not None and init.state not in FilespaceInit.RESTARTABLE_STATES:
        return "The filespace is already being initialized."
    return ""


@action("filespace.initialize", audit_refusals=True)
@transaction.atomic
def filespace_initialize_request(
    *, filespace: Filespace, actor, block_size: int | str = DEFAULT_BLOCK_SIZE_KIB
) -> FilespaceInit:
    """Ask a worker to run `lucid init-s3` for a provisioned filespace, once.

    The root password is generated and stored (encrypted) here, before the CLI ever runs, so an
    init that succeeds but crashes before recording it still left a password the portal holds.
    A failed init may be requested again; it reuses the same password. The block size chosen
    here is recorded on the filespace and passed to init-s3.
    """
    from provisioning.managed import tasks as managed_tasks

    by = require_may_manage(actor, filespace)
    actor = by.audit_user
    block_size = block_size_or_refuse(block_size)
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
        FilespaceInit.objects.filter(pk=init.pk, state__in=FilespaceInit.RESTARTABLE_STATES).update(
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
    filespace.block_size_kib = block_size
    filespace.save(update_fields=["root_password", "block_size_kib", "updated_at"])
    services.event_record(
        filespace=filespace,
        kind=Kind.STATUS,
        message="Initialization requested: the portal will run lucid init-s3.",
        actor=actor,
    )
    record(
        by=by,
        action="filespace.init_requested",
        target=filespace,
        after={"block_size_kib": block_size},
    )
    managed_tasks.initialize_filespace.delay_on_commit(init.pk)
    return init


def block_size_or_refuse(value) -> int:
    """The block size as an int; a value outside the offered sizes is refused (code invalid)."""
    try:
        return validate_block_size(value)
    except ValidationError as exc:
        raise OperationRefused(" ".join(exc.messages), code=Code.INVALID) from None


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
        template = PUBLIC_S3_ENDPOINTS.get(filespace.provider)
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
        "block_size": filespace.block_size_kib or DEFAULT_BLOCK_SIZE_KIB,
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


@action("filespace.init_run")
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
    runner = runner_for(filespace)
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
    except cli.CliNotInstalled as exc:
        # The portal's own setup is broken: retrying cannot help until a person fixes it.
        _init_fail(init, exc.message)
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
            record(
                by=Principal.system(),
                action="filespace.initialized",
                target=filespace,
                after={"provider": filespace.provider, "region": filespace.region},
            )
    filespace_refresh_status(filespace=filespace)
    return None


def _init_fail(init: FilespaceInit, reason: str) -> None:
    """Record the failure; the customer then sees "Needs attention" and support gets a mail."""
    with transaction.atomic():
        if _init_finish(init, state=FilespaceInit.State.FAILED, error=reason):
            emails.tell_support_on_commit(
                filespace_id=init.filespace_id, what="initialization (lucid init-s3)", reason=reason
            )
            services.event_record(
                filespace=init.filespace,
                kind=Kind.STATUS,
                message=f"Initialization failed: {reason}",
            )
            record(
                by=Principal.system(),
                action="filespace.init_failed",
                target=init.filespace,
                note=reason,
            )


def filespace_refresh_status(*, filespace: Filespace) -> None:
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
