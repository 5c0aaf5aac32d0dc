"""Event payloads: the same representation the REST API returns for the object."""

from __future__ import annotations


def order_payload(order_id: int):
    from portal.api.serializers import OrderSerializer
    from portal.orders.models import Order

    order = Order.objects.select_related("customer", "plan").filter(pk=order_id).first()
    if order is None:
        return None
    return order.customer, {"order": OrderSerializer(order).data}


def filespace_payload(filespace_id: int, event_id: int | None = None):
    from portal.api.serializers import FilespaceSerializer, ProvisioningEventSerializer
    from provisioning.models import Filespace, ProvisioningEvent

    filespace = Filespace.objects.select_related("customer").filter(pk=filespace_id).first()
    if filespace is None:
        return None
    data = {"filespace": FilespaceSerializer(filespace).data}
    if event_id is not None:
        event = ProvisioningEvent.objects.filter(pk=event_id).first()
        if event is not None:
            data["timeline_event"] = ProvisioningEventSerializer(event).data
    return filespace.customer, data


def invoice_payload(invoice_id: int):
    from billing.models import Invoice
    from portal.api.serializers import InvoiceSerializer

    invoice = Invoice.objects.select_related("customer").filter(pk=invoice_id).first()
    if invoice is None:
        return None
    return invoice.customer, {"invoice": InvoiceSerializer(invoice).data}


def customer_suspended_payload(customer_id: int, suspended_at):
    """The customer as it was suspended (a resume committed since does not change the fact)."""
    from portal.api.serializers import CustomerSerializer
    from portal.customers.models import Customer

    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None:
        return None
    data = dict(CustomerSerializer(customer).data)
    data["status"] = Customer.Status.SUSPENDED.value
    return customer, {"customer": data, "suspended_at": suspended_at}
