"""Webhook subscriptions, event emission and signed delivery (docs/api.md, "Webhooks")."""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from portal.actions import Principal, action, guards, record
from portal.actions.models import OutboxEvent
from portal.customers.lifecycle import customer_ensure_manageable
from portal.customers.models import MANAGER_ROLES, Customer
from portal.webhooks import payloads, signing, transport
from portal.webhooks.models import Attempt, Delivery, Event, EventType, Subscription
from portal.webhooks.validators import resolve_webhook_target, validate_webhook_url

logger = logging.getLogger(__name__)

USER_AGENT = "FilespacePortal-Webhooks/1"


# --- Subscriptions ---------------------------------------------------------------------------


def _clean_event_types(event_types) -> list[str]:
    chosen = sorted({str(item) for item in (event_types or [])})
    unknown = [item for item in chosen if item not in EventType.values]
    if unknown:
        raise ValidationError({"event_types": f"Unknown event types: {', '.join(unknown)}."})
    if not chosen:
        raise ValidationError({"event_types": "Choose at least one event type."})
    return chosen


@action("webhook.subscribe", audit_refusals=True)
@transaction.atomic
def subscription_create(
    *,
    url: str,
    event_types: list[str],
    created_by,
    customer: Customer | None = None,
    description: str = "",
) -> tuple[Subscription, str]:
    """Create a subscription; return it and its signing secret, which is shown only once.

    MSP subscriptions (no customer) by MSP staff; a customer's by its owners and admins while
    it is active.
    """
    by = Principal.of(created_by)
    if customer is None:
        guards.require_msp(by, what="subscribe to every customer's events")
    else:
        guards.require_role(by, customer, MANAGER_ROLES, what="manage webhooks")
    errors: dict[str, list[str]] = {}
    try:
        url = validate_webhook_url(url)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        event_types = _clean_event_types(event_types)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if len(description or "") > 200:
        errors["description"] = ["Keep the description under 200 characters."]
    if errors:
        raise ValidationError(errors)
    if customer is not None:
        customer_ensure_manageable(customer=customer)
    secret = "whsec_" + secrets.token_urlsafe(32)
    subscription = Subscription.objects.create(
        customer=customer,
        url=url,
        event_types=event_types,
        secret=secret,
        description=(description or "").strip(),
        created_by=by.audit_user,
    )
    record(
        by=by,
        action="webhook.subscribed",
        customer=customer,
        target=subscription,
        after={"url": subscription.url, "event_types": subscription.event_types},
    )
    return subscription, secret


@action("webhook.unsubscribe", audit_refusals=True)
@transaction.atomic
def subscription_delete(*, subscription: Subscription, acting_user=None) -> None:
    """Stop a subscription (allowed while suspended: it only reduces what is sent)."""
    by = Principal.of(acting_user)
    if subscription.customer_id is None:
        guards.require_msp(by, what="remove MSP subscriptions")
    else:
        guards.require_role(by, subscription.customer, MANAGER_ROLES, what="manage webhooks")
    record(
        by=by,
        action="webhook.unsubscribed",
        customer=subscription.customer,
        target=subscription,
        before={"url": subscription.url, "event_types": subscription.event_types},
    )
    Subscription.objects.filter(pk=subscription.pk).delete()


# --- Emission --------------------------------------------------------------------------------


def webhook_emit(
    *, event_type: str, customer: Customer | None, dedupe_key: str, data: dict
) -> Event | None:
    """Record an event once and queue one delivery per interested subscription.

    Called only by the outbox relay. The dedupe key names the fact (``order.placed:42``), so a
    relay that runs twice for the same outbox row changes nothing and returns None.
    """
    from portal.webhooks import tasks

    if event_type not in EventType.values:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    payload = json.loads(json.dumps(data, cls=DjangoJSONEncoder))
    try:
        with transaction.atomic():
            if Event.objects.filter(dedupe_key=dedupe_key).exists():
                return None
            event = Event.objects.create(
                event_type=event_type, customer=customer, dedupe_key=dedupe_key, data=payload
            )
            audience = Subscription.objects.filter(is_active=True).filter(
                Q(customer__isnull=True) | Q(customer=customer)
                if customer is not None
                else Q(customer__isnull=True)
            )
            now = timezone.now()
            deliveries = [
                Delivery.objects.create(subscription=sub, event=event, next_attempt_at=now)
                for sub in audience
                if sub.wants(event_type)
            ]
    except IntegrityError:
        # The same fact emitted concurrently: the other emitter owns it.
        return None
    for delivery in deliveries:
        tasks.deliver_webhook.delay_on_commit(delivery.pk)
    return event


# --- Relay: outbox rows (written by actions) to events and deliveries --------------------------


def payload_for(row: OutboxEvent):
    """The event's data: the API's representation of its subject, plus the facts the action
    recorded when it happened (which timeline event, when the suspension happened)."""
    facts = row.facts or {}
    if row.subject_type == "order":
        return payloads.order_payload(row.subject_id)
    if row.subject_type == "filespace":
        built = payloads.filespace_payload(row.subject_id, facts.get("timeline_event_id"))
        if built is not None and "plan_change" in facts:
            built[1]["plan_change"] = facts["plan_change"]
        return built
    if row.subject_type == "invoice":
        return payloads.invoice_payload(row.subject_id)
    if row.subject_type == "customer":
        return payloads.customer_suspended_payload(row.subject_id, facts.get("suspended_at"))
    raise ValueError(f"no payload for outbox subject {row.subject_type!r}")


def outbox_relay(*, limit: int = 200) -> int:
    """Turn unrelayed outbox rows into webhook events with their deliveries; return how many.

    Each row is relayed in its own transaction under a row lock (rows another relay holds are
    skipped), and the event's dedupe key is the row's, so two relays or a relay re-run after a
    crash create each event and each subscription's delivery once. Deliveries are sent after
    the commit; beat's send_due_webhooks finds any whose message was lost.
    """
    pending = list(
        OutboxEvent.objects.filter(relayed_at__isnull=True)
        .order_by("created_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    relayed = 0
    for outbox_id in pending:
        try:
            relayed += _relay_one(outbox_id)
        except Exception:
            # One row whose payload cannot be built must not hold up the others; it stays
            # unrelayed, is retried by the next sweep, and the log says why.
            logger.exception("Outbox row %s could not be relayed", outbox_id)
    return relayed


def _relay_one(outbox_id: int) -> int:
    with transaction.atomic():
        row = (
            OutboxEvent.objects.select_for_update(skip_locked=True)
            .filter(pk=outbox_id, relayed_at__isnull=True)
            .first()
        )
        if row is None:
            return 0
        built = payload_for(row)
        if built is not None:  # the subject is gone (a customer removed): nothing to say
            _customer, data = built
            webhook_emit(
                event_type=row.event_type,
                customer=row.customer,
                dedupe_key=row.dedupe_key,
                data=data,
            )
        OutboxEvent.objects.filter(pk=row.pk).update(relayed_at=timezone.now())
        return 1


def event_body(event: Event) -> bytes:
    """The exact bytes sent (and signed) for an event; the same for every attempt."""
    envelope = {
        "id": event.public_id,
        "type": event.event_type,
        "created_at": event.created_at.isoformat().replace("+00:00", "Z"),
        "data": event.data,
    }
    return json.dumps(envelope, separators=(",", ":"), sort_keys=True).encode()


# --- Delivery --------------------------------------------------------------------------------


def retry_delay(attempts: int) -> float:
    """Seconds before the next try after `attempts` failed ones: exponential, capped."""
    base = settings.WEBHOOK_RETRY_BASE
    return float(min(settings.WEBHOOK_RETRY_CAP, base * 2 ** max(attempts - 1, 0)))


@dataclass
class AttemptOutcome:
    delivery_id: int
    succeeded: bool
    retry_in: float | None


def _claim(*, delivery_id: int, now) -> Delivery | None:
    """Take a short lease on a due delivery; None when it is not due or another worker has it."""
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now + timedelta(seconds=2))
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    claimed = Delivery.objects.filter(
        due, free, pk=delivery_id, state=Delivery.State.PENDING
    ).update(
        lease_until=now + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS),
        attempts=F("attempts") + 1,
        updated_at=now,
    )
    if claimed != 1:
        return None
    return Delivery.objects.select_related("subscription", "event").get(pk=delivery_id)


# One message for every transport failure (refused, reset, timed out, TLS), so the customer
# who controls the URL cannot use deliveries to tell closed ports from filtered ones.
UNREACHABLE = "The endpoint could not be reached or did not answer in time."
NOT_ALLOWED = "The URL is not allowed: "


def _post(*, url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str, str]:
    """POST once; return (status, error, response excerpt). Redirects are never followed."""
    try:
        target = resolve_webhook_target(url)
    except ValidationError as exc:
        return None, (NOT_ALLOWED + " ".join(exc.messages))[:300], ""
    try:
        response = transport.post_pinned(
            target,
            body=body,
            headers=headers,
            timeout=(settings.WEBHOOK_CONNECT_TIMEOUT, settings.WEBHOOK_READ_TIMEOUT),
        )
    except requests.RequestException:
        return None, UNREACHABLE, ""
    try:
        excerpt = response.raw.read(300, decode_content=True).decode(errors="replace")
    except (requests.RequestException, OSError, ValueError):
        # A broken body must not lose the status already received.
        excerpt = ""
    finally:
        response.close()
    return response.status_code, "", excerpt


def _is_permanent(status: int | None, error: str) -> bool:
    """A 4xx other than 408/429, or a redirect, will not change by retrying; a URL rule neither."""
    if status is None:
        return error.startswith(NOT_ALLOWED)
    return 300 <= status < 500 and status not in (408, 425, 429)


def delivery_attempt(*, delivery_id: int) -> AttemptOutcome | None:
    """Try one delivery once and record the attempt; None when it is not due or not ours now."""
    now = timezone.now()
    delivery = _claim(delivery_id=delivery_id, now=now)
    if delivery is None:
        return None
    subscription, event = delivery.subscription, delivery.event
    body = event_body(event)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Portal-Event": event.event_type,
        "X-Portal-Event-Id": event.public_id,
        "X-Portal-Delivery": str(delivery.pk),
        signing.SIGNATURE_HEADER: signing.sign(
            secret=subscription.secret, body=body, timestamp=timestamp
        ),
    }
    started = time.monotonic()
    status, error, excerpt = _post(url=subscription.url, body=body, headers=headers)
    duration = int((time.monotonic() - started) * 1000)
    if status is not None and not error and not 200 <= status < 300:
        error = f"The endpoint answered {status}."
    finished = timezone.now()
    Attempt.objects.create(
        delivery=delivery,
        number=delivery.attempts,
        at=finished,
        status_code=status,
        error=error[:300],
        duration_ms=duration,
        response_excerpt=excerpt[:300],
    )
    fields = {"lease_until": None, "last_status": status, "last_error": error[:300]}
    if status is not None and 200 <= status < 300:
        Delivery.objects.filter(pk=delivery.pk).update(
            state=Delivery.State.SUCCEEDED, delivered_at=finished, next_attempt_at=None, **fields
        )
        return AttemptOutcome(delivery.pk, True, None)
    if _is_permanent(status, error) or delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        Delivery.objects.filter(pk=delivery.pk).update(
            state=Delivery.State.FAILED, next_attempt_at=None, **fields
        )
        logger.warning(
            "Webhook delivery %s failed for good after %s attempts (%s)",
            delivery.pk,
            delivery.attempts,
            status or "no answer",
        )
        return AttemptOutcome(delivery.pk, False, None)
    delay = retry_delay(delivery.attempts)
    Delivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=finished + timedelta(seconds=delay), **fields
    )
    return AttemptOutcome(delivery.pk, False, delay)


def deliveries_due(*, now=None, limit: int = 200) -> list[int]:
    """Pending deliveries whose time has come and whose lease (if any) has expired."""
    now = now or timezone.now()
    return list(
        Delivery.objects.filter(state=Delivery.State.PENDING, next_attempt_at__lte=now)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


# Delivered and failed deliveries (with their attempt log) stay this long for support and replay.
DELIVERY_RETENTION = timedelta(days=90)


def webhook_history_prune(*, now=None) -> int:
    """Drop finished deliveries and events older than the retention; pending ones stay."""
    cutoff = (now or timezone.now()) - DELIVERY_RETENTION
    old = Delivery.objects.filter(created_at__lt=cutoff).exclude(state=Delivery.State.PENDING)
    deleted, _ = old.delete()
    Event.objects.filter(created_at__lt=cutoff, deliveries__isnull=True).delete()
    return deleted


@action("webhook.replay", audit_refusals=True)
@transaction.atomic
def delivery_replay(*, delivery: Delivery, acting_user=None) -> Delivery:
    """Send a delivery again from its first try (staff, or an organisation for its own)."""
    from portal.webhooks import tasks

    by = Principal.of(acting_user)
    customer = delivery.subscription.customer
    if customer is None:
        guards.require_msp(by, what="replay deliveries")
    else:
        guards.require_role(by, customer, MANAGER_ROLES, what="replay deliveries")

    now = timezone.now()
    Delivery.objects.filter(pk=delivery.pk).update(
        state=Delivery.State.PENDING,
        attempts=0,
        next_attempt_at=now,
        lease_until=None,
        updated_at=now,
    )
    record(
        by=by,
        action="webhook.replayed",
        customer=customer,
        target=delivery.subscription,
        after={"delivery": delivery.pk, "event": delivery.event.public_id},
    )
    tasks.deliver_webhook.delay_on_commit(delivery.pk)
    delivery.refresh_from_db()
    return delivery
