"""Every metric the portal's processes record, defined once.

Counters and histograms only: under gunicorn and Celery's prefork pool each process writes its
own values to files in PROMETHEUS_MULTIPROC_DIR (prometheus_client's multiprocess mode) and the
exposition adds them up; gauges that describe the database (filespaces by state, queue depth,
collection lag) are computed when Prometheus scrapes, by portal.observability.collectors.
Label values are always from small fixed sets (view names, operation templates, status
classes), never ids or user input, so the number of series stays bounded.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

# Seconds; from a fast cached page to a slow LucidLink call.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

http_requests = Counter(
    "portal_http_requests",
    "HTTP requests answered, by Django view name, method and status code.",
    ["view", "method", "status"],
)
http_request_duration = Histogram(
    "portal_http_request_duration_seconds",
    "Time to answer an HTTP request, by Django view name and method.",
    ["view", "method"],
    buckets=LATENCY_BUCKETS,
)

lucidlink_requests = Counter(
    "portal_lucidlink_requests",
    "Service API calls, by operation (method and path template) and outcome "
    "(HTTP status, or 'timeout' / 'unreachable').",
    ["operation", "status"],
)
lucidlink_request_duration = Histogram(
    "portal_lucidlink_request_duration_seconds",
    "Time for one Service API exchange, by operation.",
    ["operation"],
    buckets=LATENCY_BUCKETS,
)
lucidlink_token_fetches = Counter(
    "portal_lucidlink_token_fetches",
    "OAuth2 token requests, by result (ok, refused, unavailable, malformed).",
    ["result"],
)

stripe_requests = Counter(
    "portal_stripe_requests",
    "Stripe API calls, by operation (resource.method) and result "
    "(ok, declined, rejected, unavailable).",
    ["operation", "result"],
)
stripe_request_duration = Histogram(
    "portal_stripe_request_duration_seconds",
    "Time for one Stripe API call, by operation.",
    ["operation"],
    buckets=LATENCY_BUCKETS,
)

order_to_ready = Histogram(
    "portal_filespace_order_to_ready_seconds",
    "Time from an order being placed to its filespace being ready to initialize.",
    buckets=(15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600),
)
filespace_failures = Counter(
    "portal_filespace_failures",
    "Filespaces that ended in error (by the worker, or failed by staff).",
    ["kind"],
)

celery_tasks = Counter(
    "portal_celery_tasks",
    "Celery task runs by task name and outcome (success, failure, retry, rejected, revoked).",
    ["task", "outcome"],
)
celery_task_duration = Histogram(
    "portal_celery_task_duration_seconds",
    "Time a task ran in a worker, by task name (billing.tasks.run_invoices is the invoice run).",
    ["task"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900),
)

webhook_attempts = Counter(
    "portal_webhook_delivery_attempts",
    "Webhook POSTs by result: delivered (2xx), http_error (another status), transport_error.",
    ["result"],
)
