"""Writes that exist only for the API: customer creation by the MSP and idempotent replies."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from portal.api.models import IdempotentResponse
from portal.customers.models import Customer
from portal.customers.services import customer_create_for_msp  # noqa: F401 - older imports


def request_hash(data: dict) -> str:
    """A fingerprint of a request body, to tell a retry from a different request with one key."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotent_response_find(
    *, customer: Customer, endpoint: str, key: str
) -> IdempotentResponse | None:
    return IdempotentResponse.objects.filter(customer=customer, endpoint=endpoint, key=key).first()


def idempotent_response_store(
    *, customer: Customer, endpoint: str, key: str, fingerprint: str, status_code: int, body
) -> IdempotentResponse:
    """Keep the first answer; when a concurrent retry stored one first, return that one."""
    try:
        with transaction.atomic():
            return IdempotentResponse.objects.create(
                customer=customer,
                endpoint=endpoint,
                key=key,
                request_hash=fingerprint,
                status_code=status_code,
                body=json.dumps(body, default=str),
            )
    except IntegrityError:
        return IdempotentResponse.objects.get(customer=customer, endpoint=endpoint, key=key)


# Clients retry within minutes; after this the order's own idempotency key still prevents a
# second order, the retry just gets the order as it is now instead of the first answer.
IDEMPOTENT_RESPONSE_RETENTION = timedelta(days=7)


def idempotent_responses_prune(*, now=None) -> int:
    """Forget stored first answers older than the retention; return how many went."""
    cutoff = (now or timezone.now()) - IDEMPOTENT_RESPONSE_RETENTION
    deleted, _ = IdempotentResponse.objects.filter(created_at__lt=cutoff).delete()
    return deleted
