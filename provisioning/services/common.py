"""Shared pieces of the provisioning services: backoff, events, customer-facing reasons."""

import logging
import random
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_save

from portal.actions.outbox import outbox_add
from provisioning import lucidlink
from provisioning.models import Filespace, ProvisioningEvent

logger = logging.getLogger("provisioning.services")

State = Filespace.State
Kind = ProvisioningEvent.Kind

# Test-only hook: seconds to sleep right after a successful POST /filespaces and before the
# database records it, so a test can SIGKILL a worker inside that window.
PAUSE_AFTER_CREATE_ENV = "PROVISIONING_TEST_PAUSE_AFTER_CREATE"


def domain_for(client) -> lucidlink.Domain:
    """The MSP's one LucidLink domain (cached by provisioning.domain)."""
    from provisioning.domain import msp_domain

    return msp_domain(client=client)


def duration(value: float) -> timedelta:
    return timedelta(seconds=value)


def retry_delay(attempt: int, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter, never shorter than the server's Retry-After.

    attempt 1 waits about base seconds, attempt 2 about 2*base, ... capped at the retry cap.
    Jitter takes 0-50% off the exponential part so a burst of failures does not retry in step;
    it never takes anything off Retry-After.
    """
    base = settings.PROVISIONING_RETRY_BASE
    exponential = min(settings.PROVISIONING_RETRY_CAP, base * 2 ** max(attempt - 1, 0))
    delay = exponential * random.uniform(0.5, 1.0)
    return max(delay, retry_after or 0.0)


def poll_delay(polls: int) -> float:
    """Seconds until the next status check of a row already checked `polls` times."""
    return float(
        min(
            settings.PROVISIONING_MAX_POLL_BACKOFF,
            settings.PROVISIONING_FIRST_POLL_DELAY * 2**polls,
        )
    )


def event_record(
    *,
    filespace: Filespace,
    kind: str,
    message: str = "",
    api_status: int | None = None,
    api_answer: str = "",
    actor=None,
) -> ProvisioningEvent:
    """Append a timeline event and, in the same transaction, the outbox row of the webhook event
    the transition causes (docs/api.md, "Webhooks"): ready, active, deleted once per filespace,
    failed once per failure.

    Inside a caller's transaction no savepoint is taken (two statements fewer per event on every
    create): an error here propagates and rolls the caller's transaction back anyway."""
    with transaction.atomic(savepoint=False):
        event = ProvisioningEvent.objects.create(
            filespace=filespace,
            kind=kind,
            message=message[:2000],
            api_status=api_status,
            api_answer=api_answer[:300],
            actor=actor,
        )
        _outbox_for_timeline(filespace=filespace, event=event)
    return event


def events_add_many(events) -> list[ProvisioningEvent]:
    """Append many timeline events in one INSERT (a batch of creates, a sweep's transitions).

    `bulk_create` sends no signals, and the timeline's inserts are what the metrics observe
    (portal/observability/receivers.py: time to ready, failures), so each inserted event is
    announced as `event_record`'s insert would be. The caller writes their outbox rows.
    """
    created = ProvisioningEvent.objects.bulk_create(events)
    for event in created:
        post_save.send(sender=ProvisioningEvent, instance=event, created=True, raw=False,
                       using=event._state.db, update_fields=None)  # fmt: skip
    return created


# Timeline kinds that mark a transition happening once per filespace, and the event they cause.
ONCE_PER_FILESPACE = {
    ProvisioningEvent.Kind.PROVISIONED: "filespace.provisioned",
    ProvisioningEvent.Kind.ACTIVE: "filespace.active",
    ProvisioningEvent.Kind.DELETED: "filespace.deleted",
}
# A filespace can fail, be retried by staff and fail again: one event per failure.
FAILURES = {ProvisioningEvent.Kind.FAILED, ProvisioningEvent.Kind.STAFF_FAIL}


def _outbox_for_timeline(*, filespace: Filespace, event: ProvisioningEvent) -> None:
    if event.kind in ONCE_PER_FILESPACE:
        event_type = ONCE_PER_FILESPACE[event.kind]
        dedupe_key = f"{event_type}:{filespace.pk}"
    elif event.kind in FAILURES:
        event_type = "filespace.error"
        dedupe_key = f"filespace.error:{event.pk}"
    else:
        return
    outbox_add(
        event_type=event_type,
        customer=filespace.customer,
        subject_type="filespace",
        subject_id=filespace.pk,
        facts={"timeline_event_id": event.pk},
        dedupe_key=dedupe_key,
    )


# --- Customer-facing words for failures ---------------------------------------------------


class LeaseLost(Exception):
    """The task's claim on the row ended (taken over after a stall); it must not call LucidLink."""


class FilespaceNotOurs(lucidlink.Conflict):
    """The name exists at LucidLink but that filespace is provably not this row's."""


def reason_for_rejection(*, filespace: Filespace, error: lucidlink.Rejected) -> str:
    """What the customer reads when LucidLink refused the create: what happened, what to do."""
    if isinstance(error, FilespaceNotOurs):
        return error.message
    if isinstance(error, lucidlink.Unprocessable):
        return (
            f"Filespace creation is currently disabled in region {filespace.region}. "
            "Choose another region and order again."
        )
    if isinstance(error, lucidlink.Conflict):
        return reason_not_ours(filespace=filespace)
    if isinstance(error, lucidlink.AuthenticationFailed):
        return (
            "The portal could not sign in to LucidLink, so nothing was created. Our support "
            "team has been told and can retry your order once this is fixed."
        )
    return (
        f"LucidLink refused to create the filespace: {error.message} Check the order details "
        "and order again, or contact support."
    )


def reason_not_ours(*, filespace: Filespace, detail: str = "") -> str:
    extra = f" ({detail})" if detail else ""
    return (
        f"The name {filespace.remote_name} is already used by another filespace at LucidLink "
        f"that this portal did not create{extra}. Order again with a different name."
    )


def reason_unreachable(*, attempts: int) -> str:
    return (
        f"LucidLink could not be reached after {attempts} attempts, so the filespace was not "
        "created. Our support team has been told and can retry your order."
    )
