"""/metrics: who may read it, and the HTTP and database metrics it shows."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from billing.models import BillingFlag
from portal.observability import collectors
from portal.webhooks.models import Delivery
from provisioning.models import Filespace
from tests.observability.helpers import local, value

pytestmark = pytest.mark.django_db
TOKEN = "a-metrics-token-0123456789"
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def token_only(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = []
    return settings


def scrape(client) -> str:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return response.content.decode()


def test_nobody_reads_metrics_when_neither_a_token_nor_an_allowlist_is_set(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = []
    response = client.get("/metrics")
    assert response.status_code == 403
    assert b"METRICS_TOKEN" in response.content


def test_a_missing_or_wrong_token_is_refused_with_401(client, token_only):
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer not-the-token")
    assert wrong.status_code == 401
    assert wrong["WWW-Authenticate"].startswith("Bearer")
    assert b"portal_" not in wrong.content


def test_the_right_token_reads_the_metrics(client, token_only):
    assert "portal_filespaces" in scrape(client)


def test_an_allowed_address_reads_without_a_token_and_another_does_not(client, settings):
    from ipaddress import ip_network

    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_NETWORKS = [ip_network("10.1.0.0/16")]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.2.0.1").status_code == 403
    # A forged X-Forwarded-For never counts: only the connection's address does.
    forged = client.get("/metrics", REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="10.1.2.3")
    assert forged.status_code == 403


def test_http_requests_are_counted_by_view_name_and_status(client, token_only):
    before = local("portal_http_requests_total", view="healthz-live", method="GET", status="200")
    client.get("/healthz/live")
    client.get("/healthz/live")
    text = scrape(client)
    after = value(
        text, "portal_http_requests_total", view="healthz-live", method="GET", status="200"
    )
    assert after == before + 2
    assert (
        value(text, "portal_http_request_duration_seconds_count", view="healthz-live", method="GET")
        >= 2
    )


def test_unmatched_paths_share_one_label_so_scanners_cannot_mint_series(client, token_only):
    client.get("/no-such-page-1")
    client.get("/wp-admin/xyz")
    text = scrape(client)
    assert (
        value(text, "portal_http_requests_total", view="<unresolved>", method="GET", status="404")
        >= 2
    )
    assert "no-such-page" not in text and "wp-admin" not in text


def test_each_response_carries_its_request_id_and_keeps_a_sane_proxy_id(client):
    mine = client.get("/healthz/live", HTTP_X_REQUEST_ID="lb-1234-abcd")
    assert mine["X-Request-ID"] == "lb-1234-abcd"
    hostile = client.get("/healthz/live", HTTP_X_REQUEST_ID="x\nFAKE log line")
    assert hostile["X-Request-ID"] != "x\nFAKE log line"
    assert len(hostile["X-Request-ID"]) == 32


def test_filespaces_are_counted_by_state_at_scrape_time(client, token_only, filespace_factory):
    filespace_factory(state=Filespace.State.ACTIVE)
    filespace_factory(state=Filespace.State.ACTIVE)
    filespace_factory(state=Filespace.State.ERROR)
    text = scrape(client)
    assert value(text, "portal_filespaces", state="active") == 2
    assert value(text, "portal_filespaces", state="error") == 1
    assert value(text, "portal_filespaces", state="deleting") == 0


def test_busy_filespaces_unchanged_past_the_deadline_are_stuck_as_in_the_staff_console(
    client, token_only, filespace_factory
):
    from portal.staff.selectors import attention_counts

    token_only.PROVISIONING_DEADLINE = 1800
    old = NOW - timedelta(seconds=1801)
    with time_machine.travel(old, tick=False):
        filespace_factory(state="provisioning")
        filespace_factory(state="requested")
        filespace_factory(state="deleting")
        filespace_factory(state="active")
        filespace_factory(state="error")
    with time_machine.travel(NOW - timedelta(seconds=60), tick=False):
        filespace_factory(state="provisioning")
    with time_machine.travel(NOW, tick=False):
        text = scrape(client)
        console = attention_counts(now=NOW).filespaces_stuck
    assert value(text, "portal_filespaces_stuck", state="provisioning") == 1
    assert value(text, "portal_filespaces_stuck", state="requested") == 1
    assert value(text, "portal_filespaces_stuck", state="deleting") == 1
    assert value(text, "portal_filespaces_stuck", state="creating") == 0
    assert console == 3


def test_open_unknown_filespace_flags_are_the_orphans(client, token_only):
    period = NOW.date().replace(day=1)
    for subject, resolved in (("remote:a", None), ("remote:b", None), ("remote:c", NOW)):
        BillingFlag.objects.create(
            kind=BillingFlag.Kind.UNKNOWN_FILESPACE, subject=subject, period_start=period,
            message="unknown", resolved_at=resolved,
        )  # fmt: skip
    BillingFlag.objects.create(
        kind=BillingFlag.Kind.DRIFT, subject="filespace:1", period_start=period, message="drift"
    )
    assert value(scrape(client), "portal_filespaces_orphaned") == 2


def test_usage_collection_lag_counts_from_the_newest_sample_slot(
    client, token_only, filespace_factory
):
    from billing.models import UsageSample

    with time_machine.travel(NOW, tick=False):
        filespace = filespace_factory(state="active", active_at=NOW - timedelta(days=2))
        assert value(scrape(client), "portal_usage_collection_lag_seconds") == 2 * 86400
        slot = NOW - timedelta(hours=3)
        UsageSample.objects.create(
            filespace=filespace, customer=filespace.customer, slot=slot, sampled_at=slot,
            used_storage=1, filespace_size=1, users_count=1, get_request_count=0,
            get_data_size=0, put_request_count=0, put_data_size=0, list_request_count=0,
            delete_request_count=0,
        )  # fmt: skip
        assert value(scrape(client), "portal_usage_collection_lag_seconds") == 3 * 3600


def test_usage_lag_is_zero_with_nothing_to_collect(client, token_only):
    assert value(scrape(client), "portal_usage_collection_lag_seconds") == 0


def test_the_partition_gauges_are_exported_with_the_databases_answer(
    client, token_only, monkeypatch
):
    from billing.services import retention

    monkeypatch.setattr(
        retention,
        "usage_partitions_health",
        lambda now: retention.PartitionHealth(months_missing=1, rows_in_default=42),
    )
    text = scrape(client)
    assert value(text, "portal_metrics_collector_up", collector="partitions") == 1
    assert value(text, "portal_usage_partitions_missing") == 1
    assert value(text, "portal_usage_samples_in_default") == 42


def test_webhook_deliveries_are_counted_by_state(client, token_only, user_factory):
    from portal.webhooks.services import subscription_create, webhook_emit

    staff = user_factory(email="ops@msp.example", is_staff=True, mfa=True)
    subscription_create(url="http://127.0.0.1:9/in", event_types=["order.placed"], created_by=staff)
    for n in range(3):
        webhook_emit(event_type="order.placed", customer=None, dedupe_key=f"k{n}", data={"n": n})
    Delivery.objects.filter(pk=Delivery.objects.order_by("pk").first().pk).update(state="failed")
    text = scrape(client)
    assert value(text, "portal_webhook_deliveries", state="failed") == 1
    assert value(text, "portal_webhook_deliveries", state="pending") == 2


def test_the_queue_depth_counts_the_messages_waiting_in_the_broker(client, token_only):
    import uuid

    from portal import queues
    from portal.celery import app as celery_app

    prefix = f"depth-{uuid.uuid4().hex[:10]}-"
    token_only.CELERY_QUEUE_PREFIX = prefix
    webhooks, billing = f"{prefix}webhooks", f"{prefix}billing"
    try:
        # An empty (never used) queue is 0, not a failed collector.
        assert value(scrape(client), "portal_celery_queue_depth", queue=webhooks) == 0
        for _ in range(3):
            celery_app.send_task("portal.webhooks.tasks.send_due_webhooks")
        celery_app.send_task("billing.tasks.rollup_usage")
        text = scrape(client)
        assert value(text, "portal_metrics_collector_up", collector="queue") == 1
        assert value(text, "portal_celery_queue_depth", queue=webhooks) == 3
        assert value(text, "portal_celery_queue_depth", queue=billing) == 1
        assert value(text, "portal_celery_queue_depth", queue=f"{prefix}provisioning") == 0
    finally:
        with celery_app.connection_for_write() as connection:
            for queue in queues.all_queue_names(prefix):
                connection.default_channel.queue_purge(queue)


def test_a_failing_source_is_reported_and_the_others_still_answer(
    client, token_only, monkeypatch, filespace_factory
):
    filespace_factory(state="active")

    def broken():
        raise ConnectionError("broker down")

    monkeypatch.setitem(collectors.SOURCES, "queue", broken)
    text = scrape(client)
    assert value(text, "portal_metrics_collector_up", collector="queue") == 0
    assert value(text, "portal_metrics_collector_up", collector="filespaces") == 1
    assert value(text, "portal_filespaces", state="active") == 1


def test_a_scrape_costs_a_fixed_number_of_queries_whatever_the_rows(
    client, token_only, filespace_factory, django_assert_max_num_queries
):
    for _ in range(5):
        filespace_factory(state="provisioning")
    with django_assert_max_num_queries(10):
        scrape(client)
