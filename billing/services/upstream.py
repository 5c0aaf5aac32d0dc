"""The nightly comparison of our metering with what LucidLink bills the MSP."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import transaction

from billing import rating
from billing.db import EpochSeconds
from billing.models import BillingFlag, UsageSample
from billing.services.pricing import rate_filespaces, ready_at

GB_TERMS = rating.PlanTerms(currency="USD", unit="GB", price_per_unit_month=Decimal(0))
HUNDRED = Decimal(100)


def drift_percent(*, ours: Decimal, theirs: Decimal) -> Decimal:
    """How far our figure is from LucidLink's, as a percentage of theirs (2 places)."""
    if theirs == 0:
        return Decimal(0) if ours == 0 else HUNDRED
    return rating.round_money(abs(ours - theirs) / theirs * HUNDRED, "USD")


def upstream_check(*, client, now: datetime) -> list[BillingFlag]:
    """Read ``GET /billing/current-period`` and flag drift, unknown filespaces and losses.

    ManagedCapacity is read as GB-months (10^9 bytes) accrued in LucidLink's period so far
    (docs/billing.md, "Upstream check"): our figure is the time-weighted GB-month of the same
    filespace from the period start to now. Each flag is upserted on (kind, subject, period),
    so a rerun only refreshes ``last_seen_at``; open flags of the period that no longer apply
    are resolved.
    """
    from provisioning.models import Filespace

    period = client.current_billing_period()
    threshold = Decimal(str(settings.BILLING_DRIFT_PERCENT))
    until = min(now, period.end)
    remote_ids = [item.filespace_id for item in period.filespaces]
    filespaces = {
        fs.remote_id: fs
        for fs in Filespace.objects.filter(remote_id__in=remote_ids).select_related("plan")
    }
    samples: dict[int, rating.SampleSeries] = defaultdict(dict)
    rows = (
        UsageSample.objects.filter(
            filespace_id__in=[fs.pk for fs in filespaces.values()],
            slot__gte=period.start,
            slot__lt=until,
        )
        .annotate(epoch=EpochSeconds("slot"))
        .values_list("filespace_id", "epoch", "used_storage")
    )
    for filespace_id, epoch, used in rows:
        samples[filespace_id][epoch] = used

    period_start = period.start.date()
    seen: list[BillingFlag] = []
    cost_by_customer: dict[int, Decimal] = defaultdict(Decimal)
    with transaction.atomic():
        for item in period.filespaces:
            filespace = filespaces.get(item.filespace_id)
            if filespace is None:
                billed = rating.format_money(Decimal(item.amount_due) / 100, period.currency)
                seen.append(
                    _flag(
                        kind=BillingFlag.Kind.UNKNOWN_FILESPACE,
                        subject=f"remote:{item.filespace_id}",
                        period_start=period_start,
                        now=now,
                        message=(
                            f"LucidLink bills filespace {item.name!r} ({item.filespace_id}), "
                            f"{billed} so far, which the portal does not know."
                        ),
                    )
                )
                continue
            cost_by_customer[filespace.customer_id] += Decimal(item.amount_due) / HUNDRED
            theirs = item.managed_capacity
            window = rating.billable_window(
                period_start=period.start,
                period_end=until,
                ready_at=ready_at(filespace),
                deleted_at=filespace.deleted_at,
            )
            if theirs is None or window is None:
                continue
            ours = rating.rate_usage(
                terms=GB_TERMS,
                samples=samples.get(filespace.pk, {}),
                window_start=window[0],
                window_end=window[1],
                month_start=period.start,
                month_end=period.end,
                slot_seconds=settings.USAGE_SAMPLE_INTERVAL_SECONDS,
            ).quantity
            percent = drift_percent(ours=ours, theirs=theirs)
            if percent > threshold:
                seen.append(
                    _flag(
                        kind=BillingFlag.Kind.DRIFT,
                        subject=f"filespace:{filespace.pk}",
                        period_start=period_start,
                        now=now,
                        customer_id=filespace.customer_id,
                        filespace_id=filespace.pk,
                        ours=ours,
                        theirs=rating.quantize_quantity(theirs),
                        drift_percent=percent,
                        message=(
                            f"{filespace.qualified_name}: we metered {ours} GB-month, LucidLink "
                            f"bills {theirs} ManagedCapacity ({percent}% apart, "
                            f"limit {threshold}%)."
                        ),
                    )
                )
        seen.extend(
            _below_cost_flags(
                cost_by_customer=cost_by_customer,
                filespaces=filespaces,
                period=period,
                now=now,
            )
        )
        stale = BillingFlag.objects.filter(period_start=period_start, resolved_at__isnull=True)
        stale.exclude(pk__in=[flag.pk for flag in seen]).update(resolved_at=now)
    return seen


def _below_cost_flags(*, cost_by_customer, filespaces, period, now) -> list[BillingFlag]:
    """Customers whose charge to date is below what LucidLink charges for their filespaces."""
    month_start, month_end = rating.month_of(period.start)
    by_customer: dict[int, list] = defaultdict(list)
    for filespace in filespaces.values():
        by_customer[filespace.customer_id].append(filespace)
    flags = []
    for customer_id, cost in sorted(cost_by_customer.items()):
        lines = rate_filespaces(
            filespaces=by_customer[customer_id],
            month_start=month_start,
            month_end=month_end,
            as_of=now,
        )
        charged = sum((line.amount for line in lines.get(period.currency, [])), Decimal(0))
        other_currencies = sorted(set(lines) - {period.currency})
        if other_currencies or charged >= cost:
            # A price in another currency cannot be compared without an exchange rate.
            continue
        flags.append(
            _flag(
                kind=BillingFlag.Kind.BELOW_COST,
                subject=f"customer:{customer_id}",
                period_start=period.start.date(),
                now=now,
                customer_id=customer_id,
                ours=charged,
                theirs=cost,
                message=(
                    f"Charged {rating.format_money(charged, period.currency)} to date, LucidLink "
                    f"charges {rating.format_money(cost, period.currency)} for the same filespaces."
                ),
            )
        )
    return flags


def _flag(*, kind, subject, period_start, now, message, **values) -> BillingFlag:
    flag, _created = BillingFlag.objects.update_or_create(
        kind=kind,
        subject=subject,
        period_start=period_start,
        defaults={"message": message, "last_seen_at": now, "resolved_at": None, **values},
        create_defaults={
            "message": message,
            "first_seen_at": now,
            "last_seen_at": now,
            **values,
        },
    )
    return flag
