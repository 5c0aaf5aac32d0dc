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

from portal.audit.services import audit_record
from portal.customers.lifecycle import customer_ensure_manageable
from portal.customers.models import Customer
from portal.webhooks import signing, transport
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


@transaction.atomic
def subscription_create(
    *,
    url: str,
    event_types: list[str],
    created_by,
    customer: Customer | None = None,
    description: str = "",
) -> tuple[Subscription, str]:
    """Create a subscription; return it and its signing secret, which is shown only once."""
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
        created_by=created_by,
    )
    audit_record(
        actor=created_by,
        action="webhook.subscribed",
        customer=customer,
        target=subscription,
        after={"url": subscription.url, "event_types": subscription.event_types},
    )
    return subscription, secret


@transaction.atomic
def subscription_delete(*, subscription: Subscription, acting_user=None) -> None:
    audit_record(
        actor=acting_user,
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

    The dedupe key names the fact (``order.placed:42``), so a retried task or a repeated signal
    that emits it again changes nothing and returns None.
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


def emit_on_commit(*, event_type: str, dedupe_key: str, build) -> None:
    """After the current transaction commits, build the payload from fresh rows and emit it.

    `build()` returns ``(customer, data)`` or None when the object is gone. Building after commit
    means the payload shows the state the transaction wrote, whatever order it wrote rows in.
    """

    def emit() -> None:
        built = build()
        if built is None:
            return
        customer, data = built
        webhook_emit(event_type=event_type, customer=customer, dedupe_key=dedupe_key, data=data)

    # Robust: a failure here is logged by Django and never turns the caller's committed work
    # (a provisioning task, a page) into an error after the fact.
    transaction.on_commit(emit, robust=True)


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


@transaction.atomic
def delivery_replay(*, delivery: Delivery, acting_user=None) -> Delivery:
    """Send a delivery again from its first try (staff, or an organisation for its own)."""
    from portal.webhooks import tasks

    now = timezone.now()
    Delivery.objects.filter(pk=delivery.pk).update(
        state=Delivery.State.PENDING,
        attempts=0,
        next_attempt_at=now,
        lease_until=None,
        updated_at=now,
    )
    logger.info(
        "Webhook delivery %s replayed by user %s", delivery.pk, getattr(acting_user, "pk", None)
    )
    tasks.deliver_webhook.delay_on_commit(delivery.pk)
    delivery.refresh_from_db()
    return delivery
