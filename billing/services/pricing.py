"""Pricing: a customer's or some filespaces' lines for a month, from samples and plan history.

Shared by the invoice run, the usage pages and the upstream check; the maths is billing.rating.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import connection
from django.db.models import Count, Max, Min, Q, QuerySet, Sum

from billing import rating
from billing.db import EpochSeconds
from billing.models import FilespacePlanPeriod, InvoiceLine, UsageSample
from billing.services import integrals
from billing.services.summaries import month_summaries, month_summaries_for_rating
from billing.summary import SeriesSummary, WindowFigures, covers
from portal.actions.errors import Code, Refused

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
# Quantity rules that read a summary's per-day figures (billing.summary._level).
DAILY_RULES = (rating.QuantityRule.AVERAGE_DAILY_PEAK,)


class BillingError(Refused):
    """A billing action that cannot be done as asked; ``message`` is safe to show.

    A Refused, so every entry point answers it as it answers any action's refusal (the API with
    a stable code); the default code is the object's state, `Code.INVALID` marks bad input.
    """

    def __init__(self, message: str, *, code: str = Code.INVALID_STATE) -> None:
        super().__init__(message, code=code)


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


def line_signature(line: InvoiceLine) -> tuple:
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
        # Billing never needs the secret, and decrypting it costs more than the rest of the row.
        .defer("root_password")
    )


def _window_text(start: datetime, end: datetime, month_start: datetime, month_end: datetime) -> str:
    if start == month_start and end == month_end:
        return f"{start:%-d} to {(end - timedelta(seconds=1)):%-d %b %Y}"
    return f"{start:%-d %b %H:%M} to {end:%-d %b %Y %H:%M} UTC"


@dataclass(frozen=True)
class RatingInputs:
    """Plan history and samples of some filespaces for one month, loaded in two queries.

    ``figures`` holds windows the database integrated already (invoice run on PostgreSQL);
    a window found there is rated from them, any other from ``samples``.
    """

    history: dict[int, list[tuple[datetime, object]]]
    samples: dict[int, rating.SampleSeries | SeriesSummary]
    figures: dict[integrals.Window, WindowFigures] = field(default_factory=dict)
    # plan_pieces already cut while loading, by (filespace id, as_of, forecast).
    pieces: dict[tuple[int, datetime | None, bool], list] = field(default_factory=dict)


def rating_inputs(*, filespaces: list, month_start: datetime, month_end: datetime) -> RatingInputs:
    ids = [fs.pk for fs in filespaces]
    if not ids:
        # An empty IN () cannot be compiled to SQL (EmptyResultSet), and there is nothing to load.
        return RatingInputs(history={}, samples={})
    history = plan_history(ids)
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
    return RatingInputs(history=history, samples=dict(samples))


def plan_pieces(
    filespace,
    history: dict[int, list[tuple[datetime, object]]],
    month_start: datetime,
    month_end: datetime,
    *,
    as_of: datetime | None,
    forecast: bool,
) -> list[tuple[datetime, datetime, object]]:
    """The (start, end, plan) windows a filespace is rated over in the month."""
    window = rating.billable_window(
        period_start=month_start,
        period_end=month_end,
        ready_at=ready_at(filespace),
        deleted_at=filespace.deleted_at,
    )
    if window is None:
        return []
    start, end = window
    if as_of is not None and not forecast:
        end = min(end, max(start, as_of))
        if end <= start:
            return []
    assignments = history.get(filespace.pk) or [(EARLIEST, filespace.plan)]
    return rating.split_by_plan(window_start=start, window_end=end, assignments=assignments)


def month_pieces(
    filespace, history: dict[int, list[tuple[datetime, object]]], month_start, month_end
) -> list[tuple[datetime, datetime, object]]:
    """The (start, end, plan) windows an invoice rates a filespace over in a whole month."""
    return plan_pieces(filespace, history, month_start, month_end, as_of=None, forecast=False)


def plan_history(ids: list[int]) -> dict[int, list[tuple[datetime, object]]]:
    history: dict[int, list[tuple[datetime, object]]] = defaultdict(list)
    for period in FilespacePlanPeriod.objects.filter(filespace_id__in=ids).select_related("plan"):
        history[period.filespace_id].append((period.starts_at, period.plan))
    return dict(history)


def summary_inputs(
    *,
    filespaces: list,
    month_start: datetime,
    month_end: datetime,
    as_of: datetime | None,
    days_for: Iterable[int] | None = None,
) -> RatingInputs:
    """Plan history and month-to-date summaries for the cost to date and forecast at ``as_of``.

    A filespace whose summary does not cover every window rated for the page (no summary yet,
    a plan change or deletion inside the sampled range) gets its raw samples instead; the
    figures are the same either way (tests/billing/test_summary.py), only the cost differs.
    Three queries at most whatever the hour of the month. With ``days_for`` (the filespaces
    whose per-day figures the caller reads, e.g. for charts) the other summaries are read
    without theirs, unless a plan of theirs rates the average of daily peaks.
    """
    ids = [fs.pk for fs in filespaces]
    if not ids:
        return RatingInputs(history={}, samples={})
    history = plan_history(ids)
    horizon = None if as_of is None else int(as_of.timestamp() // 1)
    modes = (False,) if as_of is None else (False, True)
    pieces: dict[tuple[int, datetime | None, bool], list] = {}
    for filespace in filespaces:
        for forecast in modes:
            pieces[(filespace.pk, as_of, forecast)] = plan_pieces(
                filespace, history, month_start, month_end, as_of=as_of, forecast=forecast
            )
    if days_for is not None:
        days_for = set(days_for) | {
            filespace_id
            for (filespace_id, _, _), cut in pieces.items()
            if any(plan.quantity_rule in DAILY_RULES for _, _, plan in cut)
        }
    summaries = month_summaries(filespace_ids=ids, month_start=month_start, days_for=days_for)
    samples: dict[int, rating.SampleSeries | SeriesSummary] = {}
    raw_ids = []
    for filespace in filespaces:
        month = summaries.get(filespace.pk)
        windows = [
            (_whole_seconds(start), _whole_seconds(end))
            for forecast in modes
            for start, end, _ in pieces[(filespace.pk, as_of, forecast)]
        ]
        if month is not None and all(
            covers(month, start, end, horizon) and covers(month, start, end, None)
            for start, end in windows
        ):
            samples[filespace.pk] = month
        else:
            raw_ids.append(filespace.pk)
    if raw_ids:
        raw = rating_inputs(
            filespaces=[fs for fs in filespaces if fs.pk in set(raw_ids)],
            month_start=month_start,
            month_end=month_end,
        )
        samples.update(raw.samples)
    return RatingInputs(history=history, samples=samples, pieces=pieces)


def sample_facts(
    *, month_start: datetime, month_end: datetime, filespace_ids: list[int] | None = None
) -> dict[int, tuple]:
    """Per filespace: count, first and last slot (epoch seconds) and the sum of bytes of the
    month's samples, in one ``GROUP BY`` (of these filespaces, or of every one)."""
    rows = UsageSample.objects.filter(slot__gte=month_start, slot__lt=month_end)
    if filespace_ids is not None:
        rows = rows.filter(filespace_id__in=filespace_ids)
    return {
        row[0]: row[1:]
        for row in rows.values("filespace_id")
        .annotate(
            count=Count("pk"),
            # Converted once per filespace, not once per sample.
            first=EpochSeconds(Min("slot")),
            last=EpochSeconds(Max("slot")),
            total=Sum("used_storage"),
        )
        .values_list("filespace_id", "count", "first", "last", "total")
        .order_by()
    }


def invoice_inputs(
    *,
    filespaces: list,
    month_start: datetime,
    month_end: datetime,
    history: dict | None = None,
    facts: dict[int, tuple] | None = None,
) -> RatingInputs:
    """Plan history and, per filespace, its month summary when it provably matches the samples.

    Rating a whole month from the summary gives the raw rating's figures exactly (the property
    test in tests/billing/test_summary.py) when the summary is the one of the stored samples.
    One ``GROUP BY`` over the month's samples checks that (``facts``, loaded here unless given):
    the count, first and last slot and the sum of bytes must equal the summary's. A filespace
    that fails the check, has no summary, or whose window cuts into its samples (a plan change,
    a deletion before the last sample) is rated from its raw samples: on PostgreSQL the database
    integrates its windows (billing.services.integrals), elsewhere Python does.
    """
    ids = [fs.pk for fs in filespaces]
    if not ids:
        return RatingInputs(history={}, samples={})
    if history is None:
        history = plan_history(ids)
    pieces = {
        filespace.pk: plan_pieces(
            filespace, history, month_start, month_end, as_of=None, forecast=False
        )
        for filespace in filespaces
    }
    summaries = month_summaries_for_rating(
        filespace_ids=ids,
        month_start=month_start,
        full_ids=[
            filespace_id
            for filespace_id, windows in pieces.items()
            if any(plan.quantity_rule in DAILY_RULES for _, _, plan in windows)
        ],
    )
    if facts is None:
        facts = sample_facts(month_start=month_start, month_end=month_end, filespace_ids=ids)
    samples: dict[int, rating.SampleSeries | SeriesSummary] = {}
    raw = []
    for filespace in filespaces:
        month, sampled = summaries.get(filespace.pk, (None, None))
        stored = facts.get(filespace.pk)
        if stored is None:
            samples[filespace.pk] = {}
            continue
        windows = pieces[filespace.pk]
        if (
            month is not None
            and _summary_matches(month, sampled, stored)
            and all(
                covers(month, int(a.timestamp() // 1), int(b.timestamp() // 1), None)
                for a, b, _ in windows
            )
        ):
            samples[filespace.pk] = month
        else:
            raw.append(filespace)
    figures: dict[integrals.Window, WindowFigures] = {}
    if raw and integrals.available():
        integrated = _integrated_inputs(raw, history, month_start, month_end)
        samples.update(integrated.samples)
        figures = integrated.figures
    elif raw:
        samples.update(
            rating_inputs(filespaces=raw, month_start=month_start, month_end=month_end).samples
        )
    return RatingInputs(history=history, samples=samples, figures=figures)


def _integrated_inputs(
    filespaces: list, history: dict, month_start: datetime, month_end: datetime
) -> RatingInputs:
    """Windows integrated by the database in one statement; level rules other than the peak
    (the last value, the average of daily peaks) rated in Python from the raw samples."""
    windows, raw = [], []
    for filespace in filespaces:
        pieces = plan_pieces(filespace, history, month_start, month_end, as_of=None, forecast=False)
        if all(plan.quantity_rule in integrals.SQL_RULES for _, _, plan in pieces):
            windows += [
                integrals.Window(filespace.pk, _whole_seconds(a), _whole_seconds(b))
                for a, b, _ in pieces
            ]
        else:
            raw.append(filespace)
    figures = integrals.window_integrals(
        windows=windows,
        month_start=month_start,
        month_end=month_end,
        slot_seconds=settings.USAGE_SAMPLE_INTERVAL_SECONDS,
    )
    samples = {}
    if raw:
        samples = rating_inputs(filespaces=raw, month_start=month_start, month_end=month_end)
        samples = samples.samples
    return RatingInputs(history=history, samples=samples, figures=figures)


def _whole_seconds(moment: datetime) -> int:
    """Epoch seconds, window edges taken to the whole second as rating does."""
    return int(moment.timestamp() // 1)


def _summary_matches(month: SeriesSummary, sampled: int, facts: tuple) -> bool:
    """Whether the summary is the one of the stored samples: count, first and last slot, and
    the sum of the sampled bytes (``sampled``, from the summary's per-day figures)."""
    count, first, last, total = facts
    return (count, first, last, int(total)) == (
        month.sample_count,
        month.first_slot,
        month.last_slot,
        sampled,
    )


def rate_filespaces(
    *,
    filespaces: list,
    month_start: datetime,
    month_end: datetime,
    as_of: datetime | None = None,
    forecast: bool = False,
    inputs: RatingInputs | None = None,
    describe: bool = True,
) -> dict[str, list[LineSpec]]:
    """Rate the given filespaces for one month: usage lines per currency, then true-ups.

    With ``as_of`` and no ``forecast`` the windows stop at ``as_of`` (cost to date); with
    ``forecast`` they run to the end of the month and slots after ``as_of`` are projected.
    Two queries whatever the number of filespaces (plan history and samples), none when
    ``inputs`` were loaded already. Without ``describe`` the lines carry every figure but no
    description or formula text (a page that shows only the figures); an invoice describes.
    """
    slot_seconds = settings.USAGE_SAMPLE_INTERVAL_SECONDS
    if inputs is None:
        inputs = rating_inputs(filespaces=filespaces, month_start=month_start, month_end=month_end)
    history, samples = inputs.history, inputs.samples
    lines: dict[str, list[LineSpec]] = defaultdict(list)
    minimums: dict[tuple[str, int], list[tuple[Decimal, Decimal]]] = defaultdict(list)
    plans: dict[int, object] = {}
    # Each filespace row carries its own Plan instance; the terms are the plan's, so they are
    # read once per plan, not once per filespace.
    terms_of: dict[int, rating.PlanTerms] = {}
    for filespace in sorted(filespaces, key=lambda fs: (fs.remote_name, fs.pk)):
        pieces = inputs.pieces.get((filespace.pk, as_of, forecast))
        if pieces is None:
            pieces = plan_pieces(
                filespace, history, month_start, month_end, as_of=as_of, forecast=forecast
            )
        for piece_start, piece_end, plan in pieces:
            terms = terms_of.get(plan.pk)
            if terms is None:
                terms = terms_of[plan.pk] = plan_terms(plan)
            figures = None
            if as_of is None:
                window = integrals.Window(
                    filespace.pk, _whole_seconds(piece_start), _whole_seconds(piece_end)
                )
                figures = inputs.figures.get(window)
            rated = rating.rate_usage(
                terms=terms,
                samples=samples.get(filespace.pk, {}),
                window_start=piece_start,
                window_end=piece_end,
                month_start=month_start,
                month_end=month_end,
                slot_seconds=slot_seconds,
                as_of=as_of if forecast else None,
                figures=figures,
                explain=describe,
            )
            plans[plan.pk] = plan
            minimums[(terms.currency, plan.pk)].append((rated.minimum_prorated, rated.amount))
            lines[terms.currency].append(
                LineSpec(
                    kind=InvoiceLine.Kind.USAGE,
                    description=(
                        f"{filespace.qualified_name}: {plan.name}, "
                        f"{_window_text(piece_start, piece_end, month_start, month_end)}"
                        if describe
                        else ""
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
                    description=f"Minimum charge true-up: {plan.name}" if describe else "",
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
                        if describe
                        else ""
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
