"""Tax on invoices and credit notes: which rate, reverse charge, frozen at finalization."""

from datetime import date
from decimal import Decimal

import pytest

from billing import services
from billing.models import Invoice, InvoiceLine
from billing.services import invoices as invoices_module
from billing.tax import rules
from billing.tax import services as tax_services
from billing.tax.models import BillingProfile, InvoiceDocument, TaxRate
from billing.tax.services import billing_profile_update, tax_rate_save
from portal.actions import Principal
from tests.billing.conftest import write_samples

pytestmark = pytest.mark.django_db

TB = 10**12


@pytest.fixture
def msp(user_factory):
    return Principal.for_user(user_factory("tax@msp.example", is_staff=True, mfa=True))


@pytest.fixture
def june_customer(live_filespace, customer_factory):
    """A customer with 1 TB all of June 2026 at 0.02 USD per GB-month: 20.00 USD before tax."""

    def make(country: str = "DE", **profile):
        customer = customer_factory(country=country)
        fs = live_filespace(ready="2026-01-01T00:00", customer=customer)
        write_samples(fs, "2026-06-01T00:00", "2026-07-01T00:00", TB)
        if profile:
            billing_profile_update(
                customer=customer,
                by=Principal.system(),
                **{"legal_name": "Acme SARL", "address_line1": "1 rue de Rivoli", "city": "Paris",
                   "country": country, **profile},
            )  # fmt: skip
        return customer

    return make


def rate(country: str, percent: str, valid_from: str = "2020-01-01", name: str = "VAT"):
    return TaxRate.objects.create(
        country=country,
        name=name,
        percent=Decimal(percent),
        valid_from=date.fromisoformat(valid_from),
    )


def june_invoice(customer) -> Invoice:
    services.invoice_run(year=2026, month=6)
    return Invoice.objects.get(customer=customer, kind=Invoice.Kind.INVOICE)


def tax_lines(invoice) -> list[tuple]:
    return list(
        invoice.lines.filter(kind=InvoiceLine.Kind.TAX).values_list(
            "description", "tax_percent", "tax_base", "amount"
        )
    )


def test_a_customer_in_a_country_with_a_rate_gets_one_tax_line_on_the_subtotal(june_customer):
    rate("DE", "19")
    invoice = june_invoice(june_customer("DE"))

    assert tax_lines(invoice) == [
        ("VAT 19 %", Decimal("19.000"), Decimal("20.000"), Decimal("3.800"))
    ]
    assert invoice.total == Decimal("23.80")
    assert InvoiceDocument.objects.get(invoice=invoice).treatment == rules.Treatment.STANDARD


def test_a_customer_in_a_country_without_a_rate_gets_no_tax_line(june_customer):
    rate("DE", "19")
    invoice = june_invoice(june_customer("GB"))

    assert tax_lines(invoice) == [] and invoice.total == Decimal("20.00")
    assert InvoiceDocument.objects.get(invoice=invoice).treatment == rules.Treatment.NONE


@pytest.mark.parametrize(
    ("second_from", "expected"),
    [("2026-06-30", Decimal("21.000")), ("2026-07-01", Decimal("19.000"))],
    ids=["from-the-last-day", "from-the-next-month"],
)
def test_the_rate_in_force_on_the_last_day_of_the_month_applies(
    june_customer, second_from, expected
):
    rate("DE", "19")
    rate("DE", "21", second_from)

    (line,) = tax_lines(june_invoice(june_customer("DE")))

    assert line[1] == expected


def test_eu_cross_border_b2b_with_a_valid_vat_number_is_reverse_charged(june_customer):
    rate("FR", "20")
    invoice = june_invoice(june_customer("FR", tax_number="FR40303265045"))
    document = InvoiceDocument.objects.get(invoice=invoice)

    assert tax_lines(invoice) == [
        ("VAT 0 % (reverse charge)", Decimal("0.000"), Decimal("20.000"), Decimal("0.000"))
    ]
    assert invoice.total == Decimal("20.00")
    assert document.treatment == rules.Treatment.REVERSE_CHARGE
    assert "Article 196" in document.tax_note
    assert document.buyer["tax_number"] == "FR40303265045"
    assert document.seller["country"] == "DE"


def test_an_eu_consumer_without_a_vat_number_pays_their_countrys_rate(june_customer):
    rate("FR", "20")
    invoice = june_invoice(june_customer("FR", tax_number=""))

    assert tax_lines(invoice)[0][3] == Decimal("4.000") and invoice.total == Decimal("24.00")


def test_a_domestic_business_with_a_vat_number_pays_vat(june_customer, settings):
    settings.MSP_COUNTRY = "FR"
    rate("FR", "20")
    invoice = june_invoice(june_customer("FR", tax_number="FR40303265045"))

    assert tax_lines(invoice)[0][0] == "VAT 20 %" and invoice.total == Decimal("24.00")


def test_a_finalized_invoice_keeps_its_rate_and_parties_whatever_changes_later(
    june_customer, msp, settings
):
    rate("DE", "19")
    customer = june_customer("DE", tax_number="DE136695976")
    invoice = services.invoice_finalize(invoice_id=june_invoice(customer).pk)
    frozen = (tax_lines(invoice), invoice.total, InvoiceDocument.objects.get(invoice=invoice).buyer)

    tax_rate_save(by=msp, country="DE", name="VAT", percent="25", valid_from=date(2026, 6, 1))
    billing_profile_update(
        customer=customer, by=Principal.system(), legal_name="Renamed AG",
        address_line1="Neue Strasse 2", city="Hamburg", country="DE",
    )  # fmt: skip
    settings.MSP_LEGAL_NAME = "Someone Else Ltd"
    services.invoice_run(year=2026, month=6)

    invoice.refresh_from_db()
    document = InvoiceDocument.objects.get(invoice=invoice)
    assert (tax_lines(invoice), invoice.total, document.buyer) == frozen
    assert document.buyer["name"] == "Acme SARL" and document.seller["name"] != "Someone Else Ltd"


def test_a_draft_takes_the_rate_and_profile_in_force_when_it_is_finalized(june_customer):
    customer = june_customer("DE")
    draft = june_invoice(customer)
    assert tax_lines(draft) == []
    rate("DE", "19")
    BillingProfile.objects.create(
        customer=customer, legal_name="Acme GmbH", address_line1="Torstrasse 1", city="Berlin",
        country="DE",
    )  # fmt: skip

    invoice = services.invoice_finalize(invoice_id=draft.pk)

    assert invoice.total == Decimal("23.80") and len(tax_lines(invoice)) == 1
    assert InvoiceDocument.objects.get(invoice=invoice).buyer["name"] == "Acme GmbH"


def test_an_adjustment_is_taxed_with_the_rest_of_the_draft(june_customer):
    rate("DE", "19")
    draft = june_invoice(june_customer("DE"))

    services.invoice_add_adjustment(
        invoice_id=draft.pk, description="Setup", amount="5.00", reason="contract"
    )

    draft.refresh_from_db()
    assert tax_lines(draft)[0][2:] == (Decimal("25.000"), Decimal("4.750"))
    assert draft.total == Decimal("29.75")


def test_a_rerun_of_an_unchanged_draft_with_tax_writes_nothing(june_customer):
    rate("DE", "19")
    draft = june_invoice(june_customer("DE"))
    before = (draft.computed_at, list(draft.lines.values_list("pk", flat=True)))

    result = services.invoice_run(year=2026, month=6)

    draft.refresh_from_db()
    assert result.unchanged == 1
    assert (draft.computed_at, list(draft.lines.values_list("pk", flat=True))) == before


def test_credit_notes_give_back_tax_at_the_invoices_own_rate_and_net_to_zero(june_customer, msp):
    rate("DE", "19")
    invoice = services.invoice_finalize(invoice_id=june_invoice(june_customer("DE")).pk)
    # A later rate never reaches the credit notes of an invoice issued at 19 %.
    tax_rate_save(by=msp, country="DE", name="VAT", percent="25", valid_from=date(2020, 1, 1))

    first = services.invoice_credit(invoice_id=invoice.pk, amount="10.00", reason="outage")
    second = services.invoice_credit(invoice_id=invoice.pk, amount="10.00", reason="outage")
    with pytest.raises(services.BillingError, match="Credits would exceed the invoice"):
        services.invoice_credit(invoice_id=invoice.pk, amount="0.01", reason="one cent more")

    assert [tax_lines(note)[0][1:] for note in (first, second)] == [
        (Decimal("19.000"), Decimal("-10.000"), Decimal("-1.900")),
        (Decimal("19.000"), Decimal("-10.000"), Decimal("-1.900")),
    ]
    assert invoice.total + first.total + second.total == 0
    assert InvoiceDocument.objects.get(invoice=first).buyer == (
        InvoiceDocument.objects.get(invoice=invoice).buyer
    )


def test_a_credit_that_is_more_than_the_amount_before_tax_is_refused(june_customer):
    rate("DE", "19")
    invoice = services.invoice_finalize(invoice_id=june_invoice(june_customer("DE")).pk)

    # 23.80 is the total with tax; the credit is an amount before tax (at most 20.00).
    with pytest.raises(services.BillingError, match=r"USD 20\.00 before tax is left"):
        services.invoice_credit(invoice_id=invoice.pk, amount="23.80", reason="too much")


def test_a_credit_note_of_an_invoice_issued_before_documents_were_kept_gets_one(june_customer):
    invoice = services.invoice_finalize(invoice_id=june_invoice(june_customer("DE")).pk)
    InvoiceDocument.objects.filter(invoice=invoice).delete()  # as if issued before this code

    note = services.invoice_credit(invoice_id=invoice.pk, amount="5.00", reason="outage")

    document = InvoiceDocument.objects.get(invoice=note)
    assert document.buyer["country"] == "DE" and document.emailed_at is None
    assert note.total == Decimal("-5.00")


def test_the_runs_tax_for_many_drafts_is_what_each_drafts_own_tax_gives(june_customer, settings):
    """The invoice run taxes its drafts in bulk; the one-draft path must find nothing to change."""
    settings.MSP_COUNTRY = "DE"
    rate("DE", "19")
    rate("FR", "20")
    rate("FR", "5.5", valid_from="2026-07-01")  # after the tax date: not in force
    customers = [
        june_customer("DE"),
        june_customer("FR"),
        june_customer("FR", tax_number="FR40303265045"),
        june_customer("US"),
    ]
    services.invoice_run(year=2026, month=6)
    invoices = list(Invoice.objects.filter(customer__in=customers).order_by("customer_id"))

    def state():
        return [
            (
                invoice.total,
                tax_lines(invoice),
                InvoiceDocument.objects.filter(invoice=invoice).values_list(
                    "seller", "buyer", "treatment", "tax_note", "tax_date"
                )[0],
            )
            for invoice in Invoice.objects.filter(customer__in=customers).order_by("customer_id")
        ]

    bulk = state()
    for invoice in invoices:
        tax_services.invoice_tax_apply(invoice=invoice)
        invoices_module._refresh_total(invoice, now=invoice.computed_at)
    assert state() == bulk
    assert [row[1][0][3] if row[1] else None for row in bulk] == [
        Decimal("3.800"),
        Decimal("4.000"),
        Decimal("0.000"),
        None,
    ]  # DE and a French consumer taxed; a French business reverse charged (0 %); US: no rate
