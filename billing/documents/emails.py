"""The email that sends a finalized invoice or credit note to the customer, PDF attached.

Queued (task `send_invoice_email`) after the finalization commits, so a rolled-back
finalization mails nobody. Each document is mailed once: the task claims it by setting
`InvoiceDocument.emailed_at` with a conditional UPDATE, and gives the claim back when the mail
server refuses, so the retry can send it. A worker that dies between the claim and the send
loses that one email (the document stays downloadable); it is never sent twice.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone

from billing.documents import pdf
from billing.models import Invoice
from billing.tax.models import InvoiceDocument

logger = logging.getLogger(__name__)


class MailUnavailable(RuntimeError):
    """The mail server did not take the message; a retry may."""


def send_on_commit(*, invoice_id: int) -> None:
    from billing import tasks

    tasks.send_invoice_email.delay_on_commit(invoice_id)


def send(*, invoice_id: int) -> bool:
    """Mail a finalized document to the customer's billing address; False when nothing to do."""
    invoice = (
        Invoice.objects.select_related("customer", "credits")
        .filter(pk=invoice_id, status=Invoice.Status.FINALIZED)
        .first()
    )
    if invoice is None or not invoice.customer.billing_email:
        return False
    claimed_at = timezone.now()
    claimed = InvoiceDocument.objects.filter(invoice=invoice, emailed_at__isnull=True).update(
        emailed_at=claimed_at
    )
    if claimed != 1:
        return False  # already sent, or claimed by another delivery of this task
    try:
        _message(invoice).send()
    except Exception as exc:
        # Any SMTP or connection failure: give the claim back so the retry sends it.
        InvoiceDocument.objects.filter(invoice=invoice, emailed_at=claimed_at).update(
            emailed_at=None
        )
        logger.warning("Invoice %s not mailed yet: %s", invoice_id, type(exc).__name__)
        raise MailUnavailable(str(exc)) from None
    return True


def _message(invoice: Invoice) -> EmailMultiAlternatives:
    context = {
        "invoice": invoice,
        "customer": invoice.customer,
        "MSP_NAME": settings.MSP_NAME,
        "SUPPORT_EMAIL": settings.SUPPORT_EMAIL,
        "PORTAL_BASE_URL": settings.PORTAL_BASE_URL.rstrip("/"),
    }
    subject = " ".join(render_to_string("billing/email/invoice_subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("billing/email/invoice.txt", context),
        to=[invoice.customer.billing_email],
    )
    message.attach(pdf.filename_for(invoice), pdf.invoice_pdf(invoice), "application/pdf")
    return message
