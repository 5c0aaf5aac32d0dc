"""The seams that count: the LucidLink client, the provisioning timeline, webhook attempts,
Celery's publish and run signals, and the request id in log lines."""

import io
import json
import logging
from datetime import timedelta

import pytest
from django.db import transaction

from portal.observability import celery_signals, context
from portal.observability.logs import ContextFilter, JsonFormatter
from provisioning import lucidlink
from provisioning.lucidlink.client import operation_label
from provisioning.models import ProvisioningEvent
from tests.observability.helpers import local


@pytest.fixture
def api(lucidsim):
    lucidlink.forget_tokens()
    yield lucidlink.LucidLinkClient(
        api_url=lucidsim.api_url,
        token_url=lucidsim.token_url,
        client_id=lucidsim.client_id,
        client_secret=lucidsim.client_secret,
    )
    lucidlink.forget_tokens()


@pytest.mark.parametrize(
    ("method", "path", "label"),
    [
        ("GET", "/domains", "GET /domains"),
        ("GET", "/filespaces/3f2a-77", "GET /filespaces/{id}"),
        ("DELETE", "/filespaces/abc%2Fdef", "DELETE /filespaces/{id}"),
        ("GET", "/billing/current-period", "GET /billing/current-period"),
        ("GET", "/filespaces?qualifiedName=x.y", "GET /filespaces"),
        ("GET", "/unheard-of/thing", "GET /{id}/{id}"),
    ],
)
def test_operation_labels_are_templates_never_ids(method, path, label):
    assert operation_label(method, path) == label


def test_service_api_calls_are_counted_by_operation_and_status(api, lucidsim):
    ok = {"operation": "GET /domains", "status": "200"}
    missing = {"operation": "GET /filespaces/{id}", "status": "404"}
    before_ok = local("portal_lucidlink_requests_total", **ok)
    before_missing = local("portal_lucidlink_requests_total", **missing)
    before_tokens = local("portal_lucidlink_token_fetches_total", result="ok")
    duration = local("portal_lucidlink_request_duration_seconds_count", operation="GET /domains")

    api.list_domains()
    api.list_domains()
    with pytest.raises(lucidlink.NotFound):
        api.get_filespace("00000000-0000-4000-8000-000000000000")

    assert local("portal_lucidlink_requests_total", **ok) == before_ok + 2
    assert local("portal_lucidlink_requests_total", **missing) == before_missing + 1
    assert local("portal_lucidlink_token_fetches_total", result="ok") == before_tokens + 1
    after = local("portal_lucidlink_request_duration_seconds_count", operation="GET /domains")
    assert after == duration + 2


def test_throttling_and_refused_tokens_are_counted(api, lucidsim):
    throttled = {"operation": "GET /domains", "status": "429"}
    before = local("portal_lucidlink_requests_total", **throttled)
    refused = local("portal_lucidlink_token_fetches_total", result="refused")
    lucidsim.add_fault(operation="getDomains", status=429, retry_after=1)
    with pytest.raises(lucidlink.Unavailable):
        api.list_domains()
    assert local("portal_lucidlink_requests_total", **throttled) == before + 1

    lucidlink.forget_tokens()
    api._client_secret = "wrong"
    with pytest.raises(lucidlink.AuthenticationFailed):
        api.list_domains()
    assert local("portal_lucidlink_token_fetches_total", result="refused") == refused + 1


def test_an_unreachable_api_is_counted_as_unreachable():
    lucidlink.forget_tokens()
    client = lucidlink.LucidLinkClient(
        api_url="http://127.0.0.1:9/api/v1", token_url="http://127.0.0.1:9/oauth2/token",
        client_id="x", client_secret="y", connect_timeout=1, read_timeout=1,
    )  # fmt: skip
    client._session.token = {"access_token": "t", "token_type": "Bearer"}
    before = local(
        "portal_lucidlink_requests_total", operation="GET /domains", status="unreachable"
    )
    with pytest.raises(lucidlink.Unavailable):
        client._send("GET", "/domains", {"access_token": "t", "token_type": "Bearer"})
    after = local("portal_lucidlink_requests_total", operation="GET /domains", status="unreachable")
    assert after == before + 1


@pytest.mark.django_db(transaction=True)
def test_order_to_ready_is_observed_when_the_provisioned_event_commits(filespace_factory):
    filespace = filespace_factory(state="provisioned")
    count = local("portal_filespace_order_to_ready_seconds_count")
    under_two_minutes = local("portal_filespace_order_to_ready_seconds_bucket", le="120.0")
    at = filespace.requested_at + timedelta(seconds=95)

    with pytest.raises(RuntimeError), transaction.atomic():
        ProvisioningEvent.objects.create(filespace=filespace, kind="provisioned", at=at)
        raise RuntimeError("rolled back")
    assert local("portal_filespace_order_to_ready_seconds_count") == count

    ProvisioningEvent.objects.create(filespace=filespace, kind="provisioned", at=at)
    assert local("portal_filespace_order_to_ready_seconds_count") == count + 1
    bucket = local("portal_filespace_order_to_ready_seconds_bucket", le="120.0")
    assert bucket == under_two_minutes + 1
    assert local("portal_filespace_order_to_ready_seconds_bucket", le="60.0") < bucket


@pytest.mark.django_db(transaction=True)
def test_failed_filespaces_are_counted_by_who_failed_them(filespace_factory):
    filespace = filespace_factory(state="error")
    worker = local("portal_filespace_failures_total", kind="worker")
    staff = local("portal_filespace_failures_total", kind="staff")
    ProvisioningEvent.objects.create(filespace=filespace, kind="failed")
    ProvisioningEvent.objects.create(filespace=filespace, kind="staff_fail")
    assert local("portal_filespace_failures_total", kind="worker") == worker + 1
    assert local("portal_filespace_failures_total", kind="staff") == staff + 1


@pytest.mark.parametrize(
    ("status", "result"),
    [(200, "delivered"), (204, "delivered"), (500, "http_error"), (None, "transport_error")],
)
def test_webhook_attempts_are_counted_by_result(status, result):
    from portal.observability.receivers import attempt_result

    assert attempt_result(status) == result


def test_a_task_published_during_a_request_carries_its_request_and_customer_ids():
    context.clear()
    context.bind(request_id="req-123", customer_id=42)
    headers: dict = {}
    celery_signals.carry_context(headers=headers)
    context.clear()
    assert headers == {"portal_request_id": "req-123", "portal_customer_id": "42"}


def test_a_running_task_binds_its_id_and_the_ids_it_was_sent_with():
    class Request:
        portal_request_id = "req-9"
        portal_customer_id = "7"

    class Task:
        name = "provisioning.tasks.create_filespace"
        request = Request()

    before = local("portal_celery_task_duration_seconds_count", task=Task.name)
    celery_signals.bind_task_context(task_id="task-1", task=Task())
    assert context.current() == {"request_id": "req-9", "task_id": "task-1", "customer_id": "7"}
    celery_signals.record_duration(task_id="task-1", task=Task())
    assert context.current() == {}
    assert local("portal_celery_task_duration_seconds_count", task=Task.name) == before + 1


def test_task_outcomes_are_counted_by_task_name():
    class Task:
        name = "billing.tasks.run_invoices"

    before = local("portal_celery_tasks_total", task=Task.name, outcome="failure")
    celery_signals.count_failure(sender=Task())
    assert local("portal_celery_tasks_total", task=Task.name, outcome="failure") == before + 1


@pytest.fixture
def json_log():
    """What `django.request` and `portal.access` log, as the production handler writes it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    loggers = [logging.getLogger(name) for name in ("django.request", "portal.access")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.mark.django_db
def test_log_lines_of_a_request_carry_its_request_id_and_customer(client, member_factory, json_log):
    member = member_factory(role="owner")
    client.force_login(member.user)
    response = client.get("/filespaces/987654/", HTTP_X_REQUEST_ID="req-from-proxy")
    assert response.status_code == 404
    [line] = [entry for entry in json_log() if "Not Found" in entry["message"]]
    assert line["request_id"] == "req-from-proxy"
    assert line["customer_id"] == str(member.customer_id)
    assert line["level"] == "WARNING"


@pytest.mark.django_db
def test_an_anonymous_request_logs_a_fresh_request_id_and_no_customer(client, json_log):
    response = client.get("/no-such-page/")
    [line] = [entry for entry in json_log() if "Not Found" in entry["message"]]
    assert line["request_id"] == response["X-Request-ID"]
    assert "customer_id" not in line


@pytest.mark.django_db
def test_each_request_writes_one_access_line_with_its_fields_and_no_query_string(
    client, member_factory, json_log
):
    member = member_factory(role="owner")
    client.force_login(member.user)
    client.get("/dashboard/?token=secret-in-a-link", HTTP_X_REQUEST_ID="req-access-1")
    [line] = [entry for entry in json_log() if entry["logger"] == "portal.access"]
    assert line["request_id"] == "req-access-1"
    assert line["customer_id"] == str(member.customer_id)
    assert line["method"] == "GET" and line["path"] == "/dashboard/"
    assert line["status"] == 200 and line["view"] == "dashboard"
    assert line["duration_ms"] >= 0
    assert "secret-in-a-link" not in json.dumps(line)


@pytest.mark.django_db
def test_probes_are_not_logged_at_info(client, json_log):
    client.get("/healthz/live")
    client.get("/metrics")
    assert not [entry for entry in json_log() if entry["logger"] == "portal.access"]


def test_a_rejected_message_with_an_unknown_task_name_mints_no_new_label():
    from portal.celery import app

    class Consumer:
        pass

    consumer = Consumer()
    consumer.app = app

    class Message:
        headers = {"task": "evil.task.name.12345"}

    before = local("portal_celery_tasks_total", task="unregistered", outcome="rejected")
    celery_signals.count_rejected(sender=consumer, message=Message())
    assert local("portal_celery_tasks_total", task="unregistered", outcome="rejected") == before + 1
    assert local("portal_celery_tasks_total", task="evil.task.name.12345", outcome="rejected") == 0
