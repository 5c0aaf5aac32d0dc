"""Gauges read from the database and the broker when Prometheus scrapes (the web's /metrics).

Each query is an aggregate over an indexed column or a small table, a handful per scrape; the
database is the truth, so these values are the same whichever web process answers the scrape.
A query that fails is reported by `portal_metrics_collector_up{collector}` = 0 rather than by a
failed scrape, so one broken dependency never hides every other metric.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator

from django.db.models import Count, Max, Min
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)


def filespaces_by_state() -> Iterable[Metric]:
    from provisioning.models import Filespace

    gauge = GaugeMetricFamily(
        "portal_filespaces", "Filespaces by state (deleted ones included).", labels=["state"]
    )
    counts = dict(Filespace.objects.values_list("state").annotate(n=Count("id")).order_by())
    for state in Filespace.State.values:
        gauge.add_metric([state], counts.get(state, 0))
    yield gauge


def stuck_filespaces() -> Iterable[Metric]:
    """Busy filespaces unchanged for longer than the provisioning deadline (as the console)."""
    from provisioning.models import Filespace
    from provisioning.selectors import BUSY_STATES, stuck_filter

    gauge = GaugeMetricFamily(
        "portal_filespaces_stuck",
        "Filespaces still requested, creating, provisioning or deleting with no change for "
        "longer than PROVISIONING_DEADLINE, by state.",
        labels=["state"],
    )
    counts = dict(
        Filespace.objects.filter(stuck_filter(now=timezone.now()))
        .values_list("state")
        .annotate(n=Count("id"))
        .order_by()
    )
    for state in BUSY_STATES:
        gauge.add_metric([state], counts.get(state, 0))
    yield gauge


def orphaned_filespaces() -> Iterable[Metric]:
    """Filespaces LucidLink bills that no portal row knows (the nightly upstream check's flags)."""
    from billing.models import BillingFlag

    count = BillingFlag.objects.filter(
        resolved_at__isnull=True, kind=BillingFlag.Kind.UNKNOWN_FILESPACE
    ).count()
    yield GaugeMetricFamily(
        "portal_filespaces_orphaned",
        "Filespaces LucidLink bills that the portal has no row for (open billing flags).",
        value=count,
    )


def usage_collection_lag() -> Iterable[Metric]:
    """Seconds since the newest usage sample slot; grows when collection stops.

    Before the first sample ever, the lag counts from the moment the oldest active filespace
    became active (collection is owed from then); with no active filespace it is 0.
    """
    from billing.models import UsageSample
    from provisioning.models import Filespace

    newest = UsageSample.objects.aggregate(newest=Max("slot"))["newest"]
    if newest is None:
        newest = Filespace.objects.filter(state=Filespace.State.ACTIVE).aggregate(
            first=Min("active_at")
        )["first"]
    lag = 0.0 if newest is None else max(0.0, (timezone.now() - newest).total_seconds())
    yield GaugeMetricFamily(
        "portal_usage_collection_lag_seconds",
        "Seconds since the start of the newest usage sample slot.",
        value=lag,
    )


def usage_partitions() -> Iterable[Metric]:
    """The samples table's monthly partitions (PostgreSQL): made ahead, and DEFAULT left empty."""
    from billing.services.retention import DEFAULT_ROWS_COUNTED, usage_partitions_health

    health = usage_partitions_health(now=timezone.now())
    yield GaugeMetricFamily(
        "portal_usage_partitions_missing",
        "Months from this one to USAGE_PARTITION_MONTHS_AHEAD ahead with no samples partition "
        "(0 where the table is not partitioned).",
        value=health.months_missing,
    )
    yield GaugeMetricFamily(
        "portal_usage_samples_in_default",
        "Usage samples in the DEFAULT partition, waiting for their month's partition "
        f"(counted up to {DEFAULT_ROWS_COUNTED:,}).",
        value=health.rows_in_default,
    )


def webhook_deliveries() -> Iterable[Metric]:
    from portal.webhooks.models import Delivery

    gauge = GaugeMetricFamily(
        "portal_webhook_deliveries",
        "Webhook deliveries kept in the history, by state (failed = gave up after retries).",
        labels=["state"],
    )
    counts = dict(Delivery.objects.values_list("state").annotate(n=Count("id")).order_by())
    for state in Delivery.State.values:
        gauge.add_metric([state], counts.get(state, 0))
    yield gauge


def celery_queue_depth() -> Iterable[Metric]:
    """Messages waiting in each of the workers' queues; nothing is created or consumed."""
    from portal import queues
    from portal.celery import app

    gauge = GaugeMetricFamily(
        "portal_celery_queue_depth", "Messages waiting in the Celery queue.", labels=["queue"]
    )
    with app.connection_for_read() as connection:
        connection.ensure_connection(max_retries=1, timeout=2)
        channel = connection.default_channel
        # kombu's virtual transports (Redis, the filesystem) count a queue with `_size`, which
        # adds up Redis's per-priority lists and answers 0 for an empty queue, where a passive
        # declare would fail (an empty Redis list does not exist); AMQP answers the declare.
        size = getattr(channel, "_size", None)
        for queue in queues.all_queue_names():
            if size is not None:
                depth = size(queue)
            else:
                depth = channel.queue_declare(queue=queue, passive=True).message_count
            gauge.add_metric([queue], depth)
    yield gauge


SOURCES: dict[str, Callable[[], Iterable[Metric]]] = {
    "filespaces": filespaces_by_state,
    "stuck": stuck_filespaces,
    "orphaned": orphaned_filespaces,
    "usage_lag": usage_collection_lag,
    "partitions": usage_partitions,
    "webhooks": webhook_deliveries,
    "queue": celery_queue_depth,
}


class PortalCollector(Collector):
    """Everything above, each source guarded so one failure leaves the others readable."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "portal_metrics_collector_up",
            "1 when the collector could read its source at this scrape, 0 when it failed.",
            labels=["collector"],
        )
        for name, source in SOURCES.items():
            try:
                metrics = list(source())
            except Exception:  # a broken source must not fail the whole scrape
                log.warning("Metrics collector %s failed.", name, exc_info=True)
                up.add_metric([name], 0)
                continue
            up.add_metric([name], 1)
            yield from metrics
        yield up
