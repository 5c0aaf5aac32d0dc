"""Reads of orders, scoped to the customer (or, for staff, to the approval queue)."""

from django.db.models import QuerySet

from portal.customers.models import Customer
from portal.orders.models import Order


def orders_for(*, customer: Customer) -> QuerySet[Order]:
    return Order.objects.filter(customer=customer).select_related("plan", "filespace")


def order_get_for(*, customer: Customer, pk: int) -> Order | None:
    return orders_for(customer=customer).filter(pk=pk).first()


def orders_awaiting_approval() -> QuerySet[Order]:
    return (
        Order.objects.filter(state=Order.State.AWAITING_APPROVAL)
        .select_related("customer", "plan", "placed_by")
        .order_by("placed_at")
    )
