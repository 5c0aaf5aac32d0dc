"""PDF invoices: a real PDF with the right figures, only for its customer and staff; mailed once."""

import io
import smtplib
from datetime import date
from decimal import Decimal
from unittest import mock

import pytest
import time_machine
from allauth.mfa.totp.internal.auth import TOTP
from django.core import mail
from django.urls import reverse
from pypdf import PdfReader

from billing import services, tasks
from billing.documents import emails
from billing.models import Invoice
from billing.tax.models import InvoiceDocument, TaxRate
from billing.tax.services import billing_profile_update
from portal.actions import Principal
from tests.billing.conftest import write_samples

pytestmark = pytest.mark.django_db

TB = 10**12
NOW = "2026-07-02T09:00:00Z"


def pdf_text(content: bytes) -> str:
    assert content.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages)


@pytest.fixture
def staff(user_factory):
    user = user_factory("staff@example.com", is_staff=True)
    TOTP.activate(user, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    return user


@pytest.fixture
def june_invoice(live_filespace):
    """A June 2026 invoice of 1 TB at 0.02 USD: 20.00, with German VAT at 19 %: 23.80."""
    TaxRate.objects.get_or_create(
        country="DE", valid_from=date(2020, 1, 1), defaults={"percent": Decimal("19")}
    )

    def make(customer, *, finalize: bool = True, **profile) -> Invoice:
        fs = live_filespace(ready="2026-01-01T00:00", customer=customer)
        write_samples(fs, "2026-06-01T00:00", "2026-07-01T00:00", TB)
        billing_profile_update(
            customer=customer, by=Principal.system(), address_line1="Torstrasse 1",
            city="Berlin", postal_code="10119", **{"legal_name": "Acme Media GmbH",
                                                     "country": "DE", **profile},
        )  # fmt: skip
        services.invoice_run(year=2026, month=6)
        draft = Invoice.objects.get(customer=customer, kind=Invoice.Kind.INVOICE)
        return services.invoice_finalize(invoice_id=draft.pk) if finalize else draft

    return make


@time_machine.travel(NOW, tick=False)
def test_a_customer_downloads_their_invoice_as_a_pdf_with_its_total_and_tax(
    client, member_factory, june_invoice, settings
):
    settings.MSP_LEGAL_NAME = "Example MSP GmbH"
    settings.MSP_TAX_NUMBER = "DE136695976"
    billing = member_factory(role="billing")
    invoice = june_invoice(billing.customer)
    client.force_login(billing.user)

    response = client.get(reverse("billing:invoice_pdf", args=[invoice.pk]))

    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert f'filename="{invoice.number}.pdf"' in response["Content-Disposition"]
    text = pdf_text(response.content)
    assert f"Invoice {invoice.number}" in text
    assert "Subtotal USD 20.00" in text
    assert "VAT 19 % on USD 20.00 USD 3.80" in text
    assert "Total USD 23.80" in text
    assert "Acme Media GmbH" in text and "10119 Berlin" in text
    assert "Example MSP GmbH" in text and "DE136695976" in text
    assert "How this was calculated" not in text


@time_machine.travel(NOW, tick=False)
def test_a_reverse_charged_invoice_pdf_says_so(client, member_factory, june_invoice):
    TaxRate.objects.create(country="FR", percent=Decimal("20"), valid_from=date(2020, 1, 1))
    owner = member_factory(role="owner")
    invoice = june_invoice(owner.customer, country="FR", tax_number="FR40303265045")
    client.force_login(owner.user)

    text = pdf_text(client.get(reverse("billing:invoice_pdf", args=[invoice.pk])).content)

    assert "VAT 0 % (reverse charge)" in text and "Total USD 20.00" in text
    assert "Reverse charge: VAT to be accounted for by the recipient" in " ".join(text.split())
    assert "FR40303265045" in text


@time_machine.travel(NOW, tick=False)
def test_another_customers_invoice_and_a_draft_cannot_be_downloaded(
    client, member_factory, june_invoice, customer_factory
):
    owner = member_factory(role="owner")
    theirs = june_invoice(customer_factory())
    draft = june_invoice(owner.customer, finalize=False)
    client.force_login(owner.user)

    assert client.get(reverse("billing:invoice_pdf", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("billing:invoice_pdf", args=[draft.pk])).status_code == 404
    # Staff pages are for staff only.
    assert client.get(reverse("billing:staff_invoice_pdf", args=[theirs.pk])).status_code == 403


@time_machine.travel(NOW, tick=False)
def test_a_plain_member_cannot_download_invoices(client, member_factory, june_invoice):
    member = member_factory(role="member")
    invoice = june_invoice(member.customer)
    client.force_login(member.user)

    response = client.get(reverse("billing:invoice_pdf", args=[invoice.pk]))

    assert response.status_code == 302 and response["Location"] == reverse("dashboard")


@time_machine.travel(NOW, tick=False)
def test_staff_download_any_invoice_and_drafts_marked_as_such(
    client, staff, june_invoice, customer_factory
):
    draft = june_invoice(customer_factory(), finalize=False)
    client.force_login(staff)

    response = client.get(reverse("billing:staff_invoice_pdf", args=[draft.pk]))

    text = pdf_text(response.content)
    assert "DRAFT: not an invoice until finalized." in text and "Total USD 23.80" in text
    assert f'filename="draft-{draft.pk}.pdf"' in response["Content-Disposition"]


@time_machine.travel(NOW, tick=False)
def test_finalizing_mails_the_pdf_once_after_the_commit(
    customer_factory, june_invoice, django_capture_on_commit_callbacks
):
    customer = customer_factory(billing_email="accounts@acme.example")
    draft = june_invoice(customer, finalize=False)
    with mock.patch.object(tasks.send_invoice_email, "delay") as delay:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            invoice = services.invoice_finalize(invoice_id=draft.pk)
        assert not delay.called  # nothing is queued before the finalization commits
        for callback in callbacks:
            callback()
    delay.assert_called_once_with(invoice.pk)

    assert tasks.send_invoice_email(invoice.pk) is True
    assert tasks.send_invoice_email(invoice.pk) is False  # a second delivery sends nothing

    (message,) = mail.outbox
    assert message.to == ["accounts@acme.example"]
    assert invoice.number in message.subject and "USD 23.80" in message.body
    ((name, content, mimetype),) = message.attachments
    assert (name, mimetype) == (f"{invoice.number}.pdf", "application/pdf")
    assert "Total USD 23.80" in pdf_text(content)


@time_machine.travel(NOW, tick=False)
def test_a_mail_server_failure_gives_the_claim_back_for_the_retry(customer_factory, june_invoice):
    invoice = june_invoice(customer_factory())
    failure = smtplib.SMTPServerDisconnected("connection lost")

    with (
        mock.patch("django.core.mail.EmailMultiAlternatives.send", side_effect=failure),
        mock.patch.object(tasks.send_invoice_email, "retry", side_effect=RuntimeError) as retry,
        pytest.raises(RuntimeError),
    ):
        tasks.send_invoice_email(invoice.pk)
    assert retry.call_args.kwargs["countdown"] >= 15
    assert InvoiceDocument.objects.get(invoice=invoice).emailed_at is None
    assert mail.outbox == []

    assert emails.send(invoice_id=invoice.pk) is True
    assert len(mail.outbox) == 1


@time_machine.travel(NOW, tick=False)
def test_a_credit_note_is_mailed_with_its_own_pdf(customer_factory, june_invoice):
    invoice = june_invoice(customer_factory())
    note = services.invoice_credit(invoice_id=invoice.pk, amount="10.00", reason="Outage")

    assert emails.send(invoice_id=note.pk) is True

    text = pdf_text(mail.outbox[0].attachments[0][1])
    assert f"Credit note {note.number}" in text and invoice.number in text
    assert "Total USD -11.90" in text
