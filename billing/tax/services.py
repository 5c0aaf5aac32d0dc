"""Actions on billing profiles and tax rates, and the tax of invoices and credit notes.

The invoice functions are called by billing.services.invoices inside the transaction that
holds the invoice's row lock; they never commit on their own.
"""

from __future__ import annotations

import unicodedata
from datetime import date
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django_countries import countries

from billing.models import Invoice, InvoiceLine
from billing.tax import numbers, rules, selectors
from billing.tax.models import BillingProfile, InvoiceDocument, TaxRate
from portal.actions import Code, Principal, Refused, Side, action, guards, record
from portal.customers.models import MANAGER_ROLES, Customer

TAX_POSITION = 2000
PROFILE_FIELDS = {
    # field: (label, maximum length, required)
    "legal_name": ("Legal name", 200, True),
    "address_line1": ("Address", 200, True),
    "address_line2": ("Address (second line)", 200, False),
    "postal_code": ("Postal code", 20, False),
    "city": ("City", 100, True),
    "region": ("Region or state", 100, False),
}


# --- Billing profile -------------------------------------------------------------------------


def _clean_text(value, *, label: str, limit: int, required: bool) -> str:
    text = " ".join(str(value or "").split())
    if any(unicodedata.category(char).startswith("C") for char in text):
        raise ValueError(f"{label} contains control characters.")
    if required and not text:
        raise ValueError(f"{label} is required.")
    if len(text) > limit:
        raise ValueError(f"{label} has at most {limit} characters.")
    return text


def profile_clean(data: dict) -> dict:
    """Validated, normalized profile fields, or Refused naming every field that is wrong."""
    cleaned, errors = {}, {}
    for name, (label, limit, required) in PROFILE_FIELDS.items():
        try:
            cleaned[name] = _clean_text(data.get(name), label=label, limit=limit, required=required)
        except ValueError as exc:
            errors[name] = [str(exc)]
    country = str(data.get("country") or "").strip().upper()
    if country not in dict(countries):
        errors["country"] = ["Choose the country of the billing address."]
    else:
        cleaned["country"] = country
        try:
            cleaned["tax_number"] = numbers.normalize(
                str(data.get("tax_number") or ""),
                country=country,
                country_name=countries.name(country),
            )
        except numbers.TaxNumberError as exc:
            errors["tax_number"] = [str(exc)]
    if errors:
        raise Refused(errors, code=Code.INVALID)
    return cleaned


def _profile_facts(profile: BillingProfile | None) -> dict:
    if profile is None:
        return {}
    return {
        name: str(getattr(profile, name)) for name in (*PROFILE_FIELDS, "country", "tax_number")
    }


@action("billing_profile.update", audit_refusals=True)
def billing_profile_update(*, customer: Customer, by: Principal, **fields) -> BillingProfile:
    """Owners, admins and the MSP: set the legal name, address and tax number on invoices.

    Allowed while the customer is suspended (it may need the details right to pay), not once
    it is terminated.
    """
    by = Principal.of(by)
    guards.require_role(by, customer, MANAGER_ROLES, what="change the billing details")
    cleaned = profile_clean(fields)
    with transaction.atomic():
        if guards.lock_customer(customer) == Customer.Status.TERMINATED:
            raise Refused(
                "The account is terminated; its billing details no longer change.",
                code=Code.CUSTOMER_LOCKED if by.side == Side.CUSTOMER else Code.CUSTOMER_INACTIVE,
            )
        profile = BillingProfile.objects.select_for_update().filter(customer=customer).first()
        before = _profile_facts(profile)
        if profile is None:
            profile = BillingProfile(customer=customer)
        for name, value in cleaned.items():
            setattr(profile, name, value)
        profile.updated_at = timezone.now()
        profile.updated_by = by.audit_user
        profile.save()
        after = _profile_facts(profile)
        record(
            by=by,
            action="billing_profile.updated",
            customer=customer,
            target=customer,
            before={k: v for k, v in before.items() if after.get(k) != v},
            after={k: v for k, v in after.items() if before.get(k) != v},
        )
    return profile


# --- Tax rates -------------------------------------------------------------------------------


def _percent(value) -> Decimal:
    try:
        percent = Decimal(str(value).strip())
    except InvalidOperation:
        raise Refused({"percent": ["The rate must be a number, such as 19 or 7.7."]},
                      code=Code.INVALID) from None  # fmt: skip
    if not percent.is_finite() or not Decimal(0) <= percent < Decimal(100):
        raise Refused({"percent": ["The rate is a percentage from 0 to 99.999."]},
                      code=Code.INVALID)  # fmt: skip
    if percent != percent.quantize(Decimal("0.001")):
        raise Refused({"percent": ["The rate has at most three decimals."]}, code=Code.INVALID)
    return percent.quantize(Decimal("0.001"))


@action("tax_rate.save", audit_refusals=True)
def tax_rate_save(
    *, by: Principal, country: str, name: str, percent, valid_from: date, note: str = ""
) -> TaxRate:
    """MSP: set a country's rate from a date (a second save for the same day replaces it).

    Invoices keep the rate they were drafted or finalized with, so a change here reaches
    drafts at their next refresh and never an issued invoice.
    """
    by = Principal.of(by)
    guards.require_msp(by, what="manage tax rates")
    country = str(country or "").strip().upper()
    if country not in dict(countries):
        raise Refused({"country": ["Choose a country."]}, code=Code.INVALID)
    try:
        name = _clean_text(name, label="Name", limit=20, required=True)
        note = _clean_text(note, label="Note", limit=200, required=False)
    except ValueError as exc:
        raise Refused(str(exc), code=Code.INVALID) from None
    value = _percent(percent)
    if not isinstance(valid_from, date):
        raise Refused({"valid_from": ["Give the first day the rate applies."]}, code=Code.INVALID)
    with transaction.atomic():
        rate = (
            TaxRate.objects.select_for_update()
            .filter(country=country, valid_from=valid_from)
            .first()
        )
        before = _rate_facts(rate) if rate else {}
        if rate is None:
            rate = TaxRate(country=country, valid_from=valid_from)
        rate.name, rate.percent, rate.note = name, value, note
        rate.updated_at, rate.updated_by = timezone.now(), by.audit_user
        try:
            with transaction.atomic():
                rate.save()
        except IntegrityError:
            raise Refused("Another rate for that day was saved at the same moment; try again.",
                          code=Code.INVALID_STATE) from None  # fmt: skip
        record(by=by, action="tax_rate.saved", target=rate, before=before, after=_rate_facts(rate))
    return rate


def _rate_facts(rate: TaxRate) -> dict:
    return {
        "country": str(rate.country),
        "name": rate.name,
        "percent": str(rate.percent),
        "valid_from": rate.valid_from.isoformat(),
    }


# --- Invoices --------------------------------------------------------------------------------


def seller_facts() -> dict:
    return {
        "name": settings.MSP_LEGAL_NAME,
        "address": list(settings.MSP_ADDRESS),
        "country": settings.MSP_COUNTRY,
        "country_name": countries.name(settings.MSP_COUNTRY),
        "tax_number": settings.MSP_TAX_NUMBER,
        "footer": settings.MSP_INVOICE_FOOTER,
    }


def buyer_facts(customer: Customer, profile: BillingProfile | None) -> dict:
    """Who the invoice is addressed to: the profile, or the sign-up's name and country."""
    country = str(profile.country if profile else customer.country)
    scheme = numbers.scheme_for(country)
    return {
        "name": profile.legal_name if profile else customer.name,
        "address": profile.address_lines if profile else [],
        "country": country,
        "country_name": countries.name(country),
        "tax_number": profile.tax_number if profile else "",
        "tax_number_label": scheme.label if scheme else "Tax number",
        "email": customer.billing_email,
    }


def invoice_tax_apply(*, invoice: Invoice) -> None:
    """Replace a draft invoice's tax line and freeze its seller and buyer details.

    Runs when the invoice run changes a draft's lines, when staff adjust it, and at
    finalization, so the finalized invoice carries the rate, profile and settings of that
    moment for good. Credit notes take their tax from the invoice they credit instead.
    """
    if invoice.kind != Invoice.Kind.INVOICE or invoice.status != Invoice.Status.DRAFT:
        return
    customer = Customer.objects.get(pk=invoice.customer_id)
    profile = selectors.profile_for(customer=customer)
    buyer = buyer_facts(customer, profile)
    tax_date = invoice.period_end
    rate = selectors.rate_in_force(country=buyer["country"], on=tax_date)
    decision = rules.decide(
        seller_country=settings.MSP_COUNTRY,
        buyer_country=buyer["country"],
        buyer_vat_valid=bool(buyer["tax_number"]) and buyer["country"] in numbers.EU_COUNTRIES,
        rate=rules.Rate(rate.name, rate.percent) if rate else None,
    )
    invoice.lines.filter(kind=InvoiceLine.Kind.TAX).delete()
    if decision.percent is not None:
        amounts = list(invoice.lines.values_list("amount", flat=True))
        base = sum(amounts, Decimal(0))
        InvoiceLine.objects.create(
            invoice=invoice,
            position=TAX_POSITION,
            kind=InvoiceLine.Kind.TAX,
            description=decision.label,
            amount=rules.invoice_tax(
                line_amounts=amounts, percent=decision.percent, currency=invoice.currency
            ),
            tax_percent=decision.percent,
            tax_base=base,
            note=decision.note,
        )
    _document_save(
        invoice,
        seller=seller_facts(),
        buyer=buyer,
        treatment=decision.treatment,
        tax_note=decision.note,
        tax_date=tax_date,
    )


def invoices_tax_apply(*, invoices: list[Invoice]) -> dict[int, Decimal]:
    """invoice_tax_apply for many drafts at once (the invoice run): the same tax lines and
    documents in a constant number of queries; returns each invoice's total (all its lines).

    The caller holds the drafts' row locks (or created them) in the current transaction and
    has read their status under the lock, so the documents are written in bulk, past
    InvoiceDocument.save()'s finalized check.
    """
    drafts = [
        invoice
        for invoice in invoices
        if invoice.kind == Invoice.Kind.INVOICE and invoice.status == Invoice.Status.DRAFT
    ]
    if not drafts:
        return {}
    ids = [invoice.pk for invoice in drafts]
    customers = Customer.objects.in_bulk({invoice.customer_id for invoice in drafts})
    profiles = {
        profile.customer_id: profile
        for profile in BillingProfile.objects.filter(customer_id__in=list(customers))
    }
    buyers = {
        customer_id: buyer_facts(customer, profiles.get(customer_id))
        for customer_id, customer in customers.items()
    }
    tax_dates = {invoice.period_end for invoice in drafts}
    rates: dict[str, list[TaxRate]] = {}
    for rate in TaxRate.objects.filter(
        country__in={buyer["country"] for buyer in buyers.values()},
        valid_from__lte=max(tax_dates),
    ).order_by("country", "-valid_from"):
        rates.setdefault(str(rate.country), []).append(rate)
    InvoiceLine.objects.filter(invoice_id__in=ids, kind=InvoiceLine.Kind.TAX).delete()
    amounts: dict[int, list[Decimal]] = {invoice_id: [] for invoice_id in ids}
    for invoice_id, amount in InvoiceLine.objects.filter(invoice_id__in=ids).values_list(
        "invoice_id", "amount"
    ):
        amounts[invoice_id].append(amount)
    documents = {
        document.invoice_id: document
        for document in InvoiceDocument.objects.filter(invoice_id__in=ids)
    }
    seller = seller_facts()
    tax_lines, fresh, changed, totals = [], [], [], {}
    for invoice in drafts:
        buyer = buyers[invoice.customer_id]
        tax_date = invoice.period_end
        # As selectors.rate_in_force: the latest valid_from on or before the tax date.
        rate = next((r for r in rates.get(buyer["country"], []) if r.valid_from <= tax_date), None)
        decision = rules.decide(
            seller_country=settings.MSP_COUNTRY,
            buyer_country=buyer["country"],
            buyer_vat_valid=bool(buyer["tax_number"]) and buyer["country"] in numbers.EU_COUNTRIES,
            rate=rules.Rate(rate.name, rate.percent) if rate else None,
        )
        lines = amounts[invoice.pk]
        total = sum(lines, Decimal(0))
        if decision.percent is not None:
            tax_amount = rules.invoice_tax(
                line_amounts=lines, percent=decision.percent, currency=invoice.currency
            )
            tax_lines.append(
                InvoiceLine(
                    invoice=invoice,
                    position=TAX_POSITION,
                    kind=InvoiceLine.Kind.TAX,
                    description=decision.label,
                    amount=tax_amount,
                    tax_percent=decision.percent,
                    tax_base=total,
                    note=decision.note,
                )
            )
            total += tax_amount
        totals[invoice.pk] = total
        document = documents.get(invoice.pk)
        if document is None:
            document = InvoiceDocument(invoice=invoice)
            fresh.append(document)
        else:
            changed.append(document)
        document.seller, document.buyer = seller, buyer
        document.treatment, document.tax_note = decision.treatment, decision.note
        document.tax_date = tax_date
    InvoiceLine.objects.bulk_create(tax_lines, batch_size=1000)
    InvoiceDocument.objects.bulk_create(fresh, batch_size=1000)
    InvoiceDocument.objects.bulk_update(
        changed, ["seller", "buyer", "treatment", "tax_note", "tax_date"], batch_size=1000
    )
    return totals


def _document_save(invoice: Invoice, **facts) -> None:
    document = InvoiceDocument.objects.filter(invoice=invoice).first() or InvoiceDocument(
        invoice=invoice
    )
    for name, value in facts.items():
        setattr(document, name, value)
    document.save()


def _net(invoice: Invoice) -> Decimal:
    lines = invoice.lines.exclude(kind=InvoiceLine.Kind.TAX)
    return lines.aggregate(total=Sum("amount"))["total"] or Decimal(0)


def _credited(original: Invoice, *, kind: str) -> Decimal:
    """What the finalized credit notes of `original` gave back, as a positive sum."""
    lines = InvoiceLine.objects.filter(
        invoice__credits=original, invoice__status=Invoice.Status.FINALIZED, kind=kind
    )
    return -(lines.aggregate(total=Sum("amount"))["total"] or Decimal(0))


def creditable_net(*, original: Invoice) -> Decimal:
    """The part of an invoice's amount before tax that no credit note has given back yet."""
    return _net(original) - _credited(original, kind=InvoiceLine.Kind.CREDIT)


def credit_note_tax(*, note: Invoice, original: Invoice, net: Decimal) -> None:
    """Give a new credit note the tax of `net` at the credited invoice's own rate.

    The rate, wording, seller and buyer are those of the original invoice, never today's.
    """
    source = InvoiceDocument.objects.filter(invoice=original).first()
    if source is None:
        # An invoice issued before documents were kept: today's parties, no tax wording.
        customer = Customer.objects.get(pk=original.customer_id)
        source = InvoiceDocument(
            seller=seller_facts(),
            buyer=buyer_facts(customer, selectors.profile_for(customer=customer)),
            tax_date=original.period_end,
        )
    _document_save(
        note,
        seller=source.seller,
        buyer=source.buyer,
        treatment=source.treatment,
        tax_note=source.tax_note,
        tax_date=source.tax_date,
    )
    tax_line = original.lines.filter(kind=InvoiceLine.Kind.TAX).first()
    if tax_line is None:
        return
    tax = rules.credit_tax(
        net=net,
        percent=tax_line.tax_percent,
        currency=original.currency,
        net_left=creditable_net(original=original),
        tax_left=tax_line.amount - _credited(original, kind=InvoiceLine.Kind.TAX),
    )
    InvoiceLine.objects.create(
        invoice=note,
        position=TAX_POSITION,
        kind=InvoiceLine.Kind.TAX,
        description=tax_line.description,
        amount=-tax,
        tax_percent=tax_line.tax_percent,
        tax_base=-net,
        note=tax_line.note,
    )


def profile_initial(*, customer: Customer, profile: BillingProfile | None) -> dict:
    """What the details form starts with: the profile, or the sign-up's name and country."""
    if profile is None:
        return {"legal_name": customer.name, "country": str(customer.country)}
    return {name: getattr(profile, name) for name in (*PROFILE_FIELDS, "country", "tax_number")}
