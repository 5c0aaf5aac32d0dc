"""Reads of webhook subscriptions and deliveries, scoped to the customer (or, for staff, MSP)."""

from django.db.models import QuerySet
from django.http import Http404

from portal.customers.models import Customer
from portal.webhooks.models import Delivery, Subscription


def subscriptions_for(*, customer: Customer) -> QuerySet[Subscription]:
    return Subscription.objects.filter(customer=customer)


def subscription_get_for(*, customer: Customer, pk: int) -> Subscription:
    found = subscriptions_for(customer=customer).filter(pk=pk).first()
    if found is None:
        raise Http404("No such subscription")
    return found


def deliveries_for(*, customer: Customer, limit: int = 50) -> list[Delivery]:
    return list(
        Delivery.objects.filter(subscription__customer=customer)
        .select_related("event", "subscription")
        .order_by("-created_at", "-id")[:limit]
    )


def msp_subscriptions() -> QuerySet[Subscription]:
    """Staff only: subscriptions that hear every customer's events."""
    return Subscription.objects.filter(customer__isnull=True)


def msp_subscription_get(*, pk: int) -> Subscription:
    found = msp_subscriptions().filter(pk=pk).first()
    if found is None:
        raise Http404("No such subscription")
    return found


def deliveries_recent(*, state: str = "", limit: int = 100) -> list[Delivery]:
    """Staff only: every delivery of every subscription, newest first."""
    deliveries = Delivery.objects.select_related("event", "subscription", "subscription__customer")
    if state:
        deliveries = deliveries.filter(state=state)
    return list(deliveries.prefetch_related("attempts_log").order_by("-created_at", "-id")[:limit])


def delivery_get(*, pk: int) -> Delivery:
    found = Delivery.objects.filter(pk=pk).first()
    if found is None:
        raise Http404("No such delivery")
    return found
