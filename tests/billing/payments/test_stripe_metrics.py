"""Every Stripe call is counted by operation and result, as LucidLink's are.

docs/observability.md: the counter and the PortalStripeUnavailable alert.
"""

import socket

import pytest

from billing.payments import stripe_client
from tests.observability.helpers import local

pytestmark = pytest.mark.django_db


def calls(operation: str, result: str) -> float:
    return local("portal_stripe_requests_total", operation=operation, result=result)


def test_an_answered_call_counts_as_ok_and_a_refused_one_as_rejected(localstripe):
    ok_before = calls("Customer.create", "ok")
    rejected_before = calls("PaymentIntent.retrieve", "rejected")

    stripe_client.customer_create(
        name="Acme", email="billing@acme.example", portal_customer_id=1, idempotency_key="m-1"
    )
    with pytest.raises(stripe_client.Rejected):
        stripe_client.payment_intent_get("pi_does_not_exist")

    assert calls("Customer.create", "ok") == ok_before + 1
    assert calls("PaymentIntent.retrieve", "rejected") == rejected_before + 1
    assert (
        local("portal_stripe_request_duration_seconds_count", operation="Customer.create")
        >= ok_before + 1
    )


def test_a_provider_that_cannot_be_reached_counts_as_unavailable(localstripe, settings):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{port}"
    before = calls("PaymentIntent.retrieve", "unavailable")

    with pytest.raises(stripe_client.Unavailable):
        stripe_client.payment_intent_get("pi_anything")

    assert calls("PaymentIntent.retrieve", "unavailable") == before + 1
