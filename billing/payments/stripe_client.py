"""The one module that talks to Stripe (or localstripe), through the official `stripe` library.

Answers are parsed into small dataclasses here, failures become typed errors: `Unavailable`
(network, 429, 5xx: try again later), `Declined` (the card said no), `Rejected` (any other 4xx:
retrying cannot help). The secret key is passed per client and never logged or put in an error.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal

import stripe
from django.conf import settings

from billing import rating
from portal.observability import metrics

CONNECT_TIMEOUT = 5
READ_TIMEOUT = 30


class StripeError(Exception):
    def __init__(self, message: str, *, code: str = ""):
        super().__init__(message)
        self.message = message
        self.code = code


class Unavailable(StripeError):
    """Transport failure, rate limit or a 5xx: the same request may succeed later."""


class Rejected(StripeError):
    """A 4xx other than a decline: the request itself is wrong."""


class Declined(StripeError):
    """The card was declined (or needs the customer's authentication off-session)."""

    def __init__(self, message: str, *, code: str = "", payment_intent_id: str = ""):
        super().__init__(message, code=code)
        self.payment_intent_id = payment_intent_id


@dataclass(frozen=True)
class Card:
    payment_method_id: str
    customer_id: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


@dataclass(frozen=True)
class SetupIntent:
    id: str
    client_secret: str
    status: str
    customer_id: str
    payment_method_id: str


@dataclass(frozen=True)
class PaymentIntent:
    id: str
    status: str  # succeeded, processing, requires_action, requires_payment_method, canceled...
    client_secret: str
    error_code: str
    error_message: str


@dataclass(frozen=True)
class Refund:
    id: str
    status: str


def is_configured() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


def to_minor_units(amount: Decimal, currency: str) -> int:
    """Decimal money → Stripe's integer amount in the currency's minor unit (cents).

    The amount is first rounded half-up to the minor unit by `rating.round_money` (the only place
    money is rounded), so EUR 12.345 is charged as 1235 and JPY 500 as 500.
    """
    rounded = rating.round_money(amount, currency)
    return int(rounded / rating.minor_unit(currency))


def _client() -> stripe.StripeClient:
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses={"api": settings.STRIPE_API_BASE},
        http_client=stripe.RequestsClient(timeout=(CONNECT_TIMEOUT, READ_TIMEOUT)),
        max_network_retries=0,
    )


def _translate(exc: stripe.StripeError) -> StripeError:
    message = getattr(exc, "user_message", None) or "The payment provider refused the request."
    code = getattr(exc, "code", None) or ""
    if isinstance(exc, stripe.CardError):
        intent = getattr(getattr(exc, "error", None), "payment_intent", None)
        return Declined(message, code=code, payment_intent_id=(intent or {}).get("id", "") or "")
    if isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError):
        return Unavailable("The payment provider could not be reached.", code=code)
    status = getattr(exc, "http_status", None) or 0
    if status >= 500 or status == 0:
        return Unavailable("The payment provider answered with an error.", code=code)
    return Rejected(message, code=code)


RESULTS = {Declined: "declined", Rejected: "rejected", Unavailable: "unavailable"}


def _operation(function) -> str:
    """`PaymentIntent.cancel` for `client.v1.payment_intents.cancel`: a small fixed set."""
    service = type(getattr(function, "__self__", None)).__name__.removesuffix("Service")
    return f"{service}.{function.__name__}"


def _call(function, *args, **kwargs) -> dict:
    operation, started, result = _operation(function), time.monotonic(), "ok"
    try:
        answer = function(*args, **kwargs)
    except stripe.StripeError as exc:
        error = _translate(exc)
        result = RESULTS[type(error)]
        raise error from None
    finally:
        metrics.stripe_requests.labels(operation, result).inc()
        metrics.stripe_request_duration.labels(operation).observe(time.monotonic() - started)
    return answer.to_dict()


def customer_create(*, name: str, email: str, portal_customer_id: int, idempotency_key: str) -> str:
    # Reference: https://docs.stripe.com/api/customers/create
    answer = _call(
        _client().v1.customers.create,
        params={
            "name": name,
            "email": email,
            "metadata": {"portal_customer_id": str(portal_customer_id)},
        },
        options={"idempotency_key": idempotency_key},
    )
    return answer["id"]


def setup_intent_create(*, customer_id: str) -> SetupIntent:
    # Reference: https://docs.stripe.com/api/setup_intents/create (usage off_session: the card
    # will be charged while the customer is away).
    answer = _call(
        _client().v1.setup_intents.create,
        params={"customer": customer_id, "usage": "off_session"},
    )
    return _setup_intent(answer)


def setup_intent_get(setup_intent_id: str) -> SetupIntent:
    return _setup_intent(_call(_client().v1.setup_intents.retrieve, setup_intent_id))


def _setup_intent(answer) -> SetupIntent:
    payment_method = answer.get("payment_method") or ""
    if not isinstance(payment_method, str):
        payment_method = payment_method.get("id", "")
    return SetupIntent(
        id=answer["id"],
        client_secret=answer.get("client_secret") or "",
        status=answer.get("status") or "",
        customer_id=answer.get("customer") or "",
        payment_method_id=payment_method,
    )


def setup_intent_confirm_test_card(setup_intent_id: str) -> SetupIntent:
    """Confirm a SetupIntent with Stripe's test card `pm_card_visa` (demo data only).

    Works in Stripe's test mode and with localstripe; refused with a live key, so demo data can
    never put a fake card on a real account.
    """
    if not settings.STRIPE_SECRET_KEY.startswith("sk_test_"):
        raise Rejected("Test cards are only for test-mode keys.")
    answer = _call(
        _client().v1.setup_intents.confirm,
        setup_intent_id,
        params={"payment_method": "pm_card_visa"},
    )
    return _setup_intent(answer)


def card_make_default(*, customer_id: str, payment_method_id: str) -> Card:
    """Attach the confirmed card to the customer (a no-op when Stripe already did) and make it
    the default for invoices; return its brand, last four and expiry."""
    client = _client()
    method = _call(client.v1.payment_methods.retrieve, payment_method_id)
    if method.get("customer") not in (None, customer_id):
        raise Rejected("This card belongs to another customer.")
    if method.get("customer") is None:
        method = _call(
            client.v1.payment_methods.attach, payment_method_id, params={"customer": customer_id}
        )
    _call(
        client.v1.customers.update,
        customer_id,
        params={"invoice_settings": {"default_payment_method": payment_method_id}},
    )
    card = method.get("card") or {}
    return Card(
        payment_method_id=payment_method_id,
        customer_id=customer_id,
        brand=str(card.get("brand") or "card"),
        last4=str(card.get("last4") or "")[-4:],
        exp_month=int(card.get("exp_month") or 0),
        exp_year=int(card.get("exp_year") or 0),
    )


def charge_off_session(
    *,
    customer_id: str,
    payment_method_id: str,
    amount: Decimal,
    currency: str,
    idempotency_key: str,
    metadata: dict[str, str],
) -> PaymentIntent:
    """Create and confirm a PaymentIntent while the customer is away.

    Reference: https://docs.stripe.com/payments/save-and-reuse ("Charge the saved payment method
    later"). A decline raises `Declined`; a card that needs 3-D Secure comes back either as a
    decline with code `authentication_required` (Stripe) or as `requires_action` (localstripe).
    """
    answer = _call(
        _client().v1.payment_intents.create,
        params={
            "amount": to_minor_units(amount, currency),
            "currency": currency.lower(),
            "customer": customer_id,
            "payment_method": payment_method_id,
            "off_session": True,
            "confirm": True,
            "metadata": metadata,
        },
        options={"idempotency_key": idempotency_key},
    )
    return _payment_intent(answer)


def payment_intent_cancel(payment_intent_id: str) -> PaymentIntent:
    """Cancel a PaymentIntent that has not succeeded, so nobody can complete it any more.

    Reference: https://docs.stripe.com/api/payment_intents/cancel (allowed while it requires a
    payment method, confirmation, action or capture; any other status is a 400: `Rejected`).
    """
    return _payment_intent(_call(_client().v1.payment_intents.cancel, payment_intent_id))


def payment_intent_get(payment_intent_id: str) -> PaymentIntent:
    return _payment_intent(_call(_client().v1.payment_intents.retrieve, payment_intent_id))


def _payment_intent(answer) -> PaymentIntent:
    error = answer.get("last_payment_error") or {}
    return PaymentIntent(
        id=answer["id"],
        status=answer.get("status") or "",
        client_secret=answer.get("client_secret") or "",
        error_code=str(error.get("code") or ""),
        error_message=str(error.get("message") or ""),
    )


def refund_create(
    *, payment_intent_id: str, amount: Decimal, currency: str, idempotency_key: str
) -> Refund:
    # Reference: https://docs.stripe.com/api/refunds/create
    answer = _call(
        _client().v1.refunds.create,
        params={"payment_intent": payment_intent_id, "amount": to_minor_units(amount, currency)},
        options={"idempotency_key": idempotency_key},
    )
    return Refund(id=answer["id"], status=answer.get("status") or "")


def event_from_webhook(payload: bytes, signature: str) -> dict:
    """Verify Stripe's signature on a webhook body and return the event; raise ValueError if not.

    Reference: https://docs.stripe.com/webhooks#verify-events (`Stripe-Signature`, HMAC-SHA256
    over `timestamp.payload`, five minutes of tolerance).
    """
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise ValueError("No webhook secret is configured.")
    try:
        event = stripe.Webhook.construct_event(payload, signature, secret)
    except (stripe.SignatureVerificationError, ValueError) as exc:
        raise ValueError("The Stripe signature does not verify.") from exc
    return event.to_dict()
