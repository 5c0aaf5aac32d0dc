"""Reads of orders, scoped to the customer (the staff approval queue is in portal.staff)."""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from portal.customers.models import Customer
from portal.orders.models import Order


def orders_for(*, customer: Customer) -> QuerySet[Order]:
    return Order.objects.filter(customer=customer).select_related("plan", "filespace")


def orders_without_filespace_for(*, customer: Customer) -> QuerySet[Order]:
    """Orders not (yet) backed by a filespace: awaiting approval, rejected, cancelled."""
    return orders_for(customer=customer).filter(filespace__isnull=True)


def order_get(*, customer: Customer, pk: int) -> Order:
    """The customer's order with this id; 404 for any other customer's."""
    return get_object_or_404(orders_for(customer=customer), pk=pk)
