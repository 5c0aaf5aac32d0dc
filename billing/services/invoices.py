"""The monthly invoice run, finalization, credit notes and adjustments."""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from dataclasses import astuple, dataclass, field, fields
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Max, Sum
from django.utils import timezone

from billing import rating
from billing.documents import emails as invoice_email
from billing.models import Invoice, InvoiceLine, InvoiceSequence, UsageSample
from billing.payments import services as payments
from billing.services.marks import usage_samples_mark
from billing.services.pricing import (  # noqa: F401 - re-exported for older imports
    SPEC_FIELDS,
    BillingError,
    LineSpec,
    RatingInputs,
    billable_filespaces,
    invoice_inputs,
    invoice_rate_customer,
    line_signature,
    plan_history,
    plan_pieces,
    plan_terms,
    rate_filespaces,
    rating_inputs,
    ready_at,
    sample_facts,
)
from billing.tax import services as tax
from portal.actions import Principal, action, guards, record
from portal.actions.errors import Code
from portal.actions.outbox import outbox_add

logger = logging.getLogger(__name__)

SERIES = {Invoice.Kind.INVOICE: "INV", Invoice.Kind.CREDIT_NOTE: "CN"}
INPUT_CHUNK_FILESPACES = 500
MONTH_WIDE_CHECK_FILESPACES = 1000
# Bump when a change to rating would change lines rated from the same inputs: every draft is
# then rated again by the next run instead of being skipped as unchanged.
RATING_INPUTS_VERSION = 1


@dataclass
class RunResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    finalized_skipped: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)


@action("invoice.run")
def invoice_run(
    *, year: int, month: int, now: datetime | None = None, force: bool = False
) -> RunResult:
    """Make or refresh a draft per customer and currency for the month; idempotent.

    A draft whose computed lines already equal the fresh computation is not written at all,
    so a rerun changes nothing. A customer whose drafts were rated from the same inputs (the
    digest of its filespaces, plans and plan history, and no sample newer than the draft's
    mark) is not rated again unless ``force``. Finalized invoices are never touched
    (corrections are credit notes). Staff adjustments on a draft survive a refresh.
    """
    now = now or timezone.now()
    month_start, month_end = rating.month_bounds(year, month)
    period_start = month_start.date()
    result = RunResult()
    mark = usage_samples_mark()
    by_customer: dict[int, list] = defaultdict(list)
    for filespace in _rating_filespaces(month_start, month_end):
        by_customer[filespace.customer_id].append(filespace)
    history = plan_history([fs.pk for fss in by_customer.values() for fs in fss])
    stored = _month_invoices(period_start, list(by_customer))
    newer = _newest_samples(month_start, month_end, stored)
    digests: dict[int, str] = {}
    todo: list[int] = []
    for customer_id in sorted(by_customer):
        filespaces = by_customer[customer_id]
        digest, currencies = _inputs_digest(filespaces, history, month_start, month_end)
        digests[customer_id] = digest
        invoices = stored.get(customer_id, {})
        if not force and _unchanged(invoices, currencies, digest, newer.get(customer_id)):
            for invoice in invoices.values():
                if invoice.status == Invoice.Status.FINALIZED:
                    result.finalized_skipped += 1
                else:
                    result.unchanged += 1
            continue
        todo.append(customer_id)
    facts = None
    if sum(len(by_customer[customer_id]) for customer_id in todo) > MONTH_WIDE_CHECK_FILESPACES:
        # One GROUP BY over the whole month (a parallel sequential scan) costs less than one
        # per chunk through the index when most filespaces are to be rated.
        facts = sample_facts(month_start=month_start, month_end=month_end)
    for chunk in _chunks(todo, by_customer):
        filespaces = [fs for customer_id in chunk for fs in by_customer[customer_id]]
        inputs = invoice_inputs(
            filespaces=filespaces,
            month_start=month_start,
            month_end=month_end,
            history=history,
            facts=facts,
        )
        rated: dict[int, dict[str, list[LineSpec]]] = {}
        for customer_id in chunk:
            try:
                rated[customer_id] = rate_filespaces(
                    filespaces=by_customer[customer_id],
                    month_start=month_start,
                    month_end=month_end,
                    inputs=inputs,
                )
            except BillingError as exc:
                # One customer's broken plan must not stop everyone else's invoices.
                logger.error("Invoice run: customer %s not rated: %s", customer_id, exc.message)
                result.failed.append((customer_id, exc.message))
        _store_drafts(
            rated=rated,
            stored=stored,
            stamp=_Stamp(period_start=period_start, now=now, mark=mark, digests=digests),
            result=result,
        )
    return result


# What rating, the line texts and the inputs digest read of a filespace.
RATING_FIELDS = (
    "id",
    "customer_id",
    "plan_id",
    "remote_name",
    "domain_name",
    "provisioned_at",
    "active_at",
    "deleted_at",
)


class RatedFilespace:
    """The part of a Filespace that the invoice run reads; rating takes it as it takes the
    model (the attributes have the model's names). Building two thousand model instances
    cost more than the rerun's queries."""

    __slots__ = (*RATING_FIELDS, "plan")

    def __init__(self, row: tuple, plan) -> None:
        for name, value in zip(RATING_FIELDS, row, strict=True):
            setattr(self, name, value)
        self.plan = plan

    @property
    def pk(self) -> int:
        return self.id

    @property
    def qualified_name(self) -> str:
        # As Filespace.qualified_name.
        return f"{self.remote_name}.{self.domain_name}" if self.domain_name else self.remote_name


def _rating_filespaces(month_start: datetime, month_end: datetime) -> list[RatedFilespace]:
    """The month's billable filespaces with only the columns rating reads, and one shared
    Plan instance per plan (not one per filespace): two queries."""
    from portal.plans.models import Plan

    rows = list(
        billable_filespaces(month_start=month_start, month_end=month_end)
        .select_related(None)
        .values_list(*RATING_FIELDS)
    )
    plans = Plan.objects.in_bulk({row[2] for row in rows})
    return [RatedFilespace(row, plans[row[2]]) for row in rows]


@dataclass(frozen=True)
class _Stamp:
    period_start: date
    now: datetime
    mark: int
    digests: dict[int, str]


def _month_invoices(period_start: date, customer_ids: list[int]) -> dict[int, dict[str, Invoice]]:
    stored: dict[int, dict[str, Invoice]] = defaultdict(dict)
    if not customer_ids:
        return stored
    rows = Invoice.objects.filter(
        period_start=period_start, kind=Invoice.Kind.INVOICE, customer_id__in=customer_ids
    ).only("pk", "customer_id", "currency", "status", "inputs_digest", "samples_mark")
    for invoice in rows:
        stored[invoice.customer_id][invoice.currency] = invoice
    return stored


def _newest_samples(
    month_start: datetime, month_end: datetime, stored: dict[int, dict[str, Invoice]]
) -> dict[int, int]:
    """Per customer, the highest sample id of the month above the lowest mark of its drafts.

    Reads only the samples written since the earliest draft's run (the primary key's range),
    not the month.
    """
    marks = [
        invoice.samples_mark
        for invoices in stored.values()
        for invoice in invoices.values()
        if invoice.samples_mark is not None
    ]
    if not marks:
        return {}
    rows = (
        UsageSample.objects.filter(id__gt=min(marks), slot__gte=month_start, slot__lt=month_end)
        .values("customer_id")
        .annotate(newest=Max("id"))
        .values_list("customer_id", "newest")
        .order_by()
    )
    return dict(rows)


def _inputs_digest(
    filespaces: list, history: dict, month_start: datetime, month_end: datetime
) -> tuple[str, set[str]]:
    """A digest of everything a customer's lines are rated from, except the samples, and the
    currencies its drafts will have (one per currency of a plan in force in the month)."""
    parts: list = [RATING_INPUTS_VERSION, settings.USAGE_SAMPLE_INTERVAL_SECONDS]
    currencies = set()
    for filespace in sorted(filespaces, key=lambda fs: fs.pk):
        parts.append(
            (
                filespace.pk,
                filespace.qualified_name,
                filespace.remote_name,
                filespace.provisioned_at,
                filespace.active_at,
                filespace.deleted_at,
                filespace.plan_id,
            )
        )
        for starts_at, plan in [*history.get(filespace.pk, []), (None, filespace.plan)]:
            parts.append((starts_at, plan.pk, plan.name, *_plan_fields(plan)))
        for _, _, plan in plan_pieces(
            filespace, history, month_start, month_end, as_of=None, forecast=False
        ):
            currencies.add(plan.currency)
    return hashlib.sha256(repr(parts).encode()).hexdigest(), currencies


def _plan_fields(plan) -> tuple:
    return (
        plan.currency,
        plan.billing_unit,
        plan.price_per_unit_month,
        plan.quantity_rule,
        plan.included_units,
        plan.minimum_monthly_charge,
        repr(plan.price_tiers),
    )


def _unchanged(
    invoices: dict[str, Invoice], currencies: set[str], digest: str, newest: int | None
) -> bool:
    if not invoices or set(invoices) != currencies:
        return False
    for invoice in invoices.values():
        if invoice.status == Invoice.Status.FINALIZED:
            continue
        if invoice.inputs_digest != digest or invoice.samples_mark is None:
            return False
        if newest is not None and newest > invoice.samples_mark:
            return False
    return True


def _chunks(customer_ids: list[int], by_customer: dict[int, list]):
    """Customers in groups of about INPUT_CHUNK_FILESPACES filespaces (one query each)."""
    chunk, size = [], 0
    for customer_id in customer_ids:
        if chunk and size + len(by_customer[customer_id]) > INPUT_CHUNK_FILESPACES:
            yield chunk
            chunk, size = [], 0
        chunk.append(customer_id)
        size += len(by_customer[customer_id])
    if chunk:
        yield chunk


def _store_drafts(
    *,
    rated: dict[int, dict[str, list[LineSpec]]],
    stored: dict[int, dict[str, Invoice]],
    stamp: _Stamp,
    result: RunResult,
) -> None:
    """Write a chunk's drafts: new ones in bulk, changed ones refreshed, equal ones only stamped.

    One transaction for the chunk. Drafts are locked in id order and their status read again
    under the lock, so a draft finalized meanwhile is left alone. When another run created one
    of the new drafts first, the chunk is rolled back and stored customer by customer.
    """
    counts = RunResult()
    try:
        with transaction.atomic():
            _store_chunk(rated, stored, stamp, counts)
    except IntegrityError:
        for customer_id, specs in rated.items():
            for currency, lines in sorted(specs.items()):
                outcome = _store_draft(
                    customer_id=customer_id,
                    period_start=stamp.period_start,
                    currency=currency,
                    specs=lines,
                    now=stamp.now,
                    digest=stamp.digests[customer_id],
                    mark=stamp.mark,
                )
                setattr(result, outcome, getattr(result, outcome) + 1)
        return
    for name in ("created", "updated", "unchanged", "finalized_skipped"):
        setattr(result, name, getattr(result, name) + getattr(counts, name))


def _store_chunk(rated, stored, stamp: _Stamp, result: RunResult) -> None:
    existing_ids = [
        stored[customer_id][currency].pk
        for customer_id, specs in rated.items()
        for currency in specs
        if currency in stored.get(customer_id, {})
    ]
    locked = {
        invoice.pk: invoice
        for invoice in Invoice.objects.select_for_update()
        .filter(pk__in=existing_ids)
        .order_by("pk")
        .only("pk", "status", "customer_id", "currency", "kind", "period_start")
    }
    signatures: dict[int, list[tuple]] = defaultdict(list)
    extra_totals: dict[int, Decimal] = defaultdict(Decimal)
    for invoice_id, kind, amount, *signature in (
        InvoiceLine.objects.filter(invoice_id__in=list(locked))
        .order_by("invoice_id", "position", "id")
        .values_list("invoice_id", "kind", "amount", *SPEC_FIELDS)
    ):
        if kind in InvoiceLine.COMPUTED_KINDS:
            signatures[invoice_id].append(tuple(signature))
        else:
            extra_totals[invoice_id] += amount
    fresh, refreshed, stamped, lines = [], [], [], []
    replace_ids = []
    for customer_id, specs in sorted(rated.items()):
        digest = stamp.digests[customer_id]
        for currency, specs_of in sorted(specs.items()):
            known = stored.get(customer_id, {}).get(currency)
            total = sum((spec.amount for spec in specs_of), Decimal(0))
            if known is None:
                invoice = Invoice(
                    customer_id=customer_id,
                    period_start=stamp.period_start,
                    currency=currency,
                    kind=Invoice.Kind.INVOICE,
                    created_at=stamp.now,
                    computed_at=stamp.now,
                    total=total,
                    inputs_digest=digest,
                    samples_mark=stamp.mark,
                )
                fresh.append((invoice, specs_of))
                continue
            invoice = locked.get(known.pk)
            if invoice is None or invoice.status == Invoice.Status.FINALIZED:
                result.finalized_skipped += 1
                continue
            invoice.inputs_digest, invoice.samples_mark = digest, stamp.mark
            if signatures.get(invoice.pk, []) == [_values(spec) for spec in specs_of]:
                stamped.append(invoice)
                result.unchanged += 1
                continue
            invoice.total = total + extra_totals.get(invoice.pk, Decimal(0))
            invoice.computed_at = stamp.now
            refreshed.append(invoice)
            replace_ids.append(invoice.pk)
            lines += _lines_of(invoice, specs_of)
            result.updated += 1
    Invoice.objects.bulk_create([invoice for invoice, _ in fresh])
    for invoice, specs_of in fresh:
        lines += _lines_of(invoice, specs_of)
    result.created += len(fresh)
    if replace_ids:
        InvoiceLine.objects.filter(
            invoice_id__in=replace_ids, kind__in=InvoiceLine.COMPUTED_KINDS
        ).delete()
    _insert_lines(lines)
    Invoice.objects.bulk_update(stamped, ["inputs_digest", "samples_mark"], batch_size=1000)
    # Tax follows the lines it is computed from (docs/billing.md, section 12), so only drafts
    # whose lines changed get their tax line and total again: all of the chunk's at once.
    created = [invoice for invoice, _ in fresh]
    totals = tax.invoices_tax_apply(invoices=created + refreshed)
    for invoice in created + refreshed:
        invoice.total, invoice.computed_at = totals[invoice.pk], stamp.now
    Invoice.objects.bulk_update(created, ["total"], batch_size=1000)
    Invoice.objects.bulk_update(
        refreshed, ["total", "computed_at", "inputs_digest", "samples_mark"], batch_size=1000
    )


def _lines_of(invoice: Invoice, specs: list[LineSpec]) -> list[tuple[int, int, LineSpec]]:
    return [(invoice.pk, index, spec) for index, spec in enumerate(specs, start=1)]


def _values(spec: LineSpec) -> tuple:
    """The spec's fields in order (dataclasses.astuple deep-copies every value; this does not)."""
    return tuple(getattr(spec, name) for name in SPEC_FIELDS)


LINE_COLUMNS = ["invoice_id", "position", *(f.name for f in fields(LineSpec))]


def _insert_lines(lines: list) -> None:
    """Insert computed lines; on PostgreSQL with COPY, since Django's per-value preparation of
    a bulk insert costs more than rating the lines. The values are already of the column types
    (Decimal, aware datetime, int, str), so nothing is lost by skipping it."""
    if not lines:
        return
    if connection.vendor != "postgresql":
        InvoiceLine.objects.bulk_create(
            [
                InvoiceLine(invoice_id=invoice_id, position=position, **spec.__dict__)
                for invoice_id, position, spec in lines
            ],
            batch_size=1000,
        )
        return
    columns = ", ".join(
        InvoiceLine._meta.get_field(name.removesuffix("_id")).column for name in LINE_COLUMNS
    )
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY billing_invoiceline ({columns}) FROM STDIN") as copy,
    ):
        for invoice_id, position, spec in lines:
            copy.write_row((invoice_id, position, *_values(spec)))


def _store_draft(
    *,
    customer_id: int,
    period_start: date,
    currency: str,
    specs: list[LineSpec],
    now: datetime,
    digest: str,
    mark: int,
) -> str:
    """One draft in its own transaction (the fallback when runs race on creating drafts)."""
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
        Invoice.objects.filter(pk=invoice.pk).update(inputs_digest=digest, samples_mark=mark)
        stored = invoice.lines.filter(kind__in=InvoiceLine.COMPUTED_KINDS).order_by("position")
        if [line_signature(line) for line in stored] == [astuple(spec) for spec in specs]:
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


def invoice_by_id(*, invoice_id=None, **_) -> Invoice | None:
    """The invoice an action call names (its refusal is audited against it and its customer)."""
    try:
        return Invoice.objects.select_related("customer").filter(pk=invoice_id).first()
    except (TypeError, ValueError):
        return None


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


@action("invoice.finalize", audit_refusals=True, subject=invoice_by_id)
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
    payments.on_invoice_finalized(invoice=invoice, by=by)
    invoice_email.send_on_commit(invoice_id=invoice.pk)
    return invoice


def amount_parse(value, currency: str, what: str) -> Decimal:
    """A money amount typed by staff: a finite number with no more decimals than the currency
    has (BillingError naming `what` otherwise). Used by adjustments, credits and payments."""
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise BillingError(f"{what} must be a number.", code=Code.INVALID) from None
    if not amount.is_finite():
        raise BillingError(f"{what} must be a number.", code=Code.INVALID)
    if amount != rating.round_money(amount, currency):
        raise BillingError(f"{what} has more decimals than {currency} allows.", code=Code.INVALID)
    return amount


@action("invoice.adjust", audit_refusals=True, subject=invoice_by_id)
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
        raise BillingError("An adjustment needs a description and a reason.", code=Code.INVALID)
    value = amount_parse(amount, invoice.currency, "The amount")
    if value == 0:
        raise BillingError("An adjustment of zero changes nothing.", code=Code.INVALID)
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


@action("invoice.credit", audit_refusals=True, subject=invoice_by_id)
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
        raise BillingError("A credit note needs a reason.", code=Code.INVALID)
    value = amount_parse(amount, original.currency, "The amount")
    if value <= 0:
        raise BillingError("The credit must be more than zero.", code=Code.INVALID)
    left = tax.creditable_net(original=original)
    if value > left:
        raise BillingError(
            "Credits would exceed the invoice: "
            f"{rating.format_money(left, original.currency)} before tax is left to credit.",
            code=Code.INVALID,
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
