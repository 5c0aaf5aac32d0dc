"""Small builders shared by the API tests."""

from datetime import date
from decimal import Decimal


def make_invoice(customer, *, finalize: bool = True, period: date = date(2026, 5, 1)):
    from billing.models import Invoice
    from billing.services.invoices import invoice_add_adjustment, invoice_finalize

    invoice = Invoice.objects.create(customer=customer, period_start=period, currency="USD")
    invoice_add_adjustment(
        invoice_id=invoice.pk, description="Setup", amount=Decimal("10.00"), reason="Test line"
    )
    if finalize:
        invoice = invoice_finalize(invoice_id=invoice.pk)
    return invoice
