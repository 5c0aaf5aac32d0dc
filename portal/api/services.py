"""Writes that exist only for the API: customer creation by the MSP and idempotent replies."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from portal.api.models import IdempotentResponse
from portal.audit.services import audit_record
from portal.customers.models import Customer
from portal.customers.services import customer_insert


@transaction.atomic
def customer_create_for_msp(
    *, name: str, billing_email: str, country: str, acting_user
) -> Customer:
    """MSP: create an organisation with no members yet (its owner is invited afterwards).

    The name prefix comes from the same derivation the sign-up flow uses.
    """
    customer = customer_insert(
        name=name, billing_email=billing_email, country=country, created_by=acting_user
    )
    audit_record(
        actor=acting_user,
        action="customer.created",
        customer=customer,
        target=customer,
        after={"name": customer.name, "name_prefix": customer.name_prefix},
        note="Created through the API.",
    )
    return customer


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
