"""Reads of orders, scoped to the customer (the staff approval queue is in portal.staff)."""

from django.db.models import QuerySet

from portal.customers.models import Customer
from portal.orders.models import Order


def orders_for(*, customer: Customer) -> QuerySet[Order]:
    return Order.objects.filter(customer=customer).select_related("plan", "filespace")
