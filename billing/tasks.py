"""Billing tasks: thin wrappers that fetch the inputs and call a service (docs/billing.md)."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from billing import rating, services

logger = logging.getLogger(__name__)


def backoff(retries: int, retry_after: float | None = None) -> float:
    """Exponential back-off capped at ten minutes, never shorter than the server asked for."""
    delay = min(600.0, 15.0 * (2**retries))
    return max(delay, retry_after or 0.0)


@shared_task(bind=True, acks_late=True, max_retries=3)
def collect_usage(self) -> dict:
    """Sample every live filespace for the current slot; a rerun in the same slot adds nothing."""
    from provisioning import lucidlink

    try:
        result = services.usage_collect(client=lucidlink.get_client(), now=timezone.now())
    except lucidlink.Unavailable as exc:
        # Gaps are already recorded; a retry in the same slot may still fill them.
        delay = backoff(self.request.retries, exc.retry_after)
        raise self.retry(exc=exc, countdown=delay) from None
    return {"slot": result.slot.isoformat(), "sampled": result.sampled, "gaps": result.gaps}


@shared_task(acks_late=True)
def rollup_usage(days_back: int | None = None) -> int:
    """Recompute the daily rollups of the days that got samples or gaps since the last run.

    With ``days_back``, recompute today and the previous ``days_back`` days instead.
    """
    if days_back is None:
        return len(services.usage_rollup_new(now=timezone.now()))
    today = timezone.now().date()
    days = [today - timedelta(days=offset) for offset in range(days_back + 1)]
    return services.usage_rollup_days(days=days)


@shared_task(acks_late=True)
def prune_usage_samples() -> dict:
    """Drop the months of raw samples and gaps past USAGE_RAW_RETENTION_DAYS; idempotent."""
    result = services.usage_prune(now=timezone.now())
    return {
        "before": result.before.isoformat(),
        "partitions_dropped": result.partitions_dropped,
        "rows_deleted": result.rows_deleted,
    }


@shared_task(acks_late=True)
def ensure_usage_partitions() -> list[str]:
    """Create this month's and the next months' sample partitions (PostgreSQL); idempotent."""
    return services.usage_partitions_ensure(now=timezone.now())


@shared_task(acks_late=True)
def run_invoices(year: int | None = None, month: int | None = None) -> dict:
    """Make or refresh the drafts of a month (default: the month before this one)."""
    if year is None or month is None:
        previous = rating.month_of(timezone.now())[0] - timedelta(days=1)
        year, month = previous.year, previous.month
    result = services.invoice_run(year=year, month=month)
    logger.info("Invoice run %04d-%02d: %s", year, month, result)
    return result.__dict__


@shared_task(bind=True, acks_late=True, max_retries=5)
def check_upstream_billing(self) -> int:
    """Compare our metering with LucidLink's current period and raise or resolve flags."""
    from provisioning import lucidlink

    try:
        flags = services.upstream_check(client=lucidlink.get_client(), now=timezone.now())
    except lucidlink.Unavailable as exc:
        delay = backoff(self.request.retries, exc.retry_after)
        raise self.retry(exc=exc, countdown=delay) from None
    except lucidlink.Rejected as exc:
        logger.error("Upstream billing check refused by LucidLink: %s", exc.message)
        return 0
    return len(flags)


@shared_task(bind=True, acks_late=True, max_retries=6)
def send_invoice_email(self, invoice_id: int) -> bool:
    """Mail a finalized invoice or credit note with its PDF; a redelivery sends nothing twice."""
    from billing.documents import emails

    try:
        return emails.send(invoice_id=invoice_id)
    except emails.MailUnavailable as exc:
        raise self.retry(exc=exc, countdown=backoff(self.request.retries)) from None
