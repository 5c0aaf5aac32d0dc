"""Rating customers, the monthly invoice run, finalization, credit notes and adjustments."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import astuple, dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from billing import rating
from billing.db import EpochSeconds
from billing.models import (
    FilespacePlanPeriod,
    Invoice,
    InvoiceLine,
    InvoiceSequence,
    UsageSample,
)
from portal.audit.services import audit_record

logger = logging.getLogger(__name__)

SERIES = {Invoice.Kind.INVOICE: "INV", Invoice.Kind.CREDIT_NOTE: "CN"}
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
INPUT_CHUNK_FILESPACES = 500


class BillingError(Exception):
    """A billing action that cannot be done as asked; ``message`` is safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class LineSpec:
    """A computed line, field for field what InvoiceLine stores for the computed kinds."""

    kind: str
    description: str
    filespace_id: int | None
    plan_id: int | None
    window_start: datetime | None
    window_end: datetime | None
    slot_seconds: int | None
    unit: str
    quantity_rule: str
    quantity: Decimal
    included: Decimal
    billable: Decimal
    unit_price: Decimal
    amount: Decimal
    minimum_prorated: Decimal
    slot_count: int
    gap_slots: int
    note: str
    formula: str


SPEC_FIELDS = list(LineSpec.__dataclass_fields__)


def _line_signature(line: InvoiceLine) -> tuple:
    return tuple(getattr(line, name) for name in SPEC_FIELDS)


def plan_terms(plan) -> rating.PlanTerms:
    """The plan's price terms as plain data; a malformed tier list is a BillingError."""
    tiers = []
    for band in plan.price_tiers or []:
        try:
            up_to = band.get("up_to")
            limit = None if up_to in (None, "") else Decimal(str(up_to))
            tiers.append(rating.Tier(limit, Decimal(str(band["price"]))))
        except (AttributeError, KeyError, InvalidOperation, TypeError):
            message = f"Plan {plan.name!r} has a malformed price tier: {band!r}."
            raise BillingError(message) from None
    return rating.PlanTerms(
        currency=plan.currency,
        unit=plan.billing_unit,
        price_per_unit_month=plan.price_per_unit_month,
        quantity_rule=plan.quantity_rule,
        included_units=plan.included_units,
        minimum_monthly_charge=plan.minimum_monthly_charge,
        tiers=tuple(tiers),
    )


def ready_at(filespace) -> datetime | None:
    """When the filespace began to exist for the customer: provisioned or initialized."""
    return min((m for m in (filespace.provisioned_at, filespace.active_at) if m), default=None)


def billable_filespaces(*, month_start: datetime, month_end: datetime) -> QuerySet:
    from provisioning.models import Filespace

    return (
        Filespace.objects.filter(Q(provisioned_at__lt=month_end) | Q(active_at__lt=month_end))
        .filter(Q(deleted_at__isnull=True) | Q(deleted_at__gt=month_start))
        .select_related("plan")
    )


def _window_text(start: datetime, end: datetime, month_start: datetime, month_end: datetime) -> str:
    if start == month_start and end == month_end:
        return f"{start:%-d} to {(end - timedelta(seconds=1)):%-d %b %Y}"
    return f"{start:%-d %b %H:%M} to {end:%-d %b %Y %H:%M} UTC"


@dataclass(frozen=True)
class RatingInputs:
    """Plan history and samples of some filespaces for one month, loaded in two queries."""

    history: dict[int, list[tuple[datetime, object]]]
    samples: dict[int, rating.SampleSeries]


def rating_inputs(*, filespaces: list, month_start: datetime, month_end: datetime) -> RatingInputs:
    ids = [fs.pk for fs in filespaces]
    history: dict[int, list[tuple[datetime, object]]] = defaultdict(list)
    for period in FilespacePlanPeriod.objects.filter(filespace_id__in=ids).select_related("plan"):
        history[period.filespace_id].append((period.starts_at, period.plan))
    samples: dict[int, rating.SampleSeries] = defaultdict(dict)
    sample_rows = (
        UsageSample.objects.filter(filespace_id__in=ids, slot__gte=month_start, slot__lt=month_end)
        .annotate(epoch=EpochSeconds("slot"))
        .values_list("filespace_id", "epoch", "used_storage")
    )
    # Read through a plain cursor: the rows are three integers, Django's converters add nothing.
    sql, params = sample_rows.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for filespace_id, epoch, used in cursor.fetchall():
            samples[filespace_id][epoch] = used
    return RatingInputs(history=dict(history), samples=dict(samples))


def rate_filespaces(
    *,
    filespaces: list,
    month_start: datetime,
    month_end: datetime,
    as_of: datetime | None = None,
    forecast: bool = False,
    inputs: RatingInputs | None = None,
) -> dict[str, list[LineSpec]]:
    """Rate the given filespaces for one month: usage lines per currency, then true-ups.

    With ``as_of`` and no ``forecast`` the windows stop at ``as_of`` (cost to date); with
    ``forecast`` they run to the end of the month and slots after ``as_of`` are projected.
    Two queries whatever the number of filespaces (plan history and samples), none when
    ``inputs`` were loaded already.
    """
    slot_seconds = settings.USAGE_SAMPLE_INTERVAL_SECONDS
    if inputs is None:
        inputs = rating_inputs(filespaces=filespaces, month_start=month_start, month_end=month_end)
    history, samples = inputs.history, inputs.samples
    lines: dict[str, list[LineSpec]] = defaultdict(list)
    minimums: dict[tuple[str, int], list[tuple[Decimal, Decimal]]] = defaultdict(list)
    plans: dict[int, object] = {}
    for filespace in sorted(filespaces, key=lambda fs: (fs.remote_name, fs.pk)):
        window = rating.billable_window(
            period_start=month_start,
            period_end=month_end,
            ready_at=ready_at(filespace),
            deleted_at=filespace.deleted_at,
        )
        if window is None:
            continue
        start, end = window
        if as_of is not None and not forecast:
            end = min(end, max(start, as_of))
            if end <= start:
                continue
        assignments = history.get(filespace.pk) or [(EARLIEST, filespace.plan)]
        for piece_start, piece_end, plan in rating.split_by_plan(
            window_start=start, window_end=end, assignments=assignments
        ):
            terms = plan_terms(plan)
            rated = rating.rate_usage(
                terms=terms,
                samples=samples.get(filespace.pk, {}),
                window_start=piece_start,
                window_end=piece_end,
                month_start=month_start,
                month_end=month_end,
                slot_seconds=slot_seconds,
                as_of=as_of if forecast else None,
            )
            plans[plan.pk] = plan
            minimums[(terms.currency, plan.pk)].append((rated.minimum_prorated, rated.amount))
            lines[terms.currency].append(
                LineSpec(
                    kind=InvoiceLine.Kind.USAGE,
                    description=(
                        f"{filespace.qualified_name}: {plan.name}, "
                        f"{_window_text(piece_start, piece_end, month_start, month_end)}"
                    ),
                    filespace_id=filespace.pk,
                    plan_id=plan.pk,
                    window_start=piece_start,
                    window_end=piece_end,
                    slot_seconds=slot_seconds,
                    unit=terms.unit,
                    quantity_rule=terms.quantity_rule,
                    quantity=rated.quantity,
                    included=rated.included,
                    billable=rated.billable,
                    unit_price=terms.price_per_unit_month,
                    amount=rated.amount,
                    minimum_prorated=rated.minimum_prorated,
                    slot_count=rated.slot_count,
                    gap_slots=rated.gap_slots,
                    note=rated.gap_note,
                    formula=rated.formula,
                )
            )
    for (currency, plan_id), pairs in sorted(minimums.items()):
        top_up = rating.minimum_true_up(pairs)
        if top_up > 0:
            plan = plans[plan_id]
            minimum = sum((pair[0] for pair in pairs), Decimal(0))
            charged = sum((pair[1] for pair in pairs), Decimal(0))
            lines[currency].append(
                LineSpec(
                    kind=InvoiceLine.Kind.MINIMUM,
                    description=f"Minimum charge true-up: {plan.name}",
                    filespace_id=None,
                    plan_id=plan_id,
                    window_start=None,
                    window_end=None,
                    slot_seconds=None,
                    unit="",
                    quantity_rule="",
                    quantity=Decimal(0),
                    included=Decimal(0),
                    billable=Decimal(0),
                    unit_price=Decimal(0),
                    amount=top_up,
                    minimum_prorated=minimum,
                    slot_count=0,
                    gap_slots=0,
                    note="",
                    formula=(
                        f"prorated minimum {minimum} {currency} minus usage charged {charged} "
                        f"{currency} = {top_up} {currency}"
                    ),
                )
            )
    return dict(lines)


def invoice_rate_customer(
    *, customer_id: int, month_start: datetime, month_end: datetime, as_of: datetime | None = None
) -> dict[str, list[LineSpec]]:
    """The computed lines of one customer's invoices for one month, by currency."""
    filespaces = list(
        billable_filespaces(month_start=month_start, month_end=month_end).filter(
            customer_id=customer_id
        )
    )
    return rate_filespaces(
        filespaces=filespaces, month_start=month_start, month_end=month_end, as_of=as_of
    )


@dataclass
class RunResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    finalized_skipped: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)


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
            inputs = rating_inputs(
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


@transaction.atomic
def invoice_finalize(*, invoice_id: int, actor=None, now: datetime | None = None) -> Invoice:
    """Give a draft its number and freeze it.

    The number comes from a counter row locked in the same transaction, so numbers are
    sequential without gaps: a rollback also rolls back the counter.
    """
    now = now or timezone.now()
    invoice = Invoice.objects.select_for_update().filter(pk=invoice_id).first()
    if invoice is None:
        raise BillingError("No such invoice.")
    if invoice.status == Invoice.Status.FINALIZED:
        raise BillingError(f"{invoice.number} is already finalized.")
    if not invoice.lines.exists():
        raise BillingError("An invoice without lines cannot be finalized.")
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
        finalized_by=actor,
    )
    if updated != 1:
        raise BillingError("Someone else finalized this invoice first.")
    invoice.refresh_from_db()
    audit_record(
        actor=actor,
        action="invoice.finalized",
        target=invoice,
        after={"number": number, "total": str(total), "currency": invoice.currency},
    )
    from portal.webhooks.receivers import invoice_finalized  # emits invoice.finalized on commit

    invoice_finalized(invoice_id=invoice.pk)
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


@transaction.atomic
def invoice_add_adjustment(
    *, invoice_id: int, description: str, amount, reason: str, actor=None
) -> InvoiceLine:
    """Add a positive or negative line with a reason to a draft invoice."""
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
        created_by=actor,
    )
    _refresh_total(invoice, now=timezone.now())
    audit_record(
        actor=actor,
        action="invoice.adjusted",
        target=invoice,
        after={"description": line.description, "amount": str(value)},
        note=line.note,
    )
    return line


@transaction.atomic
def invoice_credit(
    *, invoice_id: int, amount, reason: str, actor=None, now: datetime | None = None
) -> Invoice:
    """Issue a finalized credit note against a finalized invoice (never more than it is owed)."""
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
    credited = -(original.credit_notes.aggregate(total=Sum("total"))["total"] or Decimal(0))
    if credited + value > original.total:
        raise BillingError(
            f"Credits would exceed the invoice: {original.total} invoiced, "
            f"{credited} already credited."
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
        created_by=actor,
    )
    audit_record(
        actor=actor,
        action="invoice.credited",
        target=original,
        after={"credit_note": note.pk, "amount": str(value)},
        note=reason.strip(),
    )
    return invoice_finalize(invoice_id=note.pk, actor=actor, now=now)
