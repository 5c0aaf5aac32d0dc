from dataclasses import dataclass, field
from decimal import Decimal

from django import template

from billing.models import Invoice, InvoiceLine
from billing.tax import selectors, services
from billing.tax.models import InvoiceDocument

register = template.Library()


@dataclass
class InvoiceParts:
    """An invoice as a document shows it: its lines, the subtotal, the tax lines, the parties."""

    items: list[InvoiceLine]
    taxes: list[InvoiceLine]
    subtotal: Decimal
    seller: dict = field(default_factory=dict)
    buyer: dict = field(default_factory=dict)
    tax_note: str = ""


@register.simple_tag
def invoice_parts(invoice: Invoice, lines: list[InvoiceLine]) -> InvoiceParts:
    """Split the lines and find the parties: frozen ones once computed, live ones before."""
    items = [line for line in lines if line.kind != InvoiceLine.Kind.TAX]
    taxes = [line for line in lines if line.kind == InvoiceLine.Kind.TAX]
    subtotal = sum((line.amount for line in items), Decimal(0))
    document = InvoiceDocument.objects.filter(invoice=invoice).first()
    if document is not None:
        return InvoiceParts(
            items, taxes, subtotal, document.seller, document.buyer, document.tax_note
        )
    profile = selectors.profile_for(customer=invoice.customer)
    buyer = services.buyer_facts(invoice.customer, profile)
    return InvoiceParts(items, taxes, subtotal, services.seller_facts(), buyer)
