"""What an API key can see. Customer keys go through the customer-scoped selectors of each app;
MSP keys read across customers, which only staff may do and which is spelled out here."""

from __future__ import annotations

from django.db.models import QuerySet

from billing.models import DailyUsage, Invoice, UsageSample
from billing.selectors import invoices_for
from portal.apikeys.models import ApiKey
from portal.audit import selectors as audit_selectors
from portal.audit.models import AuditEntry
from portal.customers.models import Customer
from portal.orders import selectors as order_selectors
from portal.orders.models import Order
from portal.plans import selectors as plan_selectors
from portal.plans.models import Plan
from provisioning import selectors as provisioning_selectors
from provisioning.models import Filespace


def plans_visible(*, key: ApiKey) -> QuerySet[Plan]:
    """Customers see the plans on offer; the MSP also sees withdrawn ones."""
    if key.is_msp:
        return Plan.objects.all()
    return plan_selectors.plans_available()


def customers_visible(*, key: ApiKey) -> QuerySet[Customer]:
    if key.is_msp:
        return Customer.objects.all()
    return Customer.objects.filter(pk=key.customer_id)


def orders_visible(*, key: ApiKey) -> QuerySet[Order]:
    if key.is_msp:
        return Order.objects.select_related("plan", "filespace")
    return order_selectors.orders_for(customer=key.customer)


def filespaces_visible(*, key: ApiKey) -> QuerySet[Filespace]:
    """Deleted filespaces included: a poll after a delete must find the row in `deleted`."""
    if key.is_msp:
        return Filespace.objects.select_related("plan", "order")
    return provisioning_selectors.filespaces_for(customer=key.customer, include_deleted=True)


def samples_for(*, filespace: Filespace) -> QuerySet[UsageSample]:
    return UsageSample.objects.filter(filespace=filespace, customer_id=filespace.customer_id)


def daily_usage_for(*, filespace: Filespace) -> QuerySet[DailyUsage]:
    return DailyUsage.objects.filter(filespace=filespace, customer_id=filespace.customer_id)


def invoices_visible(*, key: ApiKey) -> QuerySet[Invoice]:
    """Customers see finalized documents only (drafts are under staff review); the MSP all."""
    if key.is_msp:
        return Invoice.objects.all()
    return invoices_for(customer=key.customer)


def audit_visible(*, key: ApiKey) -> QuerySet[AuditEntry]:
    if key.is_msp:
        return audit_selectors.audit_entries_recent()
    return audit_selectors.audit_entries_for(customer=key.customer)
