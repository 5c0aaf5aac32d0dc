"""Writing outbox rows from inside an action's transaction."""

from __future__ import annotations

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, transaction

from portal.actions.models import OutboxEvent

RELAY_TASK = "portal.webhooks.tasks.relay_outbox"


def outbox_add(
    *,
    event_type: str,
    customer,
    subject_type: str,
    subject_id: int,
    dedupe_key: str,
    facts: dict | None = None,
) -> OutboxEvent | None:
    """Record an event in the current transaction; None when the same fact is already recorded.

    Must run inside the action's transaction: an outbox row written after the commit could be
    lost by a crash in between, which is the bug the outbox exists to prevent. After the commit
    the relay task is asked to deliver at once; beat's sweep finds the row if that message is lost.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("outbox_add must be called inside the action's transaction")
    facts = json.loads(json.dumps(facts or {}, cls=DjangoJSONEncoder))
    try:
        with transaction.atomic():
            event = OutboxEvent.objects.create(
                event_type=event_type,
                customer=customer,
                subject_type=subject_type,
                subject_id=subject_id,
                facts=facts,
                dedupe_key=dedupe_key,
            )
    except IntegrityError:
        return None
    transaction.on_commit(_enqueue_relay, robust=True)
    return event


def outbox_add_many(rows: list[dict]) -> None:
    """Record many events in the current transaction with one INSERT and one relay message.

    Each row holds outbox_add's fields (customer as `customer_id`); a row whose dedupe key is
    already recorded is skipped, as outbox_add skips it.
    """
    if not rows:
        return
    if not connection.in_atomic_block:
        raise RuntimeError("outbox_add_many must be called inside the action's transaction")
    OutboxEvent.objects.bulk_create(
        [
            OutboxEvent(
                **{
                    **row,
                    "facts": json.loads(json.dumps(row.get("facts") or {}, cls=DjangoJSONEncoder)),
                }
            )
            for row in rows
        ],
        ignore_conflicts=True,
    )
    transaction.on_commit(_enqueue_relay, robust=True)


def _enqueue_relay() -> None:
    # Sent by name: the relay lives in the webhooks layer, above every action that writes here.
    from celery import current_app

    current_app.send_task(RELAY_TASK)
