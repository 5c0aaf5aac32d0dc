"""Reads of orders, scoped to the customer (the staff approval queue is in portal.staff)."""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from portal.customers.models import Customer
from portal.orders.models import Order


def orders_for(*, customer: Customer) -> QuerySet[Order]:
    return Order.objects.filter(customer=customer).select_related("plan", "filespace")


def orders_listed_for(*, customer: Customer) -> QuerySet[Order]:
    """As orders_for, for the orders list: only the columns it shows, newest first.

    The list shows no filespace and no key, so it joins no filespace and decrypts nothing;
    with the plan's name only, no plan's JSON terms are decoded per row.
    """
    return (
        Order.objects.filter(customer=customer)
        .select_related("plan")
        .only("remote_name", "placed_at", "state", "plan__name")
        .order_by("-placed_at", "-id")
    )


def orders_without_filespace_for(*, customer: Customer) -> QuerySet[Order]:
    """Orders not (yet) backed by a filespace: awaiting approval, rejected, cancelled."""
    return orders_for(customer=customer).filter(filespace__isnull=True)


def order_get(*, customer: Customer, pk: int) -> Order:
    """The customer's order with this id; 404 for any other customer's."""
    return get_object_or_404(orders_for(customer=customer), pk=pk)
