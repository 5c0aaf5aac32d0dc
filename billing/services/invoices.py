"""The monthly invoice run, finalization, credit notes and adjustments."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import astuple, dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from billing import rating
from billing.documents import emails as invoice_email
from billing.models import Invoice, InvoiceLine, InvoiceSequence
from billing.services.pricing import (  # noqa: F401 - re-exported for older imports
    SPEC_FIELDS,
    BillingError,
    LineSpec,
    RatingInputs,
    _line_signature,
    billable_filespaces,
    invoice_inputs,
    invoice_rate_customer,
    plan_terms,
    rate_filespaces,
    rating_inputs,
    ready_at,
)
from billing.tax import services as tax
from portal.actions import Principal, action, guards, record
from portal.actions.outbox import outbox_add

logger = logging.getLogger(__name__)

SERIES = {Invoice.Kind.INVOICE: "INV", Invoice.Kind.CREDIT_NOTE: "CN"}
INPUT_CHUNK_FILESPACES = 500


@dataclass
class RunResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    finalized_skipped: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)


@action("invoice.run")
def invoice_run(*, year: int, month: int, now: datetime | None = None) -> RunResult:
    """Make or refresh a draft per customer and currency for the month; idempotent.

    A draft whose computed lines already equal the fresh computation is not written at all,
    so a rerun changes nothing. Finalized invoices are never touched (corrections are credit
    notes). Staff adjustments on a draft survive a refresh.
    """
    now = now or timezone.now()
    month_start, month_end = rating.month_bounds(year, month)
    result = RunResult()
    by_customer: dict[int, list] = defaultdict(list)
    for filespace in billable_filespaces(month_start=month_start, month_end=month_end):
        by_customer[filespace.customer_id].append(filespace)
    inputs: RatingInputs | None = None
    loaded: set[int] = set()
    customer_ids = sorted(by_customer)
    for position, customer_id in enumerate(customer_ids):
        if customer_id not in loaded:
            # Samples and plan history for the next customers, up to ~500 filespaces, in one
            # pair of queries rather than a pair per customer.
            chunk, size = [], 0
            for later in customer_ids[position:]:
                if chunk and size + len(by_customer[later]) > INPUT_CHUNK_FILESPACES:
                    break
                chunk.append(later)
                size += len(by_customer[later])
            inputs = invoice_inputs(
                filespaces=[fs for later in chunk for fs in by_customer[later]],
                month_start=month_start,
                month_end=month_end,
            )
            loaded = set(chunk)
        try:
            specs = rate_filespaces(
                filespaces=by_customer[customer_id],
                month_start=month_start,
                month_end=month_end,
                inputs=inputs,
            )
        except BillingError as exc:
            # One customer's broken plan must not stop everyone else's invoices.
            logger.error("Invoice run: customer %s not rated: %s", customer_id, exc.message)
            result.failed.append((customer_id, exc.message))
            continue
        for currency, lines in sorted(specs.items()):
            outcome = _store_draft(
                customer_id=customer_id,
                period_start=month_start.date(),
                currency=currency,
                specs=lines,
                now=now,
            )
            setattr(result, outcome, getattr(result, outcome) + 1)
    return result


def _store_draft(
    *, customer_id: int, period_start: date, currency: str, specs: list[LineSpec], now: datetime
) -> str:
    with transaction.atomic():
        lookup = {
            "customer_id": customer_id,
            "period_start": period_start,
            "currency": currency,
            "kind": Invoice.Kind.INVOICE,
        }
        invoice = Invoice.objects.select_for_update().filter(**lookup).first()
        created = False
        if invoice is None:
            try:
                with transaction.atomic():
                    invoice = Invoice.objects.create(**lookup, created_at=now)
                    created = True
            except IntegrityError:
                # Another run created it between the read and the insert.
                invoice = Invoice.objects.select_for_update().get(**lookup)
        if invoice.status == Invoice.Status.FINALIZED:
            return "finalized_skipped"
        stored = invoice.lines.filter(kind__in=InvoiceLine.COMPUTED_KINDS).order_by("position")
        if [_line_signature(line) for line in stored] == [astuple(spec) for spec in specs]:
            return "created" if created else "unchanged"
        if not created:
            stored.delete()
        InvoiceLine.objects.bulk_create(
            [
                InvoiceLine(invoice=invoice, position=index, **spec.__dict__)
                for index, spec in enumerate(specs, start=1)
            ]
        )
        tax.invoice_tax_apply(invoice=invoice)
        _refresh_total(invoice, now=now)
        return "created" if created else "updated"


def _refresh_total(invoice: Invoice, *, now: datetime) -> None:
    total = invoice.lines.aggregate(total=Sum("amount"))["total"] or Decimal(0)
    Invoice.objects.filter(pk=invoice.pk, status=Invoice.Status.DRAFT).update(
        total=total, computed_at=now
    )
    invoice.total = total
    invoice.computed_at = now


def invoice_verify(*, invoice: Invoice) -> list[str]:
    """Recompute an invoice's computed lines and list every difference (empty: identical)."""
    month_start = datetime.combine(invoice.period_start, datetime.min.time(), tzinfo=UTC)
    month_end = rating.month_of(month_start)[1]
    fresh = invoice_rate_customer(
        customer_id=invoice.customer_id, month_start=month_start, month_end=month_end
    ).get(invoice.currency, [])
    stored = list(invoice.lines.filter(kind__in=InvoiceLine.COMPUTED_KINDS).order_by("position"))
    problems = []
    if len(stored) != len(fresh):
        problems.append(f"{len(stored)} lines stored, {len(fresh)} computed now.")
    for line, spec in zip(stored, fresh, strict=False):
        for name in SPEC_FIELDS:
            if getattr(line, name) != getattr(spec, name):
                problems.append(
                    f"Line {line.position} {name}: stored {getattr(line, name)!r}, "
                    f"now {getattr(spec, name)!r}."
                )
    return problems


@action("invoice.finalize", audit_refusals=True)
@transaction.atomic
def invoice_finalize(*, invoice_id: int, actor=None, now: datetime | None = None) -> Invoice:
    """MSP or the system: give a draft its number and freeze it.

    The number comes from a counter row locked in the same transaction, so numbers are
    sequential without gaps: a rollback also rolls back the counter.
    """
    by = Principal.of(actor)
    guards.require_msp_or_system(by, what="finalize invoices")
    now = now or timezone.now()
    invoice = Invoice.objects.select_for_update().filter(pk=invoice_id).first()
    if invoice is None:
        raise BillingError("No such invoice.")
    if invoice.status == Invoice.Status.FINALIZED:
        raise BillingError(f"{invoice.number} is already finalized.")
    if not invoice.lines.exists():
        raise BillingError("An invoice without lines cannot be finalized.")
    tax.invoice_tax_apply(invoice=invoice)
    series = SERIES[invoice.kind]
    InvoiceSequence.objects.get_or_create(name=series)
    sequence = InvoiceSequence.objects.select_for_update().get(name=series)
    number = f"{series}-{sequence.next_value:06d}"
    InvoiceSequence.objects.filter(pk=sequence.pk).update(next_value=sequence.next_value + 1)
    total = invoice.lines.aggregate(total=Sum("amount"))["total"] or Decimal(0)
    updated = Invoice.objects.filter(pk=invoice.pk, status=Invoice.Status.DRAFT).update(
        status=Invoice.Status.FINALIZED,
        number=number,
        total=total,
        finalized_at=now,
        finalized_by=by.audit_user,
    )
    if updated != 1:
        raise BillingError("Someone else finalized this invoice first.")
    invoice.refresh_from_db()
    record(
        by=by,
        action="invoice.finalized",
        target=invoice,
        before={"status": Invoice.Status.DRAFT},
        after={
            "status": Invoice.Status.FINALIZED,
            "number": number,
            "total": str(total),
            "currency": invoice.currency,
        },
    )
    outbox_add(
        event_type="invoice.finalized",
        customer=invoice.customer,
        subject_type="invoice",
        subject_id=invoice.pk,
        dedupe_key=f"invoice.finalized:{invoice.pk}",
    )
    invoice_email.send_on_commit(invoice_id=invoice.pk)
    return invoice


def _money(value, currency: str, what: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise BillingError(f"{what} must be a number.") from None
    if not amount.is_finite():
        raise BillingError(f"{what} must be a number.")
    if amount != rating.round_money(amount, currency):
        raise BillingError(f"{what} has more decimals than {currency} allows.")
    return amount


@action("invoice.adjust", audit_refusals=True)
@transaction.atomic
def invoice_add_adjustment(
    *, invoice_id: int, description: str, amount, reason: str, actor=None
) -> InvoiceLine:
    """MSP: add a positive or negative line with a reason to a draft invoice."""
    by = Principal.of(actor)
    guards.require_msp_or_system(by, what="adjust invoices")
    invoice = Invoice.objects.select_for_update().filter(pk=invoice_id).first()
    if invoice is None:
        raise BillingError("No such invoice.")
    if not invoice.is_editable:
        raise BillingError("A finalized invoice never changes; issue a credit note instead.")
    if not reason.strip() or not description.strip():
        raise BillingError("An adjustment needs a description and a reason.")
    value = _money(amount, invoice.currency, "The amount")
    if value == 0:
        raise BillingError("An adjustment of zero changes nothing.")
    position = 1000 + invoice.lines.filter(kind=InvoiceLine.Kind.ADJUSTMENT).count()
    line = InvoiceLine.objects.create(
        invoice=invoice,
        position=position,
        kind=InvoiceLine.Kind.ADJUSTMENT,
        description=description.strip()[:300],
        amount=value,
        note=reason.strip(),
        created_by=by.audit_user,
    )
    tax.invoice_tax_apply(invoice=invoice)
    _refresh_total(invoice, now=timezone.now())
    record(
        by=by,
        action="invoice.adjusted",
        target=invoice,
        after={"description": line.description, "amount": str(value)},
        note=line.note,
    )
    return line


@action("invoice.credit", audit_refusals=True)
@transaction.atomic
def invoice_credit(
    *, invoice_id: int, amount, reason: str, actor=None, now: datetime | None = None
) -> Invoice:
    """MSP: issue a finalized credit note against a finalized invoice (never more than owed)."""
    by = Principal.of(actor)
    guards.require_msp_or_system(by, what="credit invoices")
    now = now or timezone.now()
    original = Invoice.objects.select_for_update().filter(pk=invoice_id).first()
    if original is None:
        raise BillingError("No such invoice.")
    if original.kind != Invoice.Kind.INVOICE or original.status != Invoice.Status.FINALIZED:
        raise BillingError("Only a finalized invoice can be credited; edit a draft instead.")
    if not reason.strip():
        raise BillingError("A credit note needs a reason.")
    value = _money(amount, original.currency, "The amount")
    if value <= 0:
        raise BillingError("The credit must be more than zero.")
    left = tax.creditable_net(original=original)
    if value > left:
        raise BillingError(
            "Credits would exceed the invoice: "
            f"{rating.format_money(left, original.currency)} before tax is left to credit."
        )
    note = Invoice.objects.create(
        customer_id=original.customer_id,
        kind=Invoice.Kind.CREDIT_NOTE,
        period_start=original.period_start,
        currency=original.currency,
        credits=original,
        reason=reason.strip(),
        created_at=now,
    )
    InvoiceLine.objects.create(
        invoice=note,
        position=1,
        kind=InvoiceLine.Kind.CREDIT,
        description=f"Credit against {original.number}",
        amount=-value,
        note=reason.strip(),
        created_by=by.audit_user,
    )
    tax.credit_note_tax(note=note, original=original, net=value)
    record(
        by=by,
        action="invoice.credited",
        target=original,
        after={"credit_note": note.pk, "amount": str(value)},
        note=reason.strip(),
    )
    return invoice_finalize(invoice_id=note.pk, actor=by, now=now)
